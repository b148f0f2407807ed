/**
 * @module
 * The hypervisor's domain lifecycle as a pure state machine,
 * `transition(state, event) → { state, ret, effects }`, over exactly the
 * fields lifecycle-and-migration.md §1.1 lists: controller pause count
 * (starts at 1), internal pause count, shutdown state and code, dying state,
 * suspend event channel, creation-finished, and per-vCPU
 * `paused_for_shutdown` / `defer_shutdown`. Source: `xen/common/domain.c`
 * (`domain_shutdown`, `__domain_finalise_shutdown`, `domain_resume`,
 * `domain_kill`, `domain_{pause,unpause}_by_systemcontroller`,
 * `vcpu_{start,end}_shutdown_deferral`, `domain_soft_reset`).
 *
 * Refused requests (a toolstack pausing itself, a pause count overflow)
 * return `-errno` and leave the state alone; impossible internal events
 * (relinquishing a live domain, an internal unpause below zero) are
 * assertion failures. The hypervisor carries out the returned effects.
 *
 * Worked example, a suspend with the suspend-event-channel protocol (§3.3):
 * `subscribe{port 5}` sets suspendEvtchn 5; the guest's
 * `shutdown{reason 2}` latches code 2, moves to in_progress, pauses every
 * vCPU that is not deferring (effects `vcpu_paused_for_shutdown`); all are
 * paused, so it finalises at once: state complete and effects
 * `shutdown_complete{2}`, `send_suspend_evtchn{5}` — and *no*
 * `raise_dom_exc`, so xenstored is not poked. A later `resume{}` clears the
 * state and code and unpauses those vCPUs.
 */
import { assert, fail } from "./assert.ts";
import { Errno } from "./errno.ts";
import { SHUTDOWN_CODE_INVALID, SHUTDOWN_crash, SHUTDOWN_suspend } from "./xen_abi.ts";

/** `is_dying`: DOMDYING_alive, DOMDYING_dying, DOMDYING_dead. */
export type DyingState = "alive" | "dying" | "dead";
/** `is_shutting_down` / `is_shut_down` as one three-valued state. */
export type ShutdownState = "none" | "in_progress" | "complete";

/** Largest controller (toolstack) pause count. */
export const CONTROLLER_PAUSE_MAX = 255;

/** Per-vCPU shutdown flags. */
export interface VcpuShutdownFlags {
  readonly pausedForShutdown: boolean;
  readonly deferShutdown: boolean;
}

/** The §1.1 fields of one domain. */
export interface DomainLifecycle {
  readonly isDying: DyingState;
  readonly shutdownState: ShutdownState;
  /** Latched `SHUTDOWN_*` code, or SHUTDOWN_CODE_INVALID. */
  readonly shutdownCode: number;
  readonly controllerPauseCount: number;
  /** Internal `pause_count` (domain_pause by Xen itself). */
  readonly pauseCount: number;
  readonly creationFinished: boolean;
  /** Suspend event channel (a port of this domain), 0 = none. */
  readonly suspendEvtchn: number;
  readonly vcpus: readonly VcpuShutdownFlags[];
}

/** Inputs of the machine. `self` = the caller is the domain itself. */
export type LifecycleEvent =
  | { readonly type: "pause_by_controller"; readonly self: boolean }
  | { readonly type: "unpause_by_controller" }
  | { readonly type: "pause" }
  | { readonly type: "unpause" }
  | { readonly type: "shutdown"; readonly reason: number }
  | { readonly type: "shutdown_code"; readonly reason: number }
  | { readonly type: "defer_shutdown_start"; readonly vcpu: number }
  | { readonly type: "defer_shutdown_end"; readonly vcpu: number }
  | { readonly type: "resume"; readonly self: boolean }
  | { readonly type: "soft_reset"; readonly self: boolean }
  | { readonly type: "subscribe"; readonly port: number }
  | { readonly type: "add_vcpus"; readonly count: number }
  | { readonly type: "kill"; readonly self: boolean }
  | { readonly type: "relinquished" };

/** Outputs the hypervisor carries out. */
export type LifecycleEffect =
  | { readonly kind: "creation_finished" }
  | { readonly kind: "vcpu_paused_for_shutdown"; readonly vcpu: number }
  | { readonly kind: "vcpu_unpaused_for_shutdown"; readonly vcpu: number }
  | { readonly kind: "shutdown_complete"; readonly code: number }
  | { readonly kind: "send_suspend_evtchn"; readonly port: number }
  | { readonly kind: "raise_dom_exc" }
  | { readonly kind: "reset_evtchns" }
  | { readonly kind: "teardown" };

