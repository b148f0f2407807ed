/**
 * @module
 * The hypervisor's shared machinery, used by the per-hypercall handlers
 * (`hc_*.ts`) and the public {@link Hypervisor} facade: the domain table and
 * domid allocation, applying lifecycle transitions and their effects
 * (including destruction: dying → dead → gone, with VIRQ_DOM_EXC at dead and
 * again when the domain is finally freed, as `domain_kill` and
 * `complete_domain_destroy` do), event-channel signalling, global VIRQs, and
 * the delivery of upcalls to guest kernels.
 *
 * Delivery is asynchronous and deterministic: a hypercall (or timer) that
 * makes a domain's work due marks the domain touched; `settle()` then
 * schedules one dispatch per domain on the injected clock after
 * `eventLatencyNs`. A dispatch runs, in order, vCPU entries (`vcpuRun`),
 * wake-ups, and pending unmasked ports ascending — only while some vCPU of
 * the domain may run, so a paused or suspended guest sees nothing until it
 * runs again.
 */
import type { Clock } from "../sim/clock.ts";
import type { Rng } from "../sim/rng.ts";
import { NULL_TRACE, type Trace, type TraceEvent } from "../sim/trace.ts";
import { assert } from "./assert.ts";
import { Domain, type DomainIdentity } from "./domain.ts";
import type { DomainInfo } from "./domain_info.ts";
import {
  type DomainLifecycle,
  type LifecycleEffect,
  type LifecycleEvent,
  lifecycleVcpuRunnable,
  transition,
} from "./domain_lifecycle.ts";
import { Errno } from "./errno.ts";
import { unmapGrantRef } from "./grant_table.ts";
import type { MachineMemory } from "./machine_memory.ts";
import { copyVcpuContext, runstateOf, type Vcpu } from "./vcpu.ts";
import {
  DOMID_FIRST_RESERVED,
  DOMID_SELF,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_unbound,
  RUNSTATE_running,
  SHUTDOWN_watchdog,
  VIRQ_DOM_EXC,
  XEN_DOMINF_blocked,
  XEN_DOMINF_dying,
  XEN_DOMINF_hap,
  XEN_DOMINF_hvm_guest,
  XEN_DOMINF_paused,
  XEN_DOMINF_running,
  XEN_DOMINF_shutdown,
  XEN_DOMINF_shutdownshift,
  XEN_DOMINF_xs_domain,
} from "./xen_abi.ts";

/** Something that must be let go when its holder domain dies (foreign mappings). */
export interface Releasable {
  release(): void;
}

/** Construction parameters of the core. */
export interface HvCoreConfig {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  readonly mm: MachineMemory;
  readonly eventLatencyNs: number;
  readonly domainsMax: number;
}

/** The hypervisor's state and shared mechanisms. */
export class HvCore {
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  readonly tracing: boolean;
  readonly mm: MachineMemory;
  readonly eventLatencyNs: number;
  readonly domainsMax: number;
  readonly domains = new Map<number, Domain>();
  /** Global VIRQ → handling domain (default: the hardware domain, 0). */
  readonly virqHandlers = new Map<number, number>();
  /** Foreign mappings each domain holds (released when it dies). */
  readonly heldMappings = new Map<Domain, Set<Releasable>>();
  #rover = 0;
  readonly #touched = new Set<Domain>();
  #dispatching: Domain | null = null;

  constructor(cfg: HvCoreConfig) {
    this.clock = cfg.clock;
    this.rng = cfg.rng;
    this.trace = cfg.trace;
    this.tracing = cfg.trace !== NULL_TRACE;
    this.mm = cfg.mm;
    this.eventLatencyNs = cfg.eventLatencyNs;
    this.domainsMax = cfg.domainsMax;
  }

  emit(ev: TraceEvent): void {
    if (this.tracing) this.trace.emit(ev);
  }

  /** The domain with id `domid` (dying and dead-but-referenced ones included). */
  lookup(domid: number): Domain | undefined {
    return this.domains.get(domid);
  }

  /** `DOMID_SELF` → the caller's id. */
  resolve(caller: Domain, domid: number): number {
    return domid === DOMID_SELF ? caller.id : domid;
  }

  // ---------------------------------------------------------------- domains

