/**
 * @module
 * Xen's public ABI numbers used by the emulated hypervisor: the constant
 * tables of lifecycle-and-migration.md §0, with the spellings of
 * `xen/include/public/{xen.h,sched.h,domctl.h,event_channel.h,grant_table.h,
 * vcpu.h,memory.h,hvm/params.h}`. Everything else in `src/hv` and its users
 * (toolstack, guest agents) take these numbers from here.
 */

/** x86 page size (`PAGE_SHIFT` 12). */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** §0.1 hypercall numbers (`__HYPERVISOR_*`), by our hypercall names. */
export const HYPERVISOR_NR = {
  memory_op: 12,
  grant_table_op: 20,
  vcpu_op: 24,
  sched_op: 29,
  event_channel_op: 32,
  hvm_op: 34,
  sysctl: 35,
  domctl: 36,
} as const;

// ---- domids (xen.h) ----
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_IDLE = 0x7fff;

// ---- §0.2 sched_op ----
export const SCHEDOP_yield = 0;
export const SCHEDOP_block = 1;
export const SCHEDOP_shutdown = 2;
export const SCHEDOP_poll = 3;
export const SCHEDOP_remote_shutdown = 4;
export const SCHEDOP_shutdown_code = 5;
export const SCHEDOP_watchdog = 6;

export const SHUTDOWN_poweroff = 0;
export const SHUTDOWN_reboot = 1;
export const SHUTDOWN_suspend = 2;
export const SHUTDOWN_crash = 3;
export const SHUTDOWN_watchdog = 4;
export const SHUTDOWN_soft_reset = 5;
export const SHUTDOWN_MAX = 5;
/** A shutdown reason code (0..SHUTDOWN_MAX). */
export type ShutdownReason = 0 | 1 | 2 | 3 | 4 | 5;
/** `SHUTDOWN_CODE_INVALID` (`~0u`): no code latched (§1.1). */
export const SHUTDOWN_CODE_INVALID = 0xffffffff;
/** xl's reason letters, indexed by reason (§1.2): `"-rscwS"`. */
export const SHUTDOWN_REASON_LETTERS = "-rscwS";
const SHUTDOWN_NAMES = ["poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"];
/** `"suspend"` for 2, and so on; the number itself for unknown codes. */
export function shutdownReasonName(reason: number): string {
  return SHUTDOWN_NAMES[reason] ?? String(reason);
}

/** `NR_DOMAIN_WATCHDOG_TIMERS` (§0.2). */
export const NR_DOMAIN_WATCHDOG_TIMERS = 2;
/** `do_poll` refuses more ports than this (`sched_poll.nr_ports > 128`). */
export const SCHEDOP_POLL_PORTS_MAX = 128;

// ---- §0.3 domctl ----
export const XEN_DOMCTL_createdomain = 1;
export const XEN_DOMCTL_destroydomain = 2;
export const XEN_DOMCTL_pausedomain = 3;
export const XEN_DOMCTL_unpausedomain = 4;
export const XEN_DOMCTL_getdomaininfo = 5;
export const XEN_DOMCTL_shadow_op = 10;
export const XEN_DOMCTL_max_mem = 11;
export const XEN_DOMCTL_setvcpucontext = 12;
export const XEN_DOMCTL_getvcpucontext = 13;
export const XEN_DOMCTL_max_vcpus = 15;
export const XEN_DOMCTL_resumedomain = 27;
export const XEN_DOMCTL_sendtrigger = 28;
export const XEN_DOMCTL_subscribe = 29;
export const XEN_DOMCTL_gethvmcontext = 33;
export const XEN_DOMCTL_sethvmcontext = 34;
export const XEN_DOMCTL_set_virq_handler = 66;
export const XEN_DOMCTL_soft_reset = 79;

export const XEN_DOMCTL_SHADOW_OP_OFF = 0;
export const XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY = 2;
export const XEN_DOMCTL_SHADOW_OP_CLEAN = 11;
export const XEN_DOMCTL_SHADOW_OP_PEEK = 12;
/** shadow_op `mode` flag for the final CLEAN of a migration (§5.3 step 5). */
export const XEN_DOMCTL_SHADOW_LOGDIRTY_FINAL = 1;

export const XEN_DOMCTL_SENDTRIGGER_NMI = 0;
export const XEN_DOMCTL_SENDTRIGGER_RESET = 1;
export const XEN_DOMCTL_SENDTRIGGER_INIT = 2;
export const XEN_DOMCTL_SENDTRIGGER_POWER = 3;
export const XEN_DOMCTL_SENDTRIGGER_SLEEP = 4;

export const XEN_DOMINF_dying = 1 << 0;
export const XEN_DOMINF_hvm_guest = 1 << 1;
export const XEN_DOMINF_shutdown = 1 << 2;
export const XEN_DOMINF_paused = 1 << 3;
export const XEN_DOMINF_blocked = 1 << 4;
export const XEN_DOMINF_running = 1 << 5;
export const XEN_DOMINF_debugged = 1 << 6;
export const XEN_DOMINF_xs_domain = 1 << 7;
export const XEN_DOMINF_hap = 1 << 8;
export const XEN_DOMINF_shutdownshift = 16;
export const XEN_DOMINF_shutdownmask = 0xff;

export const XEN_SYSCTL_getdomaininfolist = 6;

// ---- §0.4 event channels ----
export const EVTCHNOP_bind_interdomain = 0;
export const EVTCHNOP_bind_virq = 1;
export const EVTCHNOP_close = 3;
export const EVTCHNOP_send = 4;
export const EVTCHNOP_status = 5;
export const EVTCHNOP_alloc_unbound = 6;
export const EVTCHNOP_bind_ipi = 7;
export const EVTCHNOP_bind_vcpu = 8;
export const EVTCHNOP_unmask = 9;
export const EVTCHNOP_reset = 10;

