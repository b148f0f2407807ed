/**
 * @module
 * The log-dirty bitmap of one domain: one bit per pfn in a `Uint32Array`,
 * set on every write while log-dirty mode is on and read back by
 * `shadow_op CLEAN` (fetch and reset) or `PEEK` (fetch only) during live
 * migration (lifecycle-and-migration.md §5.3).
 *
 * Scanning skips zero words and peels set bits with `w & -w`, so a 1 GiB
 * domain (262,144 pfns = 8,192 words) with 10,000 dirty pages is collected
 * in tens of microseconds.
 */
import { assert } from "./assert.ts";

/** Largest pfn count a bitmap covers (2^26 pfns = 256 GiB of guest). */
export const DIRTY_BITMAP_BITS_MAX = 1 << 26;

function popcount32(w: number): number {
  w = w - ((w >>> 1) & 0x55555555);
  w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
  return (Math.imul((w + (w >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** A growable bitmap over pfns. */
export class DirtyBitmap {
  #words: Uint32Array;

  /** A bitmap with room for `bits` pfns (it grows on demand). */
  constructor(bits = 0) {
    assert(
      Number.isSafeInteger(bits) && bits >= 0 && bits <= DIRTY_BITMAP_BITS_MAX,
      `dirty bitmap: bad size ${bits} (0..${DIRTY_BITMAP_BITS_MAX})`,
    );
    this.#words = new Uint32Array((bits + 31) >>> 5);
  }

  /** Pfns covered without growing. */
  get capacity(): number {
    return this.#words.length << 5;
  }

  /** Marks `pfn` dirty. */
  set(pfn: number): void {
    const wi = pfn >>> 5;
    if (wi >= this.#words.length) this.#grow(pfn + 1);
    this.#words[wi] |= 1 << (pfn & 31);
  }

  /** Whether `pfn` is dirty. */
  test(pfn: number): boolean {
    const wi = pfn >>> 5;
    return wi < this.#words.length && (this.#words[wi] & (1 << (pfn & 31))) !== 0;
  }

  /** Number of dirty pfns. */
  count(): number {
    const words = this.#words;
    let n = 0;
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (w !== 0) n += popcount32(w);
    }
    return n;
  }

  /** Clears every bit. */
  clearAll(): void {
    this.#words.fill(0);
  }

  /**
   * Writes the dirty pfns, ascending, into `out` and returns how many there
   * were; clears them too when `clear`. Stops (and leaves the rest set) when
   * `out` is full, so the caller can collect in batches.
   */
  collect(out: Uint32Array, clear: boolean): number {
    const words = this.#words;
    const cap = out.length;
    let n = 0;
    for (let wi = 0; wi < words.length; wi++) {
      let w = words[wi];
      if (w === 0) continue;
      const base = wi << 5;
      while (w !== 0) {
        if (n === cap) {
          if (clear) words[wi] = w;
          return n;
        }
        const low = w & -w;
        out[n++] = base + 31 - Math.clz32(low);
        w ^= low;
      }
      if (clear) words[wi] = 0;
    }
    return n;
  }

  /** The dirty pfns as a plain array (what `shadow_op` returns). */
  toArray(clear: boolean): number[] {
    const buf = new Uint32Array(this.count());
    const n = this.collect(buf, clear);
    // A plain loop: Array.from(typedArray) is an order of magnitude slower in V8.
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = buf[i];
    return out;
  }

  #grow(bits: number): void {
    assert(bits <= DIRTY_BITMAP_BITS_MAX, `dirty bitmap: pfn ${bits - 1} beyond the maximum`);
    let words = Math.max(64, this.#words.length);
    while (words << 5 < bits) words *= 2;
    const grown = new Uint32Array(Math.min(words, DIRTY_BITMAP_BITS_MAX >>> 5));
    grown.set(this.#words);
    this.#words = grown;
  }
}
