/**
 * @module
 * Helpers shared by the hypervisor's tests (not part of the public surface):
 * a hypervisor on a fresh scheduler, and a built guest — created, given
 * memory and a vCPU-0 context, optionally unpaused — the way a toolstack's
 * domain builder would.
 */
import { Rng } from "../sim/rng.ts";
import { Scheduler } from "../sim/scheduler.ts";
import { MemoryTrace } from "../sim/trace.ts";
import { assert } from "./assert.ts";
import type { CreateDomainConfig } from "./hypercall.ts";
import { Hypervisor, type HypervisorOptions } from "./hypervisor.ts";
import { emptyVcpuContext, type VcpuContext } from "./vcpu.ts";
import { VGCF_online } from "./xen_abi.ts";

/** A hypervisor with its scheduler and an in-memory trace. */
export interface TestHv {
  sched: Scheduler;
  trace: MemoryTrace;
  hv: Hypervisor;
}

/** A hypervisor on a new scheduler, seed 1 unless given. */
export function newHv(opts: Partial<HypervisorOptions> & { seed?: number } = {}): TestHv {
  const sched = new Scheduler();
  const trace = new MemoryTrace(sched);
  const hv = new Hypervisor({ clock: sched, rng: new Rng(opts.seed ?? 1), trace, ...opts });
  return { sched, trace, hv };
}

/** What {@link buildGuest} makes. */
export interface GuestOptions {
  config?: Partial<CreateDomainConfig>;
  /** Pages populated at pfns 0..pages-1; default 16. */
  pages?: number;
  /** Leave the domain paused (controller count 1). */
  paused?: boolean;
  rip?: number;
}

/** An online vCPU context starting at `rip`. */
export function onlineContext(rip = 0x1000): VcpuContext {
  const ctx = emptyVcpuContext();
  ctx.rip = rip;
  ctx.flags = VGCF_online;
  return ctx;
}

/** Creates and builds a guest from dom0; returns its domid. */
export function buildGuest(hv: Hypervisor, opts: GuestOptions = {}): number {
  const pages = opts.pages ?? 16;
  const c = hv.hypercall(0, {
    hc: "domctl",
    op: "createdomain",
    config: { maxVcpus: 1, ...opts.config },
  });
  assert(c.ret === 0 && c.domid !== undefined, `createdomain: ${c.ret}`);
  const domid = c.domid;
  const ok = (r: { ret: number }, what: string) => assert(r.ret >= 0, `${what}: ${r.ret}`);
  ok(hv.hypercall(0, { hc: "domctl", op: "max_mem", domid, maxMemKb: pages * 4 }), "max_mem");
  if (pages > 0) {
    const gpfns = Array.from({ length: pages }, (_, i) => i);
    const r = hv.hypercall(0, {
      hc: "memory_op",
      op: "populate_physmap",
      domid,
      extentOrder: 0,
      gpfns,
    });
    assert(r.ret === pages, `populate: ${r.ret}`);
  }
  ok(
    hv.hypercall(0, {
      hc: "domctl",
      op: "setvcpucontext",
      domid,
      vcpu: 0,
      ctx: onlineContext(opts.rip),
    }),
    "setvcpucontext",
  );
  if (!opts.paused) ok(hv.hypercall(0, { hc: "domctl", op: "unpausedomain", domid }), "unpause");
  return domid;
}

/** getdomaininfo flags of `domid` (asserting it exists). */
export function flagsOf(hv: Hypervisor, domid: number): number {
  const r = hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid });
  assert(r.info !== undefined, `getdomaininfo d${domid}: ${r.ret}`);
  return r.info.flags;
}
