/**
 * @module
 * One domain's pseudo-physical memory: a `Uint32Array` p2m (pfn → mfn) over
 * the host's {@link MachineMemory}, `tot_pages` / `max_pages` accounting
 * (domctl max_mem, memory_op populate_physmap / decrease_reservation), guest
 * reads and writes with log-dirty marking, bulk page copies for the
 * migration send and receive paths, and the content hash.
 *
 * xenlab keeps the p2m in the hypervisor for PV guests too (Xen lets a PV
 * guest maintain its own); so memory_op and foreign mapping take pfns for
 * both guest kinds, and MFNs appear only where the ABI shows them to a guest
 * or toolstack (populate_physmap output, start_info, setup_table, the
 * shared_info address, translate_gpfn_list).
 *
 * Frames of Xen's own heap that a guest places in its physmap
 * (`add_to_physmap` of shared_info or grant-table frames) are mapped but not
 * counted in `tot_pages`, and never freed through the p2m.
 */
import { assert } from "./assert.ts";
import { ContentHasher } from "./content_hash.ts";
import { DirtyBitmap } from "./dirty_bitmap.ts";
import { Errno } from "./errno.ts";
import { CHUNK_MASK, CHUNK_SHIFT, type MachineMemory } from "./machine_memory.ts";
import { INVALID_MFN, INVALID_PFN, PAGE_SHIFT, PAGE_SIZE } from "./xen_abi.ts";

/** Largest pfn + 1 a guest may populate (2^26 pfns = 256 GiB). */
export const GUEST_PFNS_MAX = 1 << 26;

/** One domain's physmap. */
export class GuestMemory {
  readonly #mm: MachineMemory;
  readonly #domid: number;
  #p2m = new Uint32Array(0);
  /** Pfns mapped onto Xen-heap frames (not counted, not freed). */
  readonly #xenheap = new Set<number>();
  #totPages = 0;
  #maxPfn = -1;
  /** `max_pages`, in pages. */
  maxPages = 0;
  #dirty: DirtyBitmap | null = null;

  constructor(mm: MachineMemory, domid: number) {
    this.#mm = mm;
    this.#domid = domid;
  }

  /** Domheap pages in the physmap (`tot_pages`). */
  get totPages(): number {
    return this.#totPages;
  }

  /** Highest pfn ever populated, or -1 (`XENMEM_maximum_gpfn`). */
  get maxPfn(): number {
    return this.#maxPfn;
  }

  /** Size of the p2m (pfns 0..p2mSize-1 may be populated). */
  get p2mSize(): number {
    return this.#p2m.length;
  }

  /** The mfn behind `pfn`, or INVALID_MFN. */
  mfnOf(pfn: number): number {
    return pfn >= 0 && pfn < this.#p2m.length ? this.#p2m[pfn] : INVALID_MFN;
  }

  /** Whether `pfn` is populated. */
  isPopulated(pfn: number): boolean {
    return this.mfnOf(pfn) !== INVALID_MFN;
  }

