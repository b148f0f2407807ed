/**
 * @module
 * The emulated hypervisor: no real Xen underneath, Xen's control plane on
 * top. One entry point for control, {@link Hypervisor.hypercall}, taking the
 * typed, JSON-serialisable {@link Hypercall} union and answering
 * `{ ret ≥ 0 | -errno, ...OUT }`; one binary path for bytes (guest reads and
 * writes, foreign mappings, grant pages); and the guest-kernel hooks through
 * which upcalls arrive (`attachKernel`, `onEvent`, `onPort`).
 *
 * Domain 0 exists at boot: privileged, running, vCPU 0 online. Every
 * hypercall is traced as `{src:"hv", dom: caller, hc, args, ret}` when it
 * returns (after the `ev` lines of what it caused; arrays longer than
 * {@link TRACE_ARRAY_MAX} summarised), so one seed gives one trace.
 *
 * The hypervisor does not stop a paused or suspended guest's agent from
 * calling it — a real vCPU could not — so agents check {@link
 * Hypervisor.isRunning} or wait for their kernel's `vcpuRun`.
 *
 * @example
 * ```ts
 * import { Scheduler } from "../sim/scheduler.ts";
 * import { Rng } from "../sim/rng.ts";
 * import { Hypervisor } from "./hypervisor.ts";
 * const sched = new Scheduler();
 * const hv = new Hypervisor({ clock: sched, rng: new Rng(1) });
 * const r = hv.hypercall(0, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } });
 * // r.ret === 0, r.domid === 1; the new domain is paused (controller count 1).
 * ```
 */
import type { Clock } from "../sim/clock.ts";
import type { Rng } from "../sim/rng.ts";
import { NULL_TRACE, type Trace } from "../sim/trace.ts";
import { bootLifecycle } from "./domain_lifecycle.ts";
import type { GuestKernel } from "./domain.ts";
import { Errno } from "./errno.ts";
import { FOREIGN_MAP_PAGES_MAX, ForeignMapping } from "./foreign_mapping.ts";
import { GrantPage } from "./grant_page.ts";
import { domctl } from "./hc_domctl.ts";
import { eventChannelOp } from "./hc_event_channel_op.ts";
import { grantTableOp } from "./hc_grant_table_op.ts";
import { hvmOp } from "./hc_hvm_op.ts";
import { memoryOp } from "./hc_memory_op.ts";
import { schedOp } from "./hc_sched_op.ts";
import { sysctl } from "./hc_sysctl.ts";
import { vcpuOp } from "./hc_vcpu_op.ts";
import { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, Hypercall, HypercallResult } from "./hypercall.ts";
import { MACHINE_FRAMES_DEFAULT, MachineMemory } from "./machine_memory.ts";
import { emptyVcpuContext } from "./vcpu.ts";
import {
  DOMID_FIRST_RESERVED,
  EVTCHN_PORT_MAX_DEFAULT,
  GRANT_FRAMES_MAX_DEFAULT,
  MAPTRACK_FRAMES_MAX_DEFAULT,
  SHUTDOWN_crash,
  VCPUS_MAX,
  VGCF_online,
} from "./xen_abi.ts";
import { HVM_PARAM_TRIPLE_FAULT_REASON } from "./hvm_params.ts";
import { assert } from "./assert.ts";

/** Arrays longer than this are summarised in hypercall traces. */
export const TRACE_ARRAY_MAX = 16;
/** Default bound on domains alive at once (dom0 included). */
export const DOMAINS_MAX_DEFAULT = 1024;
/** Default bound on foreign mappings one domain holds at once. */
export const FOREIGN_MAPPINGS_MAX_DEFAULT = 65_536;
/** Bound on upcall listeners per port, and on catch-all listeners per domain. */
export const LISTENERS_MAX = 64;

