/**
 * @module
 * Resuming the same domain (`libxl_domain_resume`, lifecycle-and-migration.md
 * §4.1). Fast ("cooperative"): the domain must be shut down with reason
 * suspend; vCPU 0's RAX becomes 1 so the guest's suspend hypercall returns
 * "cancelled" (except an HVM guest without PV drivers: nothing to patch);
 * then resumedomain and XS_RESUME, so xenstored reports the next shutdown.
 * Not fast: the guest sees 0 and re-initialises as in a new domain.
 */
import { decodeDominf } from "../../hv/domain_info.ts";
import { HVM_PARAM_CALLBACK_IRQ } from "../../hv/hvm_params.ts";
import { SHUTDOWN_suspend } from "../../hv/xen_abi.ts";
import { check } from "../build/hypercall_error.ts";
import { editStartInfo, mfnToPfn, pfnsToMfns } from "../build/guest_frames.ts";
import type { ToolstackContext } from "../toolstack_context.ts";

export async function resumeDomain(
  tc: ToolstackContext,
  domid: number,
  opts: { fast: boolean },
): Promise<void> {
  const info = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
  if (!info) throw new Error(`resume: no domain ${domid}`);
  const f = decodeDominf(info.flags);
  if (!f.shutdown || f.shutdownCode !== SHUTDOWN_suspend) {
    throw new Error(`resume: domain ${domid} is not suspended (modify_returncode refuses: EINVAL)`);
  }
  tc.trace.emit({ src: "toolstack", dom: domid, op: "resume", fast: opts.fast });
  const pvdrv = f.hvm
    ? tc.hypercall({ hc: "hvm_op", op: "get_param", domid, index: HVM_PARAM_CALLBACK_IRQ }).value ??
      0
    : 1;
  if (opts.fast && pvdrv !== 0) {
    const ctx = check(
      tc.hypercall({ hc: "domctl", op: "getvcpucontext", domid, vcpu: 0 }),
      "getvcpucontext",
      domid,
    ).ctx!;
    ctx.rax = 1;
    check(
      tc.hypercall({ hc: "domctl", op: "setvcpucontext", domid, vcpu: 0, ctx }),
      "setvcpucontext",
      domid,
    );
  } else if (!opts.fast && !f.hvm) {
    uncanonicalisePvStartInfo(tc, domid);
  }
  check(tc.hypercall({ hc: "domctl", op: "resumedomain", domid }), "resumedomain", domid);
  await tc.xs.resume(domid);
}

/**
 * xc_domain_resume "any", PV: start_info's frame is in vCPU 0's RDX (the
 * suspend hypercall's arg); its store and console frames were made PFNs by
 * the guest and go back to MFNs.
 */
function uncanonicalisePvStartInfo(tc: ToolstackContext, domid: number): void {
  const ctx = check(
    tc.hypercall({ hc: "domctl", op: "getvcpucontext", domid, vcpu: 0 }),
    "getvcpucontext",
    domid,
  ).ctx!;
  editStartInfo(tc, domid, mfnToPfn(tc, domid, ctx.rdx), (si) => {
    [si.storeMfn, si.consoleMfn] = pfnsToMfns(tc, domid, [si.storeMfn, si.consoleMfn]);
  });
}
