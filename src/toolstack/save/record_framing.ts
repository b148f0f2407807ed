/**
 * @module
 * Record framing, shared by the libxl and libxc layers
 * (lifecycle-and-migration.md §5.1 "Record framing"):
 *
 * ```
 * 0  u32 type          bit 31 set ⇒ optional (a reader may skip it)
 * 4  u32 body_length   bytes of body, excluding padding
 * 8  body…             then 0–7 zero bytes so the record ends on 8 bytes
 * ```
 *
 * Fields are in the stream's endianness, little-endian here.
 */
import { REC_ALIGN_BYTES, REC_HEADER_BYTES, REC_TYPE_OPTIONAL } from "./stream_format.ts";

/** A decoded record header. */
export interface RecordHeader {
  type: number;
  length: number;
}

/** `length` rounded up to the 8-byte record alignment. */
export function paddedLength(length: number): number {
  return Math.ceil(length / REC_ALIGN_BYTES) * REC_ALIGN_BYTES;
}

/** How many zero bytes follow a body of `length` bytes. */
export function paddingOf(length: number): number {
  return paddedLength(length) - length;
}

/** Whether a reader that does not know `type` may skip it. */
export function isOptionalRecord(type: number): boolean {
  return (type & REC_TYPE_OPTIONAL) !== 0;
}

/** Writes a record header into `dst` at `at`. */
export function putRecordHeader(dst: Uint8Array, at: number, type: number, length: number): void {
  const dv = new DataView(dst.buffer, dst.byteOffset + at, REC_HEADER_BYTES);
  dv.setUint32(0, type >>> 0, true);
  dv.setUint32(4, length >>> 0, true);
}

/** Reads a record header from the first 8 bytes of `b`. */
export function decodeRecordHeader(b: Uint8Array): RecordHeader {
  const dv = new DataView(b.buffer, b.byteOffset, REC_HEADER_BYTES);
  return { type: dv.getUint32(0, true), length: dv.getUint32(4, true) };
}

/** A whole record: header, body and zero padding. */
export function frameRecord(type: number, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(REC_HEADER_BYTES + paddedLength(body.length));
  putRecordHeader(out, 0, type, body.length);
  out.set(body, REC_HEADER_BYTES);
  return out;
}

/** Whether the bytes `b` (a record's padding) are all zero. */
export function isZeroPadding(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
