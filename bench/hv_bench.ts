/**
 * @module
 * Benchmarks of the emulated hypervisor's hot paths:
 *
 * - **page copy**: the migration send path — copy a batch of 1024 dirty
 *   pages (libxc's MAX_BATCH_SIZE, 4 MiB) out of a guest into a stream
 *   buffer — against a plain `Uint8Array.set` of the same bytes from a flat
 *   buffer as the baseline. Goal: ≥ 0.8 of the baseline. Pages/s = iter/s ×
 *   1024.
 * - **dirty bitmap**: peek and clean of a 1 GiB domain (262,144 pages) with
 *   10,000 dirty pages, directly and through `domctl shadow_op`. Goal: well
 *   under 1 ms.
 * - **hypercall dispatch**: cheap hypercalls through the typed interface,
 *   untraced and traced to JSON lines.
 *
 * Fixtures are built outside the measured functions. The guest for page
 * copies is 64 MiB; set HV_BENCH_LARGE=1 for 1 GiB.
 *
 *     deno bench -A bench/hv_bench.ts
 */
import { Rng } from "../src/sim/rng.ts";
import { Scheduler } from "../src/sim/scheduler.ts";
import { JsonlTrace } from "../src/sim/trace.ts";
import { DirtyBitmap } from "../src/hv/dirty_bitmap.ts";
import { Hypervisor } from "../src/hv/hypervisor.ts";
import {
  DOMID_SELF,
  PAGE_SIZE,
  VGCF_online,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_PEEK,
} from "../src/hv/xen_abi.ts";
import { emptyVcpuContext } from "../src/hv/vcpu.ts";
import type { Trace } from "../src/sim/trace.ts";

const LARGE = Deno.env.get("HV_BENCH_LARGE") === "1";
const GUEST_PAGES = LARGE ? 262_144 : 16_384;
const BATCH = 1024;
const GIB_PAGES = 262_144;
const DIRTY = 10_000;

function makeHv(trace?: Trace): { hv: Hypervisor; sched: Scheduler } {
  const sched = new Scheduler();
  return { hv: new Hypervisor({ clock: sched, rng: new Rng(1), trace }), sched };
}

/** A running guest with `pages` populated pages (in chunks of 65,536 pfns per call). */
function makeGuest(hv: Hypervisor, pages: number): number {
  const domid = hv.hypercall(0, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } })
    .domid!;
  hv.hypercall(0, { hc: "domctl", op: "max_mem", domid, maxMemKb: pages * 4 });
  for (let base = 0; base < pages; base += 65_536) {
    const n = Math.min(65_536, pages - base);
    const gpfns = Array.from({ length: n }, (_, i) => base + i);
    hv.hypercall(0, { hc: "memory_op", op: "populate_physmap", domid, extentOrder: 0, gpfns });
  }
  const ctx = emptyVcpuContext();
  ctx.flags = VGCF_online;
  hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid, vcpu: 0, ctx });
  hv.hypercall(0, { hc: "domctl", op: "unpausedomain", domid });
  return domid;
}

/** `n` distinct pfns below `max`, ascending (the order a dirty bitmap yields). */
function scatteredPfns(n: number, max: number, seed: number): Uint32Array {
  const rng = new Rng(seed);
  const set = new Set<number>();
  while (set.size < n) set.add(rng.int(max));
  return Uint32Array.from([...set].sort((a, b) => a - b));
}

// ------------------------------------------------------------------ page copy

const copy = makeHv();
const guest = makeGuest(copy.hv, GUEST_PAGES);
{
  // Fill guest memory with non-zero bytes so copies move real data.
  const page = new Uint8Array(PAGE_SIZE);
  for (let p = 0; p < GUEST_PAGES; p++) {
    page.fill(p & 0xff);
    copy.hv.guestWrite(guest, p, 0, page);
  }
}
const flat = new Uint8Array(GUEST_PAGES * PAGE_SIZE).fill(0x5a);
const out = new Uint8Array(BATCH * PAGE_SIZE);
const contiguous = Uint32Array.from({ length: BATCH }, (_, i) => (GUEST_PAGES >> 1) + i);
const scattered = scatteredPfns(BATCH, GUEST_PAGES, 42);
const contiguousMap = copy.hv.foreignMap(0, guest, contiguous, false).mapping!;
const scatteredMap = copy.hv.foreignMap(0, guest, scattered, false).mapping!;

