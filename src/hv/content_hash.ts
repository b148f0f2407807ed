/**
 * @module
 * A fast content hash of a domain's memory, to check that a restored or
 * migrated guest holds exactly the bytes the source had.
 *
 * Definition ("xenlab-memhash-1"), over the populated pfns in ascending
 * order: for each page, the pfn is mixed into both lanes, then the page's
 * 1024 little-endian u32 words alternate between lane A (even words) and
 * lane B (odd words). Each lane is MurmurHash3_x86_32's block step
 * (`k *= 0xcc9e2d51; k = rotl(k, 15); k *= 0x1b873593; h ^= k;
 * h = rotl(h, 13); h = h * 5 + 0xe6546b64`), lane A seeded 0, lane B seeded
 * 0x9747b28c. The result is `fmix32(A ^ pages)` and `fmix32(B ^ pages)` as
 * 16 hex digits. Two lanes halve the dependency chain, so hashing runs at
 * a few GB/s in V8; it is not a standard hash and not cryptographic.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const N = 0xe6546b64;
const SEED_B = 0x9747b28c;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Incremental "xenlab-memhash-1": feed pages in pfn order, then {@link digest}. */
export class ContentHasher {
  #a = 0;
  #b = SEED_B;
  #pages = 0;

  /** Mixes in page `pfn` whose 1024 words start at `words[offset]`. */
  addPage(pfn: number, words: Uint32Array, offset: number): void {
    let a = this.#a, b = this.#b;
    let k = Math.imul(pfn, C1);
    k = Math.imul((k << 15) | (k >>> 17), C2);
    a ^= k;
    a = (Math.imul((a << 13) | (a >>> 19), 5) + N) | 0;
    b ^= k;
    b = (Math.imul((b << 13) | (b >>> 19), 5) + N) | 0;
    const end = offset + 1024;
    for (let i = offset; i < end; i += 2) {
      let ka = Math.imul(words[i], C1);
      ka = Math.imul((ka << 15) | (ka >>> 17), C2);
      a ^= ka;
      a = (Math.imul((a << 13) | (a >>> 19), 5) + N) | 0;
      let kb = Math.imul(words[i + 1], C1);
      kb = Math.imul((kb << 15) | (kb >>> 17), C2);
      b ^= kb;
      b = (Math.imul((b << 13) | (b >>> 19), 5) + N) | 0;
    }
    this.#a = a;
    this.#b = b;
    this.#pages++;
  }

  /** The hash as 16 lower-case hex digits. */
  digest(): string {
    const a = fmix32(this.#a ^ this.#pages);
    const b = fmix32(this.#b ^ this.#pages);
    return a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0");
  }
}
