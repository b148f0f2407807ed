/**
 * @module
 * The three fixed headers inside an image (lifecycle-and-migration.md §5.1):
 *
 * ```
 * libxl header, 16 bytes, big-endian      libxc image header, 24 bytes, big-endian
 * 0  u64 ident   "LibxlFmt"               0   u64 marker  0xFFFFFFFFFFFFFFFF
 * 8  u32 version 2                        8   u32 id      "XENF"
 * 12 u32 options bit0 BE, bit1 legacy     12  u32 version 3 (2 still read)
 *                                         16  u16 options bit0 BE
 * libxc domain header, 16 bytes, LE       18  6 reserved bytes (zero)
 * 0  u32 type   1 x86 PV, 2 x86 HVM
 * 4  u16 page_shift 12, 6 u16 reserved
 * 8  u32 xen_major, 12 u32 xen_minor (major 0 ⇒ converted from legacy)
 * ```
 *
 * Checks follow libxl's `check_all_finished`/stream header check and
 * libxc's `read_headers`, plus what verify-stream-v2 refuses (reserved bits).
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import {
  DHDR_BYTES,
  DHDR_TYPE_X86_HVM,
  DHDR_TYPE_X86_PV,
  IHDR_BYTES,
  IHDR_ID,
  IHDR_MARKER,
  IHDR_OPT_BIG_ENDIAN,
  IHDR_OPT_RESERVED_MASK,
  IHDR_VERSION,
  LIBXL_HEADER_BYTES,
  LIBXL_IDENT,
  LIBXL_OPT_BIG_ENDIAN,
  LIBXL_OPT_LEGACY,
  LIBXL_OPT_RESERVED_MASK,
  LIBXL_VERSION,
  XC_PAGE_SHIFT,
} from "./stream_format.ts";

/** The guest kind a libxc stream carries. */
export type DomainType = "pv" | "hvm";

/** A Xen version as the domain header records it. */
export interface XenVersion {
  major: number;
  minor: number;
}

/** The libxl stream header. */
export interface LibxlHeader {
  version: number;
  /** Bit 1: converted from a legacy stream by `convert-legacy-stream`. */
  legacy: boolean;
}

/** The libxc image header. */
export interface ImageHeader {
  /** 2 or 3. Version 2 streams have no STATIC_DATA_END or policy records. */
  version: number;
}

/** The libxc domain header. */
export interface DomainHeader {
  domainType: DomainType;
  pageShift: number;
  /** Major 0: converted from a legacy stream (minor is then the script version). */
  xenVersion: XenVersion;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Encodes the libxl stream header (little-endian stream, not legacy). */
export function encodeLibxlHeader(): Uint8Array {
  const out = new Uint8Array(LIBXL_HEADER_BYTES);
  const dv = view(out);
  dv.setBigUint64(0, LIBXL_IDENT, false);
  dv.setUint32(8, LIBXL_VERSION, false);
  dv.setUint32(12, 0, false);
  return out;
}

/** Decodes a 16-byte libxl stream header. */
export function decodeLibxlHeader(b: Uint8Array): Decoded<LibxlHeader> {
  const dv = view(b);
  const ident = dv.getBigUint64(0, false);
  if (ident !== LIBXL_IDENT) {
    return refused("bad_magic", `ident 0x${ident.toString(16)} is not "LibxlFmt"`);
  }
  const version = dv.getUint32(8, false);
  if (version !== LIBXL_VERSION) {
    return refused("bad_version", `version ${version}, expected ${LIBXL_VERSION}`);
  }
  const options = dv.getUint32(12, false);
  if ((options & LIBXL_OPT_RESERVED_MASK) !== 0) {
    const bits = (options & LIBXL_OPT_RESERVED_MASK) >>> 0;
    return refused("bad_flags", `reserved option bits 0x${bits.toString(16)} set`);
  }
  if ((options & LIBXL_OPT_BIG_ENDIAN) !== 0) {
    return refused("bad_endianness", "big-endian stream; this reader is little-endian");
  }
  return decoded({ version, legacy: (options & LIBXL_OPT_LEGACY) !== 0 });
}

/** Encodes the libxc image header (version 3, little-endian). */
export function encodeImageHeader(): Uint8Array {
  const out = new Uint8Array(IHDR_BYTES);
  const dv = view(out);
  dv.setBigUint64(0, IHDR_MARKER, false);
  dv.setUint32(8, IHDR_ID, false);
  dv.setUint32(12, IHDR_VERSION, false);
  dv.setUint16(16, 0, false);
  return out; // 6 reserved bytes stay zero
}

/** Decodes a 24-byte libxc image header. */
export function decodeImageHeader(b: Uint8Array): Decoded<ImageHeader> {
  const dv = view(b);
  const marker = dv.getBigUint64(0, false);
  if (marker !== IHDR_MARKER) {
    return refused(
      "bad_magic",
      `marker 0x${marker.toString(16).padStart(16, "0")} is not all ones` +
        " (a legacy pre-migration-v2 image, or not a libxc stream)",
    );
  }
  const id = dv.getUint32(8, false);
  if (id !== IHDR_ID) {
    return refused("bad_magic", `id 0x${id.toString(16)} is not 0x58454e46 ("XENF")`);
  }
  const version = dv.getUint32(12, false);
  if (version < 2 || version > IHDR_VERSION) {
    return refused("bad_version", `version ${version}, expected 2 <= version <= 3`);
  }
  const options = dv.getUint16(16, false);
  if ((options & IHDR_OPT_RESERVED_MASK) !== 0) {
    const bits = options & IHDR_OPT_RESERVED_MASK;
    return refused("bad_flags", `reserved option bits 0x${bits.toString(16)} set`);
  }
  if ((options & IHDR_OPT_BIG_ENDIAN) !== 0) {
    return refused("bad_endianness", "big-endian stream; unable to handle big endian streams");
  }
  if (dv.getUint16(18, false) !== 0 || dv.getUint32(20, false) !== 0) {
    return refused("bad_field", "reserved bytes 18..23 are not zero");
  }
  return decoded({ version });
}

/** Encodes a libxc domain header. */
export function encodeDomainHeader(domainType: DomainType, xen: XenVersion): Uint8Array {
  const out = new Uint8Array(DHDR_BYTES);
  const dv = view(out);
  dv.setUint32(0, domainType === "pv" ? DHDR_TYPE_X86_PV : DHDR_TYPE_X86_HVM, true);
  dv.setUint16(4, XC_PAGE_SHIFT, true);
  dv.setUint32(8, xen.major, true);
  dv.setUint32(12, xen.minor, true);
  return out;
}

/** Decodes a 16-byte libxc domain header. */
export function decodeDomainHeader(b: Uint8Array): Decoded<DomainHeader> {
  const dv = view(b);
  const type = dv.getUint32(0, true);
  if (type !== DHDR_TYPE_X86_PV && type !== DHDR_TYPE_X86_HVM) {
    return refused("bad_field", `domain type 0x${type.toString(16)} is not x86 PV (1) or HVM (2)`);
  }
  const pageShift = dv.getUint16(4, true);
  if (pageShift !== XC_PAGE_SHIFT) {
    return refused("bad_field", `page_shift ${pageShift}, expected ${XC_PAGE_SHIFT}`);
  }
  if (dv.getUint16(6, true) !== 0) return refused("bad_field", "reserved u16 is not zero");
  return decoded({
    domainType: type === DHDR_TYPE_X86_PV ? "pv" : "hvm",
    pageShift,
    xenVersion: { major: dv.getUint32(8, true), minor: dv.getUint32(12, true) },
  });
}
