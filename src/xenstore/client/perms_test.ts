import assert from "node:assert/strict";
import { XsError } from "../wire/errno.ts";
import {
  atoi,
  formatPerm,
  formatPermList,
  parsePerm,
  parsePerms,
  strtol,
  strtol0,
} from "./perms.ts";

Deno.test("perm numbers are parsed like strtol base 0: hex, octal, sign, blanks", () => {
  const table: [string, number][] = [
    ["n0", 0],
    ["r5", 5],
    ["b0x10", 16],
    ["w0X1f", 31],
    ["r010", 8],
    ["n-1", -1],
    ["r+7", 7],
    ["r 12", 12],
    ["n4294967295", -1],
    ["n4294967296", 0],
    ["n99999999999999999999999", -1], // saturates at LONG_MAX, low 32 bits
  ];
  for (const [s, id] of table) assert.equal(parsePerm(s).id, id, s);
  assert.equal(parsePerm("b3").perm, "b");
});

Deno.test("bad perms are EINVAL: letter, empty number, trailing garbage, 0x without digits", () => {
  for (const s of ["x5", "", "r", "r5z", "r0x", "r08", "r-", "r 5 ", "R5"]) {
    assert.throws(
      () => parsePerm(s),
      (e: unknown) => e instanceof XsError && e.errno === "EINVAL",
      s,
    );
  }
});

Deno.test("strtol0 reports how much it consumed", () => {
  assert.deepEqual(strtol0("0x"), { value: 0n, end: 1 });
  assert.deepEqual(strtol0("  -0x1Fg"), { value: -31n, end: 7 });
  assert.deepEqual(strtol0("z"), { value: 0n, end: 0 });
  assert.deepEqual(strtol0("0779"), { value: 0o77n, end: 3 });
});

Deno.test("perms format as letter + %i and join with commas", () => {
  assert.equal(formatPerm({ id: 5, perm: "r" }), "r5");
  assert.equal(formatPerm({ id: 0xffffffff, perm: "n" }), "n-1");
  assert.equal(formatPermList(parsePerms(["n0", "r5", "b0x10"])), "n0,r5,b16");
  assert.throws(() => formatPerm({ id: 1, perm: "q" as "n" }), XsError);
});

Deno.test("strtol with a fixed base, and glibc atoi (saturate, then cut to int)", () => {
  assert.deepEqual(strtol("0x1f", 16), { value: 31n, end: 4 });
  assert.deepEqual(strtol("0x1f", 10), { value: 0n, end: 1 });
  assert.deepEqual(strtol("077", 8), { value: 63n, end: 3 });
  assert.equal(atoi("  -12abc"), -12);
  assert.equal(atoi("0x10"), 0);
  assert.equal(atoi("x"), 0);
  assert.equal(atoi("4294967301"), 5);
  assert.equal(atoi("99999999999999999999"), -1);
  assert.equal(atoi("-99999999999999999999"), 0);
});
