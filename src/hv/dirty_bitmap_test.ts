import assert from "node:assert/strict";
import fc from "fast-check";
import { DIRTY_BITMAP_BITS_MAX, DirtyBitmap } from "./dirty_bitmap.ts";

Deno.test("dirty bitmap sets, tests, counts and collects ascending", () => {
  const b = new DirtyBitmap(100);
  for (const p of [99, 0, 31, 32, 64, 31]) b.set(p);
  assert.equal(b.count(), 5);
  assert.ok(b.test(31) && b.test(99) && !b.test(1));
  assert.deepEqual(b.toArray(false), [0, 31, 32, 64, 99]);
  assert.deepEqual(b.toArray(true), [0, 31, 32, 64, 99]);
  assert.equal(b.count(), 0);
});

Deno.test("dirty bitmap grows past its initial size", () => {
  const b = new DirtyBitmap(0);
  b.set(262_143);
  assert.ok(b.capacity >= 262_144);
  assert.deepEqual(b.toArray(false), [262_143]);
});

Deno.test("dirty bitmap collects in batches when the output fills up", () => {
  const b = new DirtyBitmap(1024);
  for (let p = 0; p < 1024; p += 3) b.set(p);
  const out = new Uint32Array(100);
  const seen: number[] = [];
  for (let round = 0; round < 10; round++) {
    const n = b.collect(out, true);
    seen.push(...out.subarray(0, n));
    if (n < out.length) break;
  }
  assert.deepEqual(seen, Array.from({ length: 342 }, (_, i) => i * 3));
  assert.equal(b.count(), 0);
});

Deno.test("dirty bitmap refuses to grow past DIRTY_BITMAP_BITS_MAX", () => {
  const b = new DirtyBitmap(0);
  b.set(DIRTY_BITMAP_BITS_MAX - 1);
  assert.throws(() => b.set(DIRTY_BITMAP_BITS_MAX), /beyond the maximum/);
  assert.throws(() => new DirtyBitmap(DIRTY_BITMAP_BITS_MAX + 1), /bad size/);
});

Deno.test("dirty bitmap agrees with a Set over random operations", () => {
  type Op = { k: "set"; p: number } | { k: "peek" } | { k: "clean"; batch: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 5000 }).map((p) => ({ k: "set", p }) as Op) },
    { weight: 1, arbitrary: fc.constant({ k: "peek" } as Op) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1, max: 64 }).map((batch) => ({ k: "clean", batch }) as Op),
    },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const b = new DirtyBitmap(64);
      const model = new Set<number>();
      for (const o of ops) {
        if (o.k === "set") {
          b.set(o.p);
          model.add(o.p);
        } else if (o.k === "peek") {
          assert.deepEqual(b.toArray(false), [...model].sort((x, y) => x - y));
        } else {
          const out = new Uint32Array(o.batch);
          const n = b.collect(out, true);
          const expect = [...model].sort((x, y) => x - y).slice(0, o.batch);
          assert.deepEqual(Array.from(out.subarray(0, n)), expect);
          for (const p of expect) model.delete(p);
        }
        assert.equal(b.count(), model.size);
      }
    }),
    { numRuns: 200 },
  );
});
