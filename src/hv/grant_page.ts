/**
 * @module
 * Byte access to a page a grantee mapped with GNTTABOP_map_grant_ref: how a
 * backend reads and writes a frontend's shared ring. Valid while the handle
 * is mapped; writes through a writable mapping mark the granter's page dirty.
 */
import { Errno } from "./errno.ts";
import type { Domain } from "./domain.ts";
import type { MaptrackEntry } from "./grant_table.ts";
import type { HvCore } from "./hv_core.ts";
import { CHUNK_MASK, CHUNK_SHIFT } from "./machine_memory.ts";
import { GNTMAP_readonly, PAGE_SHIFT, PAGE_SIZE } from "./xen_abi.ts";

/** A mapped grant. */
export class GrantPage {
  readonly handle: number;
  /** The granting domain. */
  readonly domid: number;
  readonly readonly: boolean;
  readonly #core: HvCore;
  readonly #grantee: Domain;
  readonly #entry: MaptrackEntry;

  /** @internal Use `Hypervisor.grantPage`. */
  constructor(core: HvCore, grantee: Domain, handle: number, entry: MaptrackEntry) {
    this.#core = core;
    this.#grantee = grantee;
    this.handle = handle;
    this.#entry = entry;
    this.domid = entry.dom;
    this.readonly = (entry.flags & GNTMAP_readonly) !== 0;
  }

  #page(): { bytes: Uint8Array; start: number } | undefined {
    if (this.#grantee.grants.maptrackEntry(this.handle) !== this.#entry) return undefined;
    const mfn = this.#entry.mfn;
    const c = this.#core.mm.chunks[mfn >>> CHUNK_SHIFT];
    if (c === undefined || c.owner[mfn & CHUNK_MASK] !== this.domid) return undefined;
    return { bytes: c.bytes, start: (mfn & CHUNK_MASK) << PAGE_SHIFT };
  }

  /** Copies bytes at `offset` into `out`: 0, or -EFAULT once unmapped. */
  read(offset: number, out: Uint8Array): number {
    const p = this.#page();
    if (p === undefined || offset < 0 || offset + out.length > PAGE_SIZE) return -Errno.EFAULT;
    out.set(p.bytes.subarray(p.start + offset, p.start + offset + out.length));
    return 0;
  }

  /** Writes `data` at `offset`: 0, -EACCES on a read-only map, -EFAULT once unmapped. */
  write(offset: number, data: Uint8Array): number {
    if (this.readonly) return -Errno.EACCES;
    const p = this.#page();
    if (p === undefined || offset < 0 || offset + data.length > PAGE_SIZE) return -Errno.EFAULT;
    p.bytes.set(data, p.start + offset);
    this.#core.lookup(this.domid)?.memory.markDirty(this.#entry.pfn);
    return 0;
  }
}
