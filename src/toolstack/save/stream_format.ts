/**
 * @module
 * Constants of Xen's save image / migration stream format, in the spec's
 * spelling: the xl header (`tools/xl/xl.h` `struct save_file_header`), the
 * libxl stream v2 (`docs/specs/libxl-migration-stream.pandoc`,
 * `libxl_sr_stream_format.h`) and the libxc stream v3
 * (`docs/specs/libxc-migration-stream.pandoc`, `xg_sr_stream_format.h`).
 * lifecycle-and-migration.md §5.1 has the tables these come from.
 *
 * Byte order: the libxl header and the libxc image header are big-endian
 * whatever the stream's endianness; everything else is in the stream's
 * endianness, which this codec only supports as little-endian (x86, and the
 * only order `verify-stream-v2` validates on an x86 host).
 */

// ---------------------------------------------------------------- xl header

/** `savefileheader_magic`: 32 bytes, with an embedded NUL and CR. */
export const XL_SAVEFILE_MAGIC = "Xen saved domain, xl format\n \0 \r";
/** `sizeof(struct save_file_header)`: magic + 4 × u32. */
export const XL_HEADER_BYTES = 48;
/** `SAVEFILE_BYTEORDER_VALUE`, written in the saving host's order. */
export const SAVEFILE_BYTEORDER_VALUE = 0x01020304;
/** Config data in the optional data is JSON (`libxl_domain_config_to_json`). */
export const XL_MANDATORY_FLAG_JSON = 1 << 0;
/** The stream after the header is libxl migration v2 (else a legacy v1 libxc stream). */
export const XL_MANDATORY_FLAG_STREAMv2 = 1 << 1;
/** Every mandatory flag xl knows; any other bit ⇒ "need newer xl". */
export const XL_MANDATORY_FLAG_ALL = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMv2;

// ---------------------------------------------------------- libxl stream v2

/** "LibxlFmt" in ASCII (big-endian u64). */
export const LIBXL_IDENT = 0x4c6962786c466d74n;
export const LIBXL_VERSION = 2;
export const LIBXL_HEADER_BYTES = 16;
/** libxl header option bit 0: stream is big-endian. */
export const LIBXL_OPT_BIG_ENDIAN = 1 << 0;
/** libxl header option bit 1: converted from a legacy stream. */
export const LIBXL_OPT_LEGACY = 1 << 1;
/** Options bits 2–31 are reserved. */
export const LIBXL_OPT_RESERVED_MASK = 0xfffffffc;

/** libxl record types. */
export const LibxlRec = {
  END: 0,
  LIBXC_CONTEXT: 1,
  EMULATOR_XENSTORE_DATA: 2,
  EMULATOR_CONTEXT: 3,
  CHECKPOINT_END: 4,
  CHECKPOINT_STATE: 5,
} as const;

/** `emulator_id` of the emulator records. */
export const EMULATOR_UNKNOWN = 0;
export const EMULATOR_QEMU_TRADITIONAL = 1;
export const EMULATOR_QEMU_UPSTREAM = 2;

/** CHECKPOINT_STATE `control_id` values (COLO). */
export const CHECKPOINT_NEW = 0;
export const CHECKPOINT_SVM_SUSPENDED = 1;
export const CHECKPOINT_SVM_READY = 2;
export const CHECKPOINT_SVM_RESUMED = 3;

// ---------------------------------------------------------- libxc stream v3

/** Image header marker: all ones (legacy images have a zero bit here). */
export const IHDR_MARKER = 0xffffffffffffffffn;
/** "XENF" in ASCII. */
export const IHDR_ID = 0x58454e46;
/** Version written; 2 (Xen 4.6–4.13) is still read. */
export const IHDR_VERSION = 3;
export const IHDR_OPT_BIG_ENDIAN = 1 << 0;
export const IHDR_OPT_RESERVED_MASK = 0xfffe;
export const IHDR_BYTES = 24;

export const DHDR_TYPE_X86_PV = 1;
export const DHDR_TYPE_X86_HVM = 2;
export const DHDR_BYTES = 16;
export const XC_PAGE_SHIFT = 12;
export const XC_PAGE_SIZE = 1 << XC_PAGE_SHIFT;

