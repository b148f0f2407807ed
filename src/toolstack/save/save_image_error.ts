/**
 * @module
 * The one error a save image or migration stream is refused with. It names
 * the layer (xl header, libxl stream, libxc stream), the header or record at
 * fault, the stream offset where that header or record starts, and why:
 *
 * `SaveImageError: libxc stream: PAGE_DATA record at offset 1048600: count 2000 exceeds MAX_BATCH_SIZE 1024`
 *
 * `code` names the failure for programs. The reader never throws this on bad
 * bytes; it returns it (`{ error }`), and only the edge helpers
 * (`readSaveImage`) throw it. Layers: lifecycle-and-migration.md §5.1.
 */

/** The layer of the image a failure belongs to (§5.1 "Layers"). */
export type SaveImageLayer = "xl header" | "libxl stream" | "libxc stream";

/** Why an image was refused. */
export type SaveImageErrorCode =
  /** The bytes ended inside a header or record. */
  | "truncated"
  /** The bytes ended between records, before the layer's END record. */
  | "missing_end"
  /** xl magic, LibxlFmt ident, or libxc marker/ident do not match. */
  | "bad_magic"
  /** A header version this reader does not speak. */
  | "bad_version"
  /** Big-endian byte order, or an xl byteorder word that is not 0x01020304. */
  | "bad_endianness"
  /** Unknown xl mandatory flags, or reserved header option bits set. */
  | "bad_flags"
  /** A mandatory record type (bit 31 clear) this reader does not know. */
  | "unknown_record"
  /** A PAGE_DATA record with more than MAX_BATCH_SIZE pfns. */
  | "batch_too_large"
  /** A record or field length that does not fit its layout. */
  | "bad_length"
  /** Non-zero bytes in the zero padding that aligns records to 8 bytes. */
  | "bad_padding"
  /** A field with a value outside its domain (reserved bits, unknown ids, ...). */
  | "bad_field"
  /** A record out of the order a restorer needs (e.g. PAGE_DATA before STATIC_DATA_END). */
  | "bad_order"
  /** A known record that has no business here (PV record in an HVM stream, ...). */
  | "unexpected_record"
  /** Beyond one of this reader's named maxima. */
  | "limit"
  /** Valid but not supported here (legacy v1 streams, deprecated TOOLSTACK records). */
  | "unsupported"
  /** Bytes after the final END where the caller wanted none. */
  | "trailing_data";

/** Where in the image a failure was found. */
export interface SaveImageErrorSite {
  layer: SaveImageLayer;
  /** The header or record, e.g. `"PAGE_DATA record"`, `"image header"`, or undefined between records. */
  what?: string;
  /** Stream offset of the header or record (or of the failure, between records). */
  offset: number;
}

/** A save image or migration stream that cannot be read. */
export class SaveImageError extends Error {
  override name = "SaveImageError";
  readonly code: SaveImageErrorCode;
  readonly layer: SaveImageLayer;
  readonly what: string | undefined;
  readonly offset: number;
  /** The reason without the layer/record/offset prefix. */
  readonly reason: string;

  constructor(code: SaveImageErrorCode, site: SaveImageErrorSite, reason: string) {
    const where = site.what === undefined
      ? `at offset ${site.offset}`
      : `${site.what} at offset ${site.offset}`;
    super(`${site.layer}: ${where}: ${reason}`);
    this.code = code;
    this.layer = site.layer;
    this.what = site.what;
    this.offset = site.offset;
    this.reason = reason;
  }
}

/** What a pure decoder returns: a value, or the failure without its site (the reader adds that). */
export type Decoded<T> =
  | { ok: true; value: T }
  | { ok: false; code: SaveImageErrorCode; reason: string };

/** A successful {@link Decoded}. */
export function decoded<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

/** A failed {@link Decoded}. */
export function refused<T = never>(code: SaveImageErrorCode, reason: string): Decoded<T> {
  return { ok: false, code, reason };
}