/** How to build a {@link Hypervisor}. */
export interface HypervisorOptions {
  clock: Clock;
  /** Draws domain handles (UUIDs) when the toolstack gives none. */
  rng: Rng;
  trace?: Trace;
  /** Host memory in 4 KiB frames; default 4 GiB. */
  machineFramesMax?: number;
  /** Delay between an event becoming due and its upcall; default 0. */
  eventLatencyNs?: number;
  /** Bound on domains alive at once; default {@link DOMAINS_MAX_DEFAULT}. */
  domainsMax?: number;
  /** Bound on foreign mappings a domain holds; default {@link FOREIGN_MAPPINGS_MAX_DEFAULT}. */
  foreignMappingsMax?: number;
  /** vCPUs of domain 0; default 1. */
  dom0Vcpus?: number;
  /** max_pages of domain 0; default 0 (dom0 needs no guest memory here). */
  dom0MaxPages?: number;
}

/** Outcome of {@link Hypervisor.foreignMap}. */
export interface ForeignMapResult {
  ret: number;
  mapping?: ForeignMapping;
}

function summarise(v: unknown): unknown {
  if (Array.isArray(v) && v.length > TRACE_ARRAY_MAX) {
    return { n: v.length, first: v[0], last: v[v.length - 1] };
  }
  return v;
}

/** The hypervisor of one host. */
export class Hypervisor {
  readonly #core: HvCore;
  readonly #foreignMappingsMax: number;

