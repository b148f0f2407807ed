import assert from "node:assert/strict";
import {
  decodeCpuidPolicy,
  decodeHvmParams,
  decodeMsrPolicy,
  decodeP2mFrames,
  decodePvInfo,
  decodeTscInfo,
  decodeVcpuRecord,
  encodeCpuidPolicy,
  encodeHvmParams,
  encodeMsrPolicy,
  encodeP2mFrames,
  encodePvInfo,
  encodeTscInfo,
  encodeVcpuRecord,
  p2mFrameCount,
  SAVE_VCPUS_MAX,
  VCPU_GUEST_CONTEXT_X86_32_BYTES,
  VCPU_GUEST_CONTEXT_X86_64_BYTES,
} from "./libxc_records.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("X86_PV_INFO: golden bytes both ways; widths, levels and reserved bytes checked", () => {
  assert.deepEqual(encodePvInfo({ guestWidth: 8, ptLevels: 4 }), bytes(8, 4, 0, 0, 0, 0, 0, 0));
  assert.deepEqual(decodePvInfo(bytes(4, 3, 0, 0, 0, 0, 0, 0)), {
    ok: true,
    value: { guestWidth: 4, ptLevels: 3 },
  });
  for (
    const [b, code] of [
      [bytes(8, 4, 0, 0, 0, 0, 0), "bad_length"],
      [bytes(2, 4, 0, 0, 0, 0, 0, 0), "bad_field"],
      [bytes(8, 5, 0, 0, 0, 0, 0, 0), "bad_field"],
      [bytes(8, 4, 0, 0, 0, 0, 0, 1), "bad_field"],
    ] as const
  ) {
    const r = decodePvInfo(b);
    assert.ok(!r.ok && r.code === code);
  }
});

Deno.test("X86_PV_P2M_FRAMES: one frame per 512 pfns for a 64-bit guest, exact length checked", () => {
  assert.equal(p2mFrameCount(0, 511, 8), 1);
  assert.equal(p2mFrameCount(0, 512, 8), 2);
  assert.equal(p2mFrameCount(0, 1023, 4), 1);
  const enc = encodeP2mFrames({ startPfn: 0, endPfn: 600, frames: [0x1234, 0x1235] });
  assert.deepEqual(
    enc,
    bytes(0, 0, 0, 0, 0x58, 2, 0, 0, 0x34, 0x12, 0, 0, 0, 0, 0, 0, 0x35, 0x12, 0, 0, 0, 0, 0, 0),
  );
  assert.deepEqual(decodeP2mFrames(enc, 8), {
    ok: true,
    value: { startPfn: 0, endPfn: 600, frames: [0x1234, 0x1235] },
  });
  const short = decodeP2mFrames(enc.subarray(0, 16), 8);
  assert.ok(!short.ok && short.code === "bad_length" && short.reason.includes("expected 24"));
  const backwards = decodeP2mFrames(encodeP2mFrames({ startPfn: 9, endPfn: 1, frames: [0] }), 8);
  assert.ok(!backwards.ok && backwards.code === "bad_field");
  assert.ok(!decodeP2mFrames(bytes(0, 0, 0, 0), 8).ok);
});

Deno.test("vCPU records: header golden bytes; BASIC size per width, EXTENDED max, XSAVE/MSRS multiples", () => {
  const enc = encodeVcpuRecord(3, bytes(0xaa, 0xbb));
  assert.deepEqual(enc, bytes(3, 0, 0, 0, 0, 0, 0, 0, 0xaa, 0xbb));
  const basic64 = encodeVcpuRecord(1, new Uint8Array(VCPU_GUEST_CONTEXT_X86_64_BYTES));
  assert.ok(decodeVcpuRecord("basic", basic64, 8).ok);
  const wrong = decodeVcpuRecord("basic", basic64, 4);
  assert.ok(!wrong.ok && wrong.reason.includes(`expected ${VCPU_GUEST_CONTEXT_X86_32_BYTES}`));
  assert.ok(decodeVcpuRecord("extended", encodeVcpuRecord(0, new Uint8Array(128)), 8).ok);
  assert.ok(!decodeVcpuRecord("extended", encodeVcpuRecord(0, new Uint8Array(129)), 8).ok);
  assert.ok(!decodeVcpuRecord("xsave", encodeVcpuRecord(0, new Uint8Array(20)), 8).ok);
  assert.ok(!decodeVcpuRecord("msrs", encodeVcpuRecord(0, new Uint8Array(24)), 8).ok);
  const empty = decodeVcpuRecord("basic", encodeVcpuRecord(7, new Uint8Array(0)), 8);
  assert.ok(empty.ok && empty.value.blob.length === 0, "empty blobs are tolerated, as libxc does");
  const reserved = decodeVcpuRecord("msrs", bytes(0, 0, 0, 0, 1, 0, 0, 0), 8);
  assert.ok(!reserved.ok && reserved.code === "bad_field");
  assert.ok(!decodeVcpuRecord("msrs", bytes(0, 0, 0), 8).ok);
});

