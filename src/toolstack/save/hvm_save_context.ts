/**
 * @module
 * The HVM_CONTEXT blob in Xen's own layout (`XEN_DOMCTL_gethvmcontext`,
 * xen/include/public/hvm/save.h and arch-x86/hvm/save.h): a sequence of
 * typed save entries, each an 8-byte descriptor followed by its data, with
 * no padding between them:
 *
 * ```
 * descriptor: u16 typecode, u16 instance, u32 length
 * HEADER(1)  hvm_save_header  u32 magic 0x54381286, u32 version 1,
 *                             u64 changeset, u32 cpuid, u32 gtsc_khz   (24)
 * CPU(2)     hvm_hw_cpu per vCPU: fpu_regs[512], rax … r15, rip, rflags,
 *            cr0/2/3/4, dr0-3/6/7, segments, MSRs, tsc, pending event,
 *            flags, and (Xen 4.17) 16 bytes of non-register state   (1048)
 * LAPIC(5)   hvm_hw_lapic per vCPU: u64 apic_base_msr, u32 disabled,
 *            u32 timer_divisor                                        (16)
 * LAPIC_REGS(6)  1024 bytes per vCPU
 * END(0)     length 0
 * ```
 *
 * `hvm_save` writes entries by ascending typecode, per-vCPU ones for every
 * vCPU in turn. xenlab builds HEADER, CPU, LAPIC and LAPIC_REGS — enough
 * for a plausible blob that the stream format and its validator accept —
 * and the decoder walks any entries, bounded.
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import { decodeStruct, encodeStruct, type StructLayout } from "./struct_layout.ts";

export const HVM_FILE_MAGIC = 0x54381286;
export const HVM_FILE_VERSION = 1;
export const HVM_SAVE_DESCRIPTOR_BYTES = 8;
export const HVM_SAVE_HEADER_BYTES = 24;
/** `sizeof(struct hvm_hw_cpu)` from Xen 4.17 (1032 before the non-register state). */
export const HVM_HW_CPU_BYTES = 1048;
export const HVM_HW_LAPIC_BYTES = 16;
export const HVM_HW_LAPIC_REGS_BYTES = 1024;
/** xenlab's bound on entries in one blob. */
export const HVM_SAVE_ENTRIES_MAX = 4096;

/** `HVM_SAVE_CODE(...)` typecodes used here. */
export const HvmSaveCode = {
  END: 0,
  HEADER: 1,
  CPU: 2,
  PIC: 3,
  IOAPIC: 4,
  LAPIC: 5,
  LAPIC_REGS: 6,
  PCI_IRQ: 7,
  ISA_IRQ: 8,
  PCI_LINK: 9,
  PIT: 10,
  RTC: 11,
  HPET: 12,
  PMTIMER: 13,
  MTRR: 14,
} as const;

/** One save entry. */
export interface HvmSaveEntry {
  typecode: number;
  instance: number;
  data: Uint8Array;
}

const SEG = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldtr"] as const;

/** Named fields of `struct hvm_hw_cpu`. */
export const HVM_HW_CPU = {
  fcw: [0, 2],
  mxcsr: [24, 4],
  ...Object.fromEntries(
    [
      "rax",
      "rbx",
      "rcx",
      "rdx",
      "rbp",
      "rsi",
      "rdi",
      "rsp",
      "r8",
      "r9",
      "r10",
      "r11",
      "r12",
      "r13",
      "r14",
      "r15",
    ]
      .map((r, i) => [r, [512 + 8 * i, 8]]),
  ),
  rip: [640, 8],
  rflags: [648, 8],
  cr0: [656, 8],
  cr2: [664, 8],
  cr3: [672, 8],
  cr4: [680, 8],
  dr7: [728, 8],
  ...Object.fromEntries(SEG.map((s, i) => [`${s}_sel`, [736 + 4 * i, 4]])),
  ...Object.fromEntries(SEG.map((s, i) => [`${s}_limit`, [768 + 4 * i, 4]])),
  idtr_limit: [800, 4],
  gdtr_limit: [804, 4],
  ...Object.fromEntries(SEG.map((s, i) => [`${s}_base`, [808 + 8 * i, 8]])),
  idtr_base: [872, 8],
  gdtr_base: [880, 8],
  ...Object.fromEntries(SEG.map((s, i) => [`${s}_arbytes`, [888 + 4 * i, 4]])),
  sysenter_cs: [920, 8],
  sysenter_esp: [928, 8],
  sysenter_eip: [936, 8],
  shadow_gs: [944, 8],
  msr_flags: [952, 8],
  msr_lstar: [960, 8],
  msr_star: [968, 8],
  msr_cstar: [976, 8],
  msr_syscall_mask: [984, 8],
  msr_efer: [992, 8],
  msr_tsc_aux: [1000, 8],
  tsc: [1008, 8],
  pending_event: [1016, 4],
  error_code: [1020, 4],
  flags: [1024, 4],
} as StructLayout<string>;

/** `XEN_X86_FPU_INITIALISED` in hvm_hw_cpu.flags. */
export const XEN_X86_FPU_INITIALISED = 1 << 0;

const HEADER_LAYOUT = {
  magic: [0, 4],
  version: [4, 4],
  changeset: [8, 8],
  cpuid: [16, 4],
  gtsc_khz: [20, 4],
} as const satisfies StructLayout<string>;

const LAPIC_LAYOUT = {
  apic_base_msr: [0, 8],
  disabled: [8, 4],
  timer_divisor: [12, 4],
} as const satisfies StructLayout<string>;

/** What {@link buildHvmContext} needs per vCPU: `hvm_hw_cpu` fields by name. */
export type HvmCpuValues = Record<string, number | bigint>;