  /**
   * Populates `pfn` with a zeroed frame. Returns the mfn (an already
   * populated pfn keeps its frame — xenlab makes populate idempotent where
   * Xen would leak the old page), or -ENOMEM past `max_pages` or when the
   * host is out of frames, or -EINVAL past {@link GUEST_PFNS_MAX}.
   */
  populate(pfn: number): number {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= GUEST_PFNS_MAX) return -Errno.EINVAL;
    const cur = this.mfnOf(pfn);
    if (cur !== INVALID_MFN) return cur;
    if (this.#totPages >= this.maxPages) return -Errno.ENOMEM;
    const mfn = this.#mm.alloc(this.#domid, pfn);
    if (mfn < 0) return -Errno.ENOMEM;
    this.#ensure(pfn);
    this.#p2m[pfn] = mfn;
    this.#totPages++;
    if (pfn > this.#maxPfn) this.#maxPfn = pfn;
    return mfn;
  }

  /** Frees the page at `pfn` (decrease_reservation): 0, or -EINVAL if unpopulated. */
  remove(pfn: number): number {
    const mfn = this.mfnOf(pfn);
    if (mfn === INVALID_MFN) return -Errno.EINVAL;
    this.#p2m[pfn] = INVALID_MFN;
    if (this.#xenheap.delete(pfn)) {
      this.#mm.setM2p(mfn, INVALID_PFN);
      return 0;
    }
    this.#mm.free(mfn);
    this.#totPages--;
    return 0;
  }

  /** Places a Xen-heap frame at `pfn` (add_to_physmap), freeing any page there. */
  mapXenFrame(pfn: number, mfn: number): number {
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= GUEST_PFNS_MAX) return -Errno.EINVAL;
    if (this.isPopulated(pfn)) this.remove(pfn);
    this.#ensure(pfn);
    this.#p2m[pfn] = mfn;
    this.#mm.setM2p(mfn, pfn);
    this.#xenheap.add(pfn);
    if (pfn > this.#maxPfn) this.#maxPfn = pfn;
    return 0;
  }

  /** Unhooks every Xen-heap frame from the physmap (before the heap frees them). */
  unmapXenFrames(): void {
    for (const pfn of this.#xenheap) this.#p2m[pfn] = INVALID_MFN;
    this.#xenheap.clear();
  }

  /** Frees every domheap page (domain teardown). */
  releaseAll(): void {
    this.unmapXenFrames();
    const p2m = this.#p2m;
    // Free from the top so the host's free stack hands frames back ascending.
    for (let pfn = p2m.length - 1; pfn >= 0; pfn--) {
      const mfn = p2m[pfn];
      if (mfn !== INVALID_MFN) {
        this.#mm.free(mfn);
        p2m[pfn] = INVALID_MFN;
      }
    }
    this.#totPages = 0;
  }

  // ---- log-dirty ----

  /** Whether log-dirty mode is on. */
  get logDirty(): boolean {
    return this.#dirty !== null;
  }

  /** Turns log-dirty on with a clear bitmap: 0, or -EINVAL if already on. */
  enableLogDirty(): number {
    if (this.#dirty !== null) return -Errno.EINVAL;
    this.#dirty = new DirtyBitmap(this.#p2m.length);
    return 0;
  }

  /** Turns log-dirty off (always 0, as Xen). */
  disableLogDirty(): number {
    this.#dirty = null;
    return 0;
  }

  /** The live bitmap, or null when log-dirty is off. */
  get dirtyBitmap(): DirtyBitmap | null {
    return this.#dirty;
  }

  /** Records a write to `pfn` (no-op unless log-dirty is on). */
  markDirty(pfn: number): void {
    if (this.#dirty !== null) this.#dirty.set(pfn);
  }

  // ---- guest access ----

  /** Copies bytes of page `pfn` from `offset` into `out`: 0 or -EFAULT. */
  read(pfn: number, offset: number, out: Uint8Array): number {
    const mfn = this.mfnOf(pfn);
    if (mfn === INVALID_MFN || offset < 0 || offset + out.length > PAGE_SIZE) return -Errno.EFAULT;
    const c = this.#mm.chunks[mfn >>> CHUNK_SHIFT]!;
    const start = ((mfn & CHUNK_MASK) << PAGE_SHIFT) + offset;
    out.set(c.bytes.subarray(start, start + out.length));
    return 0;
  }

  /** Writes `data` into page `pfn` at `offset`, marking it dirty: 0 or -EFAULT. */
  write(pfn: number, offset: number, data: Uint8Array): number {
    const mfn = this.mfnOf(pfn);
    if (mfn === INVALID_MFN || offset < 0 || offset + data.length > PAGE_SIZE) {
      return -Errno.EFAULT;
    }
    const c = this.#mm.chunks[mfn >>> CHUNK_SHIFT]!;
    c.bytes.set(data, ((mfn & CHUNK_MASK) << PAGE_SHIFT) + offset);
    if (this.#dirty !== null) this.#dirty.set(pfn);
    return 0;
  }

  /**
   * Translates `count` pfns into `mfns` (INVALID_MFN for holes) and returns
   * the number of holes. Used by foreign mapping.
   */
  translate(pfns: ArrayLike<number>, count: number, mfns: Uint32Array): number {
    const p2m = this.#p2m;
    let holes = 0;
    for (let i = 0; i < count; i++) {
      const pfn = pfns[i];
      const mfn = pfn >= 0 && pfn < p2m.length ? p2m[pfn] : INVALID_MFN;
      mfns[i] = mfn;
      if (mfn === INVALID_MFN) holes++;
    }
    return holes;
  }

  /** "xenlab-memhash-1" of the populated pages (see `content_hash.ts`). */
  contentHash(): string {
    const h = new ContentHasher();
    const p2m = this.#p2m;
    const chunks = this.#mm.chunks;
    for (let pfn = 0; pfn < p2m.length; pfn++) {
      const mfn = p2m[pfn];
      if (mfn === INVALID_MFN) continue;
      h.addPage(pfn, chunks[mfn >>> CHUNK_SHIFT]!.u32, (mfn & CHUNK_MASK) << (PAGE_SHIFT - 2));
    }
    return h.digest();
  }

  /** Populated pfns, ascending (tests and inspection). */
  populatedPfns(): number[] {
    const out: number[] = [];
    for (let pfn = 0; pfn < this.#p2m.length; pfn++) {
      if (this.#p2m[pfn] !== INVALID_MFN) out.push(pfn);
    }
    return out;
  }

  #ensure(pfn: number): void {
    if (pfn < this.#p2m.length) return;
    assert(pfn < GUEST_PFNS_MAX, `p2m: pfn ${pfn} beyond GUEST_PFNS_MAX`);
    let size = Math.max(1024, this.#p2m.length);
    while (size <= pfn) size *= 2;
    const grown = new Uint32Array(Math.min(size, GUEST_PFNS_MAX)).fill(INVALID_MFN);
    grown.set(this.#p2m);
    this.#p2m = grown;
  }
}
