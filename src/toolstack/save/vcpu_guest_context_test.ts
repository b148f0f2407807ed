import assert from "node:assert/strict";
import {
  decodeVcpuGuestContext,
  encodeVcpuGuestContext,
  VCPU_GUEST_CONTEXT_X86_64,
  VGCF_ONLINE,
} from "./vcpu_guest_context.ts";

Deno.test("vcpu_guest_context: 5168 bytes; rip, cs, cr3 and flags land at Xen's offsets", () => {
  const blob = encodeVcpuGuestContext({
    flags: VGCF_ONLINE,
    rip: 0xffffffff81000000n,
    cs: 0xe033,
    cr3: 0x2000,
  });
  assert.equal(blob.length, 5168);
  const dv = new DataView(blob.buffer);
  assert.equal(dv.getUint16(0, true), 0x37f, "FCW reset value");
  assert.equal(dv.getUint32(24, true), 0x1f80, "MXCSR reset value");
  assert.equal(dv.getBigUint64(512, true), BigInt(VGCF_ONLINE));
  assert.equal(dv.getBigUint64(648, true), 0xffffffff81000000n, "user_regs.rip at 520 + 128");
  assert.equal(dv.getUint16(656, true), 0xe033, "user_regs.cs at 520 + 136");
  assert.equal(dv.getBigUint64(5008, true), 0x2000n, "ctrlreg[3]");
  const r = decodeVcpuGuestContext(blob);
  assert.ok(r.ok && r.value.rip === 0xffffffff81000000n && r.value.cr3 === 0x2000n);
  assert.ok(!decodeVcpuGuestContext(blob.subarray(1)).ok);
  for (const [name, [at, n]] of Object.entries(VCPU_GUEST_CONTEXT_X86_64)) {
    assert.ok(at + n <= 5168, name);
  }
});
