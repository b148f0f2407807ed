/**
 * @module
 * `sysctl` getdomaininfolist (XEN_SYSCTL_getdomaininfolist): getdomaininfo
 * for up to `maxDomains` domains with id ≥ `firstDomain`, ascending — how
 * `xl list` and xenstored enumerate domains (getdomaininfo itself only
 * answers for an exact domid). Privileged, or a xenstore domain.
 */
import { isCount, isU32 } from "./args.ts";
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, SysctlCall } from "./hypercall.ts";
import { DOMID_FIRST_RESERVED } from "./xen_abi.ts";

/** Handles one sysctl from `caller`. */
export function sysctl(core: HvCore, caller: Domain, call: SysctlCall): AnyHypercallResult {
  if (call.op !== "getdomaininfolist") return { ret: -Errno.ENOSYS };
  if (!caller.privileged && !caller.xsDomain) return { ret: -Errno.EPERM };
  if (!isU32(call.firstDomain) || !isCount(call.maxDomains)) return { ret: -Errno.EINVAL };
  const max = Math.min(call.maxDomains, DOMID_FIRST_RESERVED);
  const ids = [...core.domains.keys()].filter((id) => id >= call.firstDomain).sort((a, b) => a - b)
    .slice(0, max);
  const infos = ids.map((id) => core.domainInfo(core.lookup(id)!));
  return { ret: infos.length, infos };
}
