/**
 * @module
 * The domains xenstored knows (xenstore-protocol.md §6): introduced ones,
 * and ones it merely learned exist (so that ACL entries naming them are not
 * marked stale when written, §3.6).
 *
 * Whether a domain exists, is shut down or dying comes from a
 * {@link DomainInfoSource}: the emulated hypervisor in a host, or
 * {@link StaticDomains} for a stand-alone daemon.
 */

/** What `getdomaininfo` tells xenstored about a domain. */
export interface DomainInfo {
  readonly dying: boolean;
  readonly shutdown: boolean;
}

/** The hypervisor as xenstored asks it. */
export interface DomainInfoSource {
  info(domid: number): DomainInfo | undefined;
}

/** Most domains xenstored tracks (domids are 15-bit in Xen). */
export const DOMAINS_MAX = 0x7ff0;
/** `DOMID_SELF`. */
export const DOMID_SELF = 0x7ff0;

/**
 * A domain table for a daemon without a hypervisor: dom0 exists, plus the
 * domids given (like the real daemon's test shim, `XSD_SHIM_DOMAINS`), plus
 * every introduced domain until it is destroyed here.
 */
export class StaticDomains implements DomainInfoSource {
  readonly #exists = new Set<number>([0]);
  readonly #shutdown = new Set<number>();

  constructor(existing: Iterable<number> = []) {
    for (const d of existing) this.#exists.add(d);
  }

  info(domid: number): DomainInfo | undefined {
    return this.#exists.has(domid)
      ? { dying: false, shutdown: this.#shutdown.has(domid) }
      : undefined;
  }

  create(domid: number): void {
    this.#exists.add(domid);
    this.#shutdown.delete(domid);
  }

  shutdown(domid: number): void {
    if (this.#exists.has(domid)) this.#shutdown.add(domid);
  }

  destroy(domid: number): void {
    if (domid === 0) return;
    this.#exists.delete(domid);
    this.#shutdown.delete(domid);
  }
}

/** Parses a domid list such as `1-63,100` (as `XSD_SHIM_DOMAINS`). */
export function parseDomainList(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`bad domain list ${JSON.stringify(spec)}: expected e.g. 1-63,100`);
    const lo = Number(m[1]), hi = Number(m[2] ?? m[1]);
    if (hi < lo || hi >= DOMAINS_MAX) {
      throw new Error(`bad domain range ${part}: domids are 0..${DOMAINS_MAX - 1}`);
    }
    for (let d = lo; d <= hi; d++) out.push(d);
  }
  return out;
}

/** xenstored's record of one domain. */
export interface DomainRecord {
  readonly domid: number;
  /** INTRODUCE'd and not yet released or dead. */
  introduced: boolean;
  /** `@releaseDomain` already sent for the current shutdown (§6.3). */
  shutdownReported: boolean;
  /**
   * A connection of the domain sent a header claiming more than 4096 bytes:
   * like a ring marked "ignored" (§1.6, §6.7), it is never served again, not
   * even after re-INTRODUCE; only the domain's death ends it.
   */
  ignored: boolean;
  /**
   * Dead, but a live device model still targets it (SET_TARGET): observed on
   * the real daemon, it stays introduced with its nodes, without connections,
   * and goes (with `@releaseDomain`) when the device model dies.
   */
  zombie: boolean;
  /** SET_TARGET: the guest this device-model domain acts for. */
  target?: number;
  /** Event channel port given at INTRODUCE. */
  port: number;
  /** Store page frame given at INTRODUCE (unused, as in cxenstored). */
  mfn: number;
}