  /**
   * Picks a domid as XEN_DOMCTL_createdomain does: a requested id in
   * 1..DOMID_FIRST_RESERVED-1 must be free (-EEXIST); otherwise search
   * upwards from the last allocated id, wrapping, skipping 0 (-ENOMEM if
   * none is free).
   */
  allocDomid(requested: number | undefined): number {
    if (requested !== undefined && requested > 0 && requested < DOMID_FIRST_RESERVED) {
      return this.domains.has(requested) ? -Errno.EEXIST : requested;
    }
    let dom = this.#rover + 1;
    for (let tries = 0; tries < DOMID_FIRST_RESERVED; tries++, dom++) {
      if (dom >= DOMID_FIRST_RESERVED) dom = 1;
      if (!this.domains.has(dom)) {
        this.#rover = dom;
        return dom;
      }
    }
    return -Errno.ENOMEM;
  }

  /** Builds and registers a domain (validation is the caller's). */
  addDomain(id: DomainIdentity, lifecycle: DomainLifecycle): Domain {
    assert(!this.domains.has(id.domid), `domid ${id.domid} in use`);
    const d: Domain = new Domain(this.mm, this.clock, id, lifecycle, (wid) => {
      this.#watchdogExpired(d, wid);
      this.settle();
    });
    this.domains.set(d.id, d);
    return d;
  }

