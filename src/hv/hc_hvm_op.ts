/**
 * @module
 * `hvm_op` set_param / get_param (§0.5, `xen/arch/x86/hvm/hvm.c`). Only HVM
 * domains have params (-EINVAL otherwise); a guest reaches its own, a
 * privileged domain any (XSM_TARGET, -EPERM otherwise).
 *
 * ACPI_S_STATE models S3 (§3.9): writing 3 pauses the domain and resets its
 * vCPUs (vCPU 0 to real mode at F000:FFF0, the others down); it reads 3
 * while suspended; writing 0 resumes, and vCPU 0 starts at the reset vector
 * (the firmware then jumps to the OS wake vector).
 */
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import { HVM_PARAM_ACPI_S_STATE } from "./hvm_params.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, HvmOpCall } from "./hypercall.ts";
import { emptyVcpuContext } from "./vcpu.ts";
import { VGCF_online } from "./xen_abi.ts";

/** The reset vector F000:FFF0 as xenlab's vCPU context shows it. */
export const S3_RESET_RIP = 0xfff0;
export const S3_RESET_CS_BASE = 0xf0000;

/** Handles one hvm_op from `caller`. */
export function hvmOp(core: HvCore, caller: Domain, call: HvmOpCall): AnyHypercallResult {
  if (call.op !== "set_param" && call.op !== "get_param") return { ret: -Errno.ENOSYS };
  const d = core.lookup(core.resolve(caller, call.domid));
  if (d === undefined) return { ret: -Errno.ESRCH };
  if (d !== caller && !caller.privileged) return { ret: -Errno.EPERM };
  if (!d.hvm) return { ret: -Errno.EINVAL };
  const self = d === caller;
  if (call.op === "get_param") {
    const ret = d.hvmParams.checkGet(call.index, self);
    if (ret < 0) return { ret };
    const value = call.index === HVM_PARAM_ACPI_S_STATE
      ? (d.s3Suspended ? 3 : 0)
      : d.hvmParams.get(call.index);
    return { ret: 0, value };
  }
  const ret = d.hvmParams.checkSet(call.index, call.value, self);
  if (ret < 0) return { ret };
  if (call.index === HVM_PARAM_ACPI_S_STATE) {
    if (call.value === 3) s3Suspend(d);
    else s3Resume(d);
    core.touch(d);
    return { ret: 0 };
  }
  d.hvmParams.set(call.index, call.value);
  return { ret: 0 };
}

function s3Suspend(d: Domain): void {
  if (d.s3Suspended) return;
  d.s3Suspended = true;
  for (const v of d.vcpus) {
    if (v.id === 0) {
      const ctx = emptyVcpuContext();
      ctx.rip = S3_RESET_RIP;
      ctx.flags = VGCF_online;
      ctx.regs.cs_base = S3_RESET_CS_BASE;
      v.load(ctx);
    } else v.reset();
  }
}

function s3Resume(d: Domain): void {
  if (!d.s3Suspended) return;
  d.s3Suspended = false;
  d.vcpus[0].needsEntry = true;
}
