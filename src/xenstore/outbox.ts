/**
 * @module
 * {@link Outbox}: what the engine has produced and not yet handed to the
 * transports, and what it costs the receivers meanwhile. cxenstored charges
 * every queued reply and watch event to the receiving domain's memory (its
 * 16-byte header plus payload) until it is written (xenstored_core.c
 * `send_reply`, `send_event`; `memory_quota.ts`):
 *
 * - a reply longer than 16 bytes that would bring the domain to its hard
 *   quota is replaced by `ENOMEM` (a READ of 1,000 bytes at 2,984 of 4,000
 *   bytes: 2,984 + 16 + 1,000 reaches the quota);
 * - a watch event that would is dropped, and so is one identical to an
 *   event still queued for the same connection (XSA-326; `@` events
 *   excepted), or longer than the payload limit (XSA-324).
 *
 * The engine takes the whole batch after each request; the transports then
 * own the messages and the charges end, as if written at once. (The real
 * daemon's last until its ring or socket takes them, so pipelined requests
 * see less room; that is not modelled.)
 */
import type { Connection } from "./connection.ts";
import {
  errorReply,
  latin1,
  type Message,
  watchEvent,
  XENSTORE_PAYLOAD_MAX,
} from "./wire/message.ts";
import {
  type MemoryTotals,
  messageBytes,
  overMemoryQuota,
  REPLY_UNCHECKED_BYTES,
} from "./store/memory_quota.ts";

/** A message for a connection, or the instruction to close it. */
export interface Outgoing {
  readonly conn: Connection;
  readonly msg?: Message;
  readonly close?: true;
}

export class Outbox {
  readonly #totals: MemoryTotals;
  #out: Outgoing[] = [];
  /** Bytes queued for each domain since the last {@link take}. */
  readonly #queuedBytes = new Map<number, number>();
  /** `<connection id> <payload>` of each queued non-special event. */
  readonly #queuedEvents = new Set<string>();

  constructor(totals: MemoryTotals) {
    this.#totals = totals;
  }

  /** Queues the reply to `request`, or ENOMEM if a long reply does not fit; returns it. */
  reply(conn: Connection, request: Message, reply: Message): Message {
    const long = reply.payload.length > REPLY_UNCHECKED_BYTES;
    const m = long && !this.#fits(conn, reply) ? errorReply(request, "ENOMEM") : reply;
    this.#push(conn, m);
    return m;
  }

  /** Queues a watch event for `conn` unless it is to be dropped (see the module doc). */
  event(conn: Connection, path: string, token: string): void {
    const ev = watchEvent(path, token);
    if (ev.payload.length > XENSTORE_PAYLOAD_MAX) return;
    const special = path.startsWith("@");
    const key = special ? "" : `${conn.id} ${latin1(ev.payload)}`;
    if (!special && this.#queuedEvents.has(key)) return;
    if (!this.#fits(conn, ev)) return;
    if (!special) this.#queuedEvents.add(key);
    this.#push(conn, ev);
  }

  /** Queues the instruction to close `conn`. */
  close(conn: Connection): void {
    this.#out.push({ conn, close: true });
  }

  /** Bytes queued for `domid` (a domain held to the quota) and not yet taken. */
  queuedBytes(domid: number): number {
    return this.#queuedBytes.get(domid) ?? 0;
  }

  /** Everything queued, in order; the charges end here. */
  take(): Outgoing[] {
    const out = this.#out;
    this.#out = [];
    if (this.#queuedBytes.size > 0) this.#queuedBytes.clear();
    if (this.#queuedEvents.size > 0) this.#queuedEvents.clear();
    return out;
  }

  #fits(conn: Connection, m: Message): boolean {
    const domid = conn.domid;
    if (!this.#totals.memoryLimited(domid)) return true;
    const total = this.#totals.memoryOf(domid) + this.queuedBytes(domid) +
      messageBytes(m.payload.length);
    return !overMemoryQuota(total, this.#totals.memoryQuota);
  }

  #push(conn: Connection, m: Message): void {
    this.#out.push({ conn, msg: m });
    const domid = conn.domid;
    if (!this.#totals.memoryLimited(domid)) return; // nothing checks it
    this.#queuedBytes.set(domid, this.queuedBytes(domid) + messageBytes(m.payload.length));
  }
}
