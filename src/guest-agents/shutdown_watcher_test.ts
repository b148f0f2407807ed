/**
 * manage.c's handlers against a scripted xenstore: request/reply tables for
 * the paths the end-to-end tests cannot force (EAGAIN forever, read errors,
 * a failing watch registration).
 */
import assert from "node:assert/strict";
import { Scheduler } from "../sim/scheduler.ts";
import { Rng } from "../sim/rng.ts";
import { MemoryTrace } from "../sim/trace.ts";
import { XsClient } from "../xenstore/client/client.ts";
import { ScriptedLink } from "../xenstore/client/scripted_link.ts";
import { bytes, latin1, type Message, watchEvent } from "../xenstore/wire/message.ts";
import { Op, opName } from "../xenstore/wire/op.ts";
import { AgentCore } from "./agent_core.ts";
import type { GuestEnv } from "./guest_env.ts";
import { guestProfile } from "./profiles.ts";
import {
  type ManageActions,
  SHUTDOWN_TX_RETRIES_MAX,
  SHUTDOWN_WATCH_TOKEN,
  ShutdownWatcher,
  SYSRQ_WATCH_TOKEN,
} from "./shutdown_watcher.ts";

function fakeEnv(sched: Scheduler, trace: MemoryTrace): GuestEnv {
  return {
    domid: 5,
    clock: sched,
    rng: new Rng(1),
    trace,
    hypercall: () => Promise.resolve({ ret: 0 }) as never,
    attachKernel: () => () => {},
    readPage: () => Promise.resolve(-14),
    writePage: () => Promise.resolve(-14),
    openXenstore: () => Promise.reject(new Error("not here")),
    sleep: (ns) => sched.sleep(ns),
  };
}

interface Script {
  values: Record<string, string>;
  /** Errno for TRANSACTION_END, or undefined for OK. */
  endError?: string;
  /** Errno for WATCH of a path. */
  watchError?: Record<string, string>;
  /** Errno for WRITE of a path. */
  writeError?: Record<string, string>;
}

function setup(script: Script, profile = "well-behaved") {
  const sched = new Scheduler();
  const trace = new MemoryTrace(sched);
  const ops: string[] = [];
  const link = new ScriptedLink((m: Message, l) => {
    const args = latin1(m.payload).split("\0");
    ops.push(`${opName(m.type)} ${m.txId ? "T" : "-"} ${args[0]}`);
    switch (m.type) {
      case Op.WATCH: {
        const err = script.watchError?.[args[0]];
        if (err) return l.error(m, err);
        l.ok(m);
        return l.deliver(watchEvent(args[0], args[1]));
      }
      case Op.TRANSACTION_START:
        return l.answer(m, bytes("7\0"));
      case Op.TRANSACTION_END:
        return script.endError ? l.error(m, script.endError) : l.ok(m);
      case Op.READ: {
        const v = script.values[args[0]];
        return v === undefined ? l.error(m, "ENOENT") : l.answer(m, bytes(v));
      }
      case Op.WRITE:
        if (script.writeError?.[args[0]]) return l.error(m, script.writeError[args[0]]);
        // A transaction that will fail to commit changes nothing.
        if (!(m.txId !== 0 && script.endError)) script.values[args[0]] = args.slice(1).join("\0");
        return l.ok(m);
      default:
        return l.ok(m);
    }
  });
  const core = new AgentCore(fakeEnv(sched, trace), "pv", guestProfile(profile), {});
  const calls: string[] = [];
  const actions: ManageActions = {
    poweroff: (c) => calls.push(c),
    reboot: () => calls.push("reboot"),
    sysrq: (k) => calls.push(`sysrq ${k}`),
    crash: (c) => calls.push(`crash ${c}`),
  };
  const w = new ShutdownWatcher(new XsClient(link), core, actions);
  const settle = async () => {
    for (let i = 0; i < 20_000; i++) await Promise.resolve();
  };
  return { w, link, ops, calls, trace, settle };
}

Deno.test("shutdown watcher: EAGAIN at every commit gives up after the bound, acting on nothing", async () => {
  const script: Script = { values: {}, endError: "EAGAIN" };
  const { w, link, ops, calls, trace, settle } = setup(script);
  assert.equal(await w.setup(), true);
  await settle();
  script.values["control/shutdown"] = "poweroff";
  link.deliver(watchEvent("control/shutdown", SHUTDOWN_WATCH_TOKEN));
  await settle();
  const starts = ops.filter((o) => o.startsWith("TRANSACTION_START")).length;
  // The initial events (shutdown, sysrq: one each) and ours: 1 + SHUTDOWN_TX_RETRIES_MAX.
  assert.equal(starts, 3 + SHUTDOWN_TX_RETRIES_MAX);
  assert.deepEqual(calls, []);
  assert.match(trace.text(), /still EAGAIN after 17 transactions/);
});

Deno.test("shutdown watcher: a read error is ignored (transaction aborted), not acknowledged", async () => {
  const { w, link, ops, calls, settle } = setup({ values: {} });
  await w.setup();
  await settle();
  link.deliver(watchEvent("control/shutdown", SHUTDOWN_WATCH_TOKEN));
  await settle();
  assert.ok(!ops.some((o) => o.startsWith("WRITE T control/shutdown")));
  assert.ok(ops.includes("TRANSACTION_END T F"));
  assert.deepEqual(calls, []);
});

Deno.test("shutdown watcher: an error other than EAGAIN at commit falls through to the handler", async () => {
  const script: Script = { values: {}, endError: "EINVAL" };
  const { w, link, calls, settle } = setup(script);
  await w.setup();
  await settle();
  script.values["control/shutdown"] = "reboot";
  link.deliver(watchEvent("control/shutdown", SHUTDOWN_WATCH_TOKEN));
  await settle();
  assert.deepEqual(calls, ["reboot"]);
});

Deno.test("shutdown watcher: sysrq reads the first byte, acks, handles; EAGAIN is bounded", async () => {
  const ok = setup({ values: { "control/sysrq": "tx" } });
  await ok.w.setup();
  await ok.settle();
  ok.link.deliver(watchEvent("control/sysrq", SYSRQ_WATCH_TOKEN));
  await ok.settle();
  assert.deepEqual(ok.calls, ["sysrq t"]);
  const busy = setup({ values: { "control/sysrq": "b" }, endError: "EAGAIN" });
  await busy.w.setup();
  await busy.settle();
  busy.link.deliver(watchEvent("control/sysrq", SYSRQ_WATCH_TOKEN));
  await busy.settle();
  assert.deepEqual(busy.calls, []);
});

Deno.test("shutdown watcher: no shutdown watch, no features; a failed feature write stops the rest", async () => {
  const noWatch = setup({ values: {}, watchError: { "control/shutdown": "EACCES" } });
  assert.equal(await noWatch.w.setup(), false);
  assert.ok(!noWatch.ops.some((o) => o.startsWith("WRITE")));
  assert.match(noWatch.trace.text(), /Failed to set shutdown watcher/);
  const noWrite = setup({ values: {}, writeError: { "control/feature-poweroff": "EACCES" } });
  assert.equal(await noWrite.w.setup(), false);
  assert.deepEqual(noWrite.ops.filter((o) => o.startsWith("WRITE")), [
    "WRITE - control/feature-poweroff",
  ]);
});

Deno.test("shutdown watcher: the handler table (no suspend without a hook; never halt)", () => {
  const { w } = setup({ values: {} });
  assert.deepEqual(w.commands, ["poweroff", "halt", "reboot"]);
});
