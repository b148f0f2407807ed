/**
 * @module
 * The xl save-file header (`struct save_file_header`, tools/xl/xl.h) and its
 * optional data, which open every `xl save` file and every `xl migrate`
 * stream (lifecycle-and-migration.md §5.1, §5.4):
 *
 * ```
 * 0   magic[32]          "Xen saved domain, xl format\n \0 \r"
 * 32  u32 byteorder      0x01020304 in the saver's order (little-endian here)
 * 36  u32 mandatory_flags  bit0 JSON, bit1 STREAMv2; unknown bits ⇒ refuse
 * 40  u32 optional_flags
 * 44  u32 optional_data_len
 * 48  optional data:     u32 config_len, config_len bytes of config
 * ```
 *
 * xl writes the config as `libxl_domain_config_to_json()` text plus its NUL
 * (`config_len = strlen + 1`), sets JSON only when the config is non-empty,
 * and always writes the 4-byte length (0 when there is no config). A reader
 * skips optional data past the config ("skip tail, if not understood").
 * Like xl's `create_domain`, optional_flags are carried but not checked.
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import {
  SAVEFILE_BYTEORDER_VALUE,
  XL_HEADER_BYTES,
  XL_MANDATORY_FLAG_ALL,
  XL_MANDATORY_FLAG_JSON,
  XL_MANDATORY_FLAG_STREAMv2,
  XL_SAVEFILE_MAGIC,
} from "./stream_format.ts";

/** xenlab's bound on optional data (the config): 1 MiB. xl itself reads any u32. */
export const XL_OPTIONAL_DATA_BYTES_MAX = 1 << 20;

/** The 32 magic bytes. */
export const XL_MAGIC_BYTES: Uint8Array = Uint8Array.from(
  XL_SAVEFILE_MAGIC,
  (c) => c.charCodeAt(0),
);

/** The fixed part of the header. */
export interface XlFixedHeader {
  mandatoryFlags: number;
  optionalFlags: number;
  optionalDataBytes: number;
}

/** The domain config carried in the optional data. */
export interface XlConfig {
  /** `"json"` with XL_MANDATORY_FLAG_JSON, else `"xl-cfg"` (xl config file syntax). */
  format: "json" | "xl-cfg";
  text: string;
}

/** The decoded optional data. */
export interface XlOptionalData {
  config: XlConfig | undefined;
  /** Bytes after the config that this reader skipped. */
  tailBytes: number;
}

/**
 * The header and optional data xl writes before the libxl stream: STREAMv2
 * always, JSON when `configJson` is given.
 */
export function encodeXlHeader(configJson?: string): Uint8Array {
  const text = configJson === undefined ? new Uint8Array(0) : new TextEncoder().encode(configJson);
  const configLen = configJson === undefined ? 0 : text.length + 1; // + NUL
  const optLen = 4 + configLen;
  const out = new Uint8Array(XL_HEADER_BYTES + optLen);
  const dv = new DataView(out.buffer);
  out.set(XL_MAGIC_BYTES, 0);
  dv.setUint32(32, SAVEFILE_BYTEORDER_VALUE, true);
  const json = configLen > 0 ? XL_MANDATORY_FLAG_JSON : 0;
  dv.setUint32(36, XL_MANDATORY_FLAG_STREAMv2 | json, true);
  dv.setUint32(40, 0, true);
  dv.setUint32(44, optLen, true);
  dv.setUint32(48, configLen, true);
  out.set(text, 52); // the NUL is already there
  return out;
}

/** Decodes the 48-byte fixed header. */
export function decodeXlFixedHeader(b: Uint8Array): Decoded<XlFixedHeader> {
  if (b.length !== XL_HEADER_BYTES) {
    return refused("bad_length", `header is ${b.length} bytes, not ${XL_HEADER_BYTES}`);
  }
  for (let i = 0; i < XL_MAGIC_BYTES.length; i++) {
    if (b[i] !== XL_MAGIC_BYTES[i]) {
      return refused(
        "bad_magic",
        `wrong magic number at byte ${i} (not an xl save file; corrupt, or for a different tool?)`,
      );
    }
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const order = dv.getUint32(32, true);
  if (order !== SAVEFILE_BYTEORDER_VALUE) {
    const swapped = dv.getUint32(32, false) === SAVEFILE_BYTEORDER_VALUE;
    return refused(
      "bad_endianness",
      swapped
        ? "byteorder 0x04030201: saved by a big-endian host; this reader is little-endian"
        : `byteorder 0x${hex32(order)} is not 0x01020304 (wrong byte order)`,
    );
  }
  const mandatoryFlags = dv.getUint32(36, true);
  const bad = (mandatoryFlags & ~XL_MANDATORY_FLAG_ALL) >>> 0;
  if (bad !== 0) {
    return refused(
      "bad_flags",
      `mandatory flag(s) 0x${bad.toString(16)} which are not supported; need newer xl`,
    );
  }
  if ((mandatoryFlags & XL_MANDATORY_FLAG_STREAMv2) === 0) {
    return refused(
      "unsupported",
      "mandatory flags lack STREAMv2: a legacy (Xen <= 4.5) stream, which xenlab cannot read",
    );
  }
  const optionalDataBytes = dv.getUint32(44, true);
  if (optionalDataBytes > XL_OPTIONAL_DATA_BYTES_MAX) {
    return refused(
      "limit",
      `optional_data_len ${optionalDataBytes} exceeds XL_OPTIONAL_DATA_BYTES_MAX ${XL_OPTIONAL_DATA_BYTES_MAX}`,
    );
  }
  return decoded({ mandatoryFlags, optionalFlags: dv.getUint32(40, true), optionalDataBytes });
}

/** Decodes the optional data (its length came from the fixed header). */
export function decodeXlOptionalData(
  b: Uint8Array,
  mandatoryFlags: number,
): Decoded<XlOptionalData> {
  if (b.length === 0) return decoded({ config: undefined, tailBytes: 0 });
  if (b.length < 4) {
    return refused("bad_length", `optional data is ${b.length} bytes, too short for config_len`);
  }
  const configLen = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  if (configLen > b.length - 4) {
    return refused(
      "bad_length",
      `config_len ${configLen} exceeds the ${b.length - 4} bytes of optional data left`,
    );
  }
  const tailBytes = b.length - 4 - configLen;
  if (configLen === 0) return decoded({ config: undefined, tailBytes });
  const raw = b.subarray(4, 4 + configLen);
  const json = (mandatoryFlags & XL_MANDATORY_FLAG_JSON) !== 0;
  const nul = raw.indexOf(0);
  if (json && nul !== raw.length - 1) {
    return refused(
      "bad_field",
      nul < 0
        ? "JSON config is not NUL-terminated"
        : `JSON config has a NUL at byte ${nul} of ${raw.length}`,
    );
  }
  const body = raw[raw.length - 1] === 0 ? raw.subarray(0, raw.length - 1) : raw;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    return refused("bad_field", "config is not valid UTF-8");
  }
  return decoded({ config: { format: json ? "json" : "xl-cfg", text }, tailBytes });
}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, "0");
}
