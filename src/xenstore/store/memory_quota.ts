/**
 * @module
 * The hard memory quota of cxenstored 4.17 (`-Q memory=N`, default
 * 2,621,440 bytes; xenstored_domain.c `domain_memory_add`,
 * `domain_chk_quota`): what each thing costs the domain it is charged to,
 * and the rule that refuses it. Observed on the real daemon
 * (tests/conformance/FINDINGS.md 22a):
 *
 * - a node costs its owner its record ({@link Node.recordBytes}) plus its
 *   path without NUL (the database key); a transaction's private copy of a
 *   node costs the transaction's domain the record plus `<gen>/<path>`,
 *   whoever owns the node; a watch costs its absolute path plus token;
 * - a reply or event waiting to be sent costs the receiving domain its
 *   16-byte header plus payload until it is written;
 * - a charge that is checked is refused when the domain's total would
 *   reach the quota (`total >= quota`); quota 0 disables the check, and
 *   dom0 is never checked. Releases, copies made by reads, commits, child
 *   entries removed by RM and replies of at most 16 bytes are charged
 *   without a check, so a domain can end up at or above its quota; the
 *   daemon then stops reading its requests until it drops below.
 *
 * {@link MemoryPlan} collects the charges of one operation's node writes so
 * that each is checked as cxenstored's `write_node` checks it, against the
 * totals the earlier writes of the same operation left, before anything
 * changes.
 */
import { XS_HEADER_BYTES } from "../wire/message.ts";

/**
 * Replies up to this many payload bytes fit cxenstored's buffer inside the
 * request (`DEFAULT_BUFFER_SIZE`) and are charged without a check; longer
 * ones are refused with ENOMEM when they would pass the quota.
 */
export const REPLY_UNCHECKED_BYTES = 16;

/** What a queued message costs its receiver: header plus payload. */
export function messageBytes(payloadBytes: number): number {
  return XS_HEADER_BYTES + payloadBytes;
}

/** What a watch costs: its absolute path and token, without NULs. */
export function watchBytes(path: string, token: string): number {
  return path.length + token.length;
}

/** True if a domain at `total` bytes is past a hard quota of `quota` (0: none). */
export function overMemoryQuota(total: number, quota: number): boolean {
  return quota > 0 && total >= quota;
}

/** Where a plan reads current totals and which domains are held to the quota. */
export interface MemoryTotals {
  /** Bytes charged to `domid` now. */
  memoryOf(domid: number): number;
  /** Is `domid` held to the hard quota (an unprivileged domain, not ignored)? */
  memoryLimited(domid: number): boolean;
  /** The hard quota in bytes (0: unlimited). */
  readonly memoryQuota: number;
}

/** Receives the charges of a plan. */
export interface MemoryCharger {
  chargeMemory(domid: number, delta: number): void;
}

/**
 * Charges an operation means to make, in order. {@link release} and
 * {@link charge} mirror cxenstored's `do_tdb_write`: the old record's charge
 * is taken from its payer unchecked, then the new one is added with the
 * check. One operation charges two domains at most (new nodes and their
 * parent, or a node's old and new owner), so a plan has two slots.
 */
export class MemoryPlan {
  readonly #totals: MemoryTotals;
  #domid0 = -1;
  #delta0 = 0;
  #domid1 = -1;
  #delta1 = 0;

  constructor(totals: MemoryTotals) {
    this.#totals = totals;
  }

  /** The delta planned so far for `domid`, making it one of the two slots. */
  #slot(domid: number): 0 | 1 {
    if (this.#domid0 === domid || this.#domid0 < 0) {
      this.#domid0 = domid;
      return 0;
    }
    if (this.#domid1 !== domid && this.#domid1 >= 0) {
      throw new Error(`memory plan: a third domain ${domid} (programmer error)`);
    }
    this.#domid1 = domid;
    return 1;
  }

  #add(domid: number, bytes: number): void {
    if (this.#slot(domid) === 0) this.#delta0 += bytes;
    else this.#delta1 += bytes;
  }

  /** Plans an unchecked release of `bytes` from `domid`. */
  release(domid: number, bytes: number): void {
    this.#add(domid, -bytes);
  }

  /**
   * Plans a checked charge of `bytes` to `domid`; false (and nothing planned)
   * if the domain's total would reach the quota.
   */
  charge(domid: number, bytes: number): boolean {
    if (this.#totals.memoryLimited(domid)) {
      const planned = this.#slot(domid) === 0 ? this.#delta0 : this.#delta1;
      const total = this.#totals.memoryOf(domid) + planned + bytes;
      if (overMemoryQuota(total, this.#totals.memoryQuota)) return false;
    }
    this.#add(domid, bytes);
    return true;
  }

  /** Makes every planned net change, once the operation went through. */
  applyTo(charger: MemoryCharger): void {
    if (this.#domid0 >= 0 && this.#delta0 !== 0) charger.chargeMemory(this.#domid0, this.#delta0);
    if (this.#domid1 >= 0 && this.#delta1 !== 0) charger.chargeMemory(this.#domid1, this.#delta1);
  }
}
