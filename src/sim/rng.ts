/**
 * @module
 * The simulation's one source of randomness: a seeded, fast, well-known PRNG.
 * One seed makes one {@link Rng}; everything random in a run comes from it or
 * from streams {@link Rng.fork | forked} from it (STYLE.md "Deterministic
 * simulation").
 *
 * Generator: **xoshiro128\*\*** 1.1 (Blackman & Vigna,
 * https://prng.di.unimi.it/xoshiro128starstar.c): 128 bits of state in four
 * 32-bit words, 32-bit outputs, period 2^128 − 1. All arithmetic stays in
 * 32-bit integers (`Math.imul`, `>>>`), so it is fast in V8.
 *
 * Seeding: the seed (a safe-integer `number` or a `bigint`, taken modulo
 * 2^64 so `-1` means 2^64 − 1) initialises a **splitmix64** generator
 * (https://prng.di.unimi.it/splitmix64.c); its first two 64-bit outputs `a`,
 * `b` become the state `[lo(a), hi(a), lo(b), hi(b)]`. This is Vigna's
 * recommended way to seed xoshiro. Splitmix64 runs on `bigint`; it is only
 * used when seeding and forking, never per draw.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * const rng = new Rng(42);
 * const die = rng.range(1, 6);
 * const faults = rng.fork("faults"); // independent, reproducible stream
 * ```
 */
import { AssertionError } from "node:assert";

/** Largest `maxExclusive` accepted by {@link Rng.int}: 2^53 (all safe integers). */
export const RNG_INT_LIMIT = 2 ** 53;
/**
 * Bound on rejection-sampling rounds in {@link Rng.int}. Each round is
 * rejected with probability below 1/2, so a sound generator exceeds this with
 * probability below 2^-64; hitting it means the generator is broken.
 */
export const RNG_REJECTION_ROUNDS_MAX = 64;
/** Largest buffer {@link Rng.bytes} makes in one call (16 MiB). */
export const RNG_BYTES_MAX = 16 * 1024 * 1024;
/** Longest label {@link Rng.fork} accepts, in UTF-8 bytes. */
export const RNG_FORK_LABEL_BYTES_MAX = 1024;

const MASK64 = (1n << 64n) - 1n;
const GOLDEN_GAMMA = 0x9e3779b97f4a7c15n;
const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const TWO_POW_32 = 2 ** 32;
const TWO_POW_53 = 2 ** 53;

function fail(message: string): never {
  throw new AssertionError({ message });
}

/** The splitmix64 output function (a bijection on 64-bit values). */
function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/** A seed as an unsigned 64-bit integer (modulo 2^64). */
function seed64(seed: number | bigint): bigint {
  if (typeof seed === "number") {
    if (!Number.isSafeInteger(seed)) fail(`rng: seed ${seed} is not a safe integer`);
    return BigInt.asUintN(64, BigInt(seed));
  }
  if (seed < -(1n << 63n) || seed > MASK64) {
    fail(`rng: seed ${seed} does not fit in 64 bits`);
  }
  return BigInt.asUintN(64, seed);
}

/** FNV-1a (64-bit) of the label's UTF-8 bytes. */
function fnv1a64(label: string): bigint {
  const bytes = new TextEncoder().encode(label);
  if (bytes.length > RNG_FORK_LABEL_BYTES_MAX) {
    fail(`rng: fork label is ${bytes.length} bytes (limit ${RNG_FORK_LABEL_BYTES_MAX})`);
  }
  let h = FNV64_OFFSET;
  for (const b of bytes) h = ((h ^ BigInt(b)) * FNV64_PRIME) & MASK64;
  return h;
}

/** A seeded xoshiro128** generator. Not cryptographic. */
export class Rng {
  /** The seed this generator was made from (as given). */
  readonly seed: number | bigint;
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  constructor(seed: number | bigint) {
    this.seed = seed;
    const x = seed64(seed);
    const a = mix64((x + GOLDEN_GAMMA) & MASK64);
    const b = mix64((x + 2n * GOLDEN_GAMMA) & MASK64);
    // Stored as int32 (`| 0`); outputs are converted back with `>>> 0`.
    this.#s0 = Number(BigInt.asIntN(32, a));
    this.#s1 = Number(BigInt.asIntN(32, a >> 32n));
    this.#s2 = Number(BigInt.asIntN(32, b));
    this.#s3 = Number(BigInt.asIntN(32, b >> 32n));
    // Two consecutive splitmix64 outputs are never both zero (mix64 is a
    // bijection and the inputs differ), but xoshiro must not start at 0.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) fail("rng: all-zero state");
  }

