/**
 * @module
 * The one typed hypercall interface: requests are a discriminated union keyed
 * by hypercall (`hc`) and sub-op (`op`), with Xen's names (§0); every reply
 * carries `ret`, ≥ 0 on success or `-errno` (Linux numbering, `errno.ts`),
 * plus the op's OUT fields. Grant-table ops, like Xen's, return `ret` 0 and a
 * per-op `GNTST_*` `status`.
 *
 * Requests and replies are plain JSON (numbers, strings, arrays, objects), so
 * a transport can carry them from a guest process bound to its domain. Page
 * contents never travel here: bulk bytes go through the hypervisor's
 * binary-friendly paths (`guestRead`/`guestWrite`, foreign mappings, grant
 * mappings).
 *
 * Domain ids in requests may be `DOMID_SELF` where Xen allows it.
 * Operations marked "xenlab" stand for something a real guest does by
 * writing shared memory (a grant entry, an event-channel mask bit) or for a
 * removed Xen op kept for convenience; each says so.
 */
import type { DomainInfo } from "./domain_info.ts";
import type { EvtchnStatus } from "./event_channels.ts";
import type { GrantEntryV1 } from "./grant_table.ts";
import type { RunstateInfo, VcpuContext } from "./vcpu.ts";

// ---------------------------------------------------------------- sched_op

/** `sched_op` (29). `vcpu` defaults to 0: the calling vCPU. */
export type SchedOpCall =
  | { hc: "sched_op"; op: "yield"; vcpu?: number }
  | { hc: "sched_op"; op: "block"; vcpu?: number }
  /**
   * SHUTDOWN_* `reason`; for SHUTDOWN_suspend a PV guest passes its
   * start_info MFN as `arg` (the third hypercall argument, kept in RDX).
   * The synchronous `ret` 0 only acknowledges: the guest "returns" from the
   * hypercall when its vCPU next runs (`GuestKernel.vcpuRun`, RAX = 0 or 1).
   */
  | { hc: "sched_op"; op: "shutdown"; reason: number; arg?: number; vcpu?: number }
  /** Block until one of `ports` is pending or `timeoutNs` (absolute; 0 = none). */
  | { hc: "sched_op"; op: "poll"; ports: number[]; timeoutNs: number; vcpu?: number }
  | { hc: "sched_op"; op: "remote_shutdown"; domid: number; reason: number }
  | { hc: "sched_op"; op: "shutdown_code"; reason: number }
  /** `id` 0 arms a new watchdog (ret = its id); `timeoutS` 0 disarms. */
  | { hc: "sched_op"; op: "watchdog"; id: number; timeoutS: number };

// ------------------------------------------------------------------ domctl

/** `xen_domctl_createdomain`, with named flags. JSON. */
export interface CreateDomainConfig {
  /** `xen_domain_handle_t` as a UUID string; drawn from the Rng when absent. */
  handle?: string;
  /** XEN_DOMCTL_CDF_hvm. */
  hvm?: boolean;
  /** XEN_DOMCTL_CDF_hap. */
  hap?: boolean;
  /** XEN_DOMCTL_CDF_xs_domain: may call getdomaininfo (a xenstore stub domain). */
  xsDomain?: boolean;
  /** xenlab: a toolstack/driver domain with dom0's privileges. */
  privileged?: boolean;
  maxVcpus: number;
  /** `max_evtchn_port`; default EVTCHN_PORT_MAX_DEFAULT (1023). */
  maxEvtchnPort?: number;
  /** `max_grant_frames`; default 64. */
  maxGrantFrames?: number;
  /** `max_maptrack_frames`; default 1024. */
  maxMaptrackFrames?: number;
}

export type DomctlCall =
  /** `domid` absent or 0 (or ≥ DOMID_FIRST_RESERVED): Xen picks one. */
  | { hc: "domctl"; op: "createdomain"; domid?: number; config: CreateDomainConfig }
  | { hc: "domctl"; op: "destroydomain"; domid: number }
  | { hc: "domctl"; op: "pausedomain"; domid: number }
  | { hc: "domctl"; op: "unpausedomain"; domid: number }
  | { hc: "domctl"; op: "getdomaininfo"; domid: number }
  | { hc: "domctl"; op: "resumedomain"; domid: number }
  | { hc: "domctl"; op: "soft_reset"; domid: number }
  /** `ctx` null resets the vCPU (down, uninitialised), as libxc does for secondaries. */
  | { hc: "domctl"; op: "setvcpucontext"; domid: number; vcpu: number; ctx: VcpuContext | null }
  | { hc: "domctl"; op: "getvcpucontext"; domid: number; vcpu: number }
  | { hc: "domctl"; op: "max_vcpus"; domid: number; max: number }
  | { hc: "domctl"; op: "max_mem"; domid: number; maxMemKb: number }
  /** `shadowOp`: XEN_DOMCTL_SHADOW_OP_{OFF,ENABLE_LOGDIRTY,CLEAN,PEEK}; `mode` may carry LOGDIRTY_FINAL. */
  | {
    hc: "domctl";
    op: "shadow_op";
    domid: number;
    shadowOp: number;
    mode?: number;
    pages?: number;
  }
  | { hc: "domctl"; op: "subscribe"; domid: number; port: number }
  | { hc: "domctl"; op: "gethvmcontext"; domid: number }
  | { hc: "domctl"; op: "sethvmcontext"; domid: number; blob: string }
  /** XEN_DOMCTL_SENDTRIGGER_*. */
  | { hc: "domctl"; op: "sendtrigger"; domid: number; trigger: number; vcpu: number }
  | { hc: "domctl"; op: "set_virq_handler"; domid: number; virq: number };

