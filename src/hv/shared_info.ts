/**
 * @module
 * The shared_info page (x86_64 layout of `struct shared_info`, xen.h): a
 * Xen-heap frame per domain that holds the 2-level event-channel bitmaps
 * (`evtchn_pending[]`, `evtchn_mask[]`) and one `vcpu_info` per vCPU
 * (`evtchn_upcall_pending`, `evtchn_pending_sel`). The event-channel code
 * keeps its pending and mask bits *in these bytes*, so the page a guest maps
 * (PV: `start_info.shared_info`; HVM: `add_to_physmap(XENMAPSPACE_shared_info)`)
 * and the SHARED_INFO record of a save stream (§5.1) see the real state.
 *
 * Bit `n` of a little-endian `xen_ulong_t` array is bit `n & 7` of byte
 * `n >> 3`, so ports index bytes directly.
 */
import { PAGE_SIZE } from "./xen_abi.ts";

/** `XEN_LEGACY_MAX_VCPUS`: vcpu_info slots in shared_info. */
export const XEN_LEGACY_MAX_VCPUS = 32;
export const VCPU_INFO_BYTES = 64;
export const OFF_VCPU_UPCALL_PENDING = 0;
export const OFF_VCPU_UPCALL_MASK = 1;
export const OFF_VCPU_PENDING_SEL = 8;
export const OFF_EVTCHN_PENDING = XEN_LEGACY_MAX_VCPUS * VCPU_INFO_BYTES; // 2048
export const OFF_EVTCHN_MASK = OFF_EVTCHN_PENDING + 512; // 2560
export const OFF_WC_VERSION = OFF_EVTCHN_MASK + 512; // 3072
export const OFF_WC_SEC = OFF_WC_VERSION + 4;
export const OFF_WC_NSEC = OFF_WC_SEC + 4;
export const OFF_ARCH = OFF_WC_NSEC + 8; // 3088: arch_shared_info (max_pfn, ...)

/** Bit operations on a shared_info page's bytes. */
export class SharedInfoPage {
  readonly bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== PAGE_SIZE) throw new RangeError("shared_info must be one page");
    this.bytes = bytes;
  }

  testPending(port: number): boolean {
    return (this.bytes[OFF_EVTCHN_PENDING + (port >>> 3)] & (1 << (port & 7))) !== 0;
  }

  /** Sets the pending bit; returns whether it was already set. */
  testAndSetPending(port: number): boolean {
    const i = OFF_EVTCHN_PENDING + (port >>> 3), bit = 1 << (port & 7);
    const was = (this.bytes[i] & bit) !== 0;
    this.bytes[i] |= bit;
    return was;
  }

  clearPending(port: number): void {
    this.bytes[OFF_EVTCHN_PENDING + (port >>> 3)] &= ~(1 << (port & 7));
  }

  testMask(port: number): boolean {
    return (this.bytes[OFF_EVTCHN_MASK + (port >>> 3)] & (1 << (port & 7))) !== 0;
  }

  setMask(port: number): void {
    this.bytes[OFF_EVTCHN_MASK + (port >>> 3)] |= 1 << (port & 7);
  }

  clearMask(port: number): void {
    this.bytes[OFF_EVTCHN_MASK + (port >>> 3)] &= ~(1 << (port & 7));
  }

  /**
   * Marks events pending for `vcpu` as Xen's 2-level `set_pending` does:
   * sets the selector bit of the port's word and `evtchn_upcall_pending`.
   */
  markVcpuPending(vcpu: number, port: number): void {
    if (vcpu >= XEN_LEGACY_MAX_VCPUS) return;
    const base = vcpu * VCPU_INFO_BYTES;
    const word = port >>> 6;
    this.bytes[base + OFF_VCPU_PENDING_SEL + (word >>> 3)] |= 1 << (word & 7);
    this.bytes[base + OFF_VCPU_UPCALL_PENDING] = 1;
  }

  /** What a guest's upcall handler does first: clear the selector and the flag. */
  clearVcpuPending(vcpu: number): void {
    if (vcpu >= XEN_LEGACY_MAX_VCPUS) return;
    const base = vcpu * VCPU_INFO_BYTES;
    this.bytes.fill(0, base + OFF_VCPU_PENDING_SEL, base + OFF_VCPU_PENDING_SEL + 8);
    this.bytes[base + OFF_VCPU_UPCALL_PENDING] = 0;
  }

  /**
   * Ports in `1..maxPort` that are pending and not masked, ascending,
   * scanning 32 ports per step.
   */
  deliverable(maxPort: number): number[] {
    const out: number[] = [];
    const b = this.bytes;
    const words = (maxPort >>> 5) + 1;
    for (let w = 0; w < words; w++) {
      const o = w * 4;
      const p = OFF_EVTCHN_PENDING + o, m = OFF_EVTCHN_MASK + o;
      let bits = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) &
        ~(b[m] | (b[m + 1] << 8) | (b[m + 2] << 16) | (b[m + 3] << 24));
      while (bits !== 0) {
        const low = bits & -bits;
        const port = (w << 5) + 31 - Math.clz32(low);
        if (port > maxPort) return out;
        if (port !== 0) out.push(port);
        bits ^= low;
      }
    }
    return out;
  }
}
