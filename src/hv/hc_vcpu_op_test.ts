import assert from "node:assert/strict";
import { NS_PER_MS } from "../sim/clock.ts";
import { Errno } from "./errno.ts";
import { buildGuest, newHv, onlineContext } from "./testing.ts";
import { RUNSTATE_offline, RUNSTATE_running, VGCF_online } from "./xen_abi.ts";

Deno.test("vcpu_op: a guest brings up a secondary vCPU with initialise + up", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv, { config: { maxVcpus: 2 } });
  const runs: [number, number][] = [];
  hv.attachKernel(g, { vcpuRun: (v, ctx) => runs.push([v, ctx.rip]) });
  sched.run();
  runs.length = 0;
  const op = (op: "up" | "down" | "is_up", vcpu: number) =>
    hv.hypercall(g, { hc: "vcpu_op", op, vcpu }).ret;
  assert.equal(op("up", 1), -Errno.EINVAL, "no context yet");
  const ctx = { ...onlineContext(0x5000), flags: 0 };
  assert.equal(hv.hypercall(g, { hc: "vcpu_op", op: "initialise", vcpu: 1, ctx }).ret, 0);
  assert.equal(
    hv.hypercall(g, { hc: "vcpu_op", op: "initialise", vcpu: 1, ctx }).ret,
    -Errno.EEXIST,
  );
  assert.equal(op("is_up", 1), 0);
  assert.equal(op("up", 1), 0);
  assert.equal(op("is_up", 1), 1);
  sched.run();
  assert.deepEqual(runs, [[1, 0x5000]]);
  assert.equal(op("down", 1), 0);
  assert.equal(op("is_up", 1), 0);
  assert.equal(op("up", 7), -Errno.ENOENT);
});

Deno.test("vcpu_op: runstate accounts time on the injected clock", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv, { paused: true });
  sched.run({ untilNs: 3 * NS_PER_MS });
  hv.hypercall(0, { hc: "domctl", op: "unpausedomain", domid: g });
  sched.run({ untilNs: 10 * NS_PER_MS });
  const r = hv.hypercall(g, { hc: "vcpu_op", op: "get_runstate_info", vcpu: 0 }).runstate!;
  assert.equal(r.state, RUNSTATE_running);
  assert.equal(r.timeNs[RUNSTATE_running], 7 * NS_PER_MS);
  assert.equal(r.timeNs[RUNSTATE_offline], 3 * NS_PER_MS);
  const info = hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: g }).info!;
  assert.equal(info.cpuTimeNs, 7 * NS_PER_MS);
});

Deno.test("vcpu_op: registration ops are recorded and validated", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  assert.equal(
    hv.hypercall(g, { hc: "vcpu_op", op: "register_runstate_memory_area", vcpu: 0, addr: 0x3000 })
      .ret,
    0,
  );
  assert.equal(
    hv.hypercall(g, { hc: "vcpu_op", op: "register_vcpu_info", vcpu: 0, mfn: 5, offset: 64 }).ret,
    0,
  );
  assert.equal(
    hv.hypercall(g, { hc: "vcpu_op", op: "register_vcpu_info", vcpu: 0, mfn: 5, offset: 4090 }).ret,
    -Errno.EINVAL,
  );
  const bad = { ...onlineContext(), flags: VGCF_online, regs: [] } as unknown as ReturnType<
    typeof onlineContext
  >;
  const h = buildGuest(hv, { config: { maxVcpus: 2 } });
  assert.equal(
    hv.hypercall(h, { hc: "vcpu_op", op: "initialise", vcpu: 1, ctx: bad }).ret,
    -Errno.EINVAL,
  );
});