  /** A v4 UUID from the Rng. */
  randomUuid(): string {
    const b = this.rng.bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
      h.slice(20)
    }`;
  }

  // --------------------------------------------------------------- lifecycle

  /** Applies a lifecycle event and carries out its effects; returns its ret. */
  lifecycle(d: Domain, event: LifecycleEvent): number {
    const t = transition(d.lifecycle, event);
    d.lifecycle = t.state;
    for (const e of t.effects) this.#effect(d, e);
    this.touch(d);
    return t.ret;
  }

  #effect(d: Domain, e: LifecycleEffect): void {
    switch (e.kind) {
      case "creation_finished":
        this.emit({ src: "hv", dom: d.id, ev: "creation_finished" });
        return;
      case "vcpu_paused_for_shutdown": {
        const v = d.vcpus[e.vcpu];
        v.needsEntry = true;
        v.blocked = false;
        v.stopPolling();
        return;
      }
      case "vcpu_unpaused_for_shutdown":
        return;
      case "shutdown_complete":
        this.emit({ src: "hv", dom: d.id, ev: "shutdown", code: e.code });
        return;
      case "send_suspend_evtchn":
        this.send(d, e.port);
        return;
      case "raise_dom_exc":
        this.raiseGlobalVirq(VIRQ_DOM_EXC);
        return;
      case "reset_evtchns":
        for (const p of d.evtchn.openPorts()) this.close(d, p);
        return;
      case "teardown":
        this.#teardown(d);
        return;
      default:
        assert(false, `unknown effect ${JSON.stringify(e satisfies never)}`);
    }
  }

  /** `domain_kill`'s work between dying and dead. */
  #teardown(d: Domain): void {
    this.emit({ src: "hv", dom: d.id, ev: "dying" });
    for (const p of d.evtchn.openPorts()) this.close(d, p);
    for (const h of d.grants.handles()) {
      const r = unmapGrantRef(d.grants, h, (dom) => this.lookup(dom)?.grants);
      const granter = this.lookup(r.dom);
      if (granter !== undefined) this.dropRef(granter);
    }
    for (const m of this.heldMappings.get(d) ?? []) m.release();
    this.heldMappings.delete(d);
    d.watchdogs.destroy();
    for (const v of d.vcpus) v.stopPolling();
    d.kernel = null;
    d.pendingTriggers.clear();
    d.eventListeners.clear();
    d.portListeners.clear();
    this.lifecycle(d, { type: "relinquished" });
    this.emit({ src: "hv", dom: d.id, ev: "dead", refs: d.refs });
    if (d.refs === 0) this.#free(d);
  }

  /** Another domain took a reference on `d`'s memory (a grant pin, a foreign map). */
  addRef(d: Domain): void {
    d.refs++;
  }

  /** Drops a reference; a dead domain's last reference frees it. */
  dropRef(d: Domain): void {
    assert(d.refs > 0, `d${d.id}: reference count below zero`);
    d.refs--;
    if (d.refs === 0 && d.lifecycle.isDying === "dead" && !d.released) this.#free(d);
  }

  /** Frees a dead domain's resources now and removes it after a clock tick. */
  #free(d: Domain): void {
    d.releaseResources();
    this.clock.setTimer(0, () => {
      if (this.domains.get(d.id) !== d) return;
      this.domains.delete(d.id);
      d.gone = true;
      this.emit({ src: "hv", dom: d.id, ev: "gone" });
      // complete_domain_destroy raises VIRQ_DOM_EXC again.
      this.raiseGlobalVirq(VIRQ_DOM_EXC);
      this.settle();
    });
  }

  #watchdogExpired(d: Domain, id: number): void {
    this.emit({ src: "hv", dom: d.id, ev: "watchdog", id });
    const s = d.lifecycle;
    if (s.shutdownState !== "none" || s.isDying !== "alive") return;
    this.lifecycle(d, { type: "shutdown", reason: SHUTDOWN_watchdog });
  }

  // ---------------------------------------------------------- event channels

  /** Marks `port` of `d` pending, waking pollers and the notify vCPU. */
  setPending(d: Domain, port: number): void {
    if (d.evtchn.stateOf(port) === EVTCHNSTAT_closed) return;
    const wasPending = d.shared.testPending(port);
    const upcall = d.evtchn.setPending(port);
    if (!wasPending) {
      for (const v of d.vcpus) if (v.pollPorts?.includes(port)) this.wake(d, v);
    }
    if (upcall) {
      const v = d.vcpus[d.evtchn.notifyVcpu(port)];
      if (v !== undefined && v.blocked) this.wake(d, v);
      this.touch(d);
    }
  }

  /** Unblocks a vCPU (event, poll hit or poll timeout). */
  wake(d: Domain, v: Vcpu): void {
    if (!v.blocked) return;
    v.blocked = false;
    v.stopPolling();
    v.wakePending = true;
    this.touch(d);
  }

  /** EVTCHNOP_send on `d`'s `port`: 0 or -EINVAL. */
  send(d: Domain, port: number): number {
    const ev = d.evtchn;
    if (!ev.isValid(port)) return -Errno.EINVAL;
    switch (ev.stateOf(port)) {
      case EVTCHNSTAT_interdomain: {
        const rd = this.lookup(ev.remoteDom(port));
        if (rd !== undefined) this.setPending(rd, ev.remotePort(port));
        return 0;
      }
      case EVTCHNSTAT_ipi:
        this.setPending(d, port);
        return 0;
      case EVTCHNSTAT_unbound:
        return 0; // silently dropped, as Xen
      default:
        return -Errno.EINVAL;
    }
  }

  /** EVTCHNOP_close on `d`'s `port`: an interdomain peer becomes unbound. */
  close(d: Domain, port: number): number {
    const ev = d.evtchn;
    if (!ev.isValid(port) || ev.stateOf(port) === EVTCHNSTAT_closed) return -Errno.EINVAL;
    if (ev.stateOf(port) === EVTCHNSTAT_interdomain) {
      const rd = this.lookup(ev.remoteDom(port));
      const rp = ev.remotePort(port);
      if (
        rd !== undefined && rd.evtchn.stateOf(rp) === EVTCHNSTAT_interdomain &&
        rd.evtchn.remoteDom(rp) === d.id && rd.evtchn.remotePort(rp) === port
      ) {
        rd.evtchn.setUnbound(rp, d.id);
      }
    }
    ev.free(port);
    d.portListeners.delete(port);
    return 0;
  }

  /** Raises a per-domain VIRQ bound on `vcpu` of `d`, if bound. */
  sendVirq(d: Domain, virq: number, vcpu: number): void {
    const port = d.evtchn.virqPort(virq, vcpu);
    if (port !== 0) this.setPending(d, port);
  }

  /** `send_global_virq`: to the handling domain's vCPU-0 binding, if any. */
  raiseGlobalVirq(virq: number): void {
    const to = this.virqHandlers.get(virq) ?? 0;
    const d = this.lookup(to) ?? this.lookup(0);
    this.emit({ src: "hv", ev: "virq", virq, to: d?.id ?? -1 });
    if (d !== undefined && d.lifecycle.isDying === "alive") this.sendVirq(d, virq, 0);
  }

  // ---------------------------------------------------------------- delivery

  /** Notes that `d` may have work due (checked by {@link settle}). */
  touch(d: Domain): void {
    this.#touched.add(d);
  }

  /** Updates runstates of touched domains and schedules their dispatches. */
  settle(): void {
    for (const d of this.#touched) {
      this.#touched.delete(d);
      this.#settleOne(d);
    }
  }

  #settleOne(d: Domain): void {
    if (d.gone) return;
    const now = this.clock.nowNs();
    for (const v of d.vcpus) v.setRunstate(runstateOf(v, this.#mayRun(d, v.id)), now);
    if (d.dispatchTimer !== null || this.#dispatching === d || !this.#hasWork(d)) return;
    d.dispatchTimer = this.clock.setTimer(this.eventLatencyNs, () => {
      d.dispatchTimer = null;
      this.#dispatch(d);
      this.touch(d);
      this.settle();
    });
  }

  #mayRun(d: Domain, vcpu: number): boolean {
    return lifecycleVcpuRunnable(d.lifecycle, vcpu) && !d.s3Suspended;
  }

  #hasWork(d: Domain): boolean {
    if (!d.anyVcpuMayRun()) return false;
    const k = d.kernel;
    for (const v of d.vcpus) {
      if (v.needsEntry && k?.vcpuRun !== undefined && d.vcpuMayRun(v.id)) return true;
      if (v.wakePending && k?.wake !== undefined) return true;
    }
    if (d.pendingTriggers.size > 0 && k?.trigger !== undefined) return true;
    for (const p of d.shared.deliverable(d.evtchn.maxPort)) if (d.hasListener(p)) return true;
    return false;
  }

  #dispatch(d: Domain): void {
    if (d.gone || !d.anyVcpuMayRun()) return;
    this.#dispatching = d;
    try {
      const k = d.kernel;
      for (const v of d.vcpus) {
        if (!v.needsEntry || k?.vcpuRun === undefined || !d.vcpuMayRun(v.id)) continue;
        v.needsEntry = false;
        this.emit({ src: "hv", dom: d.id, ev: "vcpu_run", vcpu: v.id, rax: v.ctx.rax });
        k.vcpuRun(v.id, copyVcpuContext(v.ctx));
      }
      for (const v of d.vcpus) {
        if (!v.wakePending || k?.wake === undefined) continue;
        v.wakePending = false;
        k.wake(v.id);
      }
      if (k?.trigger !== undefined) {
        const triggers = [...d.pendingTriggers].sort();
        d.pendingTriggers.clear();
        for (const t of triggers) {
          const [trigger, vcpu] = t.split(":").map(Number);
          this.emit({ src: "hv", dom: d.id, ev: "trigger", trigger, vcpu });
          k.trigger(trigger, vcpu);
        }
      }
      const ports = d.shared.deliverable(d.evtchn.maxPort);
      for (let i = 0; i < d.vcpus.length; i++) if (d.vcpuMayRun(i)) d.shared.clearVcpuPending(i);
      for (const port of ports) {
        if (d.gone || !d.anyVcpuMayRun()) break;
        if (!d.hasListener(port) || !d.shared.testPending(port) || d.shared.testMask(port)) {
          continue;
        }
        d.shared.clearPending(port);
        this.emit({ src: "hv", dom: d.id, ev: "upcall", port });
        const set = d.portListeners.get(port);
        const fns = set !== undefined && set.size > 0 ? set : d.eventListeners;
        for (const fn of [...fns]) fn(port);
      }
    } finally {
      this.#dispatching = null;
    }
  }

  // -------------------------------------------------------------- reporting

  /** getdomaininfo for `d` (flags per §0.3). */
  domainInfo(d: Domain): DomainInfo {
    const now = this.clock.nowNs();
    let flags = XEN_DOMINF_blocked;
    let online = 0;
    let cpuTimeNs = 0;
    for (const v of d.vcpus) {
      cpuTimeNs += v.runstateAt(now).timeNs[RUNSTATE_running];
      if (v.down) continue;
      online++;
      if (!v.blocked) flags &= ~XEN_DOMINF_blocked;
      if (d.vcpuMayRun(v.id) && !v.blocked) flags |= XEN_DOMINF_running;
    }
    const s = d.lifecycle;
    flags = (online > 0 ? flags : 0) |
      (s.isDying === "dead" ? XEN_DOMINF_dying : 0) |
      (s.shutdownState === "complete" ? XEN_DOMINF_shutdown : 0) |
      (s.controllerPauseCount > 0 ? XEN_DOMINF_paused : 0) |
      (d.xsDomain ? XEN_DOMINF_xs_domain : 0) |
      (d.hvm ? XEN_DOMINF_hvm_guest : 0) |
      (d.hap ? XEN_DOMINF_hap : 0) |
      (s.shutdownCode << XEN_DOMINF_shutdownshift);
    return {
      domain: d.id,
      flags: flags >>> 0,
      totPages: d.memory.totPages,
      maxPages: d.memory.maxPages,
      sharedInfoFrame: d.sharedInfoMfn,
      cpuTimeNs,
      nrOnlineVcpus: online,
      maxVcpuId: d.vcpus.length - 1,
      handle: d.handle,
    };
  }
}
