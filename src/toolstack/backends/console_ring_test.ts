import assert from "node:assert/strict";
import { consumeOut, produceOut, XENCONS_OUT_SIZE } from "./console_ring.ts";

function page() {
  const bytes = new Uint8Array(4096);
  return {
    bytes,
    read(offset: number, out: Uint8Array) {
      out.set(bytes.subarray(offset, offset + out.length));
      return 0;
    },
    write(offset: number, data: Uint8Array) {
      bytes.set(data, offset);
      return 0;
    },
  };
}

Deno.test("console ring: output wraps around the 2048-byte array; a full ring takes no more", () => {
  const p = page();
  const enc = new TextEncoder(), dec = new TextDecoder();
  assert.equal(produceOut(p, new Uint8Array(2000)), 2000);
  assert.equal(consumeOut(p).length, 2000);
  assert.equal(produceOut(p, enc.encode("across the end")), 14);
  assert.equal(dec.decode(consumeOut(p)), "across the end");
  assert.equal(produceOut(p, new Uint8Array(XENCONS_OUT_SIZE + 10)), XENCONS_OUT_SIZE);
  assert.equal(produceOut(p, enc.encode("x")), 0);
  assert.equal(consumeOut(p).length, XENCONS_OUT_SIZE);
  assert.equal(consumeOut(p).length, 0);
});
