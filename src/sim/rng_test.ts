import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Rng,
  RNG_BYTES_MAX,
  RNG_FORK_LABEL_BYTES_MAX,
  RNG_INT_LIMIT,
  RNG_REJECTION_ROUNDS_MAX,
} from "./rng.ts";

// An independent reference, written straight from Vigna's C sources with
// unsigned bigint arithmetic (no Math.imul, no int32 tricks).
const M64 = (1n << 64n) - 1n;
const M32 = (1n << 32n) - 1n;

function refSplitmix64(seed: bigint): () => bigint {
  let s = seed & M64;
  return () => {
    s = (s + 0x9e3779b97f4a7c15n) & M64;
    let z = s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
    return z ^ (z >> 31n);
  };
}

function refXoshiro128ss(state: bigint[]): () => number {
  const s = [...state];
  const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M32;
  return () => {
    const result = (rotl((s[1] * 5n) & M32, 7n) * 9n) & M32;
    const t = (s[1] << 9n) & M32;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11n);
    return Number(result);
  };
}

function refFromSeed(seed: bigint): () => number {
  const sm = refSplitmix64(seed);
  const a = sm();
  const b = sm();
  return refXoshiro128ss([a & M32, a >> 32n, b & M32, b >> 32n]);
}

function take(n: number, next: () => number): number[] {
  return Array.from({ length: n }, next);
}

Deno.test("reference splitmix64 matches Vigna's published outputs for seed 1234567", () => {
  const next = refSplitmix64(1234567n);
  assert.deepEqual([next(), next(), next(), next(), next()], [
    6457827717110365317n,
    3203168211198807973n,
    9817491932198370423n,
    4593380528125082431n,
    16408922859458223821n,
  ]);
});

Deno.test("reference xoshiro128** 1.1 matches the published vector for state {1,2,3,4}", () => {
  // Same vector as rand_xoshiro's `reference` test (xoshiro128starstar.c v1.1).
  assert.deepEqual(take(10, refXoshiro128ss([1n, 2n, 3n, 4n])), [
    11520,
    0,
    5927040,
    70819200,
    2031721883,
    1637235492,
    1287239034,
    3734860849,
    3729100597,
    4258142804,
  ]);
});

Deno.test("seed 1 gives the golden first outputs", () => {
  const golden = [
    1695105466,
    1423115009,
    634581793,
    1068227753,
    716759206,
    4186505319,
    3777694425,
    2710820970,
  ];
  assert.deepEqual(take(8, refFromSeed(1n)), golden);
  const rng = new Rng(1);
  assert.deepEqual(take(8, () => rng.u32()), golden);
});

Deno.test("Rng agrees with the bigint reference for arbitrary 64-bit seeds", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: M64 }), (seed) => {
      const rng = new Rng(seed);
      assert.deepEqual(take(16, () => rng.u32()), take(16, refFromSeed(seed)));
    }),
    { numRuns: 200 },
  );
});

Deno.test("seeds are taken modulo 2^64 and numbers equal their bigint", () => {
  const first = (seed: number | bigint) => {
    const rng = new Rng(seed);
    return take(4, () => rng.u32());
  };
  assert.deepEqual(first(-1), first(M64));
  assert.deepEqual(first(-1n), first(M64));
  assert.deepEqual(first(12345), first(12345n));
  assert.deepEqual(first(Number.MAX_SAFE_INTEGER), first(BigInt(Number.MAX_SAFE_INTEGER)));
  assert.equal(new Rng(7n).seed, 7n);
  assert.equal(new Rng(7).seed, 7);
});

Deno.test("seeds that are not 64-bit integers are assertion failures", () => {
  for (const bad of [1.5, NaN, Infinity, 2 ** 53, -(2 ** 53)]) {
    assert.throws(() => new Rng(bad), /not a safe integer/);
  }
  assert.throws(() => new Rng(1n << 64n), /does not fit in 64 bits/);
  assert.throws(() => new Rng(-(1n << 63n) - 1n), /does not fit in 64 bits/);
});

Deno.test("the same seed gives the same sequence", () => {
  const a = new Rng(99);
  const b = new Rng(99);
  for (let i = 0; i < 1000; i++) assert.equal(a.u32(), b.u32());
});

