import assert from "node:assert/strict";
import {
  bootLifecycle,
  createdLifecycle,
  type DomainLifecycle,
  type LifecycleEffect,
  type LifecycleEvent,
  lifecycleVcpuRunnable,
  transition,
} from "./domain_lifecycle.ts";
import { Errno } from "./errno.ts";
import {
  SHUTDOWN_CODE_INVALID,
  SHUTDOWN_crash,
  SHUTDOWN_poweroff,
  SHUTDOWN_reboot,
  SHUTDOWN_soft_reset,
  SHUTDOWN_suspend,
} from "./xen_abi.ts";

const P = { pausedForShutdown: true, deferShutdown: false };
const D = { pausedForShutdown: false, deferShutdown: true };

// Named states (two vCPUs each).
const created = createdLifecycle(2);
const running = bootLifecycle(2);
const paused2: DomainLifecycle = { ...running, controllerPauseCount: 2 };
const ctl254: DomainLifecycle = { ...running, controllerPauseCount: 254 };
const ctl255: DomainLifecycle = { ...running, controllerPauseCount: 255 };
const withEvtchn: DomainLifecycle = { ...running, suspendEvtchn: 5 };
const deferring1: DomainLifecycle = { ...running, vcpus: [running.vcpus[0], D] };
const complete = (code: number): DomainLifecycle => ({
  ...running,
  shutdownState: "complete",
  shutdownCode: code,
  vcpus: [P, P],
});
const inProgress: DomainLifecycle = {
  ...running,
  shutdownState: "in_progress",
  shutdownCode: SHUTDOWN_poweroff,
  vcpus: [P, D],
};
const latchedCrash: DomainLifecycle = { ...running, shutdownCode: SHUTDOWN_crash };
const dying: DomainLifecycle = { ...running, isDying: "dying", pauseCount: 1 };
const dead: DomainLifecycle = { ...running, isDying: "dead", pauseCount: 1 };

type Row = [
  name: string,
  from: DomainLifecycle,
  event: LifecycleEvent,
  ret: number,
  to: Partial<DomainLifecycle>,
  effects: LifecycleEffect[],
];

const shutdownEffects = (code: number, notify: LifecycleEffect): LifecycleEffect[] => [
  { kind: "vcpu_paused_for_shutdown", vcpu: 0 },
  { kind: "vcpu_paused_for_shutdown", vcpu: 1 },
  { kind: "shutdown_complete", code },
  notify,
];
const DOM_EXC: LifecycleEffect = { kind: "raise_dom_exc" };

