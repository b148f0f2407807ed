import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { buildGuest, newHv } from "./testing.ts";
import {
  DOMID_SELF,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_general_error,
  GNTST_okay,
  GNTST_permission_denied,
  GRANT_FRAMES_MAX_DEFAULT,
  GTF_permit_access,
  GTF_reading,
  GTF_writing,
  PAGE_SHIFT,
} from "./xen_abi.ts";

Deno.test("gnttab: a backend maps a frontend's ring and reads/writes its bytes", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 8 });
  hv.guestWrite(g, 5, 0, new TextEncoder().encode("ring"));
  assert.equal(
    hv.hypercall(g, {
      hc: "grant_table_op",
      op: "grant_access",
      ref: 8,
      domid: 0,
      frame: 5,
      readonly: false,
    }).ret,
    0,
  );
  const m = hv.hypercall(0, {
    hc: "grant_table_op",
    op: "map_grant_ref",
    dom: g,
    ref: 8,
    flags: GNTMAP_host_map,
  });
  assert.equal(m.status, GNTST_okay);
  const mfn =
    hv.hypercall(g, { hc: "memory_op", op: "translate_gpfn_list", domid: DOMID_SELF, gpfns: [5] })
      .mfns![0];
  assert.equal(m.devBusAddr, mfn * 2 ** PAGE_SHIFT);
  const page = hv.grantPage(0, m.handle!)!;
  const out = new Uint8Array(4);
  page.read(0, out);
  assert.equal(new TextDecoder().decode(out), "ring");
  page.write(4, new Uint8Array([33]));
  const back = new Uint8Array(1);
  hv.guestRead(g, 5, 4, back);
  assert.equal(back[0], 33);
  const dump = hv.hypercall(0, { hc: "grant_table_op", op: "dump_table", dom: g }).entries!;
  assert.deepEqual(dump, [{
    ref: 8,
    flags: GTF_permit_access | GTF_reading | GTF_writing,
    domid: 0,
    frame: 5,
  }]);
  assert.equal(
    hv.hypercall(g, { hc: "grant_table_op", op: "end_access", ref: 8 }).ret,
    -Errno.EBUSY,
  );
  assert.equal(
    hv.hypercall(0, { hc: "grant_table_op", op: "unmap_grant_ref", handle: m.handle! }).status,
    GNTST_okay,
  );
  assert.equal(
    hv.hypercall(0, { hc: "grant_table_op", op: "unmap_grant_ref", handle: m.handle! }).status,
    GNTST_bad_handle,
  );
  assert.equal(hv.hypercall(g, { hc: "grant_table_op", op: "end_access", ref: 8 }).ret, 0);
  assert.equal(hv.grantPage(0, m.handle!), undefined);
});

Deno.test("gnttab: status codes of map_grant_ref and read-only pages", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 8 });
  const map = (dom: number, ref: number, flags: number) =>
    hv.hypercall(0, { hc: "grant_table_op", op: "map_grant_ref", dom, ref, flags }).status;
  hv.hypercall(g, {
    hc: "grant_table_op",
    op: "grant_access",
    ref: 9,
    domid: 0,
    frame: 1,
    readonly: true,
  });
  assert.equal(map(g, 9, 0), GNTST_bad_gntref);
  assert.equal(map(99, 9, GNTMAP_host_map), GNTST_bad_domain);
  assert.equal(map(g, 100000, GNTMAP_host_map), GNTST_bad_gntref);
  assert.equal(map(g, 9, GNTMAP_host_map), GNTST_general_error);
  const h = hv.hypercall(0, {
    hc: "grant_table_op",
    op: "map_grant_ref",
    dom: g,
    ref: 9,
    flags: GNTMAP_host_map | GNTMAP_readonly,
  }).handle!;
  const page = hv.grantPage(0, h)!;
  assert.equal(page.readonly, true);
  assert.equal(page.write(0, new Uint8Array(1)), -Errno.EACCES);
});

Deno.test("gnttab: setup_table and query_size, with XSM_TARGET-style permission", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  const h = buildGuest(hv);
  const setup = (caller: number, dom: number, nrFrames: number) =>
    hv.hypercall(caller, { hc: "grant_table_op", op: "setup_table", dom, nrFrames });
  const s = setup(g, DOMID_SELF, 2);
  assert.equal(s.status, GNTST_okay);
  assert.equal(s.frameList!.length, 2);
  assert.equal(setup(g, DOMID_SELF, GRANT_FRAMES_MAX_DEFAULT + 1).status, GNTST_general_error);
  assert.equal(setup(g, h, 1).status, GNTST_permission_denied);
  assert.equal(setup(0, h, 1).status, GNTST_okay);
  assert.equal(setup(0, 99, 1).status, GNTST_bad_domain);
  const q = hv.hypercall(g, { hc: "grant_table_op", op: "query_size", dom: DOMID_SELF });
  assert.deepEqual(q, {
    ret: 0,
    status: GNTST_okay,
    nrFrames: 2,
    maxNrFrames: GRANT_FRAMES_MAX_DEFAULT,
  });
});

Deno.test("gnttab: the toolstack seeds entries 0 and 1; a new domain's table holds nothing else", () => {
  const { hv } = newHv();
  const g = buildGuest(hv);
  assert.deepEqual(hv.hypercall(0, { hc: "grant_table_op", op: "dump_table", dom: g }).entries, []);
  hv.hypercall(0, {
    hc: "grant_table_op",
    op: "seed",
    dom: g,
    consoleGfn: 14,
    consoleDomid: 0,
    xenstoreGfn: 15,
    xenstoreDomid: 0,
  });
  const e = hv.hypercall(0, { hc: "grant_table_op", op: "dump_table", dom: g }).entries!;
  assert.deepEqual(e.map((x) => [x.ref, x.frame]), [[0, 14], [1, 15]]);
  const m = hv.hypercall(0, {
    hc: "grant_table_op",
    op: "map_grant_ref",
    dom: g,
    ref: 1,
    flags: GNTMAP_host_map,
  });
  assert.equal(m.status, GNTST_okay, "xenstored maps the store ring through entry 1");
});

Deno.test("gnttab: a destroyed grantee's mappings are released", () => {
  const { hv, sched } = newHv();
  const fe = buildGuest(hv);
  const be = buildGuest(hv, { config: { privileged: true } });
  hv.hypercall(fe, {
    hc: "grant_table_op",
    op: "grant_access",
    ref: 8,
    domid: be,
    frame: 0,
    readonly: false,
  });
  assert.equal(
    hv.hypercall(be, {
      hc: "grant_table_op",
      op: "map_grant_ref",
      dom: fe,
      ref: 8,
      flags: GNTMAP_host_map,
    }).status,
    0,
  );
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: be });
  sched.run();
  assert.equal(
    hv.hypercall(fe, { hc: "grant_table_op", op: "end_access", ref: 8 }).ret,
    0,
    "busy bits dropped",
  );
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: fe });
  sched.run();
  assert.deepEqual(hv.domids(), [0]);
});