  constructor(opts: HypervisorOptions) {
    const mm = new MachineMemory(opts.machineFramesMax ?? MACHINE_FRAMES_DEFAULT);
    const latency = opts.eventLatencyNs ?? 0;
    assert(Number.isSafeInteger(latency) && latency >= 0, `bad eventLatencyNs ${latency}`);
    const domainsMax = opts.domainsMax ?? DOMAINS_MAX_DEFAULT;
    assert(
      Number.isInteger(domainsMax) && domainsMax >= 1 && domainsMax < DOMID_FIRST_RESERVED,
      `bad domainsMax ${domainsMax}`,
    );
    this.#core = new HvCore({
      clock: opts.clock,
      rng: opts.rng,
      trace: opts.trace ?? NULL_TRACE,
      mm,
      eventLatencyNs: latency,
      domainsMax,
    });
    this.#foreignMappingsMax = opts.foreignMappingsMax ?? FOREIGN_MAPPINGS_MAX_DEFAULT;
    const vcpus = opts.dom0Vcpus ?? 1;
    assert(Number.isInteger(vcpus) && vcpus >= 1 && vcpus <= VCPUS_MAX, `bad dom0Vcpus ${vcpus}`);
    const dom0 = this.#core.addDomain({
      domid: 0,
      handle: "00000000-0000-0000-0000-000000000000",
      hvm: false,
      hap: false,
      xsDomain: false,
      privileged: true,
      maxEvtchnPort: EVTCHN_PORT_MAX_DEFAULT,
      maxGrantFrames: GRANT_FRAMES_MAX_DEFAULT,
      maxMaptrackFrames: MAPTRACK_FRAMES_MAX_DEFAULT,
    }, bootLifecycle(vcpus));
    dom0.memory.maxPages = opts.dom0MaxPages ?? 0;
    const ctx = emptyVcpuContext();
    ctx.flags = VGCF_online;
    dom0.vcpus[0].load(ctx);
    dom0.vcpus[0].needsEntry = false; // already running its kernel
    this.#core.emit({ src: "hv", dom: 0, ev: "boot", framesMax: mm.framesMax });
    this.#core.touch(dom0);
    this.#core.settle();
  }

  /**
   * Makes hypercall `call` on behalf of domain `callerDomid`. A caller that
   * does not exist or is dying gets -ESRCH; an unknown hypercall -ENOSYS.
   */
  hypercall<C extends Hypercall>(callerDomid: number, call: C): HypercallResult<C> {
    const core = this.#core;
    const caller = core.lookup(callerDomid);
    let res: AnyHypercallResult;
    if (caller === undefined || caller.lifecycle.isDying !== "alive") {
      res = { ret: -Errno.ESRCH };
    } else if (typeof call !== "object" || call === null) {
      res = { ret: -Errno.EFAULT };
    } else {
      const c = call as Hypercall;
      switch (c.hc) {
        case "sched_op":
          res = schedOp(core, caller, c);
          break;
        case "domctl":
          res = domctl(core, caller, c);
          break;
        case "sysctl":
          res = sysctl(core, caller, c);
          break;
        case "memory_op":
          res = memoryOp(core, caller, c);
          break;
        case "event_channel_op":
          res = eventChannelOp(core, caller, c);
          break;
        case "grant_table_op":
          res = grantTableOp(core, caller, c);
          break;
        case "hvm_op":
          res = hvmOp(core, caller, c);
          break;
        case "vcpu_op":
          res = vcpuOp(core, caller, c);
          break;
        default:
          res = { ret: -Errno.ENOSYS };
      }
    }
    if (core.tracing) {
      const { hc, ...rest } = (typeof call === "object" && call !== null ? call : {}) as Record<
        string,
        unknown
      >;
      const args: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rest)) args[k] = summarise(v);
      core.emit({ src: "hv", dom: callerDomid, hc: String(hc), args, ret: res.ret });
    }
    core.settle();
    return res as HypercallResult<C>;
  }

  // ------------------------------------------------------------- kernel hooks

  /**
   * Registers domain `domid`'s kernel (replacing any previous one); its
   * `event` hook becomes a catch-all event listener. Returns a detach
   * function. Pending work (a vCPU entry, pending ports) is delivered soon
   * after, on the clock.
   */
  attachKernel(domid: number, kernel: GuestKernel): () => void {
    const d = this.#core.lookup(domid);
    assert(d !== undefined, `attachKernel: no domain ${domid}`);
    assert(d.eventListeners.size < LISTENERS_MAX, `d${domid}: over ${LISTENERS_MAX} listeners`);
    const prev = d.kernel;
    if (prev?.event !== undefined) d.eventListeners.delete(prev.event);
    d.kernel = kernel;
    const ev = kernel.event?.bind(kernel);
    if (ev !== undefined) d.eventListeners.add(ev);
    this.#core.touch(d);
    this.#core.settle();
    return () => {
      if (d.kernel !== kernel) return;
      d.kernel = null;
      if (ev !== undefined) d.eventListeners.delete(ev);
    };
  }

  /** Adds a catch-all upcall listener for ports no {@link onPort} listener claims. */
  onEvent(domid: number, fn: (port: number) => void): () => void {
    const d = this.#core.lookup(domid);
    assert(d !== undefined, `onEvent: no domain ${domid}`);
    assert(d.eventListeners.size < LISTENERS_MAX, `d${domid}: over ${LISTENERS_MAX} listeners`);
    d.eventListeners.add(fn);
    this.#core.touch(d);
    this.#core.settle();
    return () => d.eventListeners.delete(fn);
  }

  /**
   * Listens on one port, as a user process bound through /dev/xen/evtchn:
   * its upcalls go to these listeners instead of the catch-all ones. The
   * listeners go away when the port is closed.
   */
  onPort(domid: number, port: number, fn: (port: number) => void): () => void {
    const d = this.#core.lookup(domid);
    assert(d !== undefined, `onPort: no domain ${domid}`);
    let set = d.portListeners.get(port);
    if (set === undefined) d.portListeners.set(port, set = new Set());
    assert(set.size < LISTENERS_MAX, `d${domid} port ${port}: over ${LISTENERS_MAX} listeners`);
    set.add(fn);
    this.#core.touch(d);
    this.#core.settle();
    return () => {
      d.portListeners.get(port)?.delete(fn);
    };
  }

  // --------------------------------------------------------------- bytes

  /** Guest `domid` reading its own page `pfn` at `offset` into `out`: 0 or -EFAULT. */
  guestRead(domid: number, pfn: number, offset: number, out: Uint8Array): number {
    const d = this.#core.lookup(domid);
    return d === undefined ? -Errno.ESRCH : d.memory.read(pfn, offset, out);
  }

  /** Guest `domid` writing its own page (marked dirty under log-dirty): 0 or -EFAULT. */
  guestWrite(domid: number, pfn: number, offset: number, data: Uint8Array): number {
    const d = this.#core.lookup(domid);
    return d === undefined ? -Errno.ESRCH : d.memory.write(pfn, offset, data);
  }

  /**
   * Maps pages `pfns` of domain `domid` into privileged domain `caller`:
   * -EPERM for an unprivileged caller, -ESRCH for a missing or dying
   * target, -E2BIG past {@link FOREIGN_MAP_PAGES_MAX}, -ENOMEM when the
   * caller already holds `foreignMappingsMax` mappings; holes get per-page
   * errors in `mapping.err`.
   */
  foreignMap(
    caller: number,
    domid: number,
    pfns: ArrayLike<number>,
    writable: boolean,
  ): ForeignMapResult {
    const core = this.#core;
    const holder = core.lookup(caller);
    const target = core.lookup(domid);
    let ret = 0;
    if (holder === undefined || holder.lifecycle.isDying !== "alive") ret = -Errno.ESRCH;
    else if (!holder.privileged) ret = -Errno.EPERM;
    else if (target === undefined || target.lifecycle.isDying !== "alive") ret = -Errno.ESRCH;
    else if (pfns.length > FOREIGN_MAP_PAGES_MAX) ret = -Errno.E2BIG;
    else if ((core.heldMappings.get(holder)?.size ?? 0) >= this.#foreignMappingsMax) {
      ret = -Errno.ENOMEM;
    }
    core.emit({
      src: "hv",
      dom: caller,
      ev: "foreign_map",
      target: domid,
      n: pfns.length,
      writable,
      ret,
    });
    if (ret < 0) return { ret };
    return { ret, mapping: new ForeignMapping(core, holder!, target!, pfns, writable) };
  }

  /** Byte access to grant handle `handle` held by `caller`, while it is mapped. */
  grantPage(caller: number, handle: number): GrantPage | undefined {
    const d = this.#core.lookup(caller);
    const m = d?.grants.maptrackEntry(handle);
    return d === undefined || m === undefined ? undefined : new GrantPage(this.#core, d, handle, m);
  }

  // --------------------------------------------------------- lab inspection

  /** "xenlab-memhash-1" of domain `domid`'s memory (see `content_hash.ts`). */
  memoryHash(domid: number): string | undefined {
    return this.#core.lookup(domid)?.memory.contentHash();
  }

  /** Domains in the table (dying and dead-but-referenced ones included), ascending. */
  domids(): number[] {
    return [...this.#core.domains.keys()].sort((a, b) => a - b);
  }

  /** Whether some vCPU of `domid` is executing (guest agents check before acting). */
  isRunning(domid: number): boolean {
    return this.#core.lookup(domid)?.anyVcpuMayRun() ?? false;
  }

  /** Machine frames in use on this host. */
  get machineFramesUsed(): number {
    return this.#core.mm.framesUsed;
  }

  // ------------------------------------------------ Xen-side events (lab hooks)

  /**
   * `vcpu_{start,end}_shutdown_deferral` (used by Xen while a vCPU waits on
   * an ioreq): returns 1 if now deferring, else 0; -ESRCH/-EINVAL.
   */
  deferShutdown(domid: number, vcpu: number, on: boolean): number {
    const d = this.#core.lookup(domid);
    if (d === undefined) return -Errno.ESRCH;
    if (d.vcpus[vcpu] === undefined) return -Errno.EINVAL;
    const ret = this.#core.lifecycle(d, {
      type: on ? "defer_shutdown_start" : "defer_shutdown_end",
      vcpu,
    });
    this.#core.settle();
    return ret;
  }

  /** `domain_crash`: a Xen-detected fault, shutdown(SHUTDOWN_crash). */
  domainCrash(domid: number): number {
    const d = this.#core.lookup(domid);
    if (d === undefined) return -Errno.ESRCH;
    const ret = this.#core.lifecycle(d, { type: "shutdown", reason: SHUTDOWN_crash });
    this.#core.settle();
    return ret;
  }

  /** An HVM triple fault: shutdown(HVM_PARAM_TRIPLE_FAULT_REASON), default reboot. */
  tripleFault(domid: number): number {
    const d = this.#core.lookup(domid);
    if (d === undefined) return -Errno.ESRCH;
    if (!d.hvm) return -Errno.EINVAL;
    const reason = d.hvmParams.get(HVM_PARAM_TRIPLE_FAULT_REASON);
    const ret = this.#core.lifecycle(d, { type: "shutdown", reason });
    this.#core.settle();
    return ret;
  }
}
