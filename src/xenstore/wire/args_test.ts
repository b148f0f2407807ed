/**
 * @module
 * Tables for the payload argument rules of cxenstored 4.17
 * (xenstore-protocol.md §1.3): one-argument ops, WRITE's path/value split,
 * NUL-terminated string lists, and C `atoi`.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { atoi, countNuls, oneArg, terminatedStrings, writeArgs } from "./args.ts";
import { XsError } from "./errno.ts";
import { fromLatin1, latin1, nulJoin } from "./message.ts";

const SEED = 0x5eed_0003;

function errnoOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof XsError) return e.errno;
    throw e;
  }
  return "no error";
}

Deno.test("args: countNuls counts every NUL byte", () => {
  assert.equal(countNuls(new Uint8Array(0)), 0);
  assert.equal(countNuls(fromLatin1("a\0b\0\0")), 3);
  assert.equal(countNuls(fromLatin1("abc")), 0);
});

const ONE_ARG: [string, string][] = [
  ["/a\0", "/a"],
  ["\0", ""],
  ["T\0", "T"],
  ["x y\xff\0", "x y\xff"],
];
for (const [payload, want] of ONE_ARG) {
  Deno.test(`args: oneArg ${JSON.stringify(payload)} is ${JSON.stringify(want)}`, () => {
    assert.equal(oneArg(fromLatin1(payload)), want);
  });
}

const ONE_ARG_BAD = ["", "/a", "/a\0x", "/a\0\0", "\0/a\0", "a\0b\0"];
for (const payload of ONE_ARG_BAD) {
  Deno.test(`args: oneArg ${JSON.stringify(payload)} is EINVAL`, () => {
    assert.equal(errnoOf(() => oneArg(fromLatin1(payload))), "EINVAL");
  });
}

const STRINGS: [string, string[]][] = [
  ["", []],
  ["abc", []],
  ["\0", [""]],
  ["a\0b\0", ["a", "b"]],
  ["a\0b\0trailing", ["a", "b"]],
  ["a\0\0b\0", ["a", "", "b"]],
];
for (const [payload, want] of STRINGS) {
  Deno.test(`args: terminatedStrings ${JSON.stringify(payload)}`, () => {
    assert.deepEqual(terminatedStrings(fromLatin1(payload)), want);
  });
}

const WRITES: [string, string, string][] = [
  ["/a\0v", "/a", "v"],
  ["/a\0", "/a", ""],
  ["/a\0v\0w\0", "/a", "v\0w\0"],
  ["\0v", "", "v"],
];
for (const [payload, path, value] of WRITES) {
  Deno.test(`args: writeArgs ${JSON.stringify(payload)}`, () => {
    const r = writeArgs(fromLatin1(payload));
    assert.equal(r.path, path);
    assert.equal(latin1(r.value), value);
  });
}

Deno.test("args: writeArgs without a NUL is EINVAL", () => {
  assert.equal(errnoOf(() => writeArgs(fromLatin1("/a"))), "EINVAL");
  assert.equal(errnoOf(() => writeArgs(new Uint8Array(0))), "EINVAL");
});

Deno.test("args: writeArgs copies the value out of the payload", () => {
  const p = fromLatin1("/a\0vv");
  const { value } = writeArgs(p);
  p.fill(0);
  assert.equal(latin1(value), "vv");
});

const ATOI: [string, number][] = [
  ["0", 0],
  ["7", 7],
  ["7x", 7],
  ["x7", 0],
  ["", 0],
  ["  \t\n12", 12],
  ["+5", 5],
  ["-1", -1],
  ["- 1", 0],
  ["007", 7],
  ["0x10", 0],
  ["2147483647", 2147483647],
  // glibc atoi = (int) strtol: the low 32 bits.
  ["2147483648", -2147483648],
  ["4294967296", 0],
  ["4294967297", 1],
];
for (const [s, want] of ATOI) {
  Deno.test(`args: atoi(${JSON.stringify(s)}) is ${want}`, () => {
    assert.equal(atoi(s), want);
  });
}

Deno.test("args property: terminatedStrings inverts nulJoin for NUL-free strings", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.array(fc.integer({ min: 1, max: 255 }))
          .map((a) => String.fromCharCode(...a)),
      ),
      fc.string({ unit: "binary-ascii" }).map((s) => s.replace(/\0/g, "")),
      (parts, tail) => {
        const joined = nulJoin(parts);
        const withTail = new Uint8Array([...joined, ...fromLatin1(tail)]);
        assert.deepEqual(
          terminatedStrings(withTail).map((s) => [...fromLatin1(s)]),
          parts.map((s) => [...fromLatin1(s)]),
        );
        assert.equal(countNuls(withTail), parts.length);
      },
    ),
    { seed: SEED, numRuns: 200 },
  );
});

Deno.test("args property: atoi of a decimal int32 is that number", () => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
      assert.equal(atoi(String(n)), n);
      assert.equal(atoi(`${n}garbage`), n);
    }),
    { seed: SEED + 1, numRuns: 200 },
  );
});