  /** The next 32-bit output, an integer in [0, 2^32). */
  u32(): number {
    const s0 = this.#s0, s1 = this.#s1;
    let s2 = this.#s2, s3 = this.#s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    this.#s1 = s1 ^ s2;
    this.#s0 = s0 ^ s3;
    this.#s2 = s2 ^ t;
    this.#s3 = (s3 << 11) | (s3 >>> 21);
    return result >>> 0;
  }

  /** A float in [0, 1) with 53 random bits (two draws). */
  float(): number {
    const hi = this.u32() >>> 6; // 26 bits
    const lo = this.u32() >>> 5; // 27 bits
    return (hi * 2 ** 27 + lo) / TWO_POW_53;
  }

  /**
   * An integer uniform in [0, maxExclusive), without modulo bias: draws
   * below `2^k mod maxExclusive` are rejected (k = 32, or 53 when
   * `maxExclusive > 2^32`, which costs two draws per round). Takes exactly
   * one draw when `maxExclusive` is a power of two up to 2^32.
   */
  int(maxExclusive: number): number {
    if (!Number.isInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > RNG_INT_LIMIT) {
      fail(`rng: int(${maxExclusive}) needs an integer in [1, 2^53]`);
    }
    const wide = maxExclusive > TWO_POW_32;
    const threshold = (wide ? TWO_POW_53 : TWO_POW_32) % maxExclusive;
    for (let round = 0; round < RNG_REJECTION_ROUNDS_MAX; round++) {
      const r = wide ? (this.u32() >>> 11) * TWO_POW_32 + this.u32() : this.u32();
      if (r >= threshold) return r % maxExclusive;
    }
    return fail(
      `rng: int(${maxExclusive}) rejected ${RNG_REJECTION_ROUNDS_MAX} draws in a row; ` +
        "the generator is broken",
    );
  }

  /** An integer uniform in [lo, hiInclusive]. */
  range(lo: number, hiInclusive: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hiInclusive) || lo > hiInclusive) {
      fail(`rng: range(${lo}, ${hiInclusive}) needs safe integers with lo <= hi`);
    }
    return lo + this.int(hiInclusive - lo + 1);
  }

  /**
   * True with probability `num/den` (integers, 0 ≤ num ≤ den, den ≥ 1).
   * Always takes one `int(den)` draw, even for 0/den and den/den, so changing
   * a ratio never shifts the rest of the stream.
   */
  chance(num: number, den: number): boolean {
    if (!Number.isInteger(num) || !Number.isInteger(den) || num < 0 || den < 1 || num > den) {
      fail(`rng: chance(${num}, ${den}) needs integers with 0 <= num <= den, den >= 1`);
    }
    return this.int(den) < num;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) fail("rng: pick from an empty array");
    return arr[this.int(arr.length)];
  }

  /** Shuffles `arr` in place (Fisher–Yates) and returns it. */
  shuffle<T>(arr: T[]): T[] {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** `n` random bytes (each u32 fills four bytes, little-endian). */
  bytes(n: number): Uint8Array {
    if (!Number.isInteger(n) || n < 0 || n > RNG_BYTES_MAX) {
      fail(`rng: bytes(${n}) needs an integer in [0, ${RNG_BYTES_MAX}]`);
    }
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let w = this.u32();
      for (let k = i; k < i + 4 && k < n; k++) {
        out[k] = w & 0xff;
        w >>>= 8;
      }
    }
    return out;
  }

  /**
   * An independent stream named `label`, a pure function of (this.seed,
   * label): it neither reads nor advances this generator's state, so forking
   * the same label twice gives the same stream, and forking (or not) never
   * shifts the parent. The child's seed is
   * `mix64(mix64(seed) ^ fnv1a64(utf8(label)))`, so `new Rng(child.seed)`
   * reproduces the child. Use distinct labels for distinct streams.
   */
  fork(label: string): Rng {
    return new Rng(mix64(mix64(seed64(this.seed)) ^ fnv1a64(label)));
  }
}
