import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { MEMORY_OP_EXTENTS_MAX } from "./hc_memory_op.ts";
import { buildGuest, newHv } from "./testing.ts";
import {
  DOMID_SELF,
  INVALID_MFN,
  PAGE_SIZE,
  XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
  XEN_DOMCTL_SHADOW_OP_PEEK,
  XENMAPSPACE_grant_table,
  XENMAPSPACE_shared_info,
} from "./xen_abi.ts";

Deno.test("memory_op: populate stops at max_pages; reservation queries report it", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 0, paused: true });
  hv.hypercall(0, { hc: "domctl", op: "max_mem", domid: g, maxMemKb: 40 }); // 10 pages
  const r = hv.hypercall(0, {
    hc: "memory_op",
    op: "populate_physmap",
    domid: g,
    extentOrder: 2,
    gpfns: [0, 4, 8],
  });
  assert.equal(r.ret, 2, "the third 4-page extent does not fit");
  assert.equal(r.mfns!.length, 2);
  const q = (op: "current_reservation" | "maximum_reservation" | "maximum_gpfn") =>
    hv.hypercall(0, { hc: "memory_op", op, domid: g }).ret;
  assert.deepEqual([q("current_reservation"), q("maximum_reservation"), q("maximum_gpfn")], [
    8,
    10,
    7,
  ]);
  const d = hv.hypercall(g, {
    hc: "memory_op",
    op: "decrease_reservation",
    domid: DOMID_SELF,
    extentOrder: 0,
    gpfns: [1, 2, 50, 3],
  });
  assert.equal(d.ret, 2, "stops at the unpopulated pfn 50");
  assert.equal(q("current_reservation"), 6);
});

Deno.test("memory_op: extent order and list length are bounded", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 4 });
  const pop = (caller: number, extentOrder: number, gpfns: number[]) =>
    hv.hypercall(caller, {
      hc: "memory_op",
      op: "populate_physmap",
      domid: DOMID_SELF,
      extentOrder,
      gpfns,
    }).ret;
  assert.equal(pop(g, 10, [0]), 0, "a guest may not ask for order 10");
  const tooMany = new Array(MEMORY_OP_EXTENTS_MAX + 1).fill(0);
  assert.equal(pop(0, 0, tooMany), -Errno.EFAULT);
  assert.equal(pop(0, 0, [-1]), -Errno.EFAULT);
});

Deno.test("memory_op: translate_gpfn_list and machphys_lookup are inverse", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 4 });
  const t = hv.hypercall(g, {
    hc: "memory_op",
    op: "translate_gpfn_list",
    domid: DOMID_SELF,
    gpfns: [0, 3, 9],
  });
  assert.equal(t.mfns![2], INVALID_MFN);
  const m = hv.hypercall(g, { hc: "memory_op", op: "machphys_lookup", mfns: t.mfns!.slice(0, 2) });
  assert.deepEqual(m.pfns, [0, 3]);
  const other = buildGuest(hv, { pages: 1 });
  const theirs = hv.hypercall(0, {
    hc: "memory_op",
    op: "translate_gpfn_list",
    domid: other,
    gpfns: [0],
  }).mfns!;
  assert.deepEqual(hv.hypercall(g, { hc: "memory_op", op: "machphys_lookup", mfns: theirs }).pfns, [
    0xffffffff,
  ], "not ours");
  assert.equal(
    hv.hypercall(g, { hc: "memory_op", op: "translate_gpfn_list", domid: other, gpfns: [0] }).ret,
    -Errno.EPERM,
  );
});

Deno.test("memory_op: add_to_physmap places shared_info and grant frames (HVM only)", () => {
  const { hv } = newHv();
  const hvm = buildGuest(hv, { pages: 4, config: { hvm: true } });
  const pv = buildGuest(hv, { pages: 4 });
  const add = (d: number, space: number, idx: number, gpfn: number) =>
    hv.hypercall(d, { hc: "memory_op", op: "add_to_physmap", domid: DOMID_SELF, space, idx, gpfn })
      .ret;
  assert.equal(add(pv, XENMAPSPACE_shared_info, 0, 100), -Errno.EACCES);
  assert.equal(add(hvm, XENMAPSPACE_shared_info, 1, 100), -Errno.EINVAL);
  assert.equal(add(hvm, XENMAPSPACE_shared_info, 0, 100), 0);
  const info = hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: hvm }).info!;
  const t = hv.hypercall(hvm, {
    hc: "memory_op",
    op: "translate_gpfn_list",
    domid: DOMID_SELF,
    gpfns: [100],
  });
  assert.equal(t.mfns![0], info.sharedInfoFrame);
  assert.equal(info.totPages, 4, "Xen-heap frames are not counted");
  assert.equal(add(hvm, XENMAPSPACE_grant_table, 3, 101), 0, "grows the table to 4 frames");
  const qs = hv.hypercall(hvm, { hc: "grant_table_op", op: "query_size", dom: DOMID_SELF });
  assert.equal(qs.nrFrames, 4);
  assert.equal(add(hvm, XENMAPSPACE_grant_table, 64, 102), -Errno.EINVAL, "past max_grant_frames");
  assert.equal(add(hvm, 9, 0, 103), -Errno.EINVAL);
});

