/**
 * @module
 * dom0's view of a guest's frames, as the builder, resume, save and restore
 * need it: pfn ↔ mfn through the hypervisor (`translate_gpfn_list`, the M2P
 * `machphys_lookup`), a read-modify-write of a PV guest's start_info page
 * through a foreign mapping, and the grant entries 0 (console) and 1
 * (xenstore) seeded for dom0's backends (`xc_dom_gnttab_seed`).
 */
import { decodeStartInfo, encodeStartInfo, type StartInfo } from "../../hv/start_info.ts";
import { PAGE_SIZE } from "../../hv/xen_abi.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { check } from "./hypercall_error.ts";

/** The mfns behind `pfns` of `domid`. */
export function pfnsToMfns(tc: ToolstackContext, domid: number, pfns: number[]): number[] {
  return check(
    tc.hypercall({ hc: "memory_op", op: "translate_gpfn_list", domid, gpfns: pfns }),
    "translate_gpfn_list",
    domid,
  ).mfns!;
}

/** The pfn the M2P gives for `mfn` (`domid` names the guest in errors). */
export function mfnToPfn(tc: ToolstackContext, domid: number, mfn: number): number {
  return check(
    tc.hypercall({ hc: "memory_op", op: "machphys_lookup", mfns: [mfn] }),
    "machphys_lookup",
    domid,
  ).pfns![0];
}

/**
 * Reads `domid`'s start_info at `pfn`, lets `edit` change it (or throw),
 * and writes it back; the mapping is gone afterwards either way.
 */
export function editStartInfo(
  tc: ToolstackContext,
  domid: number,
  pfn: number,
  edit: (si: StartInfo) => void,
): void {
  const map = tc.foreignMap(domid, [pfn], true);
  try {
    const page = new Uint8Array(PAGE_SIZE);
    if (map.read(0, 0, page) < 0) {
      throw new Error(`cannot read start_info (pfn ${pfn}) of domain ${domid}`);
    }
    const si = decodeStartInfo(page);
    edit(si);
    encodeStartInfo(si, page);
    if (map.write(0, 0, page) < 0) {
      throw new Error(`cannot write start_info (pfn ${pfn}) of domain ${domid}`);
    }
  } finally {
    map.unmap();
  }
}

/** Grant entries 0 and 1 for dom0's console and xenstore backends. */
export function seedGrants(
  tc: ToolstackContext,
  domid: number,
  frames: { consolePfn: number; storePfn: number },
): void {
  check(
    tc.hypercall({
      hc: "grant_table_op",
      op: "seed",
      dom: domid,
      consoleGfn: frames.consolePfn,
      consoleDomid: 0,
      xenstoreGfn: frames.storePfn,
      xenstoreDomid: 0,
    }),
    "gnttab seed",
    domid,
  );
}
