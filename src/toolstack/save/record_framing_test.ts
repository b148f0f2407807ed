import assert from "node:assert/strict";
import {
  decodeRecordHeader,
  frameRecord,
  isOptionalRecord,
  isZeroPadding,
  paddedLength,
  paddingOf,
} from "./record_framing.ts";

Deno.test("a record is type, length, body and zero padding to 8 bytes (golden, both ways)", () => {
  // SHARED_INFO-typed record (7) with a 3-byte body: 8 header + 3 body + 5 padding.
  const golden = new Uint8Array([7, 0, 0, 0, 3, 0, 0, 0, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0, 0]);
  assert.deepEqual(frameRecord(7, new Uint8Array([0xaa, 0xbb, 0xcc])), golden);
  assert.deepEqual(decodeRecordHeader(golden), { type: 7, length: 3 });
  assert.ok(isZeroPadding(golden.subarray(11)));
});

Deno.test("an empty record is just its header; a body of 8 needs no padding", () => {
  assert.deepEqual(frameRecord(0), new Uint8Array(8));
  assert.equal(frameRecord(1, new Uint8Array(8)).length, 16);
});

Deno.test("optional record types (bit 31) frame and decode as unsigned", () => {
  const b = frameRecord(0x80000001, new Uint8Array(1));
  assert.deepEqual([...b.subarray(0, 8)], [1, 0, 0, 0x80, 1, 0, 0, 0]);
  assert.deepEqual(decodeRecordHeader(b), { type: 0x80000001, length: 1 });
  assert.ok(isOptionalRecord(0x80000001) && !isOptionalRecord(0x7fffffff));
});

Deno.test("padding arithmetic for every remainder, and up to u32 lengths", () => {
  for (let n = 0; n < 24; n++) {
    assert.equal(paddedLength(n) % 8, 0);
    assert.equal(paddingOf(n), (8 - (n % 8)) % 8);
  }
  assert.equal(paddedLength(0xffffffff), 0x100000000);
  assert.ok(!isZeroPadding(new Uint8Array([0, 0, 1])));
});
