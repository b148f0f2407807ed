/**
 * @module
 * `vcpu_op` (§0.4, `xen/common/domain.c` `do_vcpu_op`) on the caller's own
 * vCPUs: initialise (once; -EEXIST after), up (needs a context, -EINVAL
 * otherwise), down, is_up, get_runstate_info, and the registration of the
 * runstate area and vcpu_info placement (recorded, re-done by guests after
 * restore, §4.3). An unknown vCPU is -ENOENT.
 */
import { isU32 } from "./args.ts";
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, VcpuOpCall } from "./hypercall.ts";
import { parseVcpuContext } from "./vcpu.ts";
import { PAGE_SIZE } from "./xen_abi.ts";

/** Handles one vcpu_op from `caller`. */
export function vcpuOp(core: HvCore, caller: Domain, call: VcpuOpCall): AnyHypercallResult {
  const v = isU32(call.vcpu) ? caller.vcpus[call.vcpu] : undefined;
  if (v === undefined) return { ret: -Errno.ENOENT };
  switch (call.op) {
    case "initialise": {
      if (v.initialised) return { ret: -Errno.EEXIST };
      const ctx = parseVcpuContext(call.ctx);
      if (ctx === undefined) return { ret: -Errno.EINVAL };
      v.load(ctx);
      core.touch(caller);
      return { ret: 0 };
    }
    case "up":
      if (!v.initialised) return { ret: -Errno.EINVAL };
      if (v.down) {
        v.down = false;
        core.touch(caller);
      }
      return { ret: 0 };
    case "down":
      if (!v.down) {
        v.down = true;
        v.needsEntry = true;
        v.blocked = false;
        v.stopPolling();
        core.touch(caller);
      }
      return { ret: 0 };
    case "is_up":
      return { ret: v.down ? 0 : 1 };
    case "get_runstate_info":
      return { ret: 0, runstate: v.runstateAt(core.clock.nowNs()) };
    case "register_runstate_memory_area":
      if (typeof call.addr !== "number" || call.addr < 0) return { ret: -Errno.EINVAL };
      v.runstateArea = call.addr;
      return { ret: 0 };
    case "register_vcpu_info":
      if (!isU32(call.mfn) || !isU32(call.offset) || call.offset + 64 > PAGE_SIZE) {
        return { ret: -Errno.EINVAL };
      }
      v.vcpuInfoMfn = call.mfn;
      return { ret: 0 };
    default:
      return { ret: -Errno.ENOSYS };
  }
}