// Every allowed and refused transition of §1.1, one row each.
const TABLE: Row[] = [
  // controller pause / unpause
  ["first unpause finishes creation", created, { type: "unpause_by_controller" }, 0, {
    controllerPauseCount: 0,
    creationFinished: true,
  }, [{ kind: "creation_finished" }]],
  [
    "unpause below zero is EINVAL",
    running,
    { type: "unpause_by_controller" },
    -Errno.EINVAL,
    {},
    [],
  ],
  ["later unpause only counts down", paused2, { type: "unpause_by_controller" }, 0, {
    controllerPauseCount: 1,
  }, []],
  ["pause counts up", running, { type: "pause_by_controller", self: false }, 0, {
    controllerPauseCount: 1,
  }, []],
  ["pause to 255 is allowed", ctl254, { type: "pause_by_controller", self: false }, 0, {
    controllerPauseCount: 255,
  }, []],
  [
    "pause past 255 is EOVERFLOW",
    ctl255,
    { type: "pause_by_controller", self: false },
    -Errno.EOVERFLOW,
    {},
    [],
  ],
  [
    "pausing oneself is EINVAL",
    running,
    { type: "pause_by_controller", self: true },
    -Errno.EINVAL,
    {},
    [],
  ],
  [
    "a dead domain can still be unpaused",
    { ...dead, controllerPauseCount: 1 },
    {
      type: "unpause_by_controller",
    },
    0,
    { controllerPauseCount: 0 },
    [],
  ],
  // internal pause
  ["internal pause counts up", running, { type: "pause" }, 0, { pauseCount: 1 }, []],
  ["internal unpause counts down", dying, { type: "unpause" }, 0, { pauseCount: 0 }, []],
  // shutdown
  [
    "poweroff completes at once and raises DOM_EXC",
    running,
    {
      type: "shutdown",
      reason: SHUTDOWN_poweroff,
    },
    0,
    { shutdownState: "complete", shutdownCode: 0, vcpus: [P, P] },
    shutdownEffects(0, DOM_EXC),
  ],
  [
    "suspend without a suspend evtchn raises DOM_EXC",
    running,
    {
      type: "shutdown",
      reason: SHUTDOWN_suspend,
    },
    0,
    { shutdownState: "complete", shutdownCode: 2 },
    shutdownEffects(2, DOM_EXC),
  ],
  [
    "suspend with a suspend evtchn signals it instead",
    withEvtchn,
    {
      type: "shutdown",
      reason: SHUTDOWN_suspend,
    },
    0,
    { shutdownState: "complete", shutdownCode: 2 },
    shutdownEffects(2, {
      kind: "send_suspend_evtchn",
      port: 5,
    }),
  ],
  [
    "reboot with a suspend evtchn still raises DOM_EXC",
    withEvtchn,
    {
      type: "shutdown",
      reason: SHUTDOWN_reboot,
    },
    0,
    { shutdownState: "complete", shutdownCode: 1 },
    shutdownEffects(1, DOM_EXC),
  ],
  [
    "a second shutdown keeps the first reason",
    complete(SHUTDOWN_reboot),
    {
      type: "shutdown",
      reason: SHUTDOWN_crash,
    },
    0,
    { shutdownCode: SHUTDOWN_reboot, shutdownState: "complete" },
    [],
  ],
  [
    "a latched shutdown_code wins over the shutdown reason",
    latchedCrash,
    {
      type: "shutdown",
      reason: SHUTDOWN_poweroff,
    },
    0,
    { shutdownCode: SHUTDOWN_crash },
    shutdownEffects(3, DOM_EXC),
  ],
  ["shutdown_code latches the first code", running, { type: "shutdown_code", reason: 1 }, 0, {
    shutdownCode: 1,
    shutdownState: "none",
  }, []],
  [
    "shutdown_code does not replace a latched code",
    latchedCrash,
    {
      type: "shutdown_code",
      reason: 1,
    },
    0,
    { shutdownCode: SHUTDOWN_crash },
    [],
  ],
  [
    "a deferring vCPU keeps the shutdown in progress",
    deferring1,
    {
      type: "shutdown",
      reason: SHUTDOWN_poweroff,
    },
    0,
    { shutdownState: "in_progress", vcpus: [P, D] },
    [{
      kind: "vcpu_paused_for_shutdown",
      vcpu: 0,
    }],
  ],
  ["crash overrides deferral", deferring1, { type: "shutdown", reason: SHUTDOWN_crash }, 0, {
    shutdownState: "complete",
    vcpus: [P, P],
  }, shutdownEffects(3, DOM_EXC)],
  [
    "ending the deferral completes the shutdown",
    inProgress,
    {
      type: "defer_shutdown_end",
      vcpu: 1,
    },
    0,
    { shutdownState: "complete", vcpus: [P, P] },
    [
      { kind: "vcpu_paused_for_shutdown", vcpu: 1 },
      { kind: "shutdown_complete", code: 0 },
      DOM_EXC,
    ],
  ],
  [
    "starting a deferral while running defers",
    running,
    { type: "defer_shutdown_start", vcpu: 1 },
    1,
    {
      vcpus: [running.vcpus[0], D],
    },
    [],
  ],
  [
    "starting a deferral twice still defers",
    deferring1,
    {
      type: "defer_shutdown_start",
      vcpu: 1,
    },
    1,
    {},
    [],
  ],
  [
    "starting a deferral during a shutdown pauses instead",
    {
      ...inProgress,
      vcpus: [running.vcpus[0], P],
    },
    { type: "defer_shutdown_start", vcpu: 0 },
    0,
    { shutdownState: "complete", vcpus: [P, P] },
    [
      { kind: "vcpu_paused_for_shutdown", vcpu: 0 },
      { kind: "shutdown_complete", code: 0 },
      DOM_EXC,
    ],
  ],
  [
    "ending a deferral without a shutdown only clears it",
    deferring1,
    {
      type: "defer_shutdown_end",
      vcpu: 1,
    },
    0,
    { vcpus: running.vcpus },
    [],
  ],
  ["a dying domain ignores shutdown", dying, { type: "shutdown", reason: 0 }, 0, {
    shutdownState: "none",
  }, []],
  // resume, soft reset
  [
    "resume clears shutdown state and unpauses vCPUs",
    complete(SHUTDOWN_suspend),
    {
      type: "resume",
      self: false,
    },
    0,
    { shutdownState: "none", shutdownCode: SHUTDOWN_CODE_INVALID, vcpus: running.vcpus },
    [
      { kind: "vcpu_unpaused_for_shutdown", vcpu: 0 },
      { kind: "vcpu_unpaused_for_shutdown", vcpu: 1 },
    ],
  ],
  [
    "resuming oneself is EINVAL",
    complete(SHUTDOWN_suspend),
    { type: "resume", self: true },
    -Errno.EINVAL,
    {},
    [],
  ],
  ["resume of a running domain is a no-op", running, { type: "resume", self: false }, 0, {}, []],
  [
    "soft reset resets event channels and resumes",
    { ...complete(SHUTDOWN_soft_reset), suspendEvtchn: 5 },
    {
      type: "soft_reset",
      self: false,
    },
    0,
    { shutdownState: "none", suspendEvtchn: 0 },
    [
      { kind: "reset_evtchns" },
      { kind: "vcpu_unpaused_for_shutdown", vcpu: 0 },
      { kind: "vcpu_unpaused_for_shutdown", vcpu: 1 },
    ],
  ],
  [
    "soft reset needs every vCPU paused for shutdown",
    inProgress,
    {
      type: "soft_reset",
      self: false,
    },
    -Errno.EINVAL,
    {},
    [],
  ],
  [
    "soft reset of oneself is EINVAL",
    complete(5),
    { type: "soft_reset", self: true },
    -Errno.EINVAL,
    {},
    [],
  ],
  [
    "soft reset of a dying domain is EINVAL",
    { ...complete(5), isDying: "dying" },
    {
      type: "soft_reset",
      self: false,
    },
    -Errno.EINVAL,
    {},
    [],
  ],
  // subscribe, vcpus
  ["subscribe records the suspend evtchn", running, { type: "subscribe", port: 9 }, 0, {
    suspendEvtchn: 9,
  }, []],
  ["more vCPUs may be added", running, { type: "add_vcpus", count: 3 }, 0, {
    vcpus: [...running.vcpus, running.vcpus[0]],
  }, []],
  [
    "vCPUs added during a shutdown are paused for it",
    complete(0),
    {
      type: "add_vcpus",
      count: 3,
    },
    0,
    { vcpus: [P, P, P] },
    [],
  ],
  ["vCPUs cannot be removed", running, { type: "add_vcpus", count: 1 }, -Errno.EINVAL, {}, []],
  // destruction
  ["kill starts dying and pauses", running, { type: "kill", self: false }, 0, {
    isDying: "dying",
    pauseCount: 1,
  }, [{ kind: "teardown" }]],
  ["killing oneself is EINVAL", running, { type: "kill", self: true }, -Errno.EINVAL, {}, []],
  ["kill of a dying domain continues quietly", dying, { type: "kill", self: false }, 0, {}, []],
  ["kill of a dead domain is done", dead, { type: "kill", self: false }, 0, {}, []],
  ["relinquished resources make it dead and raise DOM_EXC", dying, { type: "relinquished" }, 0, {
    isDying: "dead",
  }, [DOM_EXC]],
];

