/**
 * @module
 * Bodies of the libxc records other than PAGE_DATA (§5.1 table), encoded
 * and decoded with the checks libxc's restore side makes
 * (`xg_sr_restore_x86_pv.c`, `xg_sr_restore_x86_hvm.c`,
 * `xg_sr_common_x86.c`) and those of verify-stream-v2 (`libxc.py`):
 *
 * | record | body |
 * |---|---|
 * | X86_PV_INFO | u8 guest_width (4/8), u8 pt_levels (3/4), 6 reserved zero bytes |
 * | X86_PV_P2M_FRAMES | u32 start_pfn, u32 end_pfn, u64 frame pfn per (4096/width) pfns |
 * | X86_PV_VCPU_* | u32 vcpu_id, u32 reserved, context blob |
 * | X86_TSC_INFO | u32 mode, u32 khz, u64 nsec, u32 incarnation, u32 reserved |
 * | HVM_PARAMS | u32 count, u32 reserved, count × {u64 index, u64 value} |
 * | X86_CPUID_POLICY | xen_cpuid_leaf_t[] {u32 leaf, subleaf, a, b, c, d} |
 * | X86_MSR_POLICY | xen_msr_entry_t[] {u32 idx, u32 flags, u64 val} |
 *
 * Decoders copy what they keep; the input may be a view of a caller's chunk.
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import { XC_PAGE_SIZE } from "./stream_format.ts";

export const X86_PV_INFO_BYTES = 8;
export const X86_TSC_INFO_BYTES = 24;
export const VCPU_HEADER_BYTES = 8;
export const HVM_PARAMS_HEADER_BYTES = 8;
export const HVM_PARAM_ENTRY_BYTES = 16;
/** `sizeof(xen_cpuid_leaf_t)`. */
export const CPUID_LEAF_BYTES = 24;
/** `sizeof(xen_msr_entry_t)`. */
export const MSR_ENTRY_BYTES = 16;
/** `sizeof(vcpu_guest_context_x86_64_t)`: X86_PV_VCPU_BASIC blob of a 64-bit guest. */
export const VCPU_GUEST_CONTEXT_X86_64_BYTES = 5168;
/** `sizeof(vcpu_guest_context_x86_32_t)`: X86_PV_VCPU_BASIC blob of a 32-bit guest. */
export const VCPU_GUEST_CONTEXT_X86_32_BYTES = 2800;
/** Largest X86_PV_VCPU_EXTENDED blob (`domctl.u.ext_vcpucontext`). */
export const EXT_VCPUCONTEXT_BYTES_MAX = 128;
/** `sizeof(xen_domctl_vcpu_msr_t)`: MSRS (and, as libxc checks, XSAVE) blobs are multiples. */
export const VCPU_MSR_BYTES = 16;
/** xenlab's bound on vcpu_id in vCPU records (ids 0..SAVE_VCPUS_MAX-1). */
export const SAVE_VCPUS_MAX = 4096;

export interface PvInfo {
  guestWidth: 4 | 8;
  ptLevels: 3 | 4;
}

export interface P2mFrames {
  startPfn: number;
  endPfn: number;
  /** The pfns of the guest's p2m frames, one per 4096/width pfns of [startPfn, endPfn]. */
  frames: number[];
}

export interface TscInfo {
  mode: number;
  khz: number;
  nsec: bigint;
  incarnation: number;
}

export interface HvmParam {
  index: number;
  value: bigint;
}

