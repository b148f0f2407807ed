/**
 * @module
 * The HVM context blob of XEN_DOMCTL_gethvmcontext / sethvmcontext and of
 * the HVM_CONTEXT save record (§5.1). Xen's blob is a sequence of typed save
 * records (CPU, LAPIC, PIC, IOAPIC, PIT, RTC, ...); xenlab's is opaque to its
 * users and holds what our HVM guests have: each vCPU's register context and
 * online state, plus the platform's emulated-device state as an arbitrary
 * JSON record. Loading a CPU record initialises the vCPU and brings it
 * online, as `hvm_load_cpu_ctxt` does.
 */
import { parseVcpuContext, type VcpuContext } from "./vcpu.ts";

/** Tag of the blob's format. */
export const HVM_CONTEXT_FORMAT = "xenlab-hvm-context-1";

/** One vCPU's record. */
export interface HvmCpuRecord {
  id: number;
  online: boolean;
  ctx: VcpuContext;
}

/** The decoded blob. */
export interface HvmContext {
  cpus: HvmCpuRecord[];
  /** Emulated platform devices (LAPIC, PIT, RTC, ... as the guest model keeps them). */
  devices: Record<string, unknown>;
}

/** Encodes a context as the opaque blob string. */
export function encodeHvmContext(c: HvmContext): string {
  return JSON.stringify({ format: HVM_CONTEXT_FORMAT, cpus: c.cpus, devices: c.devices });
}

/** Decodes a blob, or undefined if it is not one of ours (sethvmcontext → -EINVAL). */
export function decodeHvmContext(blob: unknown): HvmContext | undefined {
  if (typeof blob !== "string") return undefined;
  let o: unknown;
  try {
    o = JSON.parse(blob);
  } catch {
    return undefined;
  }
  if (typeof o !== "object" || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (r.format !== HVM_CONTEXT_FORMAT || !Array.isArray(r.cpus)) return undefined;
  const devices = r.devices;
  if (typeof devices !== "object" || devices === null || Array.isArray(devices)) return undefined;
  const cpus: HvmCpuRecord[] = [];
  for (const c of r.cpus) {
    if (typeof c !== "object" || c === null) return undefined;
    const { id, online, ctx } = c as Record<string, unknown>;
    const parsed = parseVcpuContext(ctx);
    if (!Number.isInteger(id) || typeof online !== "boolean" || parsed === undefined) {
      return undefined;
    }
    cpus.push({ id: id as number, online, ctx: parsed });
  }
  return { cpus, devices: devices as Record<string, unknown> };
}
