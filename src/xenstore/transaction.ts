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
 *
 * Memory (hard quota): every node the transaction holds a copy of — read
 * and existing, or written — is charged to the transaction's domain as its
 * record plus a key of `<gen>/<path>` (`gen`: the generation the
 * transaction started at), whoever owns the node; a read copies without a
 * check, a write is checked. At commit the live tree's owners are charged
 * for what changed, without a check, and the copies are released; an abort
 * releases them. E.g. guest 7 in a transaction started at generation 312
 * reading `/local/domain/7/a` (a 100-byte value, one permission) is charged
 * 132 + 4 + 19 = 155 bytes until the transaction ends (real daemon).
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
  /** The domain of the connection: it pays for the copies. */
  readonly domid: number;
  /** Global generation taken at start (cxenstored `trans->generation`). */
  readonly generation: number;
  readonly #accessed = new Map<string, Accessed>();
  readonly #ownerDelta = new Map<number, number>();
  readonly #nodesMax: number;
  /** `<gen>/` of the copies' keys. */
  readonly #keyPrefixBytes: number;
  /** Memory charged to {@link domid} for the copies now held. */
  #copyBytes = 0;
  /** Set by an error that left partial state: commit then gives ENOMEM (§5.2). */
  failed = false;

  constructor(id: number, tree: Tree, nodesMax = Infinity, domid = 0) {
    this.id = id;
    this.live = tree;
    this.domid = domid;
    this.#nodesMax = nodesMax;
    this.generation = tree.nextGeneration();
    this.#keyPrefixBytes = String(this.generation).length + 1;
  }

  /** Memory the copies cost the transaction's domain now. */
  get copyBytes(): number {
    return this.#copyBytes;
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
    if (original) {
      this.live.freeze(original);
      // read_node copies it into the transaction, unchecked.
      this.chargeMemory(this.domid, original.recordBytes() + this.keyBytes(path));
    }
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

  /** Nodes `domid` will own if this transaction commits (the commit-time check). */
  ownedBy(domid: number): number {
    return this.live.ownedBy(domid) + (this.#ownerDelta.get(domid) ?? 0);
  }

  nodeQuotaCount(domid: number, _written: number): number {
    return this.live.ownedBy(domid);
  }

  charge(domid: number, delta: number): void {
    this.#ownerDelta.set(domid, (this.#ownerDelta.get(domid) ?? 0) + delta);
  }

  payer(_owner: number): number {
    return this.domid;
  }

  keyBytes(path: string): number {
    return this.#keyPrefixBytes + path.length;
  }

  chargeMemory(domid: number, delta: number): void {
    if (delta === 0) return;
    this.#copyBytes += delta;
    this.live.chargeMemory(domid, delta);
  }

  failTransaction(): void {
    this.failed = true;
  }

  /** Releases the memory of every copy (the transaction ends without commit). */
  release(): void {
    this.chargeMemory(this.domid, -this.#copyBytes);
  }

  /** Charges the live tree's owners for `now` replacing `old` at `path`. */
  #moveLiveCharge(path: string, old: Node | undefined, now: Node): void {
    const owner = now.perms[0].id;
    let delta = now.recordBytes() + path.length;
    if (old && old.perms[0].id === owner) delta -= old.recordBytes() + path.length;
    else if (old) this.live.chargeMemory(old.perms[0].id, -(old.recordBytes() + path.length));
    if (delta !== 0) this.live.chargeMemory(owner, delta);
  }

  /** The copies held now, by path: nodes read (and existing) or written here. */
  *copies(): Generator<[path: string, node: Node]> {
    for (const [path, a] of this.#accessed) {
      const copy = a.local === null ? undefined : a.local ?? a.original;
      if (copy) yield [path, copy];
    }
  }

  /** What the copy of an accessed node costs while it is held. */
  #copyCharge(path: string, a: Accessed): number {
    const copy = a.local === null ? undefined : a.local ?? a.original;
    return copy ? copy.recordBytes() + this.keyBytes(path) : 0;
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
   * transaction reached it later. Memory moves the same way: the copies of
   * nodes only read are released first, then each changed node's owner is
   * charged (unchecked) and its copy released as it is applied. Call only
   * after {@link conflictFree}.
   */
  apply(fire: (change: FiredChange) => void): void {
    for (const [path, a] of this.#accessed) {
      if (a.local === undefined) this.chargeMemory(this.domid, -this.#copyCharge(path, a));
    }
    for (const [path, a] of this.#accessed) {
      if (a.local !== undefined) {
        const old = this.live.get(path);
        if (a.local === null) {
          if (old) {
            this.live.chargeMemory(old.perms[0].id, -(old.recordBytes() + path.length));
            this.live.delete(path);
          }
        } else {
          this.chargeMemory(this.domid, -this.#copyCharge(path, a));
          a.local.generation = this.live.nextGeneration();
          this.live.set(path, a.local);
          this.#moveLiveCharge(path, old, a.local);
        }
      }
      if (a.event !== undefined && (a.local || a.original)) {
        fire({ path, exact: a.event, perms: a.local?.perms, oldPerms: a.original?.perms });
      }
    }
    for (const [domid, delta] of this.#ownerDelta) this.live.charge(domid, delta);
  }
}