export interface CpuidLeaf {
  leaf: number;
  subleaf: number;
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface MsrEntry {
  idx: number;
  flags: number;
  val: bigint;
}

/** Which of the four per-vCPU PV records. */
export type VcpuBlobKind = "basic" | "extended" | "xsave" | "msrs";

export interface VcpuRecord {
  vcpuId: number;
  blob: Uint8Array;
}

function dvOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(v: bigint | number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}

export function encodePvInfo(info: PvInfo): Uint8Array {
  return Uint8Array.of(info.guestWidth, info.ptLevels, 0, 0, 0, 0, 0, 0);
}

export function decodePvInfo(b: Uint8Array): Decoded<PvInfo> {
  if (b.length !== X86_PV_INFO_BYTES) {
    return refused("bad_length", `length ${b.length}, expected ${X86_PV_INFO_BYTES}`);
  }
  const [w, l] = b;
  if (w !== 4 && w !== 8) return refused("bad_field", `guest width ${w}, expected 4 or 8`);
  if (l !== 3 && l !== 4) return refused("bad_field", `pagetable levels ${l}, expected 3 or 4`);
  for (let i = 2; i < 8; i++) {
    if (b[i] !== 0) return refused("bad_field", "reserved bytes 2..7 are not zero");
  }
  return decoded({ guestWidth: w, ptLevels: l });
}

/** How many frame entries a P2M_FRAMES record for [start, end] has. */
export function p2mFrameCount(startPfn: number, endPfn: number, guestWidth: 4 | 8): number {
  const fpp = XC_PAGE_SIZE / guestWidth;
  return Math.floor(endPfn / fpp) - Math.floor(startPfn / fpp) + 1;
}

export function encodeP2mFrames(p: P2mFrames): Uint8Array {
  const out = new Uint8Array(8 + 8 * p.frames.length);
  const dv = dvOf(out);
  dv.setUint32(0, p.startPfn, true);
  dv.setUint32(4, p.endPfn, true);
  p.frames.forEach((f, i) => dv.setBigUint64(8 + 8 * i, u64(f), true));
  return out;
}

export function decodeP2mFrames(b: Uint8Array, guestWidth: 4 | 8): Decoded<P2mFrames> {
  if (b.length < 8 || b.length % 8 !== 0) {
    return refused("bad_length", `length ${b.length} is not 8 + a multiple of 8`);
  }
  const dv = dvOf(b);
  const startPfn = dv.getUint32(0, true), endPfn = dv.getUint32(4, true);
  if (startPfn > endPfn) {
    return refused(
      "bad_field",
      `end pfn 0x${endPfn.toString(16)} is below start 0x${startPfn.toString(16)}`,
    );
  }
  const n = p2mFrameCount(startPfn, endPfn, guestWidth);
  if (b.length !== 8 + 8 * n) {
    return refused(
      "bad_length",
      `length ${b.length} for pfns 0x${startPfn.toString(16)}..0x${endPfn.toString(16)}, expected ${
        8 + 8 * n
      }`,
    );
  }
  const frames: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = dv.getBigUint64(8 + 8 * i, true);
    if (f > BigInt(Number.MAX_SAFE_INTEGER)) {
      return refused("bad_field", `frame[${i}] 0x${f.toString(16)} is not a pfn`);
    }
    frames.push(Number(f));
  }
  return decoded({ startPfn, endPfn, frames });
}

export function encodeVcpuRecord(vcpuId: number, blob: Uint8Array): Uint8Array {
  const out = new Uint8Array(VCPU_HEADER_BYTES + blob.length);
  dvOf(out).setUint32(0, vcpuId, true);
  out.set(blob, VCPU_HEADER_BYTES);
  return out;
}

/**
 * Decodes a vCPU record. An empty blob is tolerated (older savers sent
 * them) and returned empty for the caller to skip.
 */
export function decodeVcpuRecord(
  kind: VcpuBlobKind,
  b: Uint8Array,
  guestWidth: 4 | 8,
): Decoded<VcpuRecord> {
  if (b.length < VCPU_HEADER_BYTES) {
    return refused(
      "bad_length",
      `length ${b.length}, shorter than the ${VCPU_HEADER_BYTES}-byte header`,
    );
  }
  const dv = dvOf(b);
  const vcpuId = dv.getUint32(0, true);
  if (dv.getUint32(4, true) !== 0) return refused("bad_field", "reserved u32 is not zero");
  const blobBytes = b.length - VCPU_HEADER_BYTES;
  if (blobBytes === 0) return decoded({ vcpuId, blob: new Uint8Array(0) });
  if (vcpuId >= SAVE_VCPUS_MAX) {
    return refused("limit", `vcpu_id ${vcpuId} exceeds SAVE_VCPUS_MAX ${SAVE_VCPUS_MAX}`);
  }
  const basic = guestWidth === 8
    ? VCPU_GUEST_CONTEXT_X86_64_BYTES
    : VCPU_GUEST_CONTEXT_X86_32_BYTES;
  if (kind === "basic" && blobBytes !== basic) {
    return refused("bad_length", `vcpu${vcpuId} context is ${blobBytes} bytes, expected ${basic}`);
  }
  if (kind === "extended" && blobBytes > EXT_VCPUCONTEXT_BYTES_MAX) {
    return refused(
      "bad_length",
      `vcpu${vcpuId} context is ${blobBytes} bytes, max ${EXT_VCPUCONTEXT_BYTES_MAX}`,
    );
  }
  if ((kind === "xsave" || kind === "msrs") && blobBytes % VCPU_MSR_BYTES !== 0) {
    return refused(
      "bad_length",
      `vcpu${vcpuId} blob is ${blobBytes} bytes, not a multiple of ${VCPU_MSR_BYTES}`,
    );
  }
  return decoded({ vcpuId, blob: b.slice(VCPU_HEADER_BYTES) });
}

export function encodeTscInfo(t: TscInfo): Uint8Array {
  const out = new Uint8Array(X86_TSC_INFO_BYTES);
  const dv = dvOf(out);
  dv.setUint32(0, t.mode, true);
  dv.setUint32(4, t.khz, true);
  dv.setBigUint64(8, u64(t.nsec), true);
  dv.setUint32(16, t.incarnation, true);
  return out;
}

