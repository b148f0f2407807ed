/**
 * @module
 * The live tree: a flat map from absolute path to {@link Node}, the global
 * generation counter, per-owner node counts for the node quota, and the
 * bytes of xenstored memory charged to each domain for the hard memory
 * quota (its nodes, its watches and its transactions' copies; see
 * `memory_quota.ts`). Both counters are kept incrementally by whoever
 * changes what they count; nothing here walks the tree to find them.
 *
 * Nodes a transaction has looked at are *frozen*: the transaction holds the
 * object as its repeatable-read copy, so a later direct modification
 * replaces the node with a clone instead of mutating it (copy on write only
 * where a transaction could observe it; otherwise in place, so a directory
 * can grow to 50 000 children at O(1) per child).
 */
import { Node } from "./node.ts";
import { DEFAULT_PERMS } from "./perms.ts";
import { childPath } from "./path.ts";

/** Generation recorded for a node that did not exist. */
export const GENERATION_ABSENT = -1;

export class Tree {
  readonly #nodes = new Map<string, Node>();
  readonly #frozen = new WeakSet<Node>();
  readonly #nodesByOwner = new Map<number, number>();
  readonly #memoryByDomain = new Map<number, number>();
  #generation = 0;

  /** A fresh tree: `/`, `/tool`, `/tool/xenstored`, all `n0` (§2.1). */
  constructor() {
    const empty = new Uint8Array(0);
    const initial: [string, Node][] = [
      ["/", new Node(empty, DEFAULT_PERMS, this.nextGeneration(), ["tool"])],
      ["/tool", new Node(empty, DEFAULT_PERMS, this.nextGeneration(), ["xenstored"])],
      ["/tool/xenstored", new Node(empty, DEFAULT_PERMS, this.nextGeneration())],
    ];
    for (const [path, node] of initial) {
      this.#nodes.set(path, node);
      this.charge(0, 1);
      this.chargeMemory(0, node.recordBytes() + path.length);
    }
  }

  /** Advances and returns the global generation counter. */
  nextGeneration(): number {
    return ++this.#generation;
  }

  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#nodes.size;
  }

  get(path: string): Node | undefined {
    return this.#nodes.get(path);
  }

  /** Marks `node` as held by a transaction: never mutated in place again. */
  freeze(node: Node): void {
    this.#frozen.add(node);
  }

  /** A node of the tree that may be mutated in place (cloned if frozen). */
  writable(path: string): Node | undefined {
    const n = this.#nodes.get(path);
    if (!n || !this.#frozen.has(n)) return n;
    const copy = n.clone();
    this.#nodes.set(path, copy);
    return copy;
  }

  set(path: string, node: Node): void {
    this.#nodes.set(path, node);
  }

  delete(path: string): void {
    this.#nodes.delete(path);
  }

  /** Nodes owned by `domid` (entry 0 of the permission list). */
  ownedBy(domid: number): number {
    return this.#nodesByOwner.get(domid) ?? 0;
  }

  /** Adjusts the owner count of `domid` by `delta`. */
  charge(domid: number, delta: number): void {
    const n = (this.#nodesByOwner.get(domid) ?? 0) + delta;
    if (n === 0) this.#nodesByOwner.delete(domid);
    else this.#nodesByOwner.set(domid, n);
  }

  /** Bytes of xenstored memory charged to `domid` (`quota <domid>`, `memory`). */
  memoryOf(domid: number): number {
    return this.#memoryByDomain.get(domid) ?? 0;
  }

  /** Adjusts the memory charged to `domid` by `delta` bytes. */
  chargeMemory(domid: number, delta: number): void {
    const n = (this.#memoryByDomain.get(domid) ?? 0) + delta;
    if (n === 0) this.#memoryByDomain.delete(domid);
    else this.#memoryByDomain.set(domid, n);
  }

  /** Paths of the subtree at `path`, children before parents (post-order). */
  *postOrder(path: string): Generator<string> {
    const node = this.#nodes.get(path);
    if (!node) return;
    // Iterative, bounded by the tree size (XSA-418: no recursion on depth).
    const stack: { path: string; it: Iterator<string> }[] = [{ path, it: node.children() }];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = top.it.next();
      if (next.done) {
        stack.pop();
        yield top.path;
        continue;
      }
      const p = childPath(top.path, next.value);
      const child = this.#nodes.get(p);
      if (child) stack.push({ path: p, it: child.children() });
    }
  }

  /** Every path, parents before children. */
  *paths(): Generator<string> {
    yield* this.#nodes.keys();
  }
}
