/**
 * @module
 * `struct start_info` (x86_64 layout, xen.h): the page a PV guest finds at
 * boot (RSI holds its address, §2.3) telling it where xenstore and the
 * console are, where shared_info lives, how much memory it has. The domain
 * builder writes it into guest memory; the guest reads it; at suspend a PV
 * guest canonicalises `store_mfn` / `console.domU.mfn` to PFNs and passes the
 * page's MFN in RDX (§3.7 d–e); on restore the toolstack rewrites the first
 * fields with the new MFNs, ports and addresses (§4.2).
 *
 * Offsets (bytes): magic 0 (32), nr_pages 32, shared_info 40, flags 48,
 * store_mfn 56, store_evtchn 64, console.domU.mfn 72, console.domU.evtchn 80,
 * pt_base 88, nr_pt_frames 96, mfn_list 104, mod_start 112, mod_len 120,
 * cmd_line 128 (1024), first_p2m_pfn 1152, nr_p2m_frames 1160; 1168 total.
 */
import { PAGE_SIZE } from "./xen_abi.ts";

/** `MAX_GUEST_CMDLINE`. */
export const MAX_GUEST_CMDLINE = 1024;
/** Bytes of `struct start_info`. */
export const START_INFO_BYTES = 1168;
/** What Xen 4.x writes as the magic of a 64-bit PV guest. */
export const START_INFO_MAGIC = "xen-3.0-x86_64";

export const SIF_PRIVILEGED = 1 << 0;
export const SIF_INITDOMAIN = 1 << 1;
export const SIF_MULTIBOOT_MOD = 1 << 2;
export const SIF_MOD_START_PFN = 1 << 3;
export const SIF_VIRT_P2M_4TOOLS = 1 << 4;
export const SIF_PM_MASK = 0xff << 8;

/** The fields of start_info. u64 fields are JS numbers (exact below 2^53). */
export interface StartInfo {
  magic: string;
  nrPages: number;
  /** Machine address of shared_info (`mfn << 12`). */
  sharedInfo: number;
  flags: number;
  storeMfn: number;
  storeEvtchn: number;
  consoleMfn: number;
  consoleEvtchn: number;
  ptBase: number;
  nrPtFrames: number;
  mfnList: number;
  modStart: number;
  modLen: number;
  cmdLine: string;
  firstP2mPfn: number;
  nrP2mFrames: number;
}

const U64 = [
  ["nrPages", 32],
  ["sharedInfo", 40],
  ["storeMfn", 56],
  ["consoleMfn", 72],
  ["ptBase", 88],
  ["nrPtFrames", 96],
  ["mfnList", 104],
  ["modStart", 112],
  ["modLen", 120],
  ["firstP2mPfn", 1152],
  ["nrP2mFrames", 1160],
] as const;
const U32 = [["flags", 48], ["storeEvtchn", 64], ["consoleEvtchn", 80]] as const;
const OFF_CMDLINE = 128;

/** A start_info with everything zero and the standard magic. */
export function emptyStartInfo(): StartInfo {
  return {
    magic: START_INFO_MAGIC,
    nrPages: 0,
    sharedInfo: 0,
    flags: 0,
    storeMfn: 0,
    storeEvtchn: 0,
    consoleMfn: 0,
    consoleEvtchn: 0,
    ptBase: 0,
    nrPtFrames: 0,
    mfnList: 0,
    modStart: 0,
    modLen: 0,
    cmdLine: "",
    firstP2mPfn: 0,
    nrP2mFrames: 0,
  };
}

function putString(b: Uint8Array, off: number, max: number, s: string): void {
  const enc = new TextEncoder().encode(s);
  if (enc.length >= max) {
    throw new RangeError(`start_info: string of ${enc.length} bytes (max ${max - 1})`);
  }
  b.fill(0, off, off + max);
  b.set(enc, off);
}

function getString(b: Uint8Array, off: number, max: number): string {
  let end = off;
  while (end < off + max && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(off, end));
}

/** Encodes `si` into the first {@link START_INFO_BYTES} of `page` (rest untouched). */
export function encodeStartInfo(si: StartInfo, page: Uint8Array): void {
  if (page.length < START_INFO_BYTES) throw new RangeError("start_info: buffer too small");
  const dv = new DataView(page.buffer, page.byteOffset, START_INFO_BYTES);
  putString(page, 0, 32, si.magic);
  for (const [k, off] of U64) dv.setBigUint64(off, BigInt(si[k]), true);
  for (const [k, off] of U32) dv.setUint32(off, si[k], true);
  putString(page, OFF_CMDLINE, MAX_GUEST_CMDLINE, si.cmdLine);
}

/** Decodes a start_info from `page`. */
export function decodeStartInfo(page: Uint8Array): StartInfo {
  if (page.length < START_INFO_BYTES) throw new RangeError("start_info: buffer too small");
  const dv = new DataView(page.buffer, page.byteOffset, START_INFO_BYTES);
  const si = emptyStartInfo();
  si.magic = getString(page, 0, 32);
  for (const [k, off] of U64) si[k] = Number(dv.getBigUint64(off, true));
  for (const [k, off] of U32) si[k] = dv.getUint32(off, true);
  si.cmdLine = getString(page, OFF_CMDLINE, MAX_GUEST_CMDLINE);
  return si;
}

/**
 * The pfn of the page holding start_info, from vCPU 0's context at entry:
 * the PV ABI passes its address in RSI (§2.3); xenlab's guests use
 * pseudo-physical addresses, so it is `rsi >> 12`. At suspend a PV guest
 * passes the page's *MFN* in RDX instead (§3.7 e) — map it back with
 * `memory_op machphys_lookup`.
 */
export function startInfoPfn(rsi: number): number {
  return Math.floor(rsi / PAGE_SIZE);
}

/** A fresh page holding `si`. */
export function startInfoPage(si: StartInfo): Uint8Array {
  const page = new Uint8Array(PAGE_SIZE);
  encodeStartInfo(si, page);
  return page;
}
