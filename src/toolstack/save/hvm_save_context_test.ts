import assert from "node:assert/strict";
import {
  buildHvmContext,
  decodeHvmHwCpu,
  decodeHvmSaveContext,
  encodeHvmSaveContext,
  HVM_HW_CPU,
  HVM_HW_CPU_BYTES,
  HVM_SAVE_ENTRIES_MAX,
  HvmSaveCode,
  hvmSaveHeader,
} from "./hvm_save_context.ts";

Deno.test("HVM context: HEADER, CPU, LAPIC, LAPIC_REGS per vCPU, END — and decodes back", () => {
  const blob = buildHvmContext({
    cpus: [{ rip: 0xfff0, cr0: 0x11 }, { rip: 0x1000 }],
    cpuid: 0x906ea,
    gtscKhz: 2_000_000,
  });
  const r = decodeHvmSaveContext(blob);
  assert.ok(r.ok);
  const cpu = HVM_HW_CPU_BYTES;
  // deno-fmt-ignore
  const layout = [[1, 0, 24], [2, 0, cpu], [2, 1, cpu], [5, 0, 16], [5, 1, 16], [6, 0, 1024], [6, 1, 1024]];
  assert.deepEqual(r.value.map((e) => [e.typecode, e.instance, e.data.length]), layout);
  // Descriptor golden bytes: HEADER typecode 1, instance 0, length 24; magic 0x54381286, version 1.
  // deno-fmt-ignore
  const header = [1, 0, 0, 0, 24, 0, 0, 0, 0x86, 0x12, 0x38, 0x54, 1, 0, 0, 0];
  assert.deepEqual([...blob.subarray(0, 16)], header);
  assert.deepEqual([...blob.subarray(blob.length - 8)], [0, 0, 0, 0, 0, 0, 0, 0], "END");
  const cpu0 = decodeHvmHwCpu(r.value[1].data);
  assert.ok(cpu0.ok && cpu0.value.rip === 0xfff0n && cpu0.value.cr0 === 0x11n);
  for (const [name, [at, n]] of Object.entries(HVM_HW_CPU)) {
    assert.ok(at + n <= HVM_HW_CPU_BYTES, name);
  }
});

Deno.test("HVM context decoding refuses a missing HEADER, bad magic, overruns, trailing bytes", () => {
  const good = encodeHvmSaveContext([hvmSaveHeader({ cpuid: 1, gtscKhz: 1 })]);
  assert.ok(decodeHvmSaveContext(good).ok);
  const noHeader = encodeHvmSaveContext([{
    typecode: HvmSaveCode.CPU,
    instance: 0,
    data: new Uint8Array(8),
  }]);
  assert.ok(!decodeHvmSaveContext(noHeader).ok);
  const magic = good.slice();
  magic[8] ^= 1;
  const m = decodeHvmSaveContext(magic);
  assert.ok(!m.ok && m.code === "bad_magic");
  assert.ok(!decodeHvmSaveContext(good.subarray(0, good.length - 4)).ok, "no END");
  assert.ok(!decodeHvmSaveContext(new Uint8Array([...good, 0])).ok, "trailing");
  const over = good.slice();
  over[4] = 200;
  assert.ok(!decodeHvmSaveContext(over).ok, "length past the end");
});

Deno.test("HVM context with more than HVM_SAVE_ENTRIES_MAX entries is over the limit", () => {
  const entries = [hvmSaveHeader({ cpuid: 1, gtscKhz: 1 })];
  for (let i = 0; i < HVM_SAVE_ENTRIES_MAX; i++) {
    entries.push({ typecode: 14, instance: i, data: new Uint8Array(0) });
  }
  const r = decodeHvmSaveContext(encodeHvmSaveContext(entries));
  assert.ok(!r.ok && r.code === "limit");
  assert.ok(decodeHvmSaveContext(encodeHvmSaveContext(entries.slice(0, HVM_SAVE_ENTRIES_MAX))).ok);
});
