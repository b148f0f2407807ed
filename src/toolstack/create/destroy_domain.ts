/**
 * @module
 * `xl destroy` (lifecycle-and-migration.md §7.6): pause, tear down every
 * device with force, remove `/vm/<uuid>`, `/local/domain/<domid>` and
 * `/libxl/<domid>`, then `XEN_DOMCTL_destroydomain`. Xen then raises
 * VIRQ_DOM_EXC and xenstored fires `@releaseDomain`.
 */
import type { ToolstackContext } from "../toolstack_context.ts";
import { check } from "../build/hypercall_error.ts";
import type { DomainOps } from "./domain_ops.ts";

export async function destroyDomain(
  tc: ToolstackContext,
  ops: DomainOps,
  domid: number,
  opts: { force?: boolean } = {},
): Promise<void> {
  if (domid === 0) throw new Error("refusing to destroy domain 0");
  tc.trace.emit({ src: "toolstack", dom: domid, op: "destroy" });
  const info = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid });
  if (info.ret < 0) throw new Error(`no domain ${domid}`);
  tc.hypercall({ hc: "domctl", op: "pausedomain", domid }); // may already be paused: not fatal
  await ops.removeAllDevices(tc, domid, opts.force ?? true);
  const vm = await tc.xs.readString(`/local/domain/${domid}/vm`).catch(() => undefined);
  if (vm?.startsWith("/vm/")) await tc.xs.rm(vm).catch(() => {});
  await tc.xs.rm(`/local/domain/${domid}`).catch(() => {});
  await tc.xs.rm(`/libxl/${domid}`).catch(() => {});
  check(tc.hypercall({ hc: "domctl", op: "destroydomain", domid }), "destroydomain", domid);
}
