/**
 * @module
 * Grant tables, version 1 (lifecycle-and-migration.md §0.4): a domain's
 * shared entries live in real Xen-heap frames as 8-byte records
 * (`uint16 flags, domid_t domid, uint32 frame`, little-endian), with Xen's
 * private side beside them — active entries (pin counts per mapping kind) and
 * the maptrack of handles this domain holds as a grantee.
 *
 * Semantics follow `xen/common/grant_table.c` (`map_grant_ref`,
 * `_set_status_v1`, `unmap_common`, `reduce_status_for_pin`): the first map
 * checks the entry is `GTF_permit_access` for the mapping domain and sets
 * `GTF_reading` (and `GTF_writing` for a writable map); a write-pin of a
 * read-only grant, a grant to someone else, or an entry already pinned by
 * another domain is `GNTST_general_error`; bad flags and out-of-range refs
 * are `GNTST_bad_gntref`; busy bits drop as the pins go. A guest ends access
 * by clearing the entry, which is refused while reading/writing is set
 * (Linux `gnttab_end_foreign_access_ref`).
 *
 * xenlab: an entry's `frame` is the granter's *pfn* for PV and HVM alike
 * (see `guest_memory.ts`); entries 0 (console) and 1 (xenstore) are seeded by
 * the toolstack at build and at restore (§2.3, §4.2) — a restored domain's
 * table starts empty except for them.
 */
import { assert } from "./assert.ts";
import { Errno } from "./errno.ts";
import { CHUNK_MASK, type MachineMemory } from "./machine_memory.ts";
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
  GNTTAB_RESERVED_CONSOLE,
  GNTTAB_RESERVED_XENSTORE,
  GRANT_ENTRIES_PER_FRAME,
  GRANT_ENTRY_V1_BYTES,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_type_mask,
  GTF_writing,
  INITIAL_NR_GRANT_FRAMES,
  INVALID_MFN,
  INVALID_PFN,
  MAPTRACK_PER_PAGE,
  PAGE_SHIFT,
} from "./xen_abi.ts";

/**
 * Largest pin count per mapping kind: Xen refuses a map whose increment
 * would set the top bit of the kind's 8-bit field (`GNTPIN_incr2oflow_mask`).
 */
export const GNTPIN_COUNT_MAX = 127;

/** A v1 entry as read from the shared table. */
export interface GrantEntryV1 {
  ref: number;
  flags: number;
  domid: number;
  frame: number;
}

/** Pins on one entry, by kind (host/device × read/write). */
interface ActiveEntry {
  hostR: number;
  hostW: number;
  devR: number;
  devW: number;
  /** The domain holding the pins. */
  domid: number;
  /** Granter pfn and its mfn at first pin. */
  pfn: number;
  mfn: number;
}

/** One mapping a grantee holds (its handle indexes the maptrack). */
export interface MaptrackEntry {
  readonly dom: number;
  readonly ref: number;
  readonly flags: number;
  readonly pfn: number;
  readonly mfn: number;
}

/** Result of {@link mapGrantRef}. */
export interface MapGrantResult {
  status: number;
  handle: number;
  mfn: number;
}

/** Result of {@link unmapGrantRef}: what was unmapped, for dirty marking. */
export interface UnmapGrantResult {
  status: number;
  dom: number;
  pfn: number;
  writable: boolean;
}

/** One domain's grant table (granter side) and maptrack (grantee side). */
export class GrantTable {
  readonly #mm: MachineMemory;
  readonly #owner: number;
  readonly maxFrames: number;
  /** Largest number of handles (`max_maptrack_frames` × 256). */
  readonly maptrackMax: number;
  readonly #frames: number[] = [];
  readonly #active = new Map<number, ActiveEntry>();
  readonly #maptrack: (MaptrackEntry | undefined)[] = [];
  readonly #freeHandles: number[] = [];
  #mapped = 0;

