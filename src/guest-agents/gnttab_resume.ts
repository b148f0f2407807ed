/**
 * @module
 * Linux's `gnttab_resume` (lifecycle-and-migration.md §4.3, done after
 * every suspend, cancelled or not): the kernel asks how many grant-table
 * frames it has (`GNTTABOP_query_size`); a PV kernel maps them again with
 * `GNTTABOP_setup_table`. (An HVM kernel's frames live in its physmap;
 * xenlab's PVHVM agent maps none, so it only asks.)
 */
import { DOMID_SELF } from "../hv/xen_abi.ts";
import type { GuestEnv } from "./guest_env.ts";

/** Returns the frames and the last call's ret. */
export async function gnttabResume(
  env: GuestEnv,
  pv: boolean,
): Promise<{ nrFrames: number | undefined; ret: number }> {
  const q = await env.hypercall({ hc: "grant_table_op", op: "query_size", dom: DOMID_SELF });
  if (!pv) return { nrFrames: q.nrFrames, ret: q.ret };
  const st = await env.hypercall({
    hc: "grant_table_op",
    op: "setup_table",
    dom: DOMID_SELF,
    nrFrames: q.nrFrames ?? 1,
  });
  return { nrFrames: q.nrFrames, ret: st.ret };
}