export const EVTCHNSTAT_closed = 0;
export const EVTCHNSTAT_unbound = 1;
export const EVTCHNSTAT_interdomain = 2;
export const EVTCHNSTAT_pirq = 3;
export const EVTCHNSTAT_virq = 4;
export const EVTCHNSTAT_ipi = 5;

export const VIRQ_TIMER = 0;
export const VIRQ_DEBUG = 1;
export const VIRQ_CONSOLE = 2;
export const VIRQ_DOM_EXC = 3;
export const VIRQ_TBUF = 4;
export const VIRQ_DEBUGGER = 6;
export const VIRQ_XENOPROF = 7;
export const VIRQ_CON_RING = 8;
export const VIRQ_PCPU_STATE = 9;
export const VIRQ_MEM_EVENT = 10;
export const VIRQ_ARGO = 11;
export const VIRQ_ENOMEM = 12;
export const VIRQ_XENPMU = 13;
export const NR_VIRQS = 24;
/**
 * Per-vCPU VIRQs (`get_virq_type` → VIRQ_VCPU); every other VIRQ is global:
 * bound on vCPU 0 and raised for the whole host, delivered to the domain
 * that handles it (the hardware domain unless `set_virq_handler` moved it).
 */
export function virqIsGlobal(virq: number): boolean {
  return virq !== VIRQ_TIMER && virq !== VIRQ_DEBUG && virq !== VIRQ_XENOPROF &&
    virq !== VIRQ_XENPMU;
}

/** 2-level ABI capacity for 64-bit guests (`EVTCHN_2L_NR_CHANNELS`). */
export const EVTCHN_2L_NR_CHANNELS = 4096;
/** libxl's default `max_event_channels` (xl.cfg), used as `max_evtchn_port`. */
export const EVTCHN_PORT_MAX_DEFAULT = 1023;

// ---- §0.4 grant tables ----
export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_dump_table = 3;
export const GNTTABOP_query_size = 6;

export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GTF_PWT = 1 << 5;
export const GTF_PCD = 1 << 6;
export const GTF_PAT = 1 << 7;
export const GTF_sub_page = 1 << 8;

export const GNTMAP_device_map = 1 << 0;
export const GNTMAP_host_map = 1 << 1;
export const GNTMAP_readonly = 1 << 2;
export const GNTMAP_application_map = 1 << 3;
export const GNTMAP_contains_pte = 1 << 4;

export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_bad_dev_addr = -6;
export const GNTST_no_device_space = -7;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;
export const GNTST_address_too_big = -11;
export const GNTST_eagain = -12;
export const GNTST_no_space = -13;

/** v1 entry: `uint16 flags, domid_t domid, uint32 frame`. */
export const GRANT_ENTRY_V1_BYTES = 8;
export const GRANT_ENTRIES_PER_FRAME = PAGE_SIZE / GRANT_ENTRY_V1_BYTES;
export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;
/** Frames a new grant table starts with (`INITIAL_NR_GRANT_FRAMES`). */
export const INITIAL_NR_GRANT_FRAMES = 1;
/** Xen's default `gnttab_max_frames` (`opt_max_grant_frames`). */
export const GRANT_FRAMES_MAX_DEFAULT = 64;
/** Xen's default `gnttab_max_maptrack_frames`. */
export const MAPTRACK_FRAMES_MAX_DEFAULT = 1024;
/** `struct grant_mapping` is 16 bytes: 256 handles per maptrack frame. */
export const MAPTRACK_PER_PAGE = PAGE_SIZE / 16;

// ---- §0.4 vcpu_op ----
export const VCPUOP_initialise = 0;
export const VCPUOP_up = 1;
export const VCPUOP_down = 2;
export const VCPUOP_is_up = 3;
export const VCPUOP_get_runstate_info = 4;
export const VCPUOP_register_runstate_memory_area = 5;
export const VCPUOP_register_vcpu_info = 10;

export const RUNSTATE_running = 0;
export const RUNSTATE_runnable = 1;
export const RUNSTATE_blocked = 2;
export const RUNSTATE_offline = 3;

/** `vcpu_guest_context.flags`: the vCPU is online once the context is set. */
export const VGCF_online = 1 << 5;
/** Largest vCPU count a domain may have (`HVM_MAX_VCPUS`). */
export const VCPUS_MAX = 128;

// ---- §0.4 memory_op ----
export const XENMEM_increase_reservation = 0;
export const XENMEM_decrease_reservation = 1;
export const XENMEM_maximum_ram_page = 2;
export const XENMEM_current_reservation = 3;
export const XENMEM_maximum_reservation = 4;
export const XENMEM_machphys_mfn_list = 5;
export const XENMEM_populate_physmap = 6;
export const XENMEM_add_to_physmap = 7;
/** Removed from Xen long ago; kept by xenlab as the pfn→mfn query (see memory_op). */
export const XENMEM_translate_gpfn_list = 8;
export const XENMEM_maximum_gpfn = 14;

export const XENMAPSPACE_shared_info = 0;
export const XENMAPSPACE_grant_table = 1;

/** Largest extent order a guest may ask for (Xen's `domu_max_order`). */
export const EXTENT_ORDER_MAX_GUEST = 9;
/** Largest extent order a control domain may ask for (`ctldom_max_order`). */
export const EXTENT_ORDER_MAX_CTLDOM = 12;

/** A p2m slot without a frame. */
export const INVALID_MFN = 0xffffffff;
/** An m2p slot without a pfn. */
export const INVALID_PFN = 0xffffffff;

// ---- §0.4 hvm_op ----
export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;