/** Result of one transition. */
export interface Transition {
  readonly state: DomainLifecycle;
  /** 0 (or, for `defer_shutdown_start`, 1 = deferring) or -errno. */
  readonly ret: number;
  readonly effects: readonly LifecycleEffect[];
}

const NO_VCPU: VcpuShutdownFlags = { pausedForShutdown: false, deferShutdown: false };

/** A freshly created domain: paused by the controller (count 1), no shutdown. */
export function createdLifecycle(vcpus: number): DomainLifecycle {
  return {
    isDying: "alive",
    shutdownState: "none",
    shutdownCode: SHUTDOWN_CODE_INVALID,
    controllerPauseCount: 1,
    pauseCount: 0,
    creationFinished: false,
    suspendEvtchn: 0,
    vcpus: Array.from({ length: vcpus }, () => NO_VCPU),
  };
}

/** Domain 0 as Xen boots it: running, creation finished. */
export function bootLifecycle(vcpus: number): DomainLifecycle {
  return { ...createdLifecycle(vcpus), controllerPauseCount: 0, creationFinished: true };
}

function ok(state: DomainLifecycle, effects: LifecycleEffect[] = [], ret = 0): Transition {
  return { state, ret, effects };
}

function refuse(state: DomainLifecycle, errno: number): Transition {
  return { state, ret: -errno, effects: [] };
}

/** `__domain_finalise_shutdown`: complete once every vCPU is paused for shutdown. */
function finalise(s: DomainLifecycle, effects: LifecycleEffect[]): DomainLifecycle {
  if (s.shutdownState !== "in_progress") return s;
  if (!s.vcpus.every((v) => v.pausedForShutdown)) return s;
  effects.push({ kind: "shutdown_complete", code: s.shutdownCode });
  if (s.shutdownCode === SHUTDOWN_suspend && s.suspendEvtchn !== 0) {
    effects.push({ kind: "send_suspend_evtchn", port: s.suspendEvtchn });
  } else {
    effects.push({ kind: "raise_dom_exc" });
  }
  return { ...s, shutdownState: "complete" };
}

function setVcpu(
  s: DomainLifecycle,
  vcpu: number,
  flags: VcpuShutdownFlags,
): DomainLifecycle {
  const vcpus = s.vcpus.slice();
  vcpus[vcpu] = flags;
  return { ...s, vcpus };
}

function shutdown(s: DomainLifecycle, reason: number): Transition {
  if (s.isDying !== "alive") return ok(s); // nothing of a dying domain runs
  // The first reason sticks: a latched code (shutdown_code, or an earlier
  // shutdown) wins over this one.
  const code = s.shutdownCode === SHUTDOWN_CODE_INVALID ? reason : s.shutdownCode;
  let next: DomainLifecycle = { ...s, shutdownCode: code };
  if (s.shutdownState !== "none") return ok(next);
  const effects: LifecycleEffect[] = [];
  const vcpus = s.vcpus.map((v, i) => {
    if (code !== SHUTDOWN_crash && v.deferShutdown) return v;
    if (!v.pausedForShutdown) effects.push({ kind: "vcpu_paused_for_shutdown", vcpu: i });
    return { pausedForShutdown: true, deferShutdown: false };
  });
  next = finalise({ ...next, shutdownState: "in_progress", vcpus }, effects);
  return ok(next, effects);
}

/** `vcpu_check_shutdown`: a vCPU leaving (or entering) deferral during a shutdown. */
function checkShutdown(s: DomainLifecycle, vcpu: number, effects: LifecycleEffect[]) {
  if (s.shutdownState === "none") return s;
  if (!s.vcpus[vcpu].pausedForShutdown) effects.push({ kind: "vcpu_paused_for_shutdown", vcpu });
  return finalise(setVcpu(s, vcpu, { pausedForShutdown: true, deferShutdown: false }), effects);
}

function resume(s: DomainLifecycle, effects: LifecycleEffect[]): DomainLifecycle {
  const vcpus = s.vcpus.map((v, i) => {
    if (v.pausedForShutdown) effects.push({ kind: "vcpu_unpaused_for_shutdown", vcpu: i });
    return { pausedForShutdown: false, deferShutdown: v.deferShutdown };
  });
  return { ...s, shutdownState: "none", shutdownCode: SHUTDOWN_CODE_INVALID, vcpus };
}

