/**
 * @module
 * One domain as the hypervisor holds it: identity (domid, handle, kind,
 * privilege — no name: names are the toolstack's), the §1.1 lifecycle state,
 * vCPUs, memory, shared_info, event channels, grant table, HVM params and
 * watchdogs, plus the hooks of the guest "kernel" that receives upcalls.
 */
import type { Clock, Timer } from "../sim/clock.ts";
import { type DomainLifecycle, lifecycleVcpuRunnable } from "./domain_lifecycle.ts";
import { DomainWatchdogs } from "./domain_watchdogs.ts";
import { EventChannels } from "./event_channels.ts";
import { GrantTable } from "./grant_table.ts";
import { GuestMemory } from "./guest_memory.ts";
import { HvmParams } from "./hvm_params.ts";
import type { MachineMemory } from "./machine_memory.ts";
import { SharedInfoPage } from "./shared_info.ts";
import { Vcpu, type VcpuContext } from "./vcpu.ts";
import { INVALID_PFN } from "./xen_abi.ts";
import { assert } from "./assert.ts";

/**
 * What a domain's kernel registers to be entered by the hypervisor. Every
 * hook is called from a clock event (never inside a hypercall), in a
 * deterministic order: vCPU entries, then wake-ups, then events by port.
 */
export interface GuestKernel {
  /** An upcall for one pending, unmasked port (its pending bit already cleared). */
  event?(port: number): void;
  /**
   * vCPU `vcpu` starts executing from the context the hypervisor holds: its
   * first run, after a shutdown is resumed (RAX = the suspend hypercall's
   * return value, §4), after VCPUOP_up, or after an ACPI S3 wake.
   */
  vcpuRun?(vcpu: number, ctx: VcpuContext): void;
  /** A vCPU blocked in SCHEDOP_block/poll woke up. */
  wake?(vcpu: number): void;
  /** XEN_DOMCTL_sendtrigger: NMI, POWER or SLEEP button. */
  trigger?(trigger: number, vcpu: number): void;
}

/** A domain's fixed identity and limits. */
export interface DomainIdentity {
  readonly domid: number;
  readonly handle: string;
  readonly hvm: boolean;
  readonly hap: boolean;
  readonly xsDomain: boolean;
  readonly privileged: boolean;
  readonly maxEvtchnPort: number;
  readonly maxGrantFrames: number;
  readonly maxMaptrackFrames: number;
}

/** One domain. */
export class Domain {
  readonly id: number;
  readonly handle: string;
  readonly hvm: boolean;
  readonly hap: boolean;
  readonly xsDomain: boolean;
  readonly privileged: boolean;
  lifecycle: DomainLifecycle;
  readonly vcpus: Vcpu[] = [];
  readonly memory: GuestMemory;
  readonly sharedInfoMfn: number;
  readonly shared: SharedInfoPage;
  readonly evtchn: EventChannels;
  readonly grants: GrantTable;
  readonly hvmParams = new HvmParams();
  readonly watchdogs: DomainWatchdogs;
  /** Emulated platform devices carried in the HVM context. */
  hvmDevices: Record<string, unknown> = {};
  /** In ACPI S3 (HVM_PARAM_ACPI_S_STATE = 3). */
  s3Suspended = false;
  /** Grant pins and foreign mappings other domains hold on this domain's memory. */
  refs = 0;
  kernel: GuestKernel | null = null;
  readonly eventListeners = new Set<(port: number) => void>();
  readonly portListeners = new Map<number, Set<(port: number) => void>>();
  /** sendtrigger requests not yet delivered, as "trigger:vcpu" (a latched bit each). */
  readonly pendingTriggers = new Set<string>();
  dispatchTimer: Timer | null = null;
  /** Memory, tables and frames handed back (teardown done or deferred). */
  released = false;
  /** Removed from the domain table. */
  gone = false;
  readonly #mm: MachineMemory;

  constructor(
    mm: MachineMemory,
    clock: Clock,
    id: DomainIdentity,
    lifecycle: DomainLifecycle,
    onWatchdog: (id: number) => void,
  ) {
    this.#mm = mm;
    this.id = id.domid;
    this.handle = id.handle;
    this.hvm = id.hvm;
    this.hap = id.hap;
    this.xsDomain = id.xsDomain;
    this.privileged = id.privileged;
    this.lifecycle = lifecycle;
    for (let i = 0; i < lifecycle.vcpus.length; i++) this.vcpus.push(new Vcpu(i, clock.nowNs()));
    this.memory = new GuestMemory(mm, id.domid);
    const si = mm.alloc(id.domid, INVALID_PFN);
    assert(si >= 0, "no machine frame for shared_info");
    this.sharedInfoMfn = si;
    this.shared = new SharedInfoPage(mm.page(si));
    this.evtchn = new EventChannels(id.maxEvtchnPort, this.shared);
    this.grants = new GrantTable(mm, id.domid, id.maxGrantFrames, id.maxMaptrackFrames);
    this.watchdogs = new DomainWatchdogs(clock, onWatchdog);
  }

  /** Whether vCPU `i` may execute now (lifecycle allows it and it is online). */
  vcpuMayRun(i: number): boolean {
    const v = this.vcpus[i];
    return v !== undefined && !v.down && lifecycleVcpuRunnable(this.lifecycle, i) &&
      !this.s3Suspended;
  }

  /** Whether some vCPU of the domain may execute (events can be delivered). */
  anyVcpuMayRun(): boolean {
    for (let i = 0; i < this.vcpus.length; i++) if (this.vcpuMayRun(i)) return true;
    return false;
  }

  /** Whether someone will consume an upcall on `port`. */
  hasListener(port: number): boolean {
    const set = this.portListeners.get(port);
    return (set !== undefined && set.size > 0) || this.eventListeners.size > 0;
  }

  /** Frees memory, grant frames and shared_info (once nobody references them). */
  releaseResources(): void {
    assert(!this.released && this.refs === 0, `d${this.id}: release with ${this.refs} refs`);
    this.released = true;
    this.memory.releaseAll();
    this.grants.release();
    this.#mm.free(this.sharedInfoMfn);
  }
}