Deno.bench({
  name: "baseline: Uint8Array.set, 1024 contiguous pages",
  group: "copy contiguous batch",
  baseline: true,
  fn() {
    const start = contiguous[0] * PAGE_SIZE;
    out.set(flat.subarray(start, start + BATCH * PAGE_SIZE));
  },
});
Deno.bench({
  name: "ForeignMapping.copyOut, 1024 contiguous pages",
  group: "copy contiguous batch",
  fn() {
    contiguousMap.copyOut(out);
  },
});
Deno.bench({
  name: "foreignMap + copyOut + unmap, 1024 contiguous pages",
  group: "copy contiguous batch",
  fn() {
    const m = copy.hv.foreignMap(0, guest, contiguous, false).mapping!;
    m.copyOut(out);
    m.unmap();
  },
});

Deno.bench({
  name: "baseline: Uint8Array.set per page, 1024 scattered pages",
  group: "copy scattered batch",
  baseline: true,
  fn() {
    for (let i = 0; i < BATCH; i++) {
      const s = scattered[i] * PAGE_SIZE;
      out.set(flat.subarray(s, s + PAGE_SIZE), i * PAGE_SIZE);
    }
  },
});
Deno.bench({
  name: "ForeignMapping.copyOut, 1024 scattered pages",
  group: "copy scattered batch",
  fn() {
    scatteredMap.copyOut(out);
  },
});
Deno.bench({
  name: "foreignMap + copyOut + unmap, 1024 scattered pages",
  group: "copy scattered batch",
  fn() {
    const m = copy.hv.foreignMap(0, guest, scattered, false).mapping!;
    m.copyOut(out);
    m.unmap();
  },
});

// --------------------------------------------------------------- dirty bitmap

const dirtyPfns = scatteredPfns(DIRTY, GIB_PAGES, 7);
const bitmap = new DirtyBitmap(GIB_PAGES);
const collected = new Uint32Array(GIB_PAGES);

Deno.bench({
  name: "DirtyBitmap peek (collect without clearing), 1 GiB, 10k dirty",
  group: "dirty bitmap",
  fn(b) {
    for (const p of dirtyPfns) bitmap.set(p);
    b.start();
    bitmap.collect(collected, false);
    b.end();
  },
});
Deno.bench({
  name: "DirtyBitmap clean (collect and clear), 1 GiB, 10k dirty",
  group: "dirty bitmap",
  fn(b) {
    for (const p of dirtyPfns) bitmap.set(p);
    b.start();
    bitmap.collect(collected, true);
    b.end();
  },
});

const dirty = makeHv();
const big = makeGuest(dirty.hv, GIB_PAGES);
dirty.hv.hypercall(0, {
  hc: "domctl",
  op: "shadow_op",
  domid: big,
  shadowOp: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
});
const one = new Uint8Array([1]);
function dirtyTheGuest(): void {
  for (const p of dirtyPfns) dirty.hv.guestWrite(big, p, 0, one);
}

Deno.bench({
  name: "domctl shadow_op PEEK, 1 GiB guest, 10k dirty",
  group: "dirty bitmap",
  fn(b) {
    dirtyTheGuest();
    b.start();
    dirty.hv.hypercall(0, {
      hc: "domctl",
      op: "shadow_op",
      domid: big,
      shadowOp: XEN_DOMCTL_SHADOW_OP_PEEK,
    });
    b.end();
  },
});
Deno.bench({
  name: "domctl shadow_op CLEAN, 1 GiB guest, 10k dirty",
  group: "dirty bitmap",
  fn(b) {
    dirtyTheGuest();
    b.start();
    dirty.hv.hypercall(0, {
      hc: "domctl",
      op: "shadow_op",
      domid: big,
      shadowOp: XEN_DOMCTL_SHADOW_OP_CLEAN,
    });
    b.end();
  },
});

// --------------------------------------------------------- hypercall dispatch

const plain = makeHv();
const g1 = makeGuest(plain.hv, 16);
const port = plain.hv.hypercall(g1, {
  hc: "event_channel_op",
  op: "alloc_unbound",
  dom: DOMID_SELF,
  remoteDom: 0,
}).port!;
const traced = makeHv(new JsonlTrace(new Scheduler(), () => {}));
const g2 = makeGuest(traced.hv, 16);

Deno.bench({
  name: "sched_op yield (untraced)",
  group: "hypercall dispatch",
  baseline: true,
  fn() {
    plain.hv.hypercall(g1, { hc: "sched_op", op: "yield" });
  },
});
Deno.bench({
  name: "event_channel_op send on an unbound port (untraced)",
  group: "hypercall dispatch",
  fn() {
    plain.hv.hypercall(g1, { hc: "event_channel_op", op: "send", port });
  },
});
Deno.bench({
  name: "domctl getdomaininfo (untraced)",
  group: "hypercall dispatch",
  fn() {
    plain.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: g1 });
  },
});
Deno.bench({
  name: "sched_op yield (traced to JSON lines)",
  group: "hypercall dispatch",
  fn() {
    traced.hv.hypercall(g2, { hc: "sched_op", op: "yield" });
  },
});