Deno.test("shadow_op: log-dirty records guest writes; CLEAN returns and clears, PEEK keeps", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 64 });
  const sh = (shadowOp: number, extra: { mode?: number; pages?: number } = {}) =>
    hv.hypercall(0, { hc: "domctl", op: "shadow_op", domid: g, shadowOp, ...extra });
  assert.equal(sh(XEN_DOMCTL_SHADOW_OP_CLEAN).ret, -Errno.EINVAL, "not in log-dirty mode");
  assert.equal(sh(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).ret, 0);
  assert.equal(
    sh(XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY).ret,
    -Errno.EINVAL,
    "already on (§5.3 retries with OFF)",
  );
  for (const pfn of [40, 3, 3, 63]) hv.guestWrite(g, pfn, 0, new Uint8Array([pfn]));
  assert.deepEqual(sh(XEN_DOMCTL_SHADOW_OP_PEEK).dirty, [3, 40, 63]);
  assert.deepEqual(sh(XEN_DOMCTL_SHADOW_OP_PEEK, { pages: 41 }).dirty, [3, 40]);
  const clean = sh(XEN_DOMCTL_SHADOW_OP_CLEAN, { pages: 41 });
  assert.deepEqual([clean.dirty, clean.dirtyCount, clean.pages], [[3, 40], 2, 41]);
  assert.deepEqual(sh(XEN_DOMCTL_SHADOW_OP_PEEK).dirty, [63], "beyond `pages` stays dirty");
  assert.deepEqual(
    sh(XEN_DOMCTL_SHADOW_OP_CLEAN, { mode: XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL }).dirty,
    [63],
  );
  assert.deepEqual(sh(XEN_DOMCTL_SHADOW_OP_CLEAN).dirty, []);
  assert.equal(sh(XEN_DOMCTL_SHADOW_OP_OFF).ret, 0);
  assert.equal(sh(XEN_DOMCTL_SHADOW_OP_PEEK).ret, -Errno.EINVAL);
  assert.equal(sh(99).ret, -Errno.EINVAL);
  assert.equal(
    hv.hypercall(0, { hc: "domctl", op: "shadow_op", domid: 0, shadowOp: 2 }).ret,
    -Errno.EINVAL,
    "on self",
  );
});

Deno.test("shadow_op: foreign writes and grant unmaps mark pages dirty too", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 16 });
  hv.hypercall(0, {
    hc: "domctl",
    op: "shadow_op",
    domid: g,
    shadowOp: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  });
  const { mapping } = hv.foreignMap(0, g, [5, 6], true);
  mapping!.write(1, 0, new Uint8Array([1]));
  hv.hypercall(g, {
    hc: "grant_table_op",
    op: "grant_access",
    ref: 9,
    domid: 0,
    frame: 12,
    readonly: false,
  });
  const h = hv.hypercall(0, { hc: "grant_table_op", op: "map_grant_ref", dom: g, ref: 9, flags: 2 })
    .handle!;
  hv.hypercall(0, { hc: "grant_table_op", op: "unmap_grant_ref", handle: h });
  const ro = hv.hypercall(0, {
    hc: "grant_table_op",
    op: "map_grant_ref",
    dom: g,
    ref: 9,
    flags: 6,
  }).handle!;
  hv.hypercall(g, {
    hc: "grant_table_op",
    op: "grant_access",
    ref: 10,
    domid: 0,
    frame: 13,
    readonly: true,
  });
  hv.hypercall(0, { hc: "grant_table_op", op: "unmap_grant_ref", handle: ro });
  const r = hv.hypercall(0, {
    hc: "domctl",
    op: "shadow_op",
    domid: g,
    shadowOp: XEN_DOMCTL_SHADOW_OP_CLEAN,
  });
  assert.deepEqual(r.dirty, [6, 12], "read-only unmap does not dirty");
  mapping!.unmap();
});

Deno.test("guest memory I/O through the hypervisor faults on holes", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 2 });
  assert.equal(hv.guestWrite(g, 1, PAGE_SIZE - 2, new Uint8Array([7, 8])), 0);
  const out = new Uint8Array(2);
  assert.equal(hv.guestRead(g, 1, PAGE_SIZE - 2, out), 0);
  assert.deepEqual([...out], [7, 8]);
  assert.equal(hv.guestRead(g, 2, 0, out), -Errno.EFAULT);
  assert.equal(hv.guestRead(77, 0, 0, out), -Errno.ESRCH);
});
