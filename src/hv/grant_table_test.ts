import assert from "node:assert/strict";
import fc from "fast-check";
import { Errno } from "./errno.ts";
import { GNTPIN_COUNT_MAX, GrantTable, mapGrantRef, unmapGrantRef } from "./grant_table.ts";
import { MachineMemory } from "./machine_memory.ts";
import {
  GNTMAP_device_map,
  GNTMAP_host_map,
  GNTMAP_readonly,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_no_space,
  GNTST_okay,
  GRANT_ENTRIES_PER_FRAME,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_writing,
  INVALID_MFN,
  MAPTRACK_PER_PAGE,
} from "./xen_abi.ts";

const A = 1; // granter
const B = 2, C = 3; // grantees

/** Granter pfns 0..3 are populated (mfn = 100 + pfn); others are holes. */
const pfnToMfn = (pfn: number) => (pfn < 4 ? 100 + pfn : INVALID_MFN);

function tables(maptrackFrames = 1) {
  const mm = new MachineMemory(256);
  return {
    mm,
    a: new GrantTable(mm, A, 2, maptrackFrames),
    g: new Map([[B, new GrantTable(mm, B, 1, maptrackFrames)], [
      C,
      new GrantTable(mm, C, 1, maptrackFrames),
    ]]),
  };
}

const HOST = GNTMAP_host_map;
const RO = GNTMAP_host_map | GNTMAP_readonly;

Deno.test("grant entries are 8 bytes (flags, domid, frame) in a real frame", () => {
  const { mm, a } = tables();
  assert.equal(a.grantAccess(5, B, 0x12345, true), 0);
  const frame = mm.page(a.frameMfns()[0]);
  assert.deepEqual([...frame.subarray(40, 48)], [
    GTF_permit_access | GTF_readonly,
    0,
    B,
    0,
    0x45,
    0x23,
    0x01,
    0,
  ]);
  assert.deepEqual(a.entry(5), { ref: 5, flags: 5, domid: B, frame: 0x12345 });
});

Deno.test("mapping sets reading/writing busy bits; unmapping clears them as pins go", () => {
  const { a, g } = tables();
  a.grantAccess(8, B, 1, false);
  const rw = mapGrantRef(g.get(B)!, B, a, A, 8, HOST, pfnToMfn);
  assert.equal(rw.status, GNTST_okay);
  assert.equal(rw.mfn, 101);
  assert.equal(a.flags(8), GTF_permit_access | GTF_reading | GTF_writing);
  const ro = mapGrantRef(g.get(B)!, B, a, A, 8, RO, pfnToMfn);
  assert.equal(ro.status, GNTST_okay);
  assert.equal(a.endAccess(8), -Errno.EBUSY, "end access refused while mapped");
  unmapGrantRef(g.get(B)!, rw.handle, () => a);
  assert.equal(
    a.flags(8),
    GTF_permit_access | GTF_reading,
    "writing drops with the last write pin",
  );
  const r = unmapGrantRef(g.get(B)!, ro.handle, () => a);
  assert.deepEqual(r, { status: GNTST_okay, dom: A, pfn: 1, writable: false });
  assert.equal(a.flags(8), GTF_permit_access);
  assert.equal(a.endAccess(8), 0);
  assert.equal(a.flags(8), 0);
  assert.equal(unmapGrantRef(g.get(B)!, ro.handle, () => a).status, GNTST_bad_handle);
});

Deno.test("map_grant_ref status codes follow Xen", () => {
  const { a, g } = tables();
  const b = g.get(B)!, c = g.get(C)!;
  a.grantAccess(1, B, 0, true);
  a.grantAccess(2, B, 9, false); // frame 9 is not populated
  const map = (t: GrantTable, dom: number, ref: number, flags: number) =>
    mapGrantRef(t, dom, a, A, ref, flags, pfnToMfn).status;
  assert.equal(map(b, B, 1, 0), GNTST_bad_gntref, "neither host_map nor device_map");
  assert.equal(map(b, B, a.nrEntries, RO), GNTST_bad_gntref, "ref out of range");
  assert.equal(map(b, B, 3, RO), GNTST_general_error, "invalid entry");
  assert.equal(map(c, C, 1, RO), GNTST_general_error, "granted to someone else");
  assert.equal(map(b, B, 1, HOST), GNTST_general_error, "write-pin of a read-only grant");
  assert.equal(map(b, B, 2, HOST), GNTST_bad_page, "frame not populated");
  assert.equal(map(b, B, 1, RO | GNTMAP_device_map), GNTST_okay);
  a.grantAccess(4, C, 0, false);
  assert.equal(map(c, C, 4, HOST), GNTST_okay);
  assert.equal(a.grantAccess(4, B, 0, false), -Errno.EBUSY, "re-granting a mapped entry");
  assert.equal(a.grantAccess(a.nrEntries, B, 0, false), -Errno.EINVAL);
});

