import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { decodeHvmContext, encodeHvmContext } from "./hvm_context.ts";
import { buildGuest, newHv, onlineContext } from "./testing.ts";

Deno.test("HVM context blob round-trips and rejects what is not one", () => {
  const c = {
    cpus: [{ id: 0, online: true, ctx: onlineContext(0x7c00) }],
    devices: { rtc: { cmos: [1, 2] } },
  };
  assert.deepEqual(decodeHvmContext(encodeHvmContext(c)), c);
  for (const bad of ["", "{", "[]", '{"format":"x","cpus":[],"devices":{}}', 42]) {
    assert.equal(decodeHvmContext(bad), undefined, String(bad));
  }
  const noRegs = JSON.stringify({
    format: "xenlab-hvm-context-1",
    cpus: [{ id: 0, online: true, ctx: {} }],
    devices: {},
  });
  assert.equal(decodeHvmContext(noRegs), undefined);
});

Deno.test("gethvmcontext / sethvmcontext move vCPU state between domains", () => {
  const { hv, sched } = newHv();
  const src = buildGuest(hv, { config: { hvm: true, maxVcpus: 2 }, rip: 0x9000 });
  const blob = hv.hypercall(0, { hc: "domctl", op: "gethvmcontext", domid: src }).blob!;
  const dst = buildGuest(hv, { config: { hvm: true, maxVcpus: 2 }, paused: true, rip: 0 });
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "sethvmcontext", domid: dst, blob }).ret, 0);
  const runs: number[] = [];
  hv.attachKernel(dst, { vcpuRun: (_v, ctx) => runs.push(ctx.rip) });
  hv.hypercall(0, { hc: "domctl", op: "unpausedomain", domid: dst });
  sched.run();
  assert.deepEqual(runs, [0x9000]);
  const pv = buildGuest(hv);
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "gethvmcontext", domid: pv }).ret,
    -Errno.EINVAL,
  );
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "sethvmcontext", domid: dst, blob: "nope" }).ret,
    -Errno.EINVAL,
  );
  const tooMany = encodeHvmContext({
    cpus: [{ id: 5, online: true, ctx: onlineContext() }],
    devices: {},
  });
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "sethvmcontext", domid: dst, blob: tooMany }).ret,
    -Errno.EINVAL,
  );
});