/** libxc record types. */
export const XcRec = {
  END: 0,
  PAGE_DATA: 1,
  X86_PV_INFO: 2,
  X86_PV_P2M_FRAMES: 3,
  X86_PV_VCPU_BASIC: 4,
  X86_PV_VCPU_EXTENDED: 5,
  X86_PV_VCPU_XSAVE: 6,
  SHARED_INFO: 7,
  X86_TSC_INFO: 8,
  HVM_CONTEXT: 9,
  HVM_PARAMS: 10,
  TOOLSTACK: 11,
  X86_PV_VCPU_MSRS: 12,
  VERIFY: 13,
  CHECKPOINT: 14,
  CHECKPOINT_DIRTY_PFN_LIST: 15,
  STATIC_DATA_END: 16,
  X86_CPUID_POLICY: 17,
  X86_MSR_POLICY: 18,
} as const;

/** Record types with this bit set may be skipped by a reader that does not know them. */
export const REC_TYPE_OPTIONAL = 0x80000000;

// ---------------------------------------------------------- record framing

/** u32 type + u32 body length. */
export const REC_HEADER_BYTES = 8;
/** Records are padded with zeroes to a multiple of 8 bytes (`REC_ALIGN_ORDER` 3). */
export const REC_ALIGN_BYTES = 8;
/** libxc's `REC_LENGTH_MAX` ("somewhat arbitrary - 128MB"); xenlab applies it to both layers. */
export const REC_LENGTH_MAX = 128 << 20;

// ---------------------------------------------------------------- PAGE_DATA

/** Most pfns the saver puts in one PAGE_DATA record (`MAX_BATCH_SIZE`, 4 MiB of pages). */
export const MAX_BATCH_SIZE = 1024;
/** PAGE_DATA pfn entries: bits 51–0 are the pfn, 59–52 reserved, 63–60 the type. */
export const PAGE_DATA_PFN_BITS = 52;
/** Largest pfn an entry can carry (2^52 − 1). */
export const PAGE_DATA_PFN_MAX = 2 ** PAGE_DATA_PFN_BITS - 1;

/**
 * `XEN_DOMCTL_PFINFO_*` page types, as the 4-bit value in bits 63–60 of a
 * PAGE_DATA entry (domctl.h shifts them by 28 within a u32).
 */
export const PFINFO = {
  NOTAB: 0x0,
  L1TAB: 0x1,
  L2TAB: 0x2,
  L3TAB: 0x3,
  L4TAB: 0x4,
  /** Pinned flag, or'ed into L1TAB–L4TAB. */
  LPINTAB: 0x8,
  L1TAB_PIN: 0x9,
  L2TAB_PIN: 0xa,
  L3TAB_PIN: 0xb,
  L4TAB_PIN: 0xc,
  BROKEN: 0xd,
  /** Allocate only: no data. */
  XALLOC: 0xe,
  /** Invalid page (vanished during live migration): no data. */
  XTAB: 0xf,
} as const;

// ------------------------------------------------------------------- names

const LIBXL_NAMES = new Map<number, string>(
  Object.entries(LibxlRec).map(([k, v]) => [v, k]),
);
const XC_NAMES = new Map<number, string>(Object.entries(XcRec).map(([k, v]) => [v, k]));

function nameOf(names: Map<number, string>, type: number): string {
  const known = names.get(type);
  if (known !== undefined) return known;
  const hex = `0x${(type >>> 0).toString(16).padStart(8, "0")}`;
  return (type & REC_TYPE_OPTIONAL) !== 0 ? `optional record ${hex}` : `record ${hex}`;
}

/** The spec name of a libxl record type (`"EMULATOR_CONTEXT"`), or its hex value. */
export function libxlRecordName(type: number): string {
  return nameOf(LIBXL_NAMES, type);
}

/** The spec name of a libxc record type (`"PAGE_DATA"`), or its hex value. */
export function libxcRecordName(type: number): string {
  return nameOf(XC_NAMES, type);
}
