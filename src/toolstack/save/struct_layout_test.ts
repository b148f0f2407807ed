import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { decodeStruct, encodeStruct } from "./struct_layout.ts";

Deno.test("struct layouts write little-endian fields of 1..8 bytes and read them back", () => {
  const layout = { a: [0, 1], b: [2, 2], c: [4, 4], d: [8, 8] } as const;
  const b = encodeStruct(layout, 16, { a: 0xff, b: 0x1234, c: -1, d: 0xffffffff81000000n });
  // deno-fmt-ignore
  const golden = [0xff, 0, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x81, 0xff, 0xff, 0xff, 0xff];
  assert.deepEqual([...b], golden);
  assert.deepEqual(decodeStruct(layout, b), {
    a: 0xffn,
    b: 0x1234n,
    c: 0xffffffffn,
    d: 0xffffffff81000000n,
  });
  assert.throws(() => encodeStruct(layout, 16, { a: 256 }), AssertionError);
});