export type SysctlCall = {
  hc: "sysctl";
  op: "getdomaininfolist";
  firstDomain: number;
  maxDomains: number;
};

// --------------------------------------------------------------- memory_op

export type MemoryOpCall =
  /** Populates 2^extentOrder pages at each gpfn; ret = extents done; `mfns` per extent. */
  | { hc: "memory_op"; op: "populate_physmap"; domid: number; extentOrder: number; gpfns: number[] }
  /** Frees 2^extentOrder pages at each gpfn; ret = extents done. */
  | {
    hc: "memory_op";
    op: "decrease_reservation";
    domid: number;
    extentOrder: number;
    gpfns: number[];
  }
  /** ret = tot_pages. */
  | { hc: "memory_op"; op: "current_reservation"; domid: number }
  /** ret = max_pages. */
  | { hc: "memory_op"; op: "maximum_reservation"; domid: number }
  /** ret = highest gpfn. */
  | { hc: "memory_op"; op: "maximum_gpfn"; domid: number }
  /** XENMAPSPACE_shared_info (idx 0) or XENMAPSPACE_grant_table (idx = frame) at `gpfn`. */
  | {
    hc: "memory_op";
    op: "add_to_physmap";
    domid: number;
    space: number;
    idx: number;
    gpfn: number;
  }
  /** pfn → mfn (removed from Xen; xenlab keeps it since its p2m is the hypervisor's). */
  | { hc: "memory_op"; op: "translate_gpfn_list"; domid: number; gpfns: number[] }
  /** mfn → pfn, what a PV guest reads from Xen's read-only M2P table (xenlab op). */
  | { hc: "memory_op"; op: "machphys_lookup"; mfns: number[] };

// -------------------------------------------------------- event_channel_op

export type EventChannelOpCall =
  | { hc: "event_channel_op"; op: "alloc_unbound"; dom: number; remoteDom: number }
  | { hc: "event_channel_op"; op: "bind_interdomain"; remoteDom: number; remotePort: number }
  | { hc: "event_channel_op"; op: "bind_virq"; virq: number; vcpu: number }
  | { hc: "event_channel_op"; op: "bind_ipi"; vcpu: number }
  | { hc: "event_channel_op"; op: "bind_vcpu"; port: number; vcpu: number }
  | { hc: "event_channel_op"; op: "close"; port: number }
  | { hc: "event_channel_op"; op: "send"; port: number }
  | { hc: "event_channel_op"; op: "status"; dom: number; port: number }
  | { hc: "event_channel_op"; op: "unmask"; port: number }
  | { hc: "event_channel_op"; op: "reset"; dom: number }
  /** xenlab: the guest setting `evtchn_mask[port]` in its shared_info page. */
  | { hc: "event_channel_op"; op: "mask"; port: number };

// ---------------------------------------------------------- grant_table_op

export type GrantTableOpCall =
  | { hc: "grant_table_op"; op: "setup_table"; dom: number; nrFrames: number }
  | { hc: "grant_table_op"; op: "query_size"; dom: number }
  /** GNTMAP_* `flags`; `dom` is the granter. OUT: status, handle, devBusAddr. */
  | {
    hc: "grant_table_op";
    op: "map_grant_ref";
    dom: number;
    ref: number;
    flags: number;
    hostAddr?: number;
  }
  | {
    hc: "grant_table_op";
    op: "unmap_grant_ref";
    handle: number;
    hostAddr?: number;
    devBusAddr?: number;
  }
  /** Xen prints the table to its console; xenlab returns the valid entries. */
  | { hc: "grant_table_op"; op: "dump_table"; dom: number }
  /** xenlab: the guest writing entry `ref` (Linux gnttab_grant_foreign_access_ref). */
  | {
    hc: "grant_table_op";
    op: "grant_access";
    ref: number;
    domid: number;
    frame: number;
    readonly: boolean;
  }
  /** xenlab: the guest clearing entry `ref`; -EBUSY while mapped. */
  | { hc: "grant_table_op"; op: "end_access"; ref: number }
  /** xenlab: libxenguest's xc_dom_gnttab_seed (toolstack writes entries 0 and 1). */
  | {
    hc: "grant_table_op";
    op: "seed";
    dom: number;
    consoleGfn: number;
    consoleDomid: number;
    xenstoreGfn: number;
    xenstoreDomid: number;
  };

