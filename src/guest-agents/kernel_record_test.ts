import assert from "node:assert/strict";
import {
  decodeKernelRecord,
  encodeKernelRecord,
  KERNEL_RECORD_BYTES_MAX,
  type KernelRecord,
} from "./kernel_record.ts";
import { PAGE_SIZE } from "../hv/xen_abi.ts";

const RECORD: KernelRecord = {
  kind: "pvhvm",
  sharedInfoPfn: 8189,
  ringPfnBase: 8173,
  ringPages: 16,
  console: true,
  devices: [{ kind: "vbd", devid: 51712 }, { kind: "vif", devid: 0 }],
};

Deno.test("kernel record: round trip through the lower half of a page", () => {
  const half = encodeKernelRecord(RECORD);
  assert.equal(half.length, PAGE_SIZE / 2);
  const page = new Uint8Array(PAGE_SIZE).fill(0xee);
  page.set(half);
  assert.deepEqual(decodeKernelRecord(page), RECORD);
});

Deno.test("kernel record: a page that is not one says why", () => {
  assert.match(String(decodeKernelRecord(new Uint8Array(PAGE_SIZE))), /no kernel record/);
  const page = new Uint8Array(PAGE_SIZE);
  page.set(encodeKernelRecord(RECORD));
  page[20] = 0x7b; // '{' twice: not JSON
  page[21] = 0x7b;
  assert.match(String(decodeKernelRecord(page)), /not JSON/);
  const wrongKind = new Uint8Array(PAGE_SIZE);
  wrongKind.set(encodeKernelRecord({ ...RECORD, kind: "bogus" as "pv" }));
  assert.match(String(decodeKernelRecord(wrongKind)), /no kind/);
  const badDevice = new Uint8Array(PAGE_SIZE);
  badDevice.set(encodeKernelRecord({ ...RECORD, devices: [{ kind: "vif", devid: 1.5 }] }));
  assert.match(String(decodeKernelRecord(badDevice)), /bad device/);
  const long = new Uint8Array(PAGE_SIZE);
  long.set(encodeKernelRecord(RECORD));
  new DataView(long.buffer).setUint32(16, KERNEL_RECORD_BYTES_MAX + 1, true);
  assert.match(String(decodeKernelRecord(long)), /past the page/);
});

Deno.test("kernel record: too many devices to fit is refused, not truncated", () => {
  const devices = Array.from({ length: 200 }, (_, i) => ({ kind: "vif" as const, devid: i }));
  assert.throws(() => encodeKernelRecord({ ...RECORD, devices }), RangeError);
});
