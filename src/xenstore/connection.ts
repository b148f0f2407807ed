/**
 * @module
 * The engine's view of one client connection: who it is (domain,
 * privilege), its open transactions, its transaction-id counter and the
 * requests held back while its domain is over the memory quota. Bytes and
 * output queues belong to the transport; watches live in the engine's
 * index.
 */
import type { Transaction } from "./transaction.ts";
import type { Message } from "./wire/message.ts";

/** How a connection reached the daemon. */
export type ConnectionKind = "socket" | "guest" | "in-process";

export class Connection {
  readonly id: number;
  readonly domid: number;
  /** Socket connections and dom0 are privileged (xenstore-protocol.md §3.3). */
  readonly privileged: boolean;
  readonly kind: ConnectionKind;
  readonly transactions = new Map<number, Transaction>();
  /**
   * Requests received while the domain was at or above its hard memory
   * quota, in order: cxenstored stops reading such a domain's ring
   * (`domain_can_read`) until its memory drops below again.
   */
  readonly deferred: Message[] = [];
  #nextTxId = 1;
  closed = false;

  constructor(id: number, domid: number, privileged: boolean, kind: ConnectionKind) {
    this.id = id;
    this.domid = domid;
    this.privileged = privileged;
    this.kind = kind;
  }

  /** Next transaction id: 1, 2, 3…, skipping 0 and ids in use (§5.1). */
  allocateTxId(): number {
    for (;;) {
      const id = this.#nextTxId;
      this.#nextTxId = (this.#nextTxId + 1) >>> 0;
      if (id !== 0 && !this.transactions.has(id)) return id;
    }
  }
}