// ------------------------------------------------------------------ hvm_op

export type HvmOpCall =
  | { hc: "hvm_op"; op: "set_param"; domid: number; index: number; value: number }
  | { hc: "hvm_op"; op: "get_param"; domid: number; index: number };

// ----------------------------------------------------------------- vcpu_op

export type VcpuOpCall =
  | { hc: "vcpu_op"; op: "initialise"; vcpu: number; ctx: VcpuContext }
  | { hc: "vcpu_op"; op: "up"; vcpu: number }
  | { hc: "vcpu_op"; op: "down"; vcpu: number }
  /** ret = 1 if up, 0 if down. */
  | { hc: "vcpu_op"; op: "is_up"; vcpu: number }
  | { hc: "vcpu_op"; op: "get_runstate_info"; vcpu: number }
  | { hc: "vcpu_op"; op: "register_runstate_memory_area"; vcpu: number; addr: number }
  | { hc: "vcpu_op"; op: "register_vcpu_info"; vcpu: number; mfn: number; offset: number };

/** Every hypercall. */
export type Hypercall =
  | SchedOpCall
  | DomctlCall
  | SysctlCall
  | MemoryOpCall
  | EventChannelOpCall
  | GrantTableOpCall
  | HvmOpCall
  | VcpuOpCall;

/** The names of the hypercalls. */
export type HypercallName = Hypercall["hc"];

// ----------------------------------------------------------------- results

/** Every reply has `ret`. */
export interface Ret {
  ret: number;
}

/** A grant-table reply: `ret` 0 and the per-op status. */
export interface GntRet extends Ret {
  status: number;
}

/** OUT fields per `hc.op`; ops not listed reply with just {@link Ret}. */
export interface HypercallOutputs {
  "sched_op.poll": Ret & { ready?: boolean };
  "domctl.createdomain": Ret & { domid?: number };
  "domctl.getdomaininfo": Ret & { info?: DomainInfo };
  "domctl.getvcpucontext": Ret & { ctx?: VcpuContext };
  "domctl.gethvmcontext": Ret & { blob?: string };
  /** CLEAN/PEEK: pages scanned, dirty count, and the dirty pfns ascending. */
  "domctl.shadow_op": Ret & { pages?: number; dirtyCount?: number; dirty?: number[] };
  "sysctl.getdomaininfolist": Ret & { infos?: DomainInfo[] };
  "memory_op.populate_physmap": Ret & { mfns?: number[] };
  "memory_op.translate_gpfn_list": Ret & { mfns?: number[] };
  "memory_op.machphys_lookup": Ret & { pfns?: number[] };
  "event_channel_op.alloc_unbound": Ret & { port?: number };
  "event_channel_op.bind_interdomain": Ret & { localPort?: number };
  "event_channel_op.bind_virq": Ret & { port?: number };
  "event_channel_op.bind_ipi": Ret & { port?: number };
  "event_channel_op.status": Ret & { status?: EvtchnStatus };
  "grant_table_op.setup_table": GntRet & { frameList?: number[] };
  "grant_table_op.query_size": GntRet & { nrFrames?: number; maxNrFrames?: number };
  "grant_table_op.map_grant_ref": GntRet & { handle?: number; devBusAddr?: number };
  "grant_table_op.unmap_grant_ref": GntRet;
  "grant_table_op.dump_table": GntRet & { entries?: GrantEntryV1[] };
  "hvm_op.get_param": Ret & { value?: number };
  "vcpu_op.get_runstate_info": Ret & { runstate?: RunstateInfo };
}

/** `"domctl.getdomaininfo"` for a getdomaininfo call, etc. */
export type HypercallKey<C extends Hypercall> = `${C["hc"]}.${C["op"]}`;

/** The reply type of call `C`. */
export type HypercallResult<C extends Hypercall> = HypercallKey<C> extends keyof HypercallOutputs
  ? HypercallOutputs[HypercallKey<C>]
  : Ret;

/** Any reply (what a transport carries back). */
export type AnyHypercallResult = Ret & Record<string, unknown>;
