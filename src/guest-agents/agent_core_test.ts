import assert from "node:assert/strict";
import type { GuestKernel } from "../hv/domain.ts";
import { emptyVcpuContext } from "../hv/vcpu.ts";
import { SHUTDOWN_crash } from "../hv/xen_abi.ts";
import { Scheduler } from "../sim/scheduler.ts";
import { Rng } from "../sim/rng.ts";
import { MemoryTrace } from "../sim/trace.ts";
import {
  AgentCore,
  CONSOLE_LINE_BYTES_MAX,
  CONSOLE_LINES_MAX,
  VCPU_ENTRIES_MAX,
} from "./agent_core.ts";
import type { GuestEnv } from "./guest_env.ts";
import { guestProfile } from "./profiles.ts";

function env(kernel: { k?: GuestKernel }, calls: unknown[] = []): GuestEnv {
  const sched = new Scheduler();
  return {
    domid: 9,
    clock: sched,
    rng: new Rng(1),
    trace: new MemoryTrace(sched),
    hypercall: ((c: unknown) => (calls.push(c), Promise.resolve({ ret: 0 }))) as GuestEnv[
      "hypercall"
    ],
    attachKernel: (k) => {
      kernel.k = k;
      return () => (kernel.k = undefined);
    },
    readPage: () => Promise.resolve(-14),
    writePage: () => Promise.resolve(-14),
    openXenstore: () => Promise.reject(new Error("no")),
    sleep: (ns) => sched.sleep(ns),
  };
}

function core(e: GuestEnv): AgentCore {
  return new AgentCore(e, "pv", guestProfile("well-behaved"), {});
}

Deno.test("agent core: the console keeps the last CONSOLE_LINES_MAX lines, each cut at the bound", () => {
  const c = core(env({}));
  const sink: string[] = [];
  c.setConsoleSink((t) => sink.push(t));
  for (let i = 0; i <= CONSOLE_LINES_MAX; i++) c.print(`line ${i}`);
  assert.equal(c.console.length, CONSOLE_LINES_MAX);
  assert.equal(c.console[0], "line 1");
  assert.equal(sink.length, CONSOLE_LINES_MAX + 1);
  c.print("x".repeat(CONSOLE_LINE_BYTES_MAX + 10));
  assert.equal(c.console.at(-1)!.length, CONSOLE_LINE_BYTES_MAX);
});

Deno.test("agent core: vCPU entries queue up to VCPU_ENTRIES_MAX; more are dropped and traced", async () => {
  const holder: { k?: GuestKernel } = {};
  const e = env(holder);
  const c = core(e);
  c.attach({});
  for (let i = 0; i <= VCPU_ENTRIES_MAX; i++) {
    const ctx = emptyVcpuContext();
    ctx.rax = i;
    holder.k!.vcpuRun!(0, ctx);
  }
  assert.match((e.trace as MemoryTrace).text(), /vcpu_entry_dropped/);
  assert.equal((await c.nextVcpuEntry()).rax, 0);
  // Other vCPUs are traced, not queued.
  holder.k!.vcpuRun!(1, emptyVcpuContext());
  for (let i = 1; i < VCPU_ENTRIES_MAX; i++) assert.equal((await c.nextVcpuEntry()).rax, i);
});

Deno.test("agent core: the shutdown hypercall sets the state; stop detaches and rejects ready", async () => {
  const holder: { k?: GuestKernel } = {};
  const calls: unknown[] = [];
  const c = core(env(holder, calls));
  c.attach({});
  const made = c.machineShutdown(SHUTDOWN_crash, "test");
  assert.deepEqual(calls, [{ hc: "sched_op", op: "shutdown", reason: SHUTDOWN_crash }]);
  // It stops acting once the call is made, before the answer is back.
  assert.equal(c.alive, false);
  assert.equal(await made, 0);
  assert.equal(c.state, "crashed");
  assert.equal(c.alive, false);
  await c.stop();
  assert.equal(c.state, "stopped");
  assert.equal(holder.k, undefined);
  await assert.rejects(c.ready, /stopped/);
});

Deno.test("agent core: a negative orderly shutdown time is refused", () => {
  assert.throws(
    () => new AgentCore(env({}), "pv", guestProfile("well-behaved"), { orderlyShutdownNs: -1 }),
    /orderlyShutdownNs/,
  );
});
