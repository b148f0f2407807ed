/**
 * @module
 * What a guest kernel keeps about itself in its own RAM and needs again
 * when it resumes in a new domain (lifecycle-and-migration.md §4.2–§4.4):
 * where start_info is (Linux's `xen_start_info` pointer), where it mapped
 * shared_info, which pages its rings came from, and which xenbus devices
 * it had. On Linux these are kernel data structures; a xenlab agent is a
 * JavaScript object, so it writes the same facts to one page of guest
 * memory — at boot and again just before the suspend hypercall — and an
 * agent started on a restored domain reads them back from the restored
 * memory. Nothing else carries state across a save image.
 *
 * Layout of the page: 16 bytes of magic ({@link KERNEL_RECORD_MAGIC},
 * NUL-padded), a little-endian u32 length, then that many bytes of JSON,
 * all in the lower half; the upper half is vCPU 0's runstate area
 * (`kernel_clock.ts`).
 */
import { PAGE_SIZE } from "../hv/xen_abi.ts";
import type { GuestEnv } from "./guest_env.ts";

export const KERNEL_RECORD_MAGIC = "xenlab-kernel-1";
const MAGIC_BYTES = 16;
const HEADER_BYTES = MAGIC_BYTES + 4;
/** Most JSON the page holds: its lower half (the upper half is vCPU 0's runstate area). */
export const KERNEL_RECORD_BYTES_MAX = PAGE_SIZE / 2 - HEADER_BYTES;

/** A xenbus device the kernel had a frontend for. */
export interface RecordedDevice {
  readonly kind: "vif" | "vbd";
  readonly devid: number;
}

/** The kernel's facts about itself. */
export interface KernelRecord {
  readonly kind: "pv" | "pvhvm" | "hvm";
  /** PV: start_info's pfn. */
  readonly startInfoPfn?: number;
  /** PVHVM: where shared_info is mapped. */
  readonly sharedInfoPfn?: number;
  readonly ringPfnBase?: number;
  readonly ringPages?: number;
  /** Console 0 had a frontend. */
  readonly console: boolean;
  readonly devices: readonly RecordedDevice[];
  /** HVM: the device the BIOS booted from. */
  readonly bootDevice?: string;
  /** HVM: the OS entered S3 (its FACS waking vector is set). */
  readonly sleeping?: boolean;
}

const utf8 = new TextEncoder();

/** The lower half-page image of `r`; throws if it does not fit. */
export function encodeKernelRecord(r: KernelRecord): Uint8Array {
  const json = utf8.encode(JSON.stringify(r));
  if (json.length > KERNEL_RECORD_BYTES_MAX) {
    throw new RangeError(
      `kernel record is ${json.length} bytes (page holds ${KERNEL_RECORD_BYTES_MAX})`,
    );
  }
  const page = new Uint8Array(PAGE_SIZE / 2);
  page.set(utf8.encode(KERNEL_RECORD_MAGIC));
  new DataView(page.buffer).setUint32(MAGIC_BYTES, json.length, true);
  page.set(json, HEADER_BYTES);
  return page;
}

/** Reads a record page; a string says why it is not one. */
export function decodeKernelRecord(page: Uint8Array): KernelRecord | string {
  const magic = new TextDecoder().decode(page.subarray(0, MAGIC_BYTES)).replace(/\0+$/, "");
  if (magic !== KERNEL_RECORD_MAGIC) return `no kernel record (magic "${magic.slice(0, 16)}")`;
  const len = new DataView(page.buffer, page.byteOffset).getUint32(MAGIC_BYTES, true);
  if (len > KERNEL_RECORD_BYTES_MAX) return `kernel record length ${len} is past the page`;
  let o: unknown;
  try {
    o = JSON.parse(new TextDecoder().decode(page.subarray(HEADER_BYTES, HEADER_BYTES + len)));
  } catch {
    return "kernel record is not JSON";
  }
  if (typeof o !== "object" || o === null) return "kernel record is not an object";
  const r = o as Record<string, unknown>;
  if (r.kind !== "pv" && r.kind !== "pvhvm" && r.kind !== "hvm") return "kernel record has no kind";
  if (!Array.isArray(r.devices) || typeof r.console !== "boolean") {
    return "kernel record has no device list";
  }
  for (const d of r.devices) {
    const dev = d as Record<string, unknown>;
    if ((dev?.kind !== "vif" && dev?.kind !== "vbd") || !Number.isInteger(dev.devid)) {
      return "kernel record has a bad device";
    }
  }
  return r as unknown as KernelRecord;
}

/** Writes `r` to the guest's page `pfn`; throws on failure. */
export async function writeKernelRecord(
  env: GuestEnv,
  pfn: number,
  r: KernelRecord,
): Promise<void> {
  const ret = await env.writePage(pfn, 0, encodeKernelRecord(r));
  if (ret < 0) throw new Error(`writing the kernel record at pfn ${pfn}: ${ret}`);
}

/** Reads the record at `pfn`; throws with the reason if there is none. */
export async function readKernelRecord(env: GuestEnv, pfn: number): Promise<KernelRecord> {
  const page = new Uint8Array(PAGE_SIZE);
  const ret = await env.readPage(pfn, 0, page);
  if (ret < 0) throw new Error(`reading the kernel record at pfn ${pfn}: ${ret}`);
  const r = decodeKernelRecord(page);
  if (typeof r === "string") throw new Error(`pfn ${pfn}: ${r}`);
  return r;
}
