/**
 * @module
 * Transactions, the C daemon's model since Xen 4.8 (xenstore-protocol.md
 * §5.2–5.4): no snapshot at start. The first time a node is touched, its
 * generation (or "absent") is recorded and the node object kept as the
 * transaction's copy; later reads see that copy or the transaction's own
 * changes. Commit fails with EAGAIN if any recorded node's generation
 * differs from the live tree's — so only nodes *read* can conflict.
 *
 * Worked example (connection A in transaction 1, B outside):
 *   A: READ /a            → records /a at generation 5
 *   B: WRITE /a x         → /a is now generation 9
 *   A: WRITE /b y         → records /b absent, / (parent) at generation 3;
 *                           private copies of / and a new /b
 *   A: TRANSACTION_END T  → /a: 5 ≠ 9 → EAGAIN, nothing applied
 * Had B written /c instead, the root's generation would have changed (a
 * child was added) and the commit would fail the same way: "a sibling was
 * created in a directory it wrote into".
 *
 * Events are queued per node, subtree beating exact, and fired at commit in
 * first-access order, each as its node is applied, with the pre-transaction
 * permissions as old perms.
 */
import { XsError } from "./wire/errno.ts";
import type { FiredChange, NodeAccess } from "./store/access.ts";
import type { Node } from "./store/node.ts";
import { GENERATION_ABSENT, type Tree } from "./store/tree.ts";

interface Accessed {
  /** Generation at first access, or GENERATION_ABSENT. */
  readonly generation: number;
  /** Node as first seen (kept frozen in the live tree's eyes). */
  readonly original: Node | undefined;
  /** Private copy (changed), null once deleted, undefined if unchanged. */
  local?: Node | null;
  /** Queued event: true = exact, false = subtree. */
  event?: boolean;
}

/** Limits of one transaction for an unprivileged connection (§7.1). */
export interface TransactionLimits {
  /** `transaction-nodes`: distinct nodes one transaction may touch. */
  readonly nodesMax: number;
}

export class Transaction implements NodeAccess {
  readonly id: number;
  readonly live: Tree;
  readonly #accessed = new Map<string, Accessed>();
  readonly #ownerDelta = new Map<number, number>();
  readonly #nodesMax: number;
  /** Set by an error that left partial state: commit then gives ENOMEM (§5.2). */
  failed = false;

  constructor(id: number, tree: Tree, nodesMax = Infinity) {
    this.id = id;
    this.live = tree;
    this.#nodesMax = nodesMax;
  }

  /** Distinct nodes touched so far. */
  get accessedCount(): number {
    return this.#accessed.size;
  }

  /** True if the transaction changed anything. */
  get modified(): boolean {
    for (const a of this.#accessed.values()) if (a.local !== undefined) return true;
    return false;
  }

  #access(path: string): Accessed {
    let a = this.#accessed.get(path);
    if (a) return a;
    if (this.#accessed.size >= this.#nodesMax) {
      this.failed = true;
      throw new XsError("ENOSPC", `transaction ${this.id} touched ${this.#nodesMax} nodes (limit)`);
    }
    const original = this.live.get(path);
    if (original) this.live.freeze(original);
    a = { generation: original ? original.generation : GENERATION_ABSENT, original };
    this.#accessed.set(path, a);
    return a;
  }

  get(path: string): Node | undefined {
    const a = this.#access(path);
    if (a.local === null) return undefined;
    return a.local ?? a.original;
  }

  modify(path: string): Node {
    const a = this.#access(path);
    if (a.local) {
      a.local.generation = this.live.nextGeneration();
      return a.local;
    }
    // The node vanished from this transaction's view (deleted here after a
    // child was first read from the live tree): the real daemon says EINVAL.
    if (a.local === null || !a.original) {
      throw new XsError("EINVAL", `${path} vanished in transaction ${this.id}`);
    }
    // Written in the transaction: a new generation, as write_node gives it.
    a.local = a.original.clone();
    a.local.generation = this.live.nextGeneration();
    return a.local;
  }

  create(path: string, node: Node): void {
    node.generation = this.live.nextGeneration();
    this.#access(path).local = node;
  }

  remove(path: string): void {
    this.#access(path).local = null;
  }

  ownedBy(domid: number): number {
    return this.live.ownedBy(domid) + (this.#ownerDelta.get(domid) ?? 0);
  }

  charge(domid: number, delta: number): void {
    this.#ownerDelta.set(domid, (this.#ownerDelta.get(domid) ?? 0) + delta);
  }

  fire(change: FiredChange): void {
    const a = this.#access(change.path);
    // A subtree event wins over an exact one for the same node (§5.4).
    a.event = a.event === undefined ? change.exact : a.event && change.exact;
  }

  /** Node-count deltas per owner, for the commit-time quota re-check. */
  ownerDeltas(): ReadonlyMap<number, number> {
    return this.#ownerDelta;
  }

  /** True if no node read or written has changed in the live tree. */
  conflictFree(): boolean {
    for (const [path, a] of this.#accessed) {
      const live = this.live.get(path);
      if ((live ? live.generation : GENERATION_ABSENT) !== a.generation) return false;
    }
    return true;
  }

  /**
   * Applies every change to the live tree in first-access order, firing each
   * node's event as soon as that node is applied — as cxenstored's
   * finalize_transaction does — so a watcher's permission is judged on a
   * half-applied tree: a node's parent still has its old permissions if the
   * transaction reached it later. Call only after {@link conflictFree}.
   */
  apply(fire: (change: FiredChange) => void): void {
    for (const [path, a] of this.#accessed) {
      if (a.local === null) {
        if (a.original) this.live.delete(path);
      } else if (a.local) {
        a.local.generation = this.live.nextGeneration();
        this.live.set(path, a.local);
      }
      if (a.event !== undefined && (a.local || a.original)) {
        fire({ path, exact: a.event, perms: a.local?.perms, oldPerms: a.original?.perms });
      }
    }
    for (const [domid, delta] of this.#ownerDelta) this.live.charge(domid, delta);
  }
}