  constructor(mm: MachineMemory, owner: number, maxFrames: number, maxMaptrackFrames: number) {
    assert(maxFrames >= INITIAL_NR_GRANT_FRAMES, `gnttab: max frames ${maxFrames} < initial`);
    this.#mm = mm;
    this.#owner = owner;
    this.maxFrames = maxFrames;
    this.maptrackMax = maxMaptrackFrames * MAPTRACK_PER_PAGE;
    assert(this.grow(INITIAL_NR_GRANT_FRAMES) === 0, "gnttab: no memory for the first frame");
  }

  get nrFrames(): number {
    return this.#frames.length;
  }

  get nrEntries(): number {
    return this.#frames.length * GRANT_ENTRIES_PER_FRAME;
  }

  /** Machine frames of the shared table (setup_table's frame list). */
  frameMfns(): number[] {
    return this.#frames.slice();
  }

  /** Handles in use as a grantee. */
  get mappedCount(): number {
    return this.#mapped;
  }

  /** `gnttab_grow_table`: 0, -EINVAL past maxFrames, -ENOMEM if the host is full. */
  grow(nrFrames: number): number {
    if (nrFrames > this.maxFrames) return -Errno.EINVAL;
    while (this.#frames.length < nrFrames) {
      const mfn = this.#mm.alloc(this.#owner, INVALID_PFN);
      if (mfn < 0) return -Errno.ENOMEM;
      this.#frames.push(mfn);
    }
    return 0;
  }

  /** Frees the table's frames (domain destruction). */
  release(): void {
    for (const mfn of this.#frames) this.#mm.free(mfn);
    this.#frames.length = 0;
    this.#active.clear();
  }

  #addr(ref: number): { c: ReturnType<MachineMemory["chunk"]>; byte: number } {
    const mfn = this.#frames[Math.floor(ref / GRANT_ENTRIES_PER_FRAME)];
    const c = this.#mm.chunk(mfn);
    const byte = ((mfn & CHUNK_MASK) << PAGE_SHIFT) + (ref % GRANT_ENTRIES_PER_FRAME) *
        GRANT_ENTRY_V1_BYTES;
    return { c, byte };
  }

  /** Reads entry `ref` (must be < nrEntries). */
  entry(ref: number): GrantEntryV1 {
    const { c, byte } = this.#addr(ref);
    return {
      ref,
      flags: c.u16[byte >>> 1],
      domid: c.u16[(byte >>> 1) + 1],
      frame: c.u32[(byte >>> 2) + 1],
    };
  }

  /** Flags of entry `ref`. */
  flags(ref: number): number {
    const { c, byte } = this.#addr(ref);
    return c.u16[byte >>> 1];
  }

