/**
 * @module
 * {@link NodeAccess}: the one interface through which every store operation
 * reads and changes nodes, whether on the live tree ({@link DirectAccess})
 * or through a transaction (`transaction.ts`). Operations are written once,
 * against this interface; what differs is where changes land, when watch
 * events fire, and how quotas are counted: on the live tree a node's memory
 * is charged to its owner, in a transaction every private copy to the
 * transaction's domain (cxenstored keys copies `<gen>/<path>` and charges
 * them to the connection, `get_acc_domid`).
 */
import type { Node } from "./node.ts";
import type { PermList } from "./perms.ts";
import type { Tree } from "./tree.ts";

/** A watch event to fire: exact (descendants of an RM) or subtree match (§4.3). */
export interface FiredChange {
  readonly path: string;
  readonly exact: boolean;
  /**
   * Permissions of the node as it is now, or just before a direct deletion;
   * undefined for a node a transaction deleted (§4.6).
   */
  readonly perms: PermList | undefined;
  /** Permissions before the change (SET_PERMS, transaction commit), §4.6. */
  readonly oldPerms?: PermList;
}

/** Receives changes as they take effect on the live tree. */
export type ChangeSink = (change: FiredChange) => void;

export interface NodeAccess {
  /** The node at `path`, as this view sees it. */
  get(path: string): Node | undefined;
  /** The node at `path` (which must exist), ready to be changed. */
  modify(path: string): Node;
  /** Adds a new node (its parent is changed separately by the caller). */
  create(path: string, node: Node): void;
  /** Removes one node (not its children; the caller walks the subtree). */
  remove(path: string): void;
  /**
   * Nodes `domid` owns as cxenstored's create_node counts them once
   * `written` nodes of the current request exist: on the live tree those
   * count at once (`domain_entry_inc`); a transaction's own creations only
   * at commit (`transaction_entry_inc`), so inside one the live count alone
   * (seen on the real daemon: two new levels fit where one node is left).
   */
  nodeQuotaCount(domid: number, written: number): number;
  /** Counts a node for/against `domid`'s node quota. */
  charge(domid: number, delta: number): void;
  /** The domain whose memory pays for a record owned by `owner` here. */
  payer(owner: number): number;
  /** Bytes of the key charged with the record at `path`. */
  keyBytes(path: string): number;
  /** Adds `delta` bytes to the memory charged to `domid`, a {@link payer}. */
  chargeMemory(domid: number, delta: number): void;
  /**
   * A node write failed after the transaction took note of it: it can only
   * end in failure now (cxenstored `fail_transaction`). Nothing on the live
   * tree.
   */
  failTransaction(): void;
  /** Records a watch event for `path`. */
  fire(change: FiredChange): void;
  /** Next generation number for a node written now. */
  readonly live: Tree;
}

/** Access to the live tree: changes apply and fire at once. */
export class DirectAccess implements NodeAccess {
  readonly live: Tree;
  readonly #sink: ChangeSink;

  constructor(tree: Tree, sink: ChangeSink) {
    this.live = tree;
    this.#sink = sink;
  }

  get(path: string): Node | undefined {
    return this.live.get(path);
  }

  modify(path: string): Node {
    const n = this.live.writable(path)!;
    n.generation = this.live.nextGeneration();
    return n;
  }

  create(path: string, node: Node): void {
    node.generation = this.live.nextGeneration();
    this.live.set(path, node);
  }

  remove(path: string): void {
    this.live.delete(path);
  }

  nodeQuotaCount(domid: number, written: number): number {
    return this.live.ownedBy(domid) + written;
  }

  charge(domid: number, delta: number): void {
    this.live.charge(domid, delta);
  }

  payer(owner: number): number {
    return owner;
  }

  keyBytes(path: string): number {
    return path.length;
  }

  chargeMemory(domid: number, delta: number): void {
    this.live.chargeMemory(domid, delta);
  }

  failTransaction(): void {}

  fire(change: FiredChange): void {
    this.#sink(change);
  }
}
