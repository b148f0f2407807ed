import assert from "node:assert/strict";
import { emptyVcpuContext } from "../../hv/vcpu.ts";
import { decodeHvmContext, encodeHvmContext } from "../../hv/hvm_context.ts";
import { VGCF_online } from "../../hv/xen_abi.ts";
import { decodeVcpuGuestContext } from "../save/vcpu_guest_context.ts";
import { hvContextFromBlob, hvmContextBlob, pvVcpuBlob, pvVcpuContext } from "./vcpu_state.ts";

Deno.test("PV vCPU: registers survive the 5168-byte blob; cr3 travels as a pfn", () => {
  const ctx = emptyVcpuContext();
  Object.assign(ctx, {
    rax: 0,
    rbx: 7,
    rdx: 12,
    rsi: 0x3000,
    rsp: 0xffff8000,
    rip: 0x1234,
    flags: VGCF_online,
  });
  ctx.cr3 = 0x55 * 4096; // mfn 0x55
  ctx.regs = { r12: 99, fs_base: 0x7000, made_up: 5 };
  const blob = pvVcpuBlob(ctx, (mfn) => (mfn === 0x55 ? 3 : -1));
  assert.equal(blob.length, 5168);
  const f = decodeVcpuGuestContext(blob);
  assert.ok(f.ok);
  assert.equal(f.value.cr3, 3n * 4096n, "the stream holds the pfn");
  const back = pvVcpuContext(blob, (pfn) => (pfn === 3 ? 0x99 : -1));
  assert.equal(back.cr3, 0x99 * 4096, "restored against the new mfn");
  for (const r of ["rax", "rbx", "rdx", "rsi", "rsp", "rip", "flags"] as const) {
    assert.equal(back[r], ctx[r], r);
  }
  assert.deepEqual(
    back.regs,
    { r12: 99, fs_base: 0x7000 },
    "registers Xen has no field for are not carried",
  );
  assert.throws(() => pvVcpuContext(new Uint8Array(100), (p) => p), /expected 5168/);
});

Deno.test("HVM context: online vCPUs go as CPU records and come back online; down ones stay out", () => {
  const a = emptyVcpuContext(), b = emptyVcpuContext();
  Object.assign(a, { rip: 0xfff0, rax: 1, cr3: 0x2000 });
  Object.assign(b, { rip: 0x8000, rsp: 0x7000 });
  const hv = encodeHvmContext({
    cpus: [{ id: 0, online: true, ctx: a }, { id: 1, online: true, ctx: b }],
    devices: {},
  });
  const back = decodeHvmContext(hvContextFromBlob(hvmContextBlob(hv)))!;
  assert.deepEqual(back.cpus.map((c) => [c.id, c.online, c.ctx.rip, c.ctx.cr3]), [[
    0,
    true,
    0xfff0,
    0x2000,
  ], [1, true, 0x8000, 0]]);
  assert.equal(back.cpus[1].ctx.rsp, 0x7000);
  const gap = encodeHvmContext({
    cpus: [{ id: 0, online: false, ctx: a }, { id: 1, online: true, ctx: b }],
    devices: {},
  });
  assert.throws(() => hvmContextBlob(gap), /not 0\.\.n-1/);
  assert.throws(() => hvContextFromBlob(new Uint8Array(8)), /HVM_CONTEXT/);
});
