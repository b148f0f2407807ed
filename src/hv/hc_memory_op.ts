/**
 * @module
 * `memory_op` (§0.4, `xen/common/memory.c`): populate_physmap and
 * decrease_reservation (reply: extents done), reservation queries,
 * add_to_physmap for shared_info and grant frames (HVM), and the xenlab
 * translation ops. A domain acts on itself; acting on another domain needs
 * privilege (the toolstack populating a guest it builds or restores).
 *
 * populate_physmap allocates each extent whole or not at all and stops at
 * the first that does not fit `max_pages` or the host; `mfns[i]` is the
 * machine frame of extent i's first page (what Xen writes back for a PV
 * guest; xenlab does not promise machine-contiguous extents).
 */
import { isCount, isU32, isU32Array } from "./args.ts";
import { assert } from "./assert.ts";
import { GUEST_PFNS_MAX } from "./guest_memory.ts";
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, MemoryOpCall } from "./hypercall.ts";
import {
  EXTENT_ORDER_MAX_CTLDOM,
  EXTENT_ORDER_MAX_GUEST,
  INVALID_MFN,
  INVALID_PFN,
  XENMAPSPACE_grant_table,
  XENMAPSPACE_shared_info,
} from "./xen_abi.ts";

/** Largest extent list one memory_op call takes. */
export const MEMORY_OP_EXTENTS_MAX = 1 << 20;

/** The domain a memory_op targets: itself, or any domain for a privileged caller. */
function target(core: HvCore, caller: Domain, domid: number): Domain | number {
  const d = core.lookup(core.resolve(caller, domid));
  if (d === undefined) return -Errno.ESRCH;
  if (d !== caller && !caller.privileged) return -Errno.EPERM;
  return d;
}

/** Handles one memory_op from `caller`. */
export function memoryOp(core: HvCore, caller: Domain, call: MemoryOpCall): AnyHypercallResult {
  if (call.op === "machphys_lookup") {
    if (!isU32Array(call.mfns, MEMORY_OP_EXTENTS_MAX)) return { ret: -Errno.EFAULT };
    const pfns = call.mfns.map((mfn) => {
      const owner = core.mm.owner(mfn);
      return owner === caller.id || (caller.privileged && core.lookup(owner) !== undefined)
        ? core.mm.m2p(mfn)
        : INVALID_PFN;
    });
    return { ret: 0, pfns };
  }
  const d = target(core, caller, call.domid);
  if (typeof d === "number") return { ret: d };
  switch (call.op) {
    case "populate_physmap":
      return populate(core, caller, d, call.extentOrder, call.gpfns);
    case "decrease_reservation": {
      if (!isU32(call.extentOrder) || call.extentOrder > EXTENT_ORDER_MAX_CTLDOM) return { ret: 0 };
      if (!isU32Array(call.gpfns, MEMORY_OP_EXTENTS_MAX)) return { ret: -Errno.EFAULT };
      const n = 2 ** call.extentOrder;
      let done = 0;
      for (const base of call.gpfns) {
        for (let j = 0; j < n; j++) if (d.memory.remove(base + j) < 0) return { ret: done };
        done++;
      }
      return { ret: done };
    }
    case "current_reservation":
      return { ret: d.memory.totPages };
    case "maximum_reservation":
      return { ret: d.memory.maxPages };
    case "maximum_gpfn":
      return { ret: Math.max(0, d.memory.maxPfn) };
    case "add_to_physmap":
      return { ret: addToPhysmap(d, call.space, call.idx, call.gpfn) };
    case "translate_gpfn_list": {
      if (!isU32Array(call.gpfns, MEMORY_OP_EXTENTS_MAX)) return { ret: -Errno.EFAULT };
      return { ret: 0, mfns: call.gpfns.map((p) => d.memory.mfnOf(p)) };
    }
    default:
      return { ret: -Errno.ENOSYS };
  }
}

function populate(
  core: HvCore,
  caller: Domain,
  d: Domain,
  order: number,
  gpfns: number[],
): AnyHypercallResult {
  const maxOrder = caller.privileged ? EXTENT_ORDER_MAX_CTLDOM : EXTENT_ORDER_MAX_GUEST;
  if (!isU32(order) || order > maxOrder) return { ret: 0, mfns: [] };
  if (!isU32Array(gpfns, MEMORY_OP_EXTENTS_MAX)) return { ret: -Errno.EFAULT };
  const mfns: number[] = [];
  if (d.lifecycle.isDying !== "alive") return { ret: 0, mfns };
  const n = 2 ** order;
  const mem = d.memory;
  for (const base of gpfns) {
    if (base + n > GUEST_PFNS_MAX) break;
    let fresh = 0;
    for (let j = 0; j < n; j++) if (!mem.isPopulated(base + j)) fresh++;
    if (mem.totPages + fresh > mem.maxPages) break;
    if (core.mm.framesMax - core.mm.framesUsed < fresh) break;
    let first = INVALID_MFN;
    for (let j = 0; j < n; j++) {
      const mfn = mem.populate(base + j);
      assert(mfn >= 0, `populate d${d.id} pfn ${base + j}: ${mfn} after the checks`);
      if (j === 0) first = mfn;
    }
    mfns.push(first);
  }
  return { ret: mfns.length, mfns };
}

/** XENMEM_add_to_physmap (translated guests only, as Xen's `-EACCES` for PV). */
function addToPhysmap(d: Domain, space: number, idx: number, gpfn: number): number {
  if (!d.hvm) return -Errno.EACCES;
  if (!isCount(idx) || !isU32(gpfn)) return -Errno.EINVAL;
  switch (space) {
    case XENMAPSPACE_shared_info:
      if (idx !== 0) return -Errno.EINVAL;
      return d.memory.mapXenFrame(gpfn, d.sharedInfoMfn);
    case XENMAPSPACE_grant_table: {
      if (idx >= d.grants.maxFrames) return -Errno.EINVAL;
      const grown = d.grants.grow(idx + 1);
      if (grown < 0) return grown;
      return d.memory.mapXenFrame(gpfn, d.grants.frameMfns()[idx]);
    }
    default:
      return -Errno.EINVAL;
  }
}