  #setFlags(ref: number, flags: number): void {
    const { c, byte } = this.#addr(ref);
    c.u16[byte >>> 1] = flags;
  }

  /** Writes a whole entry, as a guest (or the seeding toolstack) does. */
  writeEntry(ref: number, flags: number, domid: number, frame: number): void {
    const { c, byte } = this.#addr(ref);
    c.u16[(byte >>> 1) + 1] = domid;
    c.u32[(byte >>> 2) + 1] = frame;
    c.u16[byte >>> 1] = flags; // flags last, as Linux does after a write barrier
  }

  /** Valid (non-invalid-type) entries, ascending (dump_table). */
  validEntries(): GrantEntryV1[] {
    const out: GrantEntryV1[] = [];
    for (let ref = 0; ref < this.nrEntries; ref++) {
      if ((this.flags(ref) & GTF_type_mask) !== 0) out.push(this.entry(ref));
    }
    return out;
  }

  /**
   * The guest granting `domid` access to its `frame` (Linux
   * `gnttab_grant_foreign_access_ref`): 0, -EINVAL for a bad ref, -EBUSY if
   * the entry is still being read or written by a mapper.
   */
  grantAccess(ref: number, domid: number, frame: number, readonly: boolean): number {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) return -Errno.EINVAL;
    if ((this.flags(ref) & (GTF_reading | GTF_writing)) !== 0) return -Errno.EBUSY;
    this.writeEntry(ref, GTF_permit_access | (readonly ? GTF_readonly : 0), domid, frame);
    return 0;
  }

  /**
   * The guest ending access (`gnttab_end_foreign_access_ref`: clear the
   * flags unless reading/writing is set): 0, -EINVAL, or -EBUSY while mapped.
   */
  endAccess(ref: number): number {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) return -Errno.EINVAL;
    if ((this.flags(ref) & (GTF_reading | GTF_writing)) !== 0) return -Errno.EBUSY;
    this.#setFlags(ref, 0);
    return 0;
  }

  /** `xc_dom_gnttab_seed`: entry 0 → console backend, entry 1 → xenstore. */
  seed(consoleGfn: number, consoleDomid: number, xenstoreGfn: number, xenstoreDomid: number) {
    this.writeEntry(GNTTAB_RESERVED_CONSOLE, GTF_permit_access, consoleDomid, consoleGfn);
    this.writeEntry(GNTTAB_RESERVED_XENSTORE, GTF_permit_access, xenstoreDomid, xenstoreGfn);
  }

  /** Pins on `ref` as [hostR, hostW, devR, devW], or undefined when unpinned. */
  pins(ref: number): [number, number, number, number] | undefined {
    const a = this.#active.get(ref);
    return a === undefined ? undefined : [a.hostR, a.hostW, a.devR, a.devW];
  }

  /** Whether any entry is pinned (a granter with pins outlives its death as a zombie). */
  get pinnedCount(): number {
    return this.#active.size;
  }

  /** The maptrack entry of a live handle. */
  maptrackEntry(handle: number): MaptrackEntry | undefined {
    return this.#maptrack[handle];
  }

  /** Live handles, ascending. */
  handles(): number[] {
    const out: number[] = [];
    this.#maptrack.forEach((m, h) => {
      if (m !== undefined) out.push(h);
    });
    return out;
  }

  // ---- internal pieces of map/unmap, used by the functions below ----

  /** @internal */ active(ref: number): ActiveEntry | undefined {
    return this.#active.get(ref);
  }

  /** @internal */ setActive(ref: number, a: ActiveEntry | undefined): void {
    if (a === undefined) this.#active.delete(ref);
    else this.#active.set(ref, a);
  }

  /** @internal */ setFlagsInternal(ref: number, flags: number): void {
    this.#setFlags(ref, flags);
  }

  /** @internal */ hasFreeHandle(): boolean {
    return this.#freeHandles.length > 0 || this.#maptrack.length < this.maptrackMax;
  }

  /** @internal */ allocHandle(m: MaptrackEntry): number {
    let h: number;
    if (this.#freeHandles.length > 0) h = this.#freeHandles.pop()!;
    else h = this.#maptrack.length;
    assert(h < this.maptrackMax, "gnttab: maptrack full");
    this.#maptrack[h] = m;
    this.#mapped++;
    return h;
  }

  /** @internal */ freeHandle(h: number): void {
    this.#maptrack[h] = undefined;
    this.#freeHandles.push(h);
    this.#mapped--;
  }
}

/**
 * GNTTABOP_map_grant_ref by domain `ldomid` (grantee table `lgt`) of `ref`
 * in `rgt`, owned by `rdomid`. `pfnToMfn` translates the granter's pfn
 * (INVALID_MFN when unpopulated → GNTST_bad_page, as `get_paged_frame`).
 * Checks run in Xen's order: flags, (domain: the caller's job), maptrack
 * space, ref bounds, pins, shared entry.
 */
