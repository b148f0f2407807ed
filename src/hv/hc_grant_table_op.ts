/**
 * @module
 * `grant_table_op` (§0.4, `xen/common/grant_table.c`): every op replies
 * `ret` 0 and a `GNTST_*` status, as Xen's per-operation status fields do.
 * A grant pinned by a mapping holds a reference on the granter, so a
 * destroyed granter lingers (dead, a zombie) until the grantee unmaps; an
 * unmap of a writable mapping marks the page dirty (`gnttab_mark_dirty`).
 */
import { isU16, isU32 } from "./args.ts";
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import { mapGrantRef, unmapGrantRef } from "./grant_table.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, GrantTableOpCall } from "./hypercall.ts";
import {
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_general_error,
  GNTST_okay,
  GNTST_permission_denied,
  PAGE_SHIFT,
} from "./xen_abi.ts";

/** The domain a table op names: itself, or any for a privileged caller (XSM_TARGET). */
function target(core: HvCore, caller: Domain, dom: unknown): Domain | number {
  if (!isU16(dom)) return GNTST_bad_domain;
  const d = core.lookup(core.resolve(caller, dom));
  if (d === undefined) return GNTST_bad_domain;
  if (d !== caller && !caller.privileged) return GNTST_permission_denied;
  return d;
}

/** Handles one grant_table_op from `caller`. */
export function grantTableOp(
  core: HvCore,
  caller: Domain,
  call: GrantTableOpCall,
): AnyHypercallResult {
  switch (call.op) {
    case "setup_table": {
      const d = target(core, caller, call.dom);
      if (typeof d === "number") return { ret: 0, status: d };
      if (!isU32(call.nrFrames) || call.nrFrames > d.grants.maxFrames) {
        return { ret: 0, status: GNTST_general_error };
      }
      if (call.nrFrames > d.grants.nrFrames && d.grants.grow(call.nrFrames) < 0) {
        return { ret: 0, status: GNTST_general_error };
      }
      return {
        ret: 0,
        status: GNTST_okay,
        frameList: d.grants.frameMfns().slice(0, call.nrFrames),
      };
    }
    case "query_size": {
      const d = target(core, caller, call.dom);
      if (typeof d === "number") return { ret: 0, status: d };
      return {
        ret: 0,
        status: GNTST_okay,
        nrFrames: d.grants.nrFrames,
        maxNrFrames: d.grants.maxFrames,
      };
    }
    case "map_grant_ref":
      return map(core, caller, call);
    case "unmap_grant_ref": {
      const r = unmapGrantRef(caller.grants, call.handle, (dom) => core.lookup(dom)?.grants);
      if (r.status === GNTST_okay) {
        const granter = core.lookup(r.dom)!;
        if (r.writable) granter.memory.markDirty(r.pfn);
        core.dropRef(granter);
      }
      return { ret: 0, status: r.status };
    }
    case "dump_table": {
      const d = target(core, caller, call.dom);
      if (typeof d === "number") return { ret: 0, status: d };
      return { ret: 0, status: GNTST_okay, entries: d.grants.validEntries() };
    }
    case "grant_access":
      if (!isU16(call.domid) || !isU32(call.frame)) return { ret: -Errno.EINVAL };
      return {
        ret: caller.grants.grantAccess(call.ref, call.domid, call.frame, call.readonly === true),
      };
    case "end_access":
      return { ret: caller.grants.endAccess(call.ref) };
    case "seed": {
      if (!caller.privileged) return { ret: -Errno.EPERM };
      const d = core.lookup(call.dom);
      if (d === undefined) return { ret: -Errno.ESRCH };
      if (
        !isU32(call.consoleGfn) || !isU16(call.consoleDomid) || !isU32(call.xenstoreGfn) ||
        !isU16(call.xenstoreDomid)
      ) return { ret: -Errno.EINVAL };
      d.grants.seed(call.consoleGfn, call.consoleDomid, call.xenstoreGfn, call.xenstoreDomid);
      return { ret: 0 };
    }
    default:
      return { ret: -Errno.ENOSYS };
  }
}

function map(
  core: HvCore,
  caller: Domain,
  call: Extract<GrantTableOpCall, { op: "map_grant_ref" }>,
): AnyHypercallResult {
  const fail = (status: number) => ({ ret: 0, status, handle: -1, devBusAddr: 0 });
  if (!isU32(call.flags) || (call.flags & (GNTMAP_device_map | GNTMAP_host_map)) === 0) {
    return fail(GNTST_bad_gntref);
  }
  if (!isU16(call.dom)) return fail(GNTST_bad_domain);
  const rd = core.lookup(core.resolve(caller, call.dom));
  if (rd === undefined) return fail(GNTST_bad_domain);
  if (rd.lifecycle.isDying !== "alive") return fail(GNTST_general_error);
  const r = mapGrantRef(
    caller.grants,
    caller.id,
    rd.grants,
    rd.id,
    call.ref,
    call.flags,
    (pfn) => rd.memory.mfnOf(pfn),
  );
  if (r.status !== GNTST_okay) return fail(r.status);
  core.addRef(rd);
  return { ret: 0, status: GNTST_okay, handle: r.handle, devBusAddr: r.mfn * 2 ** PAGE_SHIFT };
}
