/**
 * @module
 * A privileged domain's mapping of another domain's pages
 * (`xenforeignmemory_map` / privcmd): the bulk, binary path the toolstack
 * uses to build and restore guests and to copy pages out during save and
 * migration (§5.1–5.3). Frames are translated once, at map time, as Xen
 * does; a page missing at map time gets a per-page error (-ENOENT) and reads
 * as zeros.
 *
 * Writes through a mapping mark the target's pages dirty while log-dirty is
 * on. The mapping holds a reference on the target, so a destroyed target
 * stays (dead) until the mapping is unmapped.
 */
import { Errno } from "./errno.ts";
import type { Domain } from "./domain.ts";
import type { HvCore, Releasable } from "./hv_core.ts";
import { CHUNK_MASK, CHUNK_SHIFT } from "./machine_memory.ts";
import { INVALID_MFN, PAGE_SHIFT, PAGE_SIZE } from "./xen_abi.ts";

/** Largest number of pages one foreign mapping may cover (1 GiB). */
export const FOREIGN_MAP_PAGES_MAX = 1 << 18;

/** Pages of one domain mapped by another. */
export class ForeignMapping implements Releasable {
  /** The mapped domain. */
  readonly domid: number;
  readonly count: number;
  readonly writable: boolean;
  /** Per page: 0, or -ENOENT where no page was mapped. */
  readonly err: Int32Array;
  readonly #core: HvCore;
  readonly #holder: Domain;
  readonly #target: Domain;
  readonly #pfns: Uint32Array;
  readonly #mfns: Uint32Array;
  #live = true;

  /** @internal Use `Hypervisor.foreignMap`. */
  constructor(
    core: HvCore,
    holder: Domain,
    target: Domain,
    pfns: ArrayLike<number>,
    writable: boolean,
  ) {
    this.#core = core;
    this.#holder = holder;
    this.#target = target;
    this.domid = target.id;
    this.count = pfns.length;
    this.writable = writable;
    // Not Uint32Array.from: it goes through the iterator protocol, slowly.
    this.#pfns = new Uint32Array(this.count);
    for (let i = 0; i < this.count; i++) this.#pfns[i] = pfns[i];
    this.#mfns = new Uint32Array(this.count);
    target.memory.translate(this.#pfns, this.count, this.#mfns);
    this.err = new Int32Array(this.count);
    for (let i = 0; i < this.count; i++) {
      if (this.#mfns[i] === INVALID_MFN) this.err[i] = -Errno.ENOENT;
    }
    core.addRef(target);
    let held = core.heldMappings.get(holder);
    if (held === undefined) core.heldMappings.set(holder, held = new Set());
    held.add(this);
  }

  /** Whether the mapping is still in place. */
  get live(): boolean {
    return this.#live;
  }

  /** The pfn mapped at index `i`. */
  pfn(i: number): number {
    return this.#pfns[i];
  }

  #page(i: number): { bytes: Uint8Array; start: number } | undefined {
    if (!this.#live || i < 0 || i >= this.count) return undefined;
    const mfn = this.#mfns[i];
    const c = this.#core.mm.chunks[mfn >>> CHUNK_SHIFT];
    if (c === undefined || c.owner[mfn & CHUNK_MASK] !== this.domid) return undefined;
    return { bytes: c.bytes, start: (mfn & CHUNK_MASK) << PAGE_SHIFT };
  }

  /** Copies from page `i` at `offset` into `out`: 0 or -EFAULT. */
  read(i: number, offset: number, out: Uint8Array): number {
    const p = this.#page(i);
    if (p === undefined || offset < 0 || offset + out.length > PAGE_SIZE) return -Errno.EFAULT;
    out.set(p.bytes.subarray(p.start + offset, p.start + offset + out.length));
    return 0;
  }

  /** Writes `data` into page `i` at `offset`: 0, -EFAULT, or -EACCES if read-only. */
  write(i: number, offset: number, data: Uint8Array): number {
    if (!this.writable) return -Errno.EACCES;
    const p = this.#page(i);
    if (p === undefined || offset < 0 || offset + data.length > PAGE_SIZE) return -Errno.EFAULT;
    p.bytes.set(data, p.start + offset);
    this.#target.memory.markDirty(this.#pfns[i]);
    return 0;
  }

  /**
   * Copies every mapped page, in order, into `out` at `outOffset`
   * (`count × 4096` bytes): the migration send path. Runs of consecutive
   * frames are copied with one `set`.
   */
  copyOut(out: Uint8Array, outOffset = 0): void {
    if (!this.#live) throw new Error(`foreign mapping of d${this.domid} was unmapped`);
    this.#core.mm.copyOut(this.#mfns, this.count, out, outOffset, this.domid);
  }

  /**
   * Writes `count × 4096` bytes from `data` at `dataOffset` into the mapped
   * pages (the restore path): 0, -EACCES if read-only, -EFAULT if a page is
   * missing (the others are still written).
   */
  copyIn(data: Uint8Array, dataOffset = 0): number {
    if (!this.writable) return -Errno.EACCES;
    if (dataOffset + this.count * PAGE_SIZE > data.length) return -Errno.EFAULT;
    let ret = 0;
    for (let i = 0; i < this.count; i++) {
      const p = this.#page(i);
      if (p === undefined) {
        ret = -Errno.EFAULT;
        continue;
      }
      const src = dataOffset + i * PAGE_SIZE;
      p.bytes.set(data.subarray(src, src + PAGE_SIZE), p.start);
      this.#target.memory.markDirty(this.#pfns[i]);
    }
    return ret;
  }

  /** Unmaps (idempotent); the target may then be freed if it is dead. */
  unmap(): void {
    if (!this.#live) return;
    this.#live = false;
    this.#core.heldMappings.get(this.#holder)?.delete(this);
    this.#core.emit({ src: "hv", dom: this.#holder.id, ev: "foreign_unmap", target: this.domid });
    this.#core.dropRef(this.#target);
    this.#core.settle();
  }

  /** @internal The holder died. */
  release(): void {
    this.unmap();
  }
}
