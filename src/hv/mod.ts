/**
 * @module
 * The emulated hypervisor's public surface (re-exports only): the
 * {@link Hypervisor} with its typed hypercall interface, Xen's ABI numbers,
 * the binary codecs guests and toolstack share (start_info, HVM params,
 * HVM context, domain info flags), the xenstored adapter, and the pure
 * domain lifecycle machine.
 */
export * from "./xen_abi.ts";
export { Errno, type ErrnoName, retName } from "./errno.ts";
export type * from "./hypercall.ts";
export {
  DOMAINS_MAX_DEFAULT,
  FOREIGN_MAPPINGS_MAX_DEFAULT,
  type ForeignMapResult,
  Hypervisor,
  type HypervisorOptions,
  LISTENERS_MAX,
  TRACE_ARRAY_MAX,
} from "./hypervisor.ts";
export type { GuestKernel } from "./domain.ts";
export { FOREIGN_MAP_PAGES_MAX, ForeignMapping } from "./foreign_mapping.ts";
export { GrantPage } from "./grant_page.ts";
export { GNTPIN_COUNT_MAX, type GrantEntryV1 } from "./grant_table.ts";
export type { EvtchnStatus } from "./event_channels.ts";
export { decodeDominf, type DomainInfo, type DominfFlags, xlStateString } from "./domain_info.ts";
export {
  type DomainInfoSource,
  domainInfoSource,
  type DomainInfoSummary,
} from "./domain_info_source.ts";
export {
  bootLifecycle,
  CONTROLLER_PAUSE_MAX,
  createdLifecycle,
  type DomainLifecycle,
  type LifecycleEffect,
  type LifecycleEvent,
  transition,
} from "./domain_lifecycle.ts";
export {
  copyVcpuContext,
  emptyVcpuContext,
  parseVcpuContext,
  type RunstateInfo,
  type VcpuContext,
} from "./vcpu.ts";
export * from "./start_info.ts";
export * from "./hvm_params.ts";
export { decodeHvmContext, encodeHvmContext, type HvmContext } from "./hvm_context.ts";
export { S3_RESET_CS_BASE, S3_RESET_RIP } from "./hc_hvm_op.ts";
export { MEMORY_OP_EXTENTS_MAX } from "./hc_memory_op.ts";
export { GUEST_PFNS_MAX } from "./guest_memory.ts";
export { MACHINE_FRAMES_DEFAULT, MACHINE_FRAMES_MAX } from "./machine_memory.ts";
export * from "./shared_info.ts";