Deno.test("maptrack is bounded: GNTST_no_space past max_maptrack_frames", () => {
  const { a, g } = tables(1);
  const b = g.get(B)!;
  for (let ref = 0; ref < 4; ref++) a.grantAccess(ref, B, 0, true);
  for (let i = 0; i < MAPTRACK_PER_PAGE; i++) {
    assert.equal(mapGrantRef(b, B, a, A, i % 4, RO, pfnToMfn).status, GNTST_okay);
  }
  assert.equal(mapGrantRef(b, B, a, A, 0, RO, pfnToMfn).status, GNTST_no_space);
  const none = new GrantTable(new MachineMemory(4), B, 1, 0);
  assert.equal(mapGrantRef(none, B, a, A, 0, RO, pfnToMfn).status, GNTST_no_space);
});

Deno.test("pin counts are bounded: general_error past GNTPIN_COUNT_MAX per kind", () => {
  const { a, g } = tables(4);
  const b = g.get(B)!;
  a.grantAccess(0, B, 0, true);
  for (let i = 0; i < GNTPIN_COUNT_MAX; i++) {
    assert.equal(mapGrantRef(b, B, a, A, 0, RO, pfnToMfn).status, GNTST_okay);
  }
  assert.equal(mapGrantRef(b, B, a, A, 0, RO, pfnToMfn).status, GNTST_general_error);
  assert.equal(
    mapGrantRef(b, B, a, A, 0, RO | GNTMAP_device_map & ~GNTMAP_host_map, pfnToMfn).status,
    GNTST_general_error,
    "host_map still set",
  );
  assert.equal(
    mapGrantRef(b, B, a, A, 0, GNTMAP_device_map | GNTMAP_readonly, pfnToMfn).status,
    GNTST_okay,
    "another kind has its own count",
  );
});

Deno.test("the table grows to max frames and no further; seed writes entries 0 and 1", () => {
  const { a } = tables();
  assert.equal(a.nrEntries, GRANT_ENTRIES_PER_FRAME);
  assert.equal(a.grow(2), 0);
  assert.equal(a.grow(3), -Errno.EINVAL);
  a.seed(0x10, 0, 0x11, 0);
  assert.deepEqual(a.validEntries(), [
    { ref: 0, flags: GTF_permit_access, domid: 0, frame: 0x10 },
    { ref: 1, flags: GTF_permit_access, domid: 0, frame: 0x11 },
  ]);
});

// ---- model-based property test ----

type Op =
  | { k: "grant"; ref: number; to: number; frame: number; ro: boolean }
  | { k: "end"; ref: number }
  | { k: "map"; by: number; ref: number; ro: boolean; dev: boolean; host: boolean }
  | { k: "unmap"; by: number; pick: number };

type Entry = { to: number; frame: number; ro: boolean };
type Pin = { by: number; hostR: number; hostW: number; devR: number; devW: number };