/** The HEADER entry. */
export function hvmSaveHeader(
  h: { cpuid: number; gtscKhz: number; changeset?: bigint },
): HvmSaveEntry {
  const data = encodeStruct(HEADER_LAYOUT, HVM_SAVE_HEADER_BYTES, {
    magic: HVM_FILE_MAGIC,
    version: HVM_FILE_VERSION,
    changeset: h.changeset ?? 0n,
    cpuid: h.cpuid,
    gtsc_khz: h.gtscKhz,
  });
  return { typecode: HvmSaveCode.HEADER, instance: 0, data };
}

/** A CPU entry for vCPU `instance`; the FPU gets reset FCW/MXCSR unless given. */
export function hvmHwCpu(instance: number, values: HvmCpuValues): HvmSaveEntry {
  const data = encodeStruct(HVM_HW_CPU, HVM_HW_CPU_BYTES, { fcw: 0x37f, mxcsr: 0x1f80, ...values });
  return { typecode: HvmSaveCode.CPU, instance, data };
}

/** Reads a CPU entry's named fields. */
export function decodeHvmHwCpu(data: Uint8Array): Decoded<Record<string, bigint>> {
  if (data.length !== HVM_HW_CPU_BYTES) {
    return refused(
      "bad_length",
      `hvm_hw_cpu is ${data.length} bytes, expected ${HVM_HW_CPU_BYTES}`,
    );
  }
  return decoded(decodeStruct(HVM_HW_CPU, data));
}

/**
 * A whole blob: HEADER, then CPU, LAPIC (enabled, at the default base
 * 0xfee00900 with BSP for vCPU 0) and zeroed LAPIC_REGS for each vCPU, END.
 */
export function buildHvmContext(
  opts: { cpus: HvmCpuValues[]; cpuid: number; gtscKhz: number },
): Uint8Array {
  const entries: HvmSaveEntry[] = [hvmSaveHeader(opts)];
  opts.cpus.forEach((c, i) => entries.push(hvmHwCpu(i, c)));
  opts.cpus.forEach((_, i) =>
    entries.push({
      typecode: HvmSaveCode.LAPIC,
      instance: i,
      data: encodeStruct(LAPIC_LAYOUT, HVM_HW_LAPIC_BYTES, {
        apic_base_msr: i === 0 ? 0xfee00900 : 0xfee00800,
        disabled: 0,
        timer_divisor: 2,
      }),
    })
  );
  opts.cpus.forEach((_, i) =>
    entries.push({
      typecode: HvmSaveCode.LAPIC_REGS,
      instance: i,
      data: new Uint8Array(HVM_HW_LAPIC_REGS_BYTES),
    })
  );
  return encodeHvmSaveContext(entries);
}

/** Concatenates entries and the END descriptor. */
export function encodeHvmSaveContext(entries: readonly HvmSaveEntry[]): Uint8Array {
  const total = entries.reduce(
    (n, e) => n + HVM_SAVE_DESCRIPTOR_BYTES + e.data.length,
    HVM_SAVE_DESCRIPTOR_BYTES,
  );
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const e of entries) {
    dv.setUint16(at, e.typecode, true);
    dv.setUint16(at + 2, e.instance, true);
    dv.setUint32(at + 4, e.data.length, true);
    out.set(e.data, at + HVM_SAVE_DESCRIPTOR_BYTES);
    at += HVM_SAVE_DESCRIPTOR_BYTES + e.data.length;
  }
  return out; // the END descriptor is the zeroed last 8 bytes
}

/**
 * Walks a blob's entries: it must open with a HEADER carrying the magic and
 * version, and end with END exactly at the blob's end.
 */
export function decodeHvmSaveContext(blob: Uint8Array): Decoded<HvmSaveEntry[]> {
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const entries: HvmSaveEntry[] = [];
  let at = 0;
  for (;;) {
    if (blob.length - at < HVM_SAVE_DESCRIPTOR_BYTES) {
      return refused("bad_length", `descriptor at byte ${at} runs past the end (no END entry)`);
    }
    const typecode = dv.getUint16(at, true), instance = dv.getUint16(at + 2, true);
    const length = dv.getUint32(at + 4, true);
    at += HVM_SAVE_DESCRIPTOR_BYTES;
    if (typecode === HvmSaveCode.END) {
      if (at !== blob.length) {
        return refused("bad_length", `${blob.length - at} bytes after the END entry`);
      }
      return decoded(entries);
    }
    if (length > blob.length - at) {
      return refused(
        "bad_length",
        `entry ${typecode}:${instance} length ${length} runs past the end`,
      );
    }
    if (entries.length >= HVM_SAVE_ENTRIES_MAX) {
      return refused("limit", `more than HVM_SAVE_ENTRIES_MAX ${HVM_SAVE_ENTRIES_MAX} entries`);
    }
    const data = blob.slice(at, at + length);
    if (entries.length === 0) {
      if (typecode !== HvmSaveCode.HEADER || length !== HVM_SAVE_HEADER_BYTES) {
        return refused("bad_field", "the first entry is not a HEADER");
      }
      const h = decodeStruct(HEADER_LAYOUT, data);
      if (h.magic !== BigInt(HVM_FILE_MAGIC)) {
        return refused("bad_magic", `HVM save magic 0x${h.magic.toString(16)} is not 0x54381286`);
      }
      if (h.version !== BigInt(HVM_FILE_VERSION)) {
        return refused(
          "bad_version",
          `HVM save version ${h.version}, expected ${HVM_FILE_VERSION}`,
        );
      }
    }
    entries.push({ typecode, instance, data });
    at += length;
  }
}