/** The lifecycle machine. Pure: `state` is never modified. */
export function transition(state: DomainLifecycle, event: LifecycleEvent): Transition {
  const s = state;
  switch (event.type) {
    case "pause_by_controller": {
      if (event.self) return refuse(s, Errno.EINVAL);
      if (s.controllerPauseCount + 1 > CONTROLLER_PAUSE_MAX) return refuse(s, Errno.EOVERFLOW);
      return ok({ ...s, controllerPauseCount: s.controllerPauseCount + 1 });
    }
    case "unpause_by_controller": {
      if (s.controllerPauseCount === 0) return refuse(s, Errno.EINVAL);
      const count = s.controllerPauseCount - 1;
      if (count === 0 && !s.creationFinished) {
        return ok({ ...s, controllerPauseCount: 0, creationFinished: true }, [
          { kind: "creation_finished" },
        ]);
      }
      return ok({ ...s, controllerPauseCount: count });
    }
    case "pause":
      return ok({ ...s, pauseCount: s.pauseCount + 1 });
    case "unpause":
      assert(s.pauseCount > 0, "lifecycle: internal unpause below zero");
      return ok({ ...s, pauseCount: s.pauseCount - 1 });
    case "shutdown":
      return shutdown(s, event.reason);
    case "shutdown_code":
      if (s.shutdownCode !== SHUTDOWN_CODE_INVALID) return ok(s);
      return ok({ ...s, shutdownCode: event.reason });
    case "defer_shutdown_start": {
      const v = s.vcpus[event.vcpu];
      assert(v !== undefined, `lifecycle: no vcpu ${event.vcpu}`);
      if (v.deferShutdown) return ok(s, [], 1);
      if (s.shutdownState !== "none") {
        const effects: LifecycleEffect[] = [];
        return ok(checkShutdown(s, event.vcpu, effects), effects, 0);
      }
      return ok(setVcpu(s, event.vcpu, { ...v, deferShutdown: true }), [], 1);
    }
    case "defer_shutdown_end": {
      const v = s.vcpus[event.vcpu];
      assert(v !== undefined, `lifecycle: no vcpu ${event.vcpu}`);
      const cleared = setVcpu(s, event.vcpu, { ...v, deferShutdown: false });
      const effects: LifecycleEffect[] = [];
      return ok(checkShutdown(cleared, event.vcpu, effects), effects);
    }
    case "resume": {
      if (event.self) return refuse(s, Errno.EINVAL);
      const effects: LifecycleEffect[] = [];
      return ok(resume(s, effects), effects);
    }
    case "soft_reset": {
      if (event.self) return refuse(s, Errno.EINVAL);
      if (s.isDying !== "alive") return refuse(s, Errno.EINVAL);
      if (!s.vcpus.every((v) => v.pausedForShutdown)) return refuse(s, Errno.EINVAL);
      const effects: LifecycleEffect[] = [{ kind: "reset_evtchns" }];
      return ok(resume({ ...s, suspendEvtchn: 0 }, effects), effects);
    }
    case "subscribe":
      return ok({ ...s, suspendEvtchn: event.port });
    case "add_vcpus": {
      if (event.count < s.vcpus.length) return refuse(s, Errno.EINVAL);
      const paused = s.shutdownState !== "none";
      const vcpus = s.vcpus.slice();
      while (vcpus.length < event.count) {
        vcpus.push({ pausedForShutdown: paused, deferShutdown: false });
      }
      return ok({ ...s, vcpus });
    }
    case "kill":
      if (event.self) return refuse(s, Errno.EINVAL);
      if (s.isDying !== "alive") return ok(s);
      return ok({ ...s, isDying: "dying", pauseCount: s.pauseCount + 1 }, [{ kind: "teardown" }]);
    case "relinquished":
      assert(s.isDying === "dying", `lifecycle: relinquished while ${s.isDying}`);
      return ok({ ...s, isDying: "dead" }, [{ kind: "raise_dom_exc" }]);
    default:
      return fail(`lifecycle: unknown event ${JSON.stringify(event satisfies never)}`);
  }
}

/**
 * Whether vCPU `vcpu` may run as far as the lifecycle goes: the domain is
 * alive and unpaused (controller and internal counts 0) and the vCPU is not
 * paused for shutdown (a deferring vCPU keeps running during a shutdown).
 */
export function lifecycleVcpuRunnable(s: DomainLifecycle, vcpu: number): boolean {
  return s.isDying === "alive" && s.controllerPauseCount === 0 && s.pauseCount === 0 &&
    s.vcpus[vcpu]?.pausedForShutdown === false;
}
