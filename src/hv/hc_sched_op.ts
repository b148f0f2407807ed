/**
 * @module
 * `sched_op` (§0.2, `do_sched_op` in `xen/common/sched/core.c`): yield,
 * block, shutdown (with the suspend register convention of §3.6–3.7),
 * poll, remote_shutdown, shutdown_code, watchdog.
 *
 * SHUTDOWN_suspend: the calling vCPU's RAX is set to 0 (the hypercall's
 * return value, which the toolstack may later rewrite to 1 for a fast
 * resume, §4.1) and, for PV, RDX to the start_info MFN passed as `arg`. The
 * synchronous reply only acknowledges; the guest continues when
 * `GuestKernel.vcpuRun` reports its vCPU running again with that RAX.
 */
import { isU32 } from "./args.ts";
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, SchedOpCall } from "./hypercall.ts";
import { SCHEDOP_POLL_PORTS_MAX, SHUTDOWN_MAX } from "./xen_abi.ts";

function validReason(r: unknown): r is number {
  // Xen truncates the reason to u8 without checking; xenlab refuses unknown codes.
  return typeof r === "number" && Number.isInteger(r) && r >= 0 && r <= SHUTDOWN_MAX;
}

/** Whether an unmasked pending port would interrupt `vcpu` (`local_events_need_delivery`). */
function eventsPendingFor(d: Domain, vcpu: number): boolean {
  for (const p of d.shared.deliverable(d.evtchn.maxPort)) {
    if (d.evtchn.notifyVcpu(p) === vcpu) return true;
  }
  return false;
}

/** Handles one sched_op call from `caller`. */
export function schedOp(core: HvCore, caller: Domain, call: SchedOpCall): AnyHypercallResult {
  switch (call.op) {
    case "yield":
    case "block": {
      const v = caller.vcpus[call.vcpu ?? 0];
      if (v === undefined) return { ret: -Errno.EINVAL };
      if (call.op === "block" && !eventsPendingFor(caller, v.id)) {
        v.blocked = true;
        core.touch(caller);
      }
      return { ret: 0 };
    }
    case "shutdown": {
      const v = caller.vcpus[call.vcpu ?? 0];
      if (v === undefined || !validReason(call.reason)) return { ret: -Errno.EINVAL };
      if (call.arg !== undefined && !(typeof call.arg === "number" && call.arg >= 0)) {
        return { ret: -Errno.EINVAL };
      }
      v.ctx.rax = 0;
      if (call.arg !== undefined) v.ctx.rdx = call.arg;
      core.lifecycle(caller, { type: "shutdown", reason: call.reason });
      return { ret: 0 };
    }
    case "poll":
      return poll(core, caller, call);
    case "remote_shutdown": {
      const d = core.lookup(call.domid);
      if (d === undefined) return { ret: -Errno.ESRCH };
      if (!caller.privileged) return { ret: -Errno.EPERM };
      if (!validReason(call.reason)) return { ret: -Errno.EINVAL };
      core.lifecycle(d, { type: "shutdown", reason: call.reason });
      return { ret: 0 };
    }
    case "shutdown_code":
      if (!validReason(call.reason)) return { ret: -Errno.EINVAL };
      return { ret: core.lifecycle(caller, { type: "shutdown_code", reason: call.reason }) };
    case "watchdog":
      return { ret: caller.watchdogs.op(call.id, call.timeoutS) };
    default:
      return { ret: -Errno.ENOSYS };
  }
}

function poll(
  core: HvCore,
  caller: Domain,
  call: Extract<SchedOpCall, { op: "poll" }>,
): AnyHypercallResult {
  const v = caller.vcpus[call.vcpu ?? 0];
  if (v === undefined) return { ret: -Errno.EINVAL };
  const { ports, timeoutNs } = call;
  if (!Array.isArray(ports) || ports.length > SCHEDOP_POLL_PORTS_MAX) return { ret: -Errno.EINVAL };
  if (!(typeof timeoutNs === "number" && Number.isSafeInteger(timeoutNs) && timeoutNs >= 0)) {
    return { ret: -Errno.EINVAL };
  }
  for (const p of ports) if (!isU32(p) || !caller.evtchn.isValid(p)) return { ret: -Errno.EINVAL };
  if (ports.some((p) => caller.shared.testPending(p))) return { ret: 0, ready: true };
  v.blocked = true;
  v.pollPorts = ports.slice();
  if (timeoutNs !== 0) {
    const delay = Math.max(0, timeoutNs - core.clock.nowNs());
    const t = core.clock.setTimer(delay, () => {
      v.pollCancel = null;
      core.wake(caller, v);
      core.settle();
    });
    v.pollCancel = () => t.cancel();
  }
  core.touch(caller);
  return { ret: 0, ready: false };
}