Deno.test("different seeds give different sequences", () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 1000; seed++) {
    const rng = new Rng(seed);
    seen.add(`${rng.u32()},${rng.u32()}`);
  }
  assert.equal(seen.size, 1000);
});

Deno.test("float is in [0, 1) with a mean near 1/2", () => {
  const rng = new Rng(3);
  let sum = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const x = rng.float();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01, `mean ${sum / n}`);
});

function chiSquare(counts: number[], expected: number): number {
  return counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
}

Deno.test("int is uniform: chi-square within the 0.1% critical value", () => {
  const rng = new Rng(2024);
  // Critical values of chi-square at p = 0.001 for k-1 degrees of freedom.
  const cases: [number, number][] = [[2, 10.83], [3, 13.82], [6, 20.52], [10, 27.88]];
  for (const [k, critical] of cases) {
    const counts = new Array(k).fill(0);
    const n = 12_000 * k;
    for (let i = 0; i < n; i++) counts[rng.int(k)]++;
    const x2 = chiSquare(counts, n / k);
    assert.ok(x2 < critical, `int(${k}): chi-square ${x2} >= ${critical}`);
  }
});

Deno.test("int stays in range for wide and edge bounds", () => {
  const rng = new Rng(5);
  for (const max of [1, 2, 3, 2 ** 31 + 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 7, RNG_INT_LIMIT]) {
    for (let i = 0; i < 200; i++) {
      const x = rng.int(max);
      assert.ok(Number.isInteger(x) && x >= 0 && x < max, `int(${max}) gave ${x}`);
    }
  }
  assert.equal(rng.int(1), 0);
});

Deno.test("int of a power of two up to 2^32 takes exactly one draw", () => {
  const a = new Rng(8);
  const b = new Rng(8);
  assert.equal(a.int(2 ** 32), b.u32());
  assert.equal(a.int(16), b.u32() % 16);
  assert.equal(a.u32(), b.u32());
});

Deno.test("int rejects bounds outside [1, 2^53]", () => {
  const rng = new Rng(1);
  for (const bad of [0, -1, 1.5, NaN, 2 ** 54, Infinity]) {
    assert.throws(() => rng.int(bad), /needs an integer in \[1, 2\^53\]/);
  }
});

Deno.test("int fails loudly after RNG_REJECTION_ROUNDS_MAX rejected draws", () => {
  class StuckRng extends Rng {
    draws = 0;
    override u32(): number {
      this.draws++;
      return 0; // below the threshold 2^32 mod 3 = 1, so always rejected
    }
  }
  const rng = new StuckRng(1);
  assert.throws(() => rng.int(3), /rejected 64 draws in a row/);
  assert.equal(rng.draws, RNG_REJECTION_ROUNDS_MAX);
});

Deno.test("range covers both ends inclusively", () => {
  const rng = new Rng(11);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const x = rng.range(-2, 2);
    assert.ok(x >= -2 && x <= 2);
    seen.add(x);
  }
  assert.deepEqual([...seen].sort((p, q) => p - q), [-2, -1, 0, 1, 2]);
  assert.equal(rng.range(7, 7), 7);
  assert.throws(() => rng.range(3, 2), /lo <= hi/);
  assert.throws(() => rng.range(0, 0.5), /safe integers/);
});

Deno.test("chance honours 0/den and den/den and always takes one draw", () => {
  const a = new Rng(12);
  const b = new Rng(12);
  for (let i = 0; i < 100; i++) {
    assert.equal(a.chance(0, 10), false);
    assert.equal(a.chance(10, 10), true);
    b.int(10);
    b.int(10);
  }
  assert.equal(a.u32(), b.u32());
});

Deno.test("chance(1, 4) fires about a quarter of the time", () => {
  const rng = new Rng(13);
  let hits = 0;
  const n = 40_000;
  for (let i = 0; i < n; i++) if (rng.chance(1, 4)) hits++;
  assert.ok(Math.abs(hits / n - 0.25) < 0.01, `rate ${hits / n}`);
});

Deno.test("chance rejects ratios that are not integer probabilities", () => {
  const rng = new Rng(1);
  for (const [num, den] of [[1, 0], [2, 1], [-1, 3], [0.5, 2], [1, 2.5]]) {
    assert.throws(() => rng.chance(num, den), /0 <= num <= den/);
  }
});

