import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { FOREIGN_MAP_PAGES_MAX } from "./foreign_mapping.ts";
import { buildGuest, newHv } from "./testing.ts";
import { PAGE_SIZE } from "./xen_abi.ts";

Deno.test("foreign map: dom0 reads and writes a guest's bytes; holes get -ENOENT", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 8 });
  hv.guestWrite(g, 2, 10, new Uint8Array([1, 2, 3]));
  const { ret, mapping } = hv.foreignMap(0, g, [2, 9, 3], true);
  assert.equal(ret, 0);
  const m = mapping!;
  assert.deepEqual([...m.err], [0, -Errno.ENOENT, 0]);
  const out = new Uint8Array(3);
  assert.equal(m.read(0, 10, out), 0);
  assert.deepEqual([...out], [1, 2, 3]);
  assert.equal(m.read(1, 0, out), -Errno.EFAULT);
  assert.equal(m.write(2, 0, new Uint8Array([0xaa])), 0);
  const back = new Uint8Array(1);
  hv.guestRead(g, 3, 0, back);
  assert.equal(back[0], 0xaa, "the guest sees the write");
  m.unmap();
  assert.equal(m.read(0, 0, out), -Errno.EFAULT, "after unmap");
});

Deno.test("foreign map: copyOut copies pages in order (holes as zeros), copyIn writes them", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 8 });
  for (let p = 0; p < 8; p++) hv.guestWrite(g, p, 0, new Uint8Array(PAGE_SIZE).fill(p + 1));
  const m = hv.foreignMap(0, g, [7, 0, 1, 2, 100], false).mapping!;
  const out = new Uint8Array(5 * PAGE_SIZE).fill(0xff);
  m.copyOut(out);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => out[i * PAGE_SIZE + 17]), [8, 1, 2, 3, 0]);
  assert.equal(m.copyIn(out), -Errno.EACCES, "read-only mapping");
  assert.equal(m.write(0, 0, new Uint8Array(1)), -Errno.EACCES);
  m.unmap();
  const h = buildGuest(hv, { pages: 8 });
  const w = hv.foreignMap(0, h, [0, 1, 2, 3, 4], true).mapping!;
  assert.equal(w.copyIn(out), 0);
  assert.equal(hv.memoryHash(h) === hv.memoryHash(g), false);
  const back = new Uint8Array(1);
  hv.guestRead(h, 0, 17, back);
  assert.equal(back[0], 8);
  w.unmap();
});

Deno.test("foreign map: permissions and limits", () => {
  const { hv } = newHv();
  const g = buildGuest(hv, { pages: 1 });
  assert.equal(hv.foreignMap(g, 0, [0], false).ret, -Errno.EPERM);
  assert.equal(hv.foreignMap(0, 99, [0], false).ret, -Errno.ESRCH);
  assert.equal(
    hv.foreignMap(0, g, new Uint32Array(FOREIGN_MAP_PAGES_MAX + 1), false).ret,
    -Errno.E2BIG,
  );
  const m = hv.foreignMap(0, g, new Uint32Array(FOREIGN_MAP_PAGES_MAX), false);
  assert.equal(m.ret, 0);
  m.mapping!.unmap();
});

Deno.test("foreign map: the mapping keeps a destroyed target until unmapped", () => {
  const { hv, sched } = newHv();
  const g = buildGuest(hv, { pages: 4 });
  hv.guestWrite(g, 1, 0, new Uint8Array([42]));
  const m = hv.foreignMap(0, g, [1], false).mapping!;
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g });
  sched.run();
  assert.deepEqual(hv.domids(), [0, g]);
  const out = new Uint8Array(1);
  assert.equal(m.read(0, 0, out), 0);
  assert.equal(out[0], 42, "the bytes are still there");
  assert.equal(
    hv.foreignMap(0, g, [1], false).ret,
    -Errno.ESRCH,
    "no new mappings of a dead domain",
  );
  m.unmap();
  sched.run();
  assert.deepEqual(hv.domids(), [0]);
});

Deno.test("foreign map: mappings held by a dying privileged domain are released", () => {
  const { hv, sched } = newHv();
  const ts = buildGuest(hv, { config: { privileged: true } });
  const g = buildGuest(hv, { pages: 2 });
  const m = hv.foreignMap(ts, g, [0], false).mapping!;
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: ts });
  assert.equal(m.live, false);
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g });
  sched.run();
  assert.deepEqual(hv.domids(), [0]);
});

Deno.test("foreign map: a domain holds at most foreignMappingsMax mappings", () => {
  const { hv } = newHv({ foreignMappingsMax: 3 });
  const g = buildGuest(hv, { pages: 1 });
  const ms = [0, 1, 2].map(() => hv.foreignMap(0, g, [0], false));
  assert.deepEqual(ms.map((m) => m.ret), [0, 0, 0]);
  assert.equal(hv.foreignMap(0, g, [0], false).ret, -Errno.ENOMEM);
  ms[0].mapping!.unmap();
  assert.equal(hv.foreignMap(0, g, [0], false).ret, 0);
});
