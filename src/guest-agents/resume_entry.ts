/**
 * @module
 * The first moment of a kernel that was restored into a new domain
 * (lifecycle-and-migration.md §4.2): the toolstack unpauses the domain and
 * vCPU 0 continues where the saved kernel stopped — inside its suspend
 * hypercall, which now returns 0 ("resumed in a new domain"); a plain HVM
 * guest simply continues at the saved instruction. The kernel's own facts
 * come back from its memory (`kernel_record.ts`).
 */
import type { VcpuContext } from "../hv/vcpu.ts";
import type { AgentCore } from "./agent_core.ts";
import { type KernelRecord, readKernelRecord } from "./kernel_record.ts";
import type { PvDrivers } from "./pv_drivers.ts";

/**
 * Waits for vCPU 0's first entry in the restored domain and reads the
 * kernel record at `recordPfn`. `inHypercall`: the kernel stopped in
 * `HYPERVISOR_suspend` (PV, PVHVM), so RAX must be 0. On any mismatch the
 * boot fails with the reason and undefined is returned.
 */
export async function resumeEntry(
  core: AgentCore,
  recordPfn: number | undefined,
  inHypercall: boolean,
): Promise<{ ctx: VcpuContext; record: KernelRecord } | undefined> {
  const ctx = await core.nextVcpuEntry();
  if (core.state !== "booting") return undefined;
  core.trace("resume_entry", { rip: ctx.rip, rax: ctx.rax, inHypercall });
  if (inHypercall && ctx.rax !== 0) {
    core.bootFailed(`suspend hypercall returned ${ctx.rax} in a restored domain (expected 0)`);
    return undefined;
  }
  if (recordPfn === undefined) {
    core.bootFailed("no kernel record page: this kernel cannot resume from a save image");
    return undefined;
  }
  let record: KernelRecord;
  try {
    record = await readKernelRecord(core.env, recordPfn);
  } catch (e) {
    core.bootFailed(`resume: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  if (record.kind !== core.kind) {
    core.bootFailed(`resume: the saved kernel was a ${record.kind} guest, this is ${core.kind}`);
    return undefined;
  }
  core.trace("kernel_record", { ...record });
  return { ctx, record };
}

/**
 * The end of a PV-aware kernel's resume: `xs_resume` through the store page
 * and port it found (new ones), the drivers' RESTORE, and the kernel runs.
 */
export async function finishResume(
  core: AgentCore,
  drivers: PvDrivers,
  store: { frame: number; port: number },
  record: KernelRecord,
): Promise<void> {
  try {
    await drivers.connect(store.frame, store.port);
  } catch (e) {
    core.bootFailed(`xs_resume: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  await drivers.resume(record);
  if (core.state !== "booting") {
    core.bootAborted(`resume did not finish: ${core.state}`);
    return;
  }
  core.print(`PM: restore of devices complete (domain ${core.env.domid})`);
  core.booted();
}
