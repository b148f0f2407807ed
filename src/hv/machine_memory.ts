/**
 * @module
 * The host's machine frames: real bytes, a frame allocator, and the machine →
 * physical table (m2p) with each frame's owner. Guests see pseudo-physical
 * frame numbers (pfns) that their p2m maps onto these machine frames (mfns);
 * MFNs are what the PV ABI shows (start_info, setup_table frame lists,
 * populate_physmap output), and they change when a domain is restored
 * elsewhere — which is why the toolstack rewrites them (§4.2).
 *
 * Storage: frames live in lazily allocated chunks of {@link CHUNK_FRAMES}
 * pages (1 MiB, one `ArrayBuffer` each) with typed-array metadata; there is
 * no JS object per page. A chunk is dropped once its last frame is freed, so
 * hundreds of MiB of guests come and go without growing the process, and an
 * allocated-but-untouched chunk is zero pages the OS has not committed.
 *
 * Allocation is deterministic: fresh frames in ascending order first (so a
 * domain's pfns map onto runs of consecutive mfns and page copies coalesce),
 * then recycled frames from a free stack. Freed frames are scrubbed (zeroed).
 */
import { assert } from "./assert.ts";
import { DOMID_INVALID, INVALID_PFN, PAGE_SHIFT, PAGE_SIZE } from "./xen_abi.ts";

/** log2 of frames per chunk. */
export const CHUNK_SHIFT = 8;
/** Frames per chunk (256 frames = 1 MiB). */
export const CHUNK_FRAMES = 1 << CHUNK_SHIFT;
export const CHUNK_MASK = CHUNK_FRAMES - 1;
/** Default host size in frames (4 GiB). */
export const MACHINE_FRAMES_DEFAULT = 1 << 20;
/** Largest host we emulate, in frames (256 GiB; mfns stay below 2^32). */
export const MACHINE_FRAMES_MAX = 1 << 26;

/** One chunk: its bytes, word views of them, and per-frame metadata. */
export interface Chunk {
  readonly bytes: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  /** Owner domid per frame; DOMID_INVALID when free. */
  readonly owner: Uint16Array;
  /** m2p per frame; INVALID_PFN when not in any physmap. */
  readonly m2p: Uint32Array;
  used: number;
}

function newChunk(): Chunk {
  const buf = new ArrayBuffer(CHUNK_FRAMES * PAGE_SIZE);
  const owner = new Uint16Array(CHUNK_FRAMES).fill(DOMID_INVALID);
  const m2p = new Uint32Array(CHUNK_FRAMES).fill(INVALID_PFN);
  return {
    bytes: new Uint8Array(buf),
    u16: new Uint16Array(buf),
    u32: new Uint32Array(buf),
    owner,
    m2p,
    used: 0,
  };
}

/** The host's frames. */
export class MachineMemory {
  readonly framesMax: number;
  readonly #chunks: (Chunk | undefined)[] = [];
  #next = 0;
  #free = new Uint32Array(1024);
  #freeCount = 0;
  #used = 0;

  constructor(framesMax: number = MACHINE_FRAMES_DEFAULT) {
    assert(
      Number.isSafeInteger(framesMax) && framesMax > 0 && framesMax <= MACHINE_FRAMES_MAX,
      `machine memory: bad framesMax ${framesMax} (1..${MACHINE_FRAMES_MAX})`,
    );
    this.framesMax = framesMax;
  }

  /** Frames currently allocated. */
  get framesUsed(): number {
    return this.#used;
  }

