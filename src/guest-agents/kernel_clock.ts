/**
 * @module
 * The guest kernel's time plumbing that a restore must redo
 * (lifecycle-and-migration.md §4.3 "vCPUs", "event channels", "timers";
 * Linux `xen_setup_runstate_info`, `xen_setup_timer`, `xen_irq_resume`,
 * `xen_timer_resume`): vCPU 0's runstate area is registered with Xen
 * (`VCPUOP_register_runstate_memory_area`) and its timer interrupt is
 * bound to an event channel (`EVTCHNOP_bind_virq(VIRQ_TIMER)`). Both are
 * per-domain state in Xen, so a kernel resumed in a new domain registers
 * the area and binds the VIRQ again — to whatever port the new domain
 * hands out; a cancelled suspend keeps them.
 */
import { PAGE_SIZE, VIRQ_TIMER } from "../hv/xen_abi.ts";
import type { AgentCore } from "./agent_core.ts";

/** Where, in the kernel record page, vCPU 0's runstate area lives (its upper half). */
export const RUNSTATE_AREA_OFFSET = PAGE_SIZE / 2;

/**
 * Registers vCPU 0's runstate area at `areaPfn`'s upper half and binds
 * VIRQ_TIMER on vCPU 0; returns the timer's port (or -errno). `why` is
 * "boot" or "resume" for the trace.
 */
export async function setupKernelClock(
  core: AgentCore,
  areaPfn: number | undefined,
  why: "boot" | "resume",
): Promise<number> {
  const env = core.env;
  if (areaPfn !== undefined) {
    const r = await env.hypercall({
      hc: "vcpu_op",
      op: "register_runstate_memory_area",
      vcpu: 0,
      addr: areaPfn * PAGE_SIZE + RUNSTATE_AREA_OFFSET,
    });
    core.trace("runstate_area", { vcpu: 0, ret: r.ret, why });
  }
  const t = await env.hypercall({
    hc: "event_channel_op",
    op: "bind_virq",
    virq: VIRQ_TIMER,
    vcpu: 0,
  });
  const port = t.ret < 0 ? t.ret : t.port ?? -1;
  core.trace("timer", { virq: "VIRQ_TIMER", vcpu: 0, port, why });
  return port;
}
