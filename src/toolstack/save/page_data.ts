/**
 * @module
 * PAGE_DATA, the record that carries guest memory (libxc stream, §5.1):
 *
 * ```
 * 0   u32 count     1..MAX_BATCH_SIZE pfn entries
 * 4   u32 reserved  zero
 * 8   u64 pfn[count]  bits 63–60 PFINFO type, 59–52 reserved, 51–0 pfn
 * …   4096 bytes for each entry whose type has data, in entry order
 * ```
 *
 * Types NOTAB, L1–L4TAB and their pinned forms carry a page; BROKEN, XALLOC
 * and XTAB carry none; 5–8 are invalid (`is_known_page_type`,
 * `page_type_has_stream_data` in xg_sr_common.h). The body length must be
 * exactly 8 + 8·count + 4096·(pages with data), so it is always a multiple
 * of 8 and PAGE_DATA records never have padding.
 *
 * The entries live in typed arrays ({@link PageBatch}), never one object per
 * page: a 256 MiB guest is 65,536 pages.
 */
import { AssertionError } from "node:assert";
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import {
  MAX_BATCH_SIZE,
  PAGE_DATA_PFN_MAX,
  PFINFO,
  REC_HEADER_BYTES,
  XC_PAGE_SIZE,
  XcRec,
} from "./stream_format.ts";
import { putRecordHeader } from "./record_framing.ts";

const TWO_POW_32 = 2 ** 32;
/** Bytes before the pfn entries: u32 count, u32 reserved. */
export const PAGE_DATA_HEADER_BYTES = 8;
/** Bytes per pfn entry. */
export const PFN_ENTRY_BYTES = 8;

/** Whether `type` is a PFINFO value Xen knows (not 5–8). */
export function pageTypeIsKnown(type: number): boolean {
  return (type >= PFINFO.NOTAB && type <= PFINFO.L4TAB) ||
    (type >= PFINFO.L1TAB_PIN && type <= PFINFO.XTAB);
}

/** Whether an entry of `type` is followed by a page of data. */
export function pageTypeHasData(type: number): boolean {
  return (type >= PFINFO.NOTAB && type <= PFINFO.L4TAB) ||
    (type >= PFINFO.L1TAB_PIN && type <= PFINFO.L4TAB_PIN);
}

/** The body length of a PAGE_DATA record with `count` entries of which `dataPages` carry data. */
export function pageDataLength(count: number, dataPages: number): number {
  return PAGE_DATA_HEADER_BYTES + PFN_ENTRY_BYTES * count + XC_PAGE_SIZE * dataPages;
}

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError({ message: `save: ${message}` });
}

/**
 * Encodes a PAGE_DATA record's header, count and pfn entries (the pages
 * follow separately, so they need not be copied). `types` is one type for
 * every pfn, or one per pfn. Returns the bytes and how many pages of data
 * the caller must send after them. Bad arguments are programmer errors.
 */
export function encodePageDataHead(
  pfns: ArrayLike<number>,
  types: ArrayLike<number> | number,
): { head: Uint8Array; dataPages: number } {
  const count = pfns.length;
  check(
    count >= 1 && count <= MAX_BATCH_SIZE,
    `PAGE_DATA count ${count} not in 1..${MAX_BATCH_SIZE}`,
  );
  check(typeof types === "number" || types.length === count, "one page type per pfn");
  const head = new Uint8Array(REC_HEADER_BYTES + PAGE_DATA_HEADER_BYTES + PFN_ENTRY_BYTES * count);
  const dv = new DataView(head.buffer);
  let dataPages = 0;
  let at = REC_HEADER_BYTES + PAGE_DATA_HEADER_BYTES;
  for (let i = 0; i < count; i++, at += PFN_ENTRY_BYTES) {
    const pfn = pfns[i];
    const type = typeof types === "number" ? types : types[i];
    check(
      Number.isInteger(pfn) && pfn >= 0 && pfn <= PAGE_DATA_PFN_MAX,
      `pfn ${pfn} not in 0..2^52-1`,
    );
    check(pageTypeIsKnown(type), `page type 0x${type.toString(16)} is not a known PFINFO type`);
    if (pageTypeHasData(type)) dataPages++;
    dv.setUint32(at, pfn % TWO_POW_32, true);
    dv.setUint32(at + 4, ((type << 28) | Math.floor(pfn / TWO_POW_32)) >>> 0, true);
  }
  putRecordHeader(head, 0, XcRec.PAGE_DATA, pageDataLength(count, dataPages));
  dv.setUint32(REC_HEADER_BYTES, count, true);
  return { head, dataPages };
}

/**
 * One batch's pfn entries, decoded into reusable typed arrays (capacity
 * MAX_BATCH_SIZE) so reading memory makes no per-page objects.
 */
export class PageBatch {
  readonly pfns: Float64Array = new Float64Array(MAX_BATCH_SIZE);
  readonly types: Uint8Array = new Uint8Array(MAX_BATCH_SIZE);
  count = 0;
  dataPages = 0;

  /**
   * Decodes `count` entries from `b` (8·count bytes). Refuses reserved bits
   * and unknown types, naming the entry's index.
   */
  decode(b: Uint8Array, count: number): Decoded<number> {
    check(count <= MAX_BATCH_SIZE && b.length === count * PFN_ENTRY_BYTES, "PageBatch.decode size");
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let dataPages = 0;
    for (let i = 0; i < count; i++) {
      const lo = dv.getUint32(i * PFN_ENTRY_BYTES, true);
      const hi = dv.getUint32(i * PFN_ENTRY_BYTES + 4, true);
      const type = hi >>> 28;
      const pfn = (hi & 0xfffff) * TWO_POW_32 + lo;
      if (((hi >>> 20) & 0xff) !== 0) {
        return refused("bad_field", `pfn[${i}] 0x${pfn.toString(16)} has reserved bits 59..52 set`);
      }
      if (!pageTypeIsKnown(type)) {
        return refused(
          "bad_field",
          `pfn[${i}] 0x${pfn.toString(16)} has invalid type 0x${type.toString(16)}`,
        );
      }
      if (pageTypeHasData(type)) dataPages++;
      this.pfns[i] = pfn;
      this.types[i] = type;
    }
    this.count = count;
    this.dataPages = dataPages;
    return decoded(dataPages);
  }
}