Deno.test("grant tables agree with a simple model over random operations", () => {
  const REFS = 6;
  const ref = fc.integer({ min: 0, max: REFS });
  const who = fc.constantFrom(B, C);
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      k: fc.constant("grant" as const),
      ref,
      to: who,
      frame: fc.integer({ min: 0, max: 5 }),
      ro: fc.boolean(),
    }),
    fc.record({ k: fc.constant("end" as const), ref }),
    fc.record({
      k: fc.constant("map" as const),
      by: who,
      ref,
      ro: fc.boolean(),
      dev: fc.boolean(),
      host: fc.boolean(),
    }),
    fc.record({ k: fc.constant("unmap" as const), by: who, pick: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const { a, g } = tables();
      const nr = a.nrEntries;
      const entries = new Map<number, Entry>();
      const pins = new Map<number, Pin>();
      const handles = new Map<number, { handle: number; ref: number; flags: number }[]>([[B, []], [
        C,
        [],
      ]]);
      for (const o of ops) {
        if (o.k === "grant") {
          const want = o.ref >= nr ? -Errno.EINVAL : pins.has(o.ref) ? -Errno.EBUSY : 0;
          assert.equal(a.grantAccess(o.ref, o.to, o.frame, o.ro), want);
          if (want === 0) entries.set(o.ref, { to: o.to, frame: o.frame, ro: o.ro });
        } else if (o.k === "end") {
          const want = o.ref >= nr ? -Errno.EINVAL : pins.has(o.ref) ? -Errno.EBUSY : 0;
          assert.equal(a.endAccess(o.ref), want);
          if (want === 0) entries.delete(o.ref);
        } else if (o.k === "map") {
          const flags = (o.host ? GNTMAP_host_map : 0) | (o.dev ? GNTMAP_device_map : 0) |
            (o.ro ? GNTMAP_readonly : 0);
          const r = mapGrantRef(g.get(o.by)!, o.by, a, A, o.ref, flags, pfnToMfn);
          const e = entries.get(o.ref);
          const p = pins.get(o.ref);
          let want = GNTST_okay;
          if (!o.host && !o.dev) want = GNTST_bad_gntref;
          else if (o.ref >= nr) want = GNTST_bad_gntref;
          else if (p !== undefined && p.by !== o.by) want = GNTST_general_error;
          else if (p === undefined && (e === undefined || e.to !== o.by)) {
            want = GNTST_general_error;
          } else if (!o.ro && e!.ro) want = GNTST_general_error;
          else if (p === undefined && pfnToMfn(e!.frame) === INVALID_MFN) want = GNTST_bad_page;
          assert.equal(r.status, want, JSON.stringify(o));
          if (want === GNTST_okay) {
            const q = p ?? { by: o.by, hostR: 0, hostW: 0, devR: 0, devW: 0 };
            if (o.host) o.ro ? q.hostR++ : q.hostW++;
            if (o.dev) o.ro ? q.devR++ : q.devW++;
            pins.set(o.ref, q);
            handles.get(o.by)!.push({ handle: r.handle, ref: o.ref, flags });
          }
        } else {
          const list = handles.get(o.by)!;
          if (list.length === 0) {
            assert.equal(unmapGrantRef(g.get(o.by)!, 12345, () => a).status, GNTST_bad_handle);
            continue;
          }
          const [h] = list.splice(o.pick % list.length, 1);
          const r = unmapGrantRef(g.get(o.by)!, h.handle, () => a);
          assert.equal(r.status, GNTST_okay);
          const q = pins.get(h.ref)!;
          const ro = (h.flags & GNTMAP_readonly) !== 0;
          if (h.flags & GNTMAP_host_map) ro ? q.hostR-- : q.hostW--;
          if (h.flags & GNTMAP_device_map) ro ? q.devR-- : q.devW--;
          if (q.hostR + q.hostW + q.devR + q.devW === 0) pins.delete(h.ref);
        }
        // Flags of every entry = type | readonly | reading iff pinned | writing iff write-pinned.
        for (let r = 0; r < REFS; r++) {
          const e = entries.get(r), p = pins.get(r);
          let want = e === undefined ? 0 : GTF_permit_access | (e.ro ? GTF_readonly : 0);
          if (p !== undefined) want |= GTF_reading;
          if (p !== undefined && p.hostW + p.devW > 0) want |= GTF_writing;
          assert.equal(a.flags(r), want, `ref ${r} after ${JSON.stringify(o)}`);
          assert.deepEqual(
            a.pins(r),
            p === undefined ? undefined : [p.hostR, p.hostW, p.devR, p.devW],
          );
        }
        assert.equal(g.get(B)!.mappedCount, handles.get(B)!.length);
        assert.equal(g.get(C)!.mappedCount, handles.get(C)!.length);
      }
    }),
    { numRuns: 150 },
  );
});
