/**
 * @module
 * A scenario's view of a guest's memory, as dom0 sees it through a foreign
 * mapping: the populated pfns and a content hash ("xenlab-memhash-1",
 * `content_hash.ts`), so a restored domain can be shown to hold the bytes
 * the saved one had. Pages the restorer rewrites by design (PV start_info,
 * §4.2) are left out by the caller.
 */
import { ContentHasher } from "../src/hv/content_hash.ts";
import { PAGE_SIZE } from "../src/hv/xen_abi.ts";
import type { Host } from "../src/host/host.ts";

export interface MemorySnapshot {
  readonly pages: number;
  readonly hash: string;
}

/** Snapshot of `domid`'s populated pages except `skip`. */
export function memorySnapshot(
  host: Host,
  domid: number,
  skip: ReadonlySet<number> = new Set(),
): MemorySnapshot {
  const max = host.hv.hypercall(0, { hc: "memory_op", op: "maximum_gpfn", domid }).ret;
  if (max < 0) throw new Error(`memory snapshot of domain ${domid}: ${max}`);
  const pfns = Array.from({ length: max + 1 }, (_, i) => i);
  const r = host.hv.foreignMap(0, domid, pfns, false);
  if (!r.mapping) throw new Error(`memory snapshot of domain ${domid}: map ${r.ret}`);
  const m = r.mapping;
  const h = new ContentHasher();
  const page = new Uint8Array(PAGE_SIZE);
  const words = new Uint32Array(page.buffer);
  let pages = 0;
  try {
    for (let i = 0; i < pfns.length; i++) {
      if (m.err[i] < 0 || skip.has(i)) continue;
      m.read(i, 0, page);
      h.addPage(i, words, 0);
      pages++;
    }
  } finally {
    m.unmap();
  }
  return { pages, hash: h.digest() };
}
