/**
 * @module
 * A store node: value bytes, permission list, ordered child names and the
 * generation of its last modification (xenstore-protocol.md §2.1, §3.6).
 *
 * Children keep insertion order (cxenstored, §2.5) in a `Set`, so adding or
 * removing one child costs O(1) however large the directory grows. The
 * encoded child list (`name\0name\0...`) is cached until the set changes.
 *
 * cxenstored appends a child's name without checking for it. Only a
 * transaction's copy of a node can meet a name it already lists (the child
 * was removed outside after the copy was taken, then created again in the
 * transaction); such a transaction can only end in EAGAIN, but until then
 * the real daemon lists the name twice and later walks trip over the
 * duplicate (EIO). Once a name is listed twice, the node keeps its whole
 * list as an array, in append order, until the duplicates are gone.
 */
import { fromLatin1 } from "../wire/message.ts";
import type { PermList } from "./perms.ts";

/** Size of cxenstored's node record header, counted by the node-size quota. */
export const NODE_RECORD_HEADER_BYTES = 24;
/** Size of one permission entry in the node record. */
export const NODE_RECORD_PERM_BYTES = 8;

/** One node of the tree. */
export class Node {
  value: Uint8Array;
  perms: PermList;
  generation: number;
  #children: Set<string>;
  /** The whole list while some name is listed twice (see the module comment). */
  #order: string[] | null = null;
  #childBytes: number;
  #encoded: Uint8Array | null = null;

  constructor(value: Uint8Array, perms: PermList, generation: number, children?: Iterable<string>) {
    this.value = value;
    this.perms = perms;
    this.generation = generation;
    this.#children = new Set(children);
    let n = 0;
    for (const c of this.#children) n += c.length + 1;
    this.#childBytes = n;
  }

  /** A copy whose child set can change without touching this node. */
  clone(): Node {
    const n = new Node(this.value, this.perms, this.generation, this.#children);
    n.#order = this.#order && [...this.#order];
    n.#childBytes = this.#childBytes;
    n.#encoded = this.#encoded;
    return n;
  }

  get childCount(): number {
    return this.#order?.length ?? this.#children.size;
  }

  /** Bytes of the child list with one NUL per name. */
  get childBytes(): number {
    return this.#childBytes;
  }

  /** Child names as listed, in append order. */
  *children(): IterableIterator<string> {
    yield* this.#order ?? this.#children;
  }

  hasChild(name: string): boolean {
    return this.#children.has(name);
  }

  /** Appends `name` (again, if it is listed already: cxenstored does not check). */
  addChild(name: string): void {
    if (this.#children.has(name)) (this.#order ??= [...this.#children]).push(name);
    else {
      this.#children.add(name);
      this.#order?.push(name);
    }
    this.#childBytes += name.length + 1;
    this.#encoded = null;
  }

  /** Removes the first entry of `name`; false if none is listed. */
  removeChild(name: string): boolean {
    if (!this.#children.has(name)) return false;
    if (this.#order) {
      this.#order.splice(this.#order.indexOf(name), 1);
      if (!this.#order.includes(name)) this.#children.delete(name);
      if (this.#order.length === this.#children.size) {
        this.#children = new Set(this.#order);
        this.#order = null;
      }
    } else this.#children.delete(name);
    this.#childBytes -= name.length + 1;
    this.#encoded = null;
    return true;
  }

  /** The DIRECTORY payload: each child name followed by a NUL. */
  encodedChildren(): Uint8Array {
    if (this.#encoded) return this.#encoded;
    const out = new Uint8Array(this.#childBytes);
    let at = 0;
    for (const c of this.children()) {
      out.set(fromLatin1(c), at);
      at += c.length + 1;
    }
    return (this.#encoded = out);
  }

  /** Size as the node-size quota counts it (§7.1). */
  recordBytes(): number {
    return NODE_RECORD_HEADER_BYTES + NODE_RECORD_PERM_BYTES * this.perms.length +
      this.value.length + this.#childBytes;
  }
}