export function mapGrantRef(
  lgt: GrantTable,
  ldomid: number,
  rgt: GrantTable,
  rdomid: number,
  ref: number,
  flags: number,
  pfnToMfn: (pfn: number) => number,
): MapGrantResult {
  const fail = (status: number): MapGrantResult => ({ status, handle: -1, mfn: -1 });
  const ro = (flags & GNTMAP_readonly) !== 0;
  const host = (flags & GNTMAP_host_map) !== 0, dev = (flags & GNTMAP_device_map) !== 0;
  if (!host && !dev) return fail(GNTST_bad_gntref);
  if (!lgt.hasFreeHandle()) return fail(GNTST_no_space);
  if (!Number.isInteger(ref) || ref < 0 || ref >= rgt.nrEntries) return fail(GNTST_bad_gntref);
  let act = rgt.active(ref);
  const pinned = act !== undefined;
  if (act !== undefined) {
    const over = (n: number) => n + 1 > GNTPIN_COUNT_MAX;
    if (
      act.domid !== ldomid ||
      (host && over(ro ? act.hostR : act.hostW)) || (dev && over(ro ? act.devR : act.devW))
    ) return fail(GNTST_general_error);
  }
  const writePinned = act !== undefined && act.hostW + act.devW > 0;
  if (!pinned || (!ro && !writePinned)) {
    // _set_status_v1
    const e = rgt.entry(ref);
    if (!pinned && ((e.flags & GTF_type_mask) !== GTF_permit_access || e.domid !== ldomid)) {
      return fail(GNTST_general_error);
    }
    if (!ro && (e.flags & GTF_readonly) !== 0) return fail(GNTST_general_error);
    if (act === undefined) {
      const mfn = pfnToMfn(e.frame);
      if (mfn === INVALID_MFN) return fail(GNTST_bad_page);
      act = { hostR: 0, hostW: 0, devR: 0, devW: 0, domid: ldomid, pfn: e.frame, mfn };
    }
    rgt.setFlagsInternal(ref, e.flags | GTF_reading | (ro ? 0 : GTF_writing));
  }
  assert(act !== undefined, "gnttab: no active entry after _set_status");
  if (host && ro) act.hostR++;
  if (host && !ro) act.hostW++;
  if (dev && ro) act.devR++;
  if (dev && !ro) act.devW++;
  rgt.setActive(ref, act);
  const handle = lgt.allocHandle({ dom: rdomid, ref, flags, pfn: act.pfn, mfn: act.mfn });
  return { status: GNTST_okay, handle, mfn: act.mfn };
}

/**
 * GNTTABOP_unmap_grant_ref of `handle` held by the grantee table `lgt`;
 * `granter(dom)` finds the granter's table. Drops the pins and the busy
 * bits that no pin needs any more (`reduce_status_for_pin`).
 */
export function unmapGrantRef(
  lgt: GrantTable,
  handle: number,
  granter: (dom: number) => GrantTable | undefined,
): UnmapGrantResult {
  const m = Number.isInteger(handle) && handle >= 0 ? lgt.maptrackEntry(handle) : undefined;
  if (m === undefined) return { status: GNTST_bad_handle, dom: -1, pfn: -1, writable: false };
  const rgt = granter(m.dom);
  assert(rgt !== undefined, `gnttab: granter d${m.dom} of handle ${handle} is gone`);
  const act = rgt.active(m.ref);
  assert(act !== undefined && act.domid >= 0, `gnttab: handle ${handle} without pins`);
  const ro = (m.flags & GNTMAP_readonly) !== 0;
  const host = (m.flags & GNTMAP_host_map) !== 0, dev = (m.flags & GNTMAP_device_map) !== 0;
  if (host && ro) act.hostR--;
  if (host && !ro) act.hostW--;
  if (dev && ro) act.devR--;
  if (dev && !ro) act.devW--;
  const any = act.hostR + act.hostW + act.devR + act.devW;
  let clear = any === 0 ? GTF_reading : 0;
  if (act.hostW + act.devW === 0) clear |= GTF_writing;
  if (clear !== 0) rgt.setFlagsInternal(m.ref, rgt.flags(m.ref) & ~clear);
  rgt.setActive(m.ref, any === 0 ? undefined : act);
  lgt.freeHandle(handle);
  return { status: GNTST_okay, dom: m.dom, pfn: m.pfn, writable: !ro };
}