for (const [name, from, event, ret, to, effects] of TABLE) {
  Deno.test(`lifecycle: ${name}`, () => {
    const frozen = structuredClone(from);
    const t = transition(from, event);
    assert.deepEqual(from, frozen, "transition must not modify its input");
    assert.equal(t.ret, ret);
    assert.deepEqual(t.effects, effects);
    if (ret < 0) assert.equal(t.state, from, "a refused transition leaves the state");
    for (const [k, v] of Object.entries(to)) {
      assert.deepEqual(t.state[k as keyof DomainLifecycle], v, k);
    }
  });
}

Deno.test("lifecycle: impossible internal events are assertion failures", () => {
  assert.throws(() => transition(running, { type: "relinquished" }), /relinquished while alive/);
  assert.throws(() => transition(running, { type: "unpause" }), /below zero/);
  assert.throws(() => transition(running, { type: "defer_shutdown_start", vcpu: 7 }), /no vcpu/);
});

Deno.test("lifecycle: a vCPU runs only when alive, unpaused and not paused for shutdown", () => {
  assert.equal(lifecycleVcpuRunnable(created, 0), false);
  assert.equal(lifecycleVcpuRunnable(running, 0), true);
  assert.equal(lifecycleVcpuRunnable(inProgress, 0), false);
  assert.equal(lifecycleVcpuRunnable(inProgress, 1), true, "deferring vCPU keeps running");
  assert.equal(lifecycleVcpuRunnable(dying, 0), false);
  assert.equal(lifecycleVcpuRunnable({ ...running, pauseCount: 1 }, 0), false);
});

Deno.test("lifecycle: a full suspend / fast resume round trip", () => {
  let s = createdLifecycle(1);
  const step = (e: LifecycleEvent) => {
    const t = transition(s, e);
    s = t.state;
    return t;
  };
  step({ type: "unpause_by_controller" });
  assert.deepEqual(step({ type: "shutdown", reason: SHUTDOWN_suspend }).effects.at(-1), DOM_EXC);
  assert.equal(s.shutdownState, "complete");
  step({ type: "resume", self: false });
  assert.equal(s.shutdownState, "none");
  assert.equal(lifecycleVcpuRunnable(s, 0), true);
});