  /** Chunks currently backed by memory (diagnostics and tests). */
  get chunksLive(): number {
    let n = 0;
    for (const c of this.#chunks) if (c !== undefined) n++;
    return n;
  }

  /**
   * Allocates one zeroed frame for `owner`, recording `pfn` in the m2p.
   * Returns the mfn, or -1 when the host is out of frames.
   */
  alloc(owner: number, pfn: number): number {
    let mfn: number;
    if (this.#next < this.framesMax) mfn = this.#next++;
    else if (this.#freeCount > 0) mfn = this.#free[--this.#freeCount];
    else return -1;
    const ci = mfn >>> CHUNK_SHIFT;
    let c = this.#chunks[ci];
    if (c === undefined) c = this.#chunks[ci] = newChunk();
    const i = mfn & CHUNK_MASK;
    assert(c.owner[i] === DOMID_INVALID, `machine memory: mfn ${mfn} allocated twice`);
    c.owner[i] = owner;
    c.m2p[i] = pfn;
    c.used++;
    this.#used++;
    return mfn;
  }

  /** Frees (and scrubs) an allocated frame. */
  free(mfn: number): void {
    const ci = mfn >>> CHUNK_SHIFT;
    const c = this.#chunks[ci];
    const i = mfn & CHUNK_MASK;
    assert(c !== undefined && c.owner[i] !== DOMID_INVALID, `machine memory: mfn ${mfn} is free`);
    c.owner[i] = DOMID_INVALID;
    c.m2p[i] = INVALID_PFN;
    this.#used--;
    if (--c.used === 0) {
      this.#chunks[ci] = undefined;
    } else {
      c.bytes.fill(0, i << PAGE_SHIFT, (i + 1) << PAGE_SHIFT);
    }
    if (this.#freeCount === this.#free.length) {
      const grown = new Uint32Array(this.#free.length * 2);
      grown.set(this.#free);
      this.#free = grown;
    }
    this.#free[this.#freeCount++] = mfn;
  }

  /** The owner of `mfn`, or DOMID_INVALID if it is free or out of range. */
  owner(mfn: number): number {
    const c = this.#chunks[mfn >>> CHUNK_SHIFT];
    return c === undefined ? DOMID_INVALID : c.owner[mfn & CHUNK_MASK];
  }

  /** The pfn `mfn` backs (the m2p), or INVALID_PFN. */
  m2p(mfn: number): number {
    const c = this.#chunks[mfn >>> CHUNK_SHIFT];
    return c === undefined ? INVALID_PFN : c.m2p[mfn & CHUNK_MASK];
  }

  /** Records `pfn` as the physical slot of an allocated frame. */
  setM2p(mfn: number, pfn: number): void {
    this.chunk(mfn).m2p[mfn & CHUNK_MASK] = pfn;
  }

  /** The chunk holding an allocated frame (hot paths index it directly). */
  chunk(mfn: number): Chunk {
    const c = this.#chunks[mfn >>> CHUNK_SHIFT];
    assert(c !== undefined && c.owner[mfn & CHUNK_MASK] !== DOMID_INVALID, `mfn ${mfn} is free`);
    return c;
  }

  /** The chunk table (hot paths: `chunks[mfn >>> CHUNK_SHIFT]`). */
  get chunks(): readonly (Chunk | undefined)[] {
    return this.#chunks;
  }

  /** A view of one allocated frame's 4096 bytes (writes bypass dirty logging). */
  page(mfn: number): Uint8Array {
    const start = (mfn & CHUNK_MASK) << PAGE_SHIFT;
    return this.chunk(mfn).bytes.subarray(start, start + PAGE_SIZE);
  }

  /**
   * Copies `count` frames `mfns[0..count)` into `out` at `outOffset`, one
   * page after another. Runs of consecutive mfns within a chunk are copied
   * with one `set`, so a domain's contiguous memory copies at memcpy speed.
   * When `owner` is given, a frame not (or no longer) owned by it — or
   * INVALID_MFN — comes out as a zero page.
   */
  copyOut(
    mfns: Uint32Array,
    count: number,
    out: Uint8Array,
    outOffset: number,
    owner = -1,
  ): void {
    assert(count <= mfns.length, "copyOut: count exceeds mfns");
    assert(outOffset + count * PAGE_SIZE <= out.length, "copyOut: output too small");
    const chunks = this.#chunks;
    let i = 0;
    while (i < count) {
      const mfn = mfns[i];
      const ci = mfn >>> CHUNK_SHIFT;
      const c = chunks[ci];
      const dst = outOffset + i * PAGE_SIZE;
      if (c === undefined || (owner >= 0 && c.owner[mfn & CHUNK_MASK] !== owner)) {
        assert(owner >= 0, `copyOut: mfn ${mfn} is free`);
        out.fill(0, dst, dst + PAGE_SIZE);
        i++;
        continue;
      }
      let j = i + 1;
      let next = mfn + 1;
      while (
        j < count && mfns[j] === next && next >>> CHUNK_SHIFT === ci &&
        (owner < 0 || c.owner[next & CHUNK_MASK] === owner)
      ) {
        j++;
        next++;
      }
      const start = (mfn & CHUNK_MASK) << PAGE_SHIFT;
      out.set(c.bytes.subarray(start, start + (j - i) * PAGE_SIZE), dst);
      i = j;
    }
  }
}
