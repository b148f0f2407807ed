/**
 * @module
 * `xen_vcpu_restore` (Linux `arch/x86/xen/enlighten.c`,
 * lifecycle-and-migration.md §4.3): after a resume in a new domain, every
 * other vCPU that is up is taken down (`VCPUOP_down`) while its per-vCPU
 * areas are registered again, then brought back up (`VCPUOP_up`). vCPU 0
 * is the one running this code. Bounded by the hypervisor's answer: the
 * first vCPU `is_up` refuses ends the walk.
 */
import type { AgentCore } from "./agent_core.ts";

/** Most vCPUs walked (Xen's HVM_MAX_VCPUS is 128; PV allows more). */
export const VCPU_RESTORE_MAX = 4096;

export async function vcpuRestore(core: AgentCore): Promise<void> {
  const env = core.env;
  const cycled: number[] = [];
  for (let vcpu = 1; vcpu < VCPU_RESTORE_MAX; vcpu++) {
    const up = await env.hypercall({ hc: "vcpu_op", op: "is_up", vcpu });
    if (up.ret < 0) break;
    if (up.ret === 0) continue;
    await env.hypercall({ hc: "vcpu_op", op: "down", vcpu });
    await env.hypercall({ hc: "vcpu_op", op: "up", vcpu });
    cycled.push(vcpu);
  }
  core.trace("vcpu_restore", { cycled });
}
