import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import {
  encodePageDataHead,
  PageBatch,
  pageDataLength,
  pageTypeHasData,
  pageTypeIsKnown,
} from "./page_data.ts";
import { MAX_BATCH_SIZE, PFINFO } from "./stream_format.ts";

Deno.test("PAGE_DATA head: golden bytes for a data page and an XTAB entry above 2^32", () => {
  const { head, dataPages } = encodePageDataHead([5, 2 ** 32 + 1], [PFINFO.NOTAB, PFINFO.XTAB]);
  assert.equal(dataPages, 1);
  // deno-fmt-ignore
  const golden = new Uint8Array([
    0x01, 0, 0, 0, 0x18, 0x10, 0, 0, // type PAGE_DATA, length 8 + 16 + 4096 = 4120
    0x02, 0, 0, 0, 0, 0, 0, 0, //       count 2, reserved 0
    0x05, 0, 0, 0, 0, 0, 0, 0x00, //    pfn 5, type NOTAB (bits 63..60 = 0)
    0x01, 0, 0, 0, 0x01, 0, 0, 0xf0, // pfn 2^32+1, type XTAB (0xf)
  ]);
  assert.deepEqual(head, golden);
  const batch = new PageBatch();
  assert.deepEqual(batch.decode(head.subarray(16), 2), { ok: true, value: 1 });
  const decodedEntries = [batch.pfns[0], batch.pfns[1], batch.types[0], batch.types[1]];
  assert.deepEqual(decodedEntries, [5, 2 ** 32 + 1, 0, 0xf]);
});

Deno.test("PAGE_DATA entries: the largest pfn and a pinned L4 round-trip", () => {
  const { head } = encodePageDataHead([2 ** 52 - 1], PFINFO.L4TAB_PIN);
  assert.deepEqual([...head.subarray(16)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xc0]);
  const batch = new PageBatch();
  batch.decode(head.subarray(16), 1);
  assert.equal(batch.pfns[0], 2 ** 52 - 1);
  assert.equal(batch.types[0], PFINFO.L4TAB_PIN);
});

Deno.test("PAGE_DATA entries with reserved bits or types 5..8 are refused, naming the index", () => {
  const batch = new PageBatch();
  const reserved = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0x10, 0]);
  const r1 = batch.decode(reserved, 2);
  assert.ok(
    !r1.ok && r1.code === "bad_field" && r1.reason.includes("pfn[1]") &&
      r1.reason.includes("reserved"),
  );
  for (const t of [5, 6, 7, 8]) {
    const r = batch.decode(new Uint8Array([0, 0, 0, 0, 0, 0, 0, t << 4]), 1);
    assert.ok(!r.ok && r.reason.includes(`invalid type 0x${t}`));
  }
});

Deno.test("page types: which are known and which carry data", () => {
  const known = [0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15];
  const data = [0, 1, 2, 3, 4, 9, 10, 11, 12];
  for (let t = 0; t < 16; t++) {
    assert.equal(pageTypeIsKnown(t), known.includes(t), `known ${t}`);
    assert.equal(pageTypeHasData(t), data.includes(t), `data ${t}`);
  }
  assert.equal(pageDataLength(1024, 1024), 8 + 8192 + 4 * 1024 * 1024);
});

Deno.test("encoding 0 or MAX_BATCH_SIZE+1 pfns, or a pfn of 2^52, is a programmer error", () => {
  assert.throws(() => encodePageDataHead([], 0), AssertionError);
  assert.throws(() => encodePageDataHead(new Array(MAX_BATCH_SIZE + 1).fill(0), 0), AssertionError);
  assert.ok(encodePageDataHead(new Array(MAX_BATCH_SIZE).fill(0), 0).dataPages === MAX_BATCH_SIZE);
  assert.throws(() => encodePageDataHead([2 ** 52], 0), AssertionError);
  assert.throws(() => encodePageDataHead([1], 6), AssertionError);
});
