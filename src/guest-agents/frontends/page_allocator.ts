/**
 * @module
 * {@link PageAllocator}: the guest kernel's pages for shared rings — a
 * bounded range of the domain's own pfns `[base, base + count)`, handed
 * out lowest first and taken back when a ring is freed. The pages are the
 * guest's memory, so they survive a save/restore with their pfns; a
 * restored guest keeps using the same allocator.
 */

/** Default number of pages set aside for rings. */
export const RING_PAGES_DEFAULT = 64;
/** Most pages one allocator manages. */
export const RING_PAGES_MAX = 4096;

/** Out of ring pages: the message names the bound. */
export class PageAllocatorError extends Error {
  override name = "PageAllocatorError";
}

/** A page range of one domain. */
export class PageAllocator {
  readonly base: number;
  readonly count: number;
  readonly #used = new Set<number>();

  constructor(base: number, count = RING_PAGES_DEFAULT) {
    if (!Number.isSafeInteger(base) || base < 0) throw new RangeError(`bad ring pfn base ${base}`);
    if (!Number.isInteger(count) || count < 1 || count > RING_PAGES_MAX) {
      throw new RangeError(`ring pages ${count}: must be 1..${RING_PAGES_MAX}`);
    }
    this.base = base;
    this.count = count;
  }

  /** Pages handed out. */
  get used(): number {
    return this.#used.size;
  }

  /** The lowest free pfn. */
  alloc(): number {
    for (let pfn = this.base; pfn < this.base + this.count; pfn++) {
      if (!this.#used.has(pfn)) {
        this.#used.add(pfn);
        return pfn;
      }
    }
    throw new PageAllocatorError(
      `all ${this.count} ring pages from pfn ${this.base} are in use; give the frontends more ` +
        `(ringPages)`,
    );
  }

  /** Returns `pfn`; freeing a page not handed out is a programming error. */
  free(pfn: number): void {
    if (!this.#used.delete(pfn)) throw new Error(`ring page ${pfn} freed but not allocated`);
  }
}