export function decodeTscInfo(b: Uint8Array): Decoded<TscInfo> {
  if (b.length !== X86_TSC_INFO_BYTES) {
    return refused("bad_length", `length ${b.length}, expected ${X86_TSC_INFO_BYTES}`);
  }
  const dv = dvOf(b);
  if (dv.getUint32(20, true) !== 0) return refused("bad_field", "reserved u32 is not zero");
  return decoded({
    mode: dv.getUint32(0, true),
    khz: dv.getUint32(4, true),
    nsec: dv.getBigUint64(8, true),
    incarnation: dv.getUint32(16, true),
  });
}

export function encodeHvmParams(
  params: readonly { index: number; value: bigint | number }[],
): Uint8Array {
  const out = new Uint8Array(HVM_PARAMS_HEADER_BYTES + HVM_PARAM_ENTRY_BYTES * params.length);
  const dv = dvOf(out);
  dv.setUint32(0, params.length, true);
  params.forEach((p, i) => {
    dv.setBigUint64(8 + 16 * i, u64(p.index), true);
    dv.setBigUint64(16 + 16 * i, u64(p.value), true);
  });
  return out;
}

export function decodeHvmParams(b: Uint8Array): Decoded<HvmParam[]> {
  if (b.length < HVM_PARAMS_HEADER_BYTES) {
    return refused(
      "bad_length",
      `length ${b.length}, shorter than the ${HVM_PARAMS_HEADER_BYTES}-byte header`,
    );
  }
  const dv = dvOf(b);
  const count = dv.getUint32(0, true);
  if (dv.getUint32(4, true) !== 0) return refused("bad_field", "reserved u32 is not zero");
  const want = HVM_PARAMS_HEADER_BYTES + HVM_PARAM_ENTRY_BYTES * count;
  if (b.length !== want) {
    return refused("bad_length", `length ${b.length} for ${count} params, expected ${want}`);
  }
  const out: HvmParam[] = [];
  for (let i = 0; i < count; i++) {
    const index = dv.getBigUint64(8 + 16 * i, true);
    if (index > 0xffffffffn) {
      return refused("bad_field", `param[${i}] index 0x${index.toString(16)} too large`);
    }
    out.push({ index: Number(index), value: dv.getBigUint64(16 + 16 * i, true) });
  }
  return decoded(out);
}

export function encodeCpuidPolicy(leaves: readonly CpuidLeaf[]): Uint8Array {
  const out = new Uint8Array(CPUID_LEAF_BYTES * leaves.length);
  const dv = dvOf(out);
  leaves.forEach((l, i) => {
    [l.leaf, l.subleaf, l.a, l.b, l.c, l.d].forEach((v, j) =>
      dv.setUint32(24 * i + 4 * j, v, true)
    );
  });
  return out;
}

export function decodeCpuidPolicy(b: Uint8Array): Decoded<CpuidLeaf[]> {
  if (b.length === 0 || b.length % CPUID_LEAF_BYTES !== 0) {
    return refused(
      "bad_length",
      `length ${b.length} is not a non-zero multiple of ${CPUID_LEAF_BYTES}`,
    );
  }
  const dv = dvOf(b);
  const out: CpuidLeaf[] = [];
  for (let at = 0; at < b.length; at += CPUID_LEAF_BYTES) {
    const w = (j: number) => dv.getUint32(at + 4 * j, true);
    out.push({ leaf: w(0), subleaf: w(1), a: w(2), b: w(3), c: w(4), d: w(5) });
  }
  return decoded(out);
}

export function encodeMsrPolicy(entries: readonly MsrEntry[]): Uint8Array {
  const out = new Uint8Array(MSR_ENTRY_BYTES * entries.length);
  const dv = dvOf(out);
  entries.forEach((e, i) => {
    dv.setUint32(16 * i, e.idx, true);
    dv.setUint32(16 * i + 4, e.flags, true);
    dv.setBigUint64(16 * i + 8, u64(e.val), true);
  });
  return out;
}

export function decodeMsrPolicy(b: Uint8Array): Decoded<MsrEntry[]> {
  if (b.length === 0 || b.length % MSR_ENTRY_BYTES !== 0) {
    return refused(
      "bad_length",
      `length ${b.length} is not a non-zero multiple of ${MSR_ENTRY_BYTES}`,
    );
  }
  const dv = dvOf(b);
  const out: MsrEntry[] = [];
  for (let at = 0; at < b.length; at += MSR_ENTRY_BYTES) {
    out.push({
      idx: dv.getUint32(at, true),
      flags: dv.getUint32(at + 4, true),
      val: dv.getBigUint64(at + 8, true),
    });
  }
  return decoded(out);
}
