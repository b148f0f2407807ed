/**
 * @module
 * The guest side of suspend for PV and PVHVM agents: Linux's `do_suspend`
 * and `xen_suspend` (lifecycle-and-migration.md §3.7) as a
 * {@link SuspendHook}.
 *
 * 1. freeze: every frontend's `.freeze` (xenbus_dev_suspend);
 * 2. xs_suspend: the watch thread is already held by the caller;
 * 3. PV `xen_arch_pre_suspend`: start_info's store and console MFNs become
 *    PFNs (canonical, so a toolstack could relocate them);
 * 4. `HYPERVISOR_suspend(arg)` = SCHEDOP_shutdown(SHUTDOWN_suspend), with
 *    arg = start_info's frame for PV, 0 for PVHVM — the domain stops here;
 * 5. the next vCPU entry's RAX is the return value: 1 = cancelled (a
 *    checkpoint, `xl resume`, a failed save): PV puts the MFNs back
 *    (`xen_arch_post_suspend(1)`), frontends THAW (nothing changes),
 *    `xs_suspend_cancel`. 0 = resumed: start_info/params are re-read and the
 *    frontends RESTORE (renegotiate with their backends, §4.4).
 *
 * Resuming into a *different* domain (restore, migration) also needs the
 * xenstore connection re-opened from the new store page: not done here yet;
 * such a resume is reported and the agent stops, rather than pretending.
 */
import { decodeStartInfo, encodeStartInfo } from "../hv/start_info.ts";
import { DOMID_SELF, PAGE_SIZE, SHUTDOWN_suspend } from "../hv/xen_abi.ts";
import type { SuspendContext, SuspendHook } from "./suspend_hook.ts";
import { gnttabResume } from "./gnttab_resume.ts";

async function readStartInfo(ctx: SuspendContext): Promise<Uint8Array> {
  const page = new Uint8Array(PAGE_SIZE);
  const r = await ctx.env.readPage(ctx.startInfoPfn!, 0, page);
  if (r < 0) throw new Error(`suspend: reading start_info (pfn ${ctx.startInfoPfn}): ${r}`);
  return page;
}

async function writeStartInfo(ctx: SuspendContext, page: Uint8Array): Promise<void> {
  const r = await ctx.env.writePage(ctx.startInfoPfn!, 0, page);
  if (r < 0) throw new Error(`suspend: writing start_info: ${r}`);
}

async function mfnOfPfn(ctx: SuspendContext, pfn: number): Promise<number> {
  const r = await ctx.env.hypercall({
    hc: "memory_op",
    op: "translate_gpfn_list",
    domid: DOMID_SELF,
    gpfns: [pfn],
  });
  if (r.ret < 0 || !r.mfns) throw new Error(`suspend: pfn ${pfn} → mfn: ${r.ret}`);
  return r.mfns[0];
}

async function pfnOfMfn(ctx: SuspendContext, mfn: number): Promise<number> {
  const r = await ctx.env.hypercall({ hc: "memory_op", op: "machphys_lookup", mfns: [mfn] });
  if (r.ret < 0 || !r.pfns) throw new Error(`suspend: mfn ${mfn} → pfn: ${r.ret}`);
  return r.pfns[0];
}

/** Linux's do_suspend for PV and PVHVM guests. */
export const linuxSuspend: SuspendHook = async (ctx) => {
  ctx.trace("suspend", { step: "freeze", frontends: ctx.frontends.length });
  for (const f of ctx.frontends) await f.suspend();
  // xs_suspend: the caller holds the watch thread; no request is in flight.
  ctx.trace("suspend", { step: "xs_suspend" });
  // gnttab_suspend: PV unmaps its grant-table frames (xenlab's grant
  // entries are kept by Xen, nothing is mapped to give back).
  ctx.trace("suspend", { step: "gnttab_suspend" });
  let arg = 0;
  if (ctx.kind === "pv") {
    // xen_arch_pre_suspend: canonicalise store/console MFNs to PFNs.
    const page = await readStartInfo(ctx);
    const si = decodeStartInfo(page);
    si.storeMfn = await pfnOfMfn(ctx, si.storeMfn);
    si.consoleMfn = await pfnOfMfn(ctx, si.consoleMfn);
    encodeStartInfo(si, page);
    await writeStartInfo(ctx, page);
    arg = await mfnOfPfn(ctx, ctx.startInfoPfn!);
    ctx.trace("suspend", { step: "pre_suspend", storePfn: si.storeMfn, consolePfn: si.consoleMfn });
  }
  const entry = ctx.nextVcpuEntry();
  const r = await ctx.env.hypercall({
    hc: "sched_op",
    op: "shutdown",
    reason: SHUTDOWN_suspend,
    arg,
  });
  if (r.ret < 0) throw new Error(`suspend: SCHEDOP_shutdown(suspend): ${r.ret}`);
  ctx.trace("suspend", { step: "hypercall", arg });
  const vcpu = await entry; // the domain stops here until resumed
  const cancelled = vcpu.rax === 1;
  ctx.trace("suspend", { step: "returned", rax: vcpu.rax, cancelled });
  if (ctx.kind === "pv") {
    // xen_arch_post_suspend: back to MFNs (cancelled), or re-read what the
    // toolstack wrote (resumed: it converted them back itself).
    const page = await readStartInfo(ctx);
    const si = decodeStartInfo(page);
    if (cancelled) {
      si.storeMfn = await mfnOfPfn(ctx, si.storeMfn);
      si.consoleMfn = await mfnOfPfn(ctx, si.consoleMfn);
      encodeStartInfo(si, page);
      await writeStartInfo(ctx, page);
    }
  }
  // gnttab_resume: done on both paths (§4.3): PV maps its frames again
  // with GNTTABOP_setup_table.
  if (ctx.kind === "pv") {
    const { ret } = await gnttabResume(ctx.env, true);
    ctx.trace("suspend", { step: "gnttab_resume", ret });
  }
  // dpm_resume: THAW (cancelled: nothing changes) or RESTORE (renegotiate).
  for (const f of ctx.frontends) await f.resume(!cancelled);
  ctx.trace("suspend", { step: cancelled ? "thawed" : "restored" });
};
