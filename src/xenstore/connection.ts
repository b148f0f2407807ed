/**
 * @module
 * The engine's view of one client connection: who it is (domain,
 * privilege), its open transactions and its transaction-id counter. Bytes
 * and queues belong to the transport; watches live in the engine's index.
 */
import type { Transaction } from "./transaction.ts";

/** How a connection reached the daemon. */
export type ConnectionKind = "socket" | "guest" | "in-process";

export class Connection {
  readonly id: number;
  readonly domid: number;
  /** Socket connections and dom0 are privileged (xenstore-protocol.md §3.3). */
  readonly privileged: boolean;
  readonly kind: ConnectionKind;
  readonly transactions = new Map<number, Transaction>();
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