Deno.test("pick returns members and rejects an empty array", () => {
  const rng = new Rng(14);
  const items = ["a", "b", "c"];
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) seen.add(rng.pick(items));
  assert.deepEqual([...seen].sort(), items);
  assert.throws(() => rng.pick([]), /empty array/);
});

Deno.test("shuffle is a permutation, in place, and reproducible", () => {
  fc.assert(
    fc.property(fc.array(fc.integer(), { maxLength: 50 }), fc.nat(), (arr, seed) => {
      const copy = [...arr];
      const out = new Rng(seed).shuffle(copy);
      assert.equal(out, copy);
      assert.deepEqual([...copy].sort((p, q) => p - q), [...arr].sort((p, q) => p - q));
      assert.deepEqual(new Rng(seed).shuffle([...arr]), copy);
    }),
    { numRuns: 200 },
  );
});

Deno.test("shuffle reaches every permutation of three elements", () => {
  const rng = new Rng(15);
  const seen = new Set<string>();
  for (let i = 0; i < 300; i++) seen.add(rng.shuffle([1, 2, 3]).join(""));
  assert.equal(seen.size, 6);
});

Deno.test("bytes are the u32 stream in little-endian order", () => {
  const a = new Rng(16);
  const b = new Rng(16);
  const out = a.bytes(7);
  assert.equal(out.length, 7);
  const w0 = b.u32();
  const w1 = b.u32();
  const expected = [0, 8, 16, 24].map((s) => (w0 >>> s) & 0xff)
    .concat([0, 8, 16].map((s) => (w1 >>> s) & 0xff));
  assert.deepEqual([...out], expected);
  assert.equal(a.bytes(0).length, 0);
  assert.equal(a.u32(), b.u32());
});

Deno.test("bytes refuses more than RNG_BYTES_MAX", () => {
  const rng = new Rng(1);
  assert.throws(() => rng.bytes(RNG_BYTES_MAX + 1), /bytes\(16777217\)/);
  assert.throws(() => rng.bytes(-1), /needs an integer/);
});

Deno.test("fork neither reads nor advances the parent", () => {
  const a = new Rng(17);
  const b = new Rng(17);
  a.fork("x");
  a.fork("a much longer label with ünïcödé");
  assert.deepEqual(take(8, () => a.u32()), take(8, () => b.u32()));
  // The child depends on the seed and label only, not on the parent's position.
  const early = new Rng(17).fork("x");
  const late = a.fork("x");
  assert.deepEqual(take(8, () => late.u32()), take(8, () => early.u32()));
});

Deno.test("fork gives the same stream for the same label and different ones otherwise", () => {
  const rng = new Rng(18);
  const first = (r: Rng) => take(4, () => r.u32()).join(",");
  assert.equal(first(rng.fork("guest")), first(rng.fork("guest")));
  const labels = ["guest", "guest.", "Guest", "", "faults", "fault:guest.ack.drop", "a", "b"];
  const streams = new Set(labels.map((l) => first(rng.fork(l))));
  streams.add(first(new Rng(18)));
  assert.equal(streams.size, labels.length + 1);
  assert.notEqual(first(new Rng(19).fork("guest")), first(rng.fork("guest")));
});

Deno.test("a fork is reproducible from its seed, and forks nest", () => {
  const child = new Rng(20).fork("toolstack");
  assert.equal(typeof child.seed, "bigint");
  const again = new Rng(child.seed);
  assert.deepEqual(take(8, () => child.u32()), take(8, () => again.u32()));
  const grandchild = new Rng(20).fork("toolstack").fork("save");
  const viaSeed = new Rng(child.seed).fork("save");
  assert.deepEqual(take(4, () => grandchild.u32()), take(4, () => viaSeed.u32()));
});

Deno.test("fork refuses labels over RNG_FORK_LABEL_BYTES_MAX", () => {
  const rng = new Rng(1);
  rng.fork("x".repeat(RNG_FORK_LABEL_BYTES_MAX));
  assert.throws(() => rng.fork("x".repeat(RNG_FORK_LABEL_BYTES_MAX + 1)), /limit 1024/);
});
