import assert from "node:assert/strict";
import { NS_PER_S } from "../sim/clock.ts";
import { xlStateString } from "./domain_info.ts";
import { Errno } from "./errno.ts";
import { buildGuest, flagsOf, newHv } from "./testing.ts";
import { NR_DOMAIN_WATCHDOG_TIMERS, SHUTDOWN_crash, SHUTDOWN_reboot } from "./xen_abi.ts";

Deno.test("sched_op: watchdog arms up to NR_DOMAIN_WATCHDOG_TIMERS, expiry shuts down", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  const wd = (id: number, timeoutS: number) =>
    hv.hypercall(g, { hc: "sched_op", op: "watchdog", id, timeoutS }).ret;
  assert.equal(wd(0, 30), 1);
  assert.equal(wd(0, 30), 2);
  assert.equal(NR_DOMAIN_WATCHDOG_TIMERS, 2);
  assert.equal(wd(0, 30), -Errno.ENOSPC);
  assert.equal(wd(3, 30), -Errno.EINVAL);
  assert.equal(wd(2, 0), 0, "disarm");
  assert.equal(wd(2, 5), -Errno.EINVAL, "no longer armed");
  sched.run({ untilNs: 20 * NS_PER_S });
  assert.equal(wd(1, 30), 0, "re-arm (pet) at 20 s");
  sched.run({ untilNs: 49 * NS_PER_S });
  assert.equal(xlStateString(flagsOf(hv, g)), "r-----");
  sched.run({ untilNs: 51 * NS_PER_S });
  assert.equal(xlStateString(flagsOf(hv, g)), "---sw-");
});

Deno.test("sched_op: the first reason sticks; shutdown_code latches ahead", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  assert.equal(
    hv.hypercall(g, { hc: "sched_op", op: "shutdown_code", reason: SHUTDOWN_crash }).ret,
    0,
  );
  hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: SHUTDOWN_reboot });
  assert.equal(xlStateString(flagsOf(hv, g)), "---sc-");
  assert.equal(hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: 6 }).ret, -Errno.EINVAL);
  assert.equal(
    hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: 0, vcpu: 4 }).ret,
    -Errno.EINVAL,
  );
});

Deno.test("sched_op: block until an event wakes the vCPU", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  const woke: number[] = [];
  const events: number[] = [];
  hv.attachKernel(g, { wake: (v) => woke.push(v), event: (p) => events.push(p) });
  const p = hv.hypercall(g, { hc: "event_channel_op", op: "bind_ipi", vcpu: 0 }).port!;
  sched.run();
  hv.hypercall(g, { hc: "sched_op", op: "block" });
  assert.equal(xlStateString(flagsOf(hv, g)), "-b----");
  hv.hypercall(g, { hc: "event_channel_op", op: "send", port: p });
  sched.run();
  assert.deepEqual([woke, events], [[0], [p]]);
  assert.equal(xlStateString(flagsOf(hv, g)), "r-----");
});

Deno.test("sched_op: poll wakes on the polled port even when masked, or at the timeout", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv);
  const woke: number[] = [];
  hv.attachKernel(g, { wake: () => woke.push(sched.nowNs()) });
  const p = hv.hypercall(g, { hc: "event_channel_op", op: "bind_ipi", vcpu: 0 }).port!;
  hv.hypercall(g, { hc: "event_channel_op", op: "mask", port: p });
  assert.deepEqual(hv.hypercall(g, { hc: "sched_op", op: "poll", ports: [p], timeoutNs: 0 }), {
    ret: 0,
    ready: false,
  });
  hv.hypercall(g, { hc: "event_channel_op", op: "send", port: p });
  sched.run();
  assert.deepEqual(woke, [0]);
  const q = hv.hypercall(g, { hc: "event_channel_op", op: "bind_ipi", vcpu: 0 }).port!;
  hv.hypercall(g, { hc: "sched_op", op: "poll", ports: [q], timeoutNs: 5 * NS_PER_S });
  sched.run();
  assert.deepEqual(woke, [0, 5 * NS_PER_S]);
});