Deno.test("vCPU records with vcpu_id SAVE_VCPUS_MAX are over the limit", () => {
  assert.ok(
    decodeVcpuRecord("msrs", encodeVcpuRecord(SAVE_VCPUS_MAX - 1, new Uint8Array(16)), 8).ok,
  );
  const r = decodeVcpuRecord("msrs", encodeVcpuRecord(SAVE_VCPUS_MAX, new Uint8Array(16)), 8);
  assert.ok(!r.ok && r.code === "limit");
});

Deno.test("X86_TSC_INFO: golden bytes both ways; length and reserved word checked", () => {
  const t = { mode: 1, khz: 2_400_000, nsec: 0x0102030405060708n, incarnation: 5 };
  const enc = encodeTscInfo(t);
  assert.deepEqual(
    enc,
    bytes(1, 0, 0, 0, 0x00, 0x9f, 0x24, 0, 8, 7, 6, 5, 4, 3, 2, 1, 5, 0, 0, 0, 0, 0, 0, 0),
  );
  assert.deepEqual(decodeTscInfo(enc), { ok: true, value: t });
  enc[20] = 1;
  assert.ok(!decodeTscInfo(enc).ok);
  assert.ok(!decodeTscInfo(enc.subarray(0, 16)).ok);
});

Deno.test("HVM_PARAMS: golden bytes both ways; count must match length", () => {
  const enc = encodeHvmParams([{ index: 1, value: 0xfeffn }]);
  assert.deepEqual(
    enc,
    bytes(1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0, 0, 0, 0),
  );
  assert.deepEqual(decodeHvmParams(enc), { ok: true, value: [{ index: 1, value: 0xfeffn }] });
  assert.deepEqual(decodeHvmParams(encodeHvmParams([])), { ok: true, value: [] });
  const bad = decodeHvmParams(enc.subarray(0, 16));
  assert.ok(!bad.ok && bad.reason.includes("expected 24"));
  const rsvd = enc.slice();
  rsvd[4] = 1;
  assert.ok(!decodeHvmParams(rsvd).ok);
});

Deno.test("CPUID and MSR policies: golden bytes both ways; empty or ragged bodies refused", () => {
  const leaf = { leaf: 7, subleaf: 0, a: 1, b: 2, c: 3, d: 4 };
  const c = encodeCpuidPolicy([leaf]);
  assert.deepEqual(
    c,
    bytes(7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0),
  );
  assert.deepEqual(decodeCpuidPolicy(c), { ok: true, value: [leaf] });
  const m = encodeMsrPolicy([{ idx: 0xce, flags: 0, val: 1n << 40n }]);
  assert.deepEqual(m, bytes(0xce, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0));
  assert.deepEqual(decodeMsrPolicy(m), {
    ok: true,
    value: [{ idx: 0xce, flags: 0, val: 1n << 40n }],
  });
  for (
    const r of [
      decodeCpuidPolicy(new Uint8Array(0)),
      decodeCpuidPolicy(new Uint8Array(25)),
      decodeMsrPolicy(new Uint8Array(0)),
      decodeMsrPolicy(new Uint8Array(8)),
    ]
  ) {
    assert.ok(!r.ok && r.code === "bad_length");
  }
});
