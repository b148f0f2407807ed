/**
 * @module
 * CPU state between the emulated hypervisor's domctls and the save
 * stream's blobs (lifecycle-and-migration.md §5.1): a PV vCPU's
 * `getvcpucontext` ↔ the 5168-byte `vcpu_guest_context` of
 * X86_PV_VCPU_BASIC, and `gethvmcontext` ↔ Xen's HVM save context (HEADER,
 * CPU, LAPIC, LAPIC_REGS, END) of HVM_CONTEXT.
 *
 * As on Xen: a PV context's cr3 travels as a pfn (`xen_cr3_to_pfn`, the
 * saver converts, the restorer converts back); an HVM vCPU that is down has
 * no CPU record and stays down on restore (`hvm_save_cpu_ctxt`). Registers
 * Xen's layouts have no place for are not carried.
 */
import { decodeHvmContext, encodeHvmContext, type HvmCpuRecord } from "../../hv/hvm_context.ts";
import { emptyVcpuContext, VCPU_REGISTERS, type VcpuContext } from "../../hv/vcpu.ts";
import { VGCF_online } from "../../hv/xen_abi.ts";
import {
  buildHvmContext,
  decodeHvmHwCpu,
  decodeHvmSaveContext,
  HVM_HW_CPU,
  HvmSaveCode,
} from "../save/hvm_save_context.ts";
import {
  decodeVcpuGuestContext,
  encodeVcpuGuestContext,
  VCPU_GUEST_CONTEXT_X86_64,
  type VcpuGuestContextValues,
} from "../save/vcpu_guest_context.ts";

/** The CPUID family/model/stepping xenlab's vCPUs report (leaf 1 EAX). */
export const XENLAB_CPUID_SIGNATURE = 0x000906ea;
/** The guest TSC rate xenlab's vCPUs run at, in kHz. */
export const XENLAB_TSC_KHZ = 2_400_000;

const DEFAULT_FPU = { fcw: 0x37fn, mxcsr: 0x1f80n } as Record<string, bigint>;
const NAMED = new Set<string>(VCPU_REGISTERS);

function toBig(v: number): bigint {
  return BigInt.asUintN(64, BigInt(Math.trunc(v)));
}

/** Extra registers the layout has a field for (others are dropped). */
function extras(ctx: VcpuContext, layout: object): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(ctx.regs)) {
    if (k in layout && !NAMED.has(k)) out[k] = toBig(v);
  }
  return out;
}

/** Non-default fields of a decoded blob that are not named registers, as `regs`. */
function regsFrom(
  fields: Record<string, bigint>,
  skip: ReadonlySet<string>,
): Record<string, number> {
  const regs: Record<string, number> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (skip.has(k) || v === (DEFAULT_FPU[k] ?? 0n)) continue;
    regs[k] = Number(v);
  }
  return regs;
}

/**
 * A PV vCPU's X86_PV_VCPU_BASIC blob; `mfnToPfn` converts cr3's frame (the
 * saver's `mfn_to_pfn`).
 */
export function pvVcpuBlob(ctx: VcpuContext, mfnToPfn: (mfn: number) => number): Uint8Array {
  const values: VcpuGuestContextValues = {
    ...extras(ctx, VCPU_GUEST_CONTEXT_X86_64),
    flags: toBig(ctx.flags),
    rax: toBig(ctx.rax),
    rbx: toBig(ctx.rbx),
    rcx: toBig(ctx.rcx),
    rdx: toBig(ctx.rdx),
    rsi: toBig(ctx.rsi),
    rdi: toBig(ctx.rdi),
    rsp: toBig(ctx.rsp),
    rbp: toBig(ctx.rbp),
    rip: toBig(ctx.rip),
    rflags: toBig(ctx.rflags),
    cr3: ctx.cr3 === 0 ? 0n : toBig(mfnToPfn(ctx.cr3 >>> 12) * 4096),
  };
  return encodeVcpuGuestContext(values);
}

/**
 * The context a PV restore gives `setvcpucontext`; `pfnToMfn` converts
 * cr3 back. Throws on a blob of the wrong size.
 */
export function pvVcpuContext(blob: Uint8Array, pfnToMfn: (pfn: number) => number): VcpuContext {
  const d = decodeVcpuGuestContext(blob);
  if (!d.ok) throw new Error(`X86_PV_VCPU_BASIC: ${d.reason}`);
  const f = d.value;
  const ctx = emptyVcpuContext();
  for (const r of VCPU_REGISTERS) {
    if (r !== "cr3") ctx[r] = Number(f[r]);
  }
  ctx.cr3 = f.cr3 === 0n ? 0 : pfnToMfn(Number(f.cr3 >> 12n)) * 4096;
  ctx.regs = regsFrom(f, NAMED);
  return ctx;
}

/** Xen's HVM context blob for `gethvmcontext`'s answer. */
export function hvmContextBlob(hvBlob: string): Uint8Array {
  const c = decodeHvmContext(hvBlob);
  if (c === undefined) throw new Error("gethvmcontext returned a blob that is not an HVM context");
  const online = c.cpus.filter((r) => r.online).sort((a, b) => a.id - b.id);
  // Instances must be dense from 0 for buildHvmContext; a hole means a vCPU
  // in the middle is down, which the layout below would misnumber.
  if (online.some((r, i) => r.id !== i)) {
    throw new Error(`HVM context: online vCPUs ${online.map((r) => r.id)} are not 0..n-1`);
  }
  return buildHvmContext({
    cpuid: XENLAB_CPUID_SIGNATURE,
    gtscKhz: XENLAB_TSC_KHZ,
    cpus: online.map((r) => ({
      ...extras(r.ctx, HVM_HW_CPU),
      rax: toBig(r.ctx.rax),
      rbx: toBig(r.ctx.rbx),
      rcx: toBig(r.ctx.rcx),
      rdx: toBig(r.ctx.rdx),
      rsi: toBig(r.ctx.rsi),
      rdi: toBig(r.ctx.rdi),
      rsp: toBig(r.ctx.rsp),
      rbp: toBig(r.ctx.rbp),
      rip: toBig(r.ctx.rip),
      rflags: toBig(r.ctx.rflags),
      cr3: toBig(r.ctx.cr3),
      flags: 1n, // XEN_X86_FPU_INITIALISED
    })),
  });
}

const HVM_SKIP = new Set<string>([...VCPU_REGISTERS, "flags"]);

/** `sethvmcontext`'s argument from an HVM_CONTEXT record. Throws if it is not one. */
export function hvContextFromBlob(blob: Uint8Array): string {
  const d = decodeHvmSaveContext(blob);
  if (!d.ok) throw new Error(`HVM_CONTEXT: ${d.reason}`);
  const cpus: HvmCpuRecord[] = [];
  for (const e of d.value) {
    if (e.typecode !== HvmSaveCode.CPU) continue;
    const f = decodeHvmHwCpu(e.data);
    if (!f.ok) throw new Error(`HVM_CONTEXT CPU ${e.instance}: ${f.reason}`);
    const ctx = emptyVcpuContext();
    for (const r of VCPU_REGISTERS) {
      if (r !== "flags") ctx[r] = Number(f.value[r] ?? 0n);
    }
    ctx.flags = VGCF_online;
    ctx.regs = regsFrom(f.value, HVM_SKIP);
    cpus.push({ id: e.instance, online: true, ctx });
  }
  if (cpus.length === 0) throw new Error("HVM_CONTEXT has no CPU record");
  return encodeHvmContext({ cpus, devices: {} });
}
