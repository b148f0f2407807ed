/**
 * @module
 * An incremental, bounded reader of Xen save images and migration streams
 * (§5.1): push bytes in any chunking — one byte at a time included — and get
 * typed records out, with every page handed to a page sink as it arrives, so
 * a restore can copy straight into guest memory and a 256 MiB image never
 * sits in one buffer.
 *
 * The reader is an explicit state machine over the layers of §5.1:
 *
 * ```
 * xl-fixed → xl-optdata → libxl-header → libxl-rec-header ⇄ libxl-body
 *   LIBXC_CONTEXT → image-header → domain-header → libxc-rec-header ⇄ libxc-body
 *                                                  PAGE_DATA: page-header → page-pfns → page-data
 *   libxc END → back to libxl-rec-header; libxc CHECKPOINT → libxl records … CHECKPOINT_END → libxc
 *   optional records: skip → padding
 * ```
 *
 * It never throws on bad bytes: `push` and `finish` return a
 * {@link SaveImageError} naming the layer, the header or record, its offset
 * and the reason, and the reader stays failed. Whatever is buffered is
 * bounded: headers, one record body (≤ REC_LENGTH_MAX, and each record is
 * checked against its header before its body is read), one page. Record
 * semantics live in `libxc_rules.ts` and `libxl_rules.ts`. The gather buffer
 * grows with the bytes that actually arrive, not with what a header claims.
 *
 * Pages: the sink sees each pfn entry of each batch in order, with the
 * page's 4096 bytes (a view valid only during the call) or `null` for types
 * without data. Pages reach the sink before the stream's END: a stream that
 * later turns out bad has already written some, as with Xen's restore.
 * Pages after a VERIFY record go to `verifyPageSink` (Xen compares them
 * instead of copying). A sink that throws leaves the reader unusable.
 *
 * @example
 * ```ts ignore
 * import { SaveImageReader } from "./mod.ts";
 * const memory = new Uint8Array(16 * 4096);
 * const r = new SaveImageReader({
 *   format: "xl",
 *   pageSink: (pfn, _type, page) => { if (page) memory.set(page, pfn * 4096); },
 * });
 * for await (const chunk of (await Deno.open("dom.save")).readable) {
 *   const res = r.push(chunk);
 *   if (!res.ok) throw res.error;
 * }
 * const done = r.finish();
 * if (!done.ok) throw done.error;
 * console.log(done.image.xl?.config?.text);
 * ```
 */
import {
  SaveImageError,
  type SaveImageErrorCode,
  type SaveImageLayer,
} from "./save_image_error.ts";
import {
  DHDR_BYTES,
  IHDR_BYTES,
  libxcRecordName,
  LIBXL_HEADER_BYTES,
  LibxlRec,
  libxlRecordName,
  REC_HEADER_BYTES,
  REC_LENGTH_MAX,
  XC_PAGE_SIZE,
  XcRec,
  XL_HEADER_BYTES,
} from "./stream_format.ts";
import { decodeXlFixedHeader, decodeXlOptionalData } from "./xl_header.ts";
import { decodeDomainHeader, decodeImageHeader, decodeLibxlHeader } from "./stream_headers.ts";
import { decodeRecordHeader, isZeroPadding, paddedLength, paddingOf } from "./record_framing.ts";
import {
  PAGE_DATA_HEADER_BYTES,
  PageBatch,
  pageTypeHasData,
  PFN_ENTRY_BYTES,
} from "./page_data.ts";
import {
  checkPageBatch,
  checkPageDataHeader,
  decodeLibxcRecord,
  type LibxcStreamState,
  newLibxcStreamState,
  planLibxcRecord,
} from "./libxc_rules.ts";
import {
  decodeLibxlRecord,
  type LibxlStreamState,
  newLibxlStreamState,
  planLibxlRecord,
} from "./libxl_rules.ts";
import { applyRecord, emptySaveImage, type SaveImage, type SaveRecord } from "./save_record.ts";

/** Where the image starts: an xl file/migration stream, a bare libxl stream, or a bare libxc stream. */
export type SaveStreamFormat = "xl" | "libxl" | "libxc";

/** Receives each pfn entry in stream order; `page` is only valid during the call. */
export type PageSink = (pfn: number, type: number, page: Uint8Array | null) => void;

/**
 * Receives each PAGE_DATA record's entries (the first `count` of `pfns` and
 * `types`, valid only during the call) before its pages go to the page
 * sink: a restorer populates and maps the batch here, then writes each page
 * straight into place.
 */
export type BatchSink = (pfns: ArrayLike<number>, types: ArrayLike<number>, count: number) => void;

export interface SaveImageReaderOptions {
  /** As verify-stream-v2's `-f`. */
  format: SaveStreamFormat;
  pageSink?: PageSink;
  /** Sees each batch's entries before its pages (not for VERIFY re-sends). */
  batchSink?: BatchSink;
  /** Receives pages sent after a VERIFY record; without it they are dropped. */
  verifyPageSink?: PageSink;
  /** A Remus/COLO stream: CHECKPOINT records are allowed. */
  checkpointed?: boolean;
}

export type PushResult =
  | {
    ok: true;
    /** Records completed by this push, in stream order. */
    records: SaveRecord[];
    /** Bytes of the chunk consumed; less than its length only once `done`. */
    consumed: number;
    /** The final END has been read; later bytes belong to whoever comes next. */
    done: boolean;
  }
  | { ok: false; error: SaveImageError };

export type FinishResult = { ok: true; image: SaveImage } | { ok: false; error: SaveImageError };

type State =
  | "xl-fixed"
  | "xl-optdata"
  | "libxl-header"
  | "libxl-rec-header"
  | "libxl-body"
  | "image-header"
  | "domain-header"
  | "libxc-rec-header"
  | "libxc-body"
  | "page-header"
  | "page-pfns"
  | "page-data"
  | "skip"
  | "padding"
  | "done";

/** A gather buffer bigger than this is dropped after use rather than kept. */
const GATHER_KEEP_BYTES = 1 << 20;

const HEADER_NAMES: Partial<Record<State, [SaveImageLayer, string]>> = {
  "xl-fixed": ["xl header", "header"],
  "xl-optdata": ["xl header", "optional data"],
  "libxl-header": ["libxl stream", "stream header"],
  "image-header": ["libxc stream", "image header"],
  "domain-header": ["libxc stream", "domain header"],
};

/** Reads one image; see the module documentation. */
export class SaveImageReader {
  readonly #opts: SaveImageReaderOptions;
  #state: State;
  #want = 0;
  #have = 0;
  #gbuf = new Uint8Array(64);
  #offset = 0;
  #error: SaveImageError | undefined;
  #out: SaveRecord[] = [];
  readonly #image: SaveImage = emptySaveImage();
  #xlFlags = 0;
  #xlOptionalFlags = 0;
  readonly #libxl: LibxlStreamState = newLibxlStreamState();
  #libxc: LibxcStreamState | undefined;
  #imageVersion = 0;
  // The record being read.
  #recLayer: "libxl" | "libxc" = "libxl";
  #recType = 0;
  #recLength = 0;
  #recOffset = 0;
  #skipLeft = 0;
  #afterPadding: State = "libxl-rec-header";
  // PAGE_DATA being read.
  readonly #batch = new PageBatch();
  #pageIdx = 0;
  #staged = 0;
  readonly #pageBuf = new Uint8Array(XC_PAGE_SIZE);

  constructor(opts: SaveImageReaderOptions) {
    this.#opts = opts;
    const first = opts.format === "xl"
      ? "xl-fixed"
      : opts.format === "libxl"
      ? "libxl-header"
      : "image-header";
    this.#state = first;
    this.#want = first === "xl-fixed"
      ? XL_HEADER_BYTES
      : first === "libxl-header"
      ? LIBXL_HEADER_BYTES
      : IHDR_BYTES;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** libxc CHECKPOINT records seen so far (a backup's failover point, §6.1). */
  get checkpointsSeen(): number {
    return this.#image.checkpoints;
  }

  /** Feeds the next bytes of the stream. */
  push(chunk: Uint8Array): PushResult {
    if (this.#error) return { ok: false, error: this.#error };
    const records: SaveRecord[] = [];
    this.#out = records;
    let pos = 0;
    while (pos < chunk.length && this.#state !== "done" && this.#error === undefined) {
      pos = this.#step(chunk, pos);
    }
    if (this.#error) return { ok: false, error: this.#error };
    return { ok: true, records, consumed: pos, done: this.#state === "done" };
  }

  /** Ends the stream: the image, or why it is incomplete. */
  finish(): FinishResult {
    if (this.#error) return { ok: false, error: this.#error };
    if (this.#state === "done") return { ok: true, image: this.#image };
    this.#error = this.#truncation();
    return { ok: false, error: this.#error };
  }

  #step(chunk: Uint8Array, pos: number): number {
    if (this.#state === "page-data") return this.#pages(chunk, pos);
    const avail = chunk.length - pos;
    if (this.#state === "skip") {
      const n = Math.min(this.#skipLeft, avail);
      this.#skipLeft -= n;
      this.#offset += n;
      if (this.#skipLeft === 0) this.#enter("padding", paddingOf(this.#recLength));
      return pos + n;
    }
    if (this.#have === 0 && avail >= this.#want) {
      this.#offset += this.#want;
      const end = pos + this.#want;
      this.#complete(chunk.subarray(pos, end));
      return end;
    }
    const n = Math.min(this.#want - this.#have, avail);
    if (this.#have + n > this.#gbuf.length) this.#grow(this.#have + n);
    this.#gbuf.set(chunk.subarray(pos, pos + n), this.#have);
    this.#have += n;
    this.#offset += n;
    if (this.#have === this.#want) {
      this.#have = 0;
      this.#complete(this.#gbuf.subarray(0, this.#want));
    }
    return pos + n;
  }

  /** Moves to `state`, which needs `want` bytes next. */
  #enter(state: State, want: number): void {
    this.#state = state;
    this.#want = want;
    this.#have = 0;
    if (this.#gbuf.length > GATHER_KEEP_BYTES) this.#gbuf = new Uint8Array(64);
    if (want === 0 && state !== "skip" && state !== "page-data" && state !== "done") {
      this.#complete(this.#gbuf.subarray(0, 0));
    }
  }

  /**
   * Grows the gather buffer as bytes arrive (doubling, capped at what the
   * current state wants), so a header that claims a large body costs memory
   * only for the bytes actually sent.
   */
  #grow(needed: number): void {
    const grown = new Uint8Array(Math.min(this.#want, Math.max(needed, this.#gbuf.length * 2)));
    grown.set(this.#gbuf.subarray(0, this.#have));
    this.#gbuf = grown;
  }

  #emit(r: SaveRecord): void {
    applyRecord(this.#image, r);
    this.#out.push(r);
  }

  #fail(code: SaveImageErrorCode, reason: string): void {
    if (this.#error) return;
    const header = HEADER_NAMES[this.#state];
    if (header) {
      const offset = this.#state === "xl-optdata" ? XL_HEADER_BYTES : this.#offset - this.#want;
      this.#error = new SaveImageError(code, { layer: header[0], what: header[1], offset }, reason);
      return;
    }
    const layer: SaveImageLayer = this.#recLayer === "libxl" ? "libxl stream" : "libxc stream";
    this.#error = new SaveImageError(code, {
      layer,
      what: this.#recWhat(),
      offset: this.#recOffset,
    }, reason);
  }

  /** `"PAGE_DATA record"`, or `"record 0x00000013"` for a type without a name. */
  #recWhat(): string {
    const name = this.#recName();
    return name.includes("record ") ? name : `${name} record`;
  }

  #recName(): string {
    return this.#recLayer === "libxl"
      ? libxlRecordName(this.#recType)
      : libxcRecordName(this.#recType);
  }

  #complete(b: Uint8Array): void {
    switch (this.#state) {
      case "xl-fixed":
        return this.#xlFixed(b);
      case "xl-optdata":
        return this.#xlOptionalData(b);
      case "libxl-header": {
        const r = decodeLibxlHeader(b);
        if (!r.ok) return this.#fail(r.code, r.reason);
        this.#emit({
          layer: "libxl",
          kind: "LIBXL_HEADER",
          offset: this.#offset - LIBXL_HEADER_BYTES,
          legacy: r.value.legacy,
        });
        return this.#enter("libxl-rec-header", REC_HEADER_BYTES);
      }
      case "libxl-rec-header":
      case "libxc-rec-header":
        return this.#recordHeader(b);
      case "libxl-body":
        return this.#libxlBody(b);
      case "image-header": {
        const r = decodeImageHeader(b);
        if (!r.ok) return this.#fail(r.code, r.reason);
        this.#imageVersion = r.value.version;
        this.#emit({
          layer: "libxc",
          kind: "IMAGE_HEADER",
          offset: this.#offset - IHDR_BYTES,
          version: r.value.version,
        });
        return this.#enter("domain-header", DHDR_BYTES);
      }
      case "domain-header": {
        const r = decodeDomainHeader(b);
        if (!r.ok) return this.#fail(r.code, r.reason);
        const { domainType, xenVersion } = r.value;
        this.#libxc = newLibxcStreamState(
          this.#imageVersion,
          domainType,
          this.#opts.checkpointed === true,
        );
        this.#emit({
          layer: "libxc",
          kind: "DOMAIN_HEADER",
          offset: this.#offset - DHDR_BYTES,
          domainType,
          xenVersion,
        });
        return this.#enter("libxc-rec-header", REC_HEADER_BYTES);
      }
      case "libxc-body":
        return this.#libxcBody(b);
      case "page-header":
        return this.#pageHeader(b);
      case "page-pfns":
        return this.#pagePfns(b);
      case "padding":
        if (!isZeroPadding(b)) return this.#fail("bad_padding", "padding contains non-zero bytes");
        return this.#enter(this.#afterPadding, REC_HEADER_BYTES);
      case "skip":
      case "page-data":
      case "done":
        throw new Error(`SaveImageReader: ${this.#state} does not gather bytes`);
    }
  }

  #xlFixed(b: Uint8Array): void {
    const r = decodeXlFixedHeader(b);
    if (!r.ok) return this.#fail(r.code, r.reason);
    this.#xlFlags = r.value.mandatoryFlags;
    this.#xlOptionalFlags = r.value.optionalFlags;
    this.#enter("xl-optdata", r.value.optionalDataBytes);
  }

  #xlOptionalData(b: Uint8Array): void {
    const r = decodeXlOptionalData(b, this.#xlFlags);
    if (!r.ok) return this.#fail(r.code, r.reason);
    this.#emit({
      layer: "xl",
      kind: "XL_HEADER",
      offset: 0,
      mandatoryFlags: this.#xlFlags,
      optionalFlags: this.#xlOptionalFlags,
      config: r.value.config,
    });
    this.#enter("libxl-header", LIBXL_HEADER_BYTES);
  }

  #recordHeader(b: Uint8Array): void {
    const libxl = this.#state === "libxl-rec-header";
    const { type, length } = decodeRecordHeader(b);
    this.#recLayer = libxl ? "libxl" : "libxc";
    this.#recType = type;
    this.#recLength = length;
    this.#recOffset = this.#offset - REC_HEADER_BYTES;
    if (length > REC_LENGTH_MAX) {
      return this.#fail("limit", `length ${length} exceeds REC_LENGTH_MAX ${REC_LENGTH_MAX}`);
    }
    const plan = libxl
      ? planLibxlRecord(this.#libxl, type, length)
      : planLibxcRecord(this.#libxc!, type, length, this.#recName());
    if (!plan.ok) return this.#fail(plan.code, plan.reason);
    switch (plan.value) {
      case "skip":
        this.#emit({
          layer: this.#recLayer,
          kind: "OPTIONAL",
          offset: this.#recOffset,
          type,
          length,
        });
        this.#afterPadding = this.#state;
        this.#skipLeft = length;
        if (length === 0) return this.#enter("padding", 0);
        return this.#enter("skip", 0);
      case "page-data":
        if (length < PAGE_DATA_HEADER_BYTES) {
          return this.#fail(
            "bad_length",
            `length ${length} too short for the count and reserved words`,
          );
        }
        return this.#enter("page-header", PAGE_DATA_HEADER_BYTES);
      case "buffer":
        return this.#enter(libxl ? "libxl-body" : "libxc-body", paddedLength(length));
    }
  }

  #checkedBody(b: Uint8Array): Uint8Array | undefined {
    if (!isZeroPadding(b.subarray(this.#recLength))) {
      this.#fail(
        "bad_padding",
        `padding after ${this.#recLength} body bytes contains non-zero bytes`,
      );
      return undefined;
    }
    return b.subarray(0, this.#recLength);
  }

  #libxlBody(b: Uint8Array): void {
    const body = this.#checkedBody(b);
    if (!body) return;
    const r = decodeLibxlRecord(this.#libxl, this.#recType, body, this.#recOffset);
    if (!r.ok) return this.#fail(r.code, r.reason);
    this.#emit(r.value);
    switch (this.#recType) {
      case LibxlRec.END:
        return this.#finishImage();
      case LibxlRec.LIBXC_CONTEXT:
        return this.#enter("image-header", IHDR_BYTES);
      case LibxlRec.CHECKPOINT_END:
        return this.#enter("libxc-rec-header", REC_HEADER_BYTES);
      default:
        return this.#enter("libxl-rec-header", REC_HEADER_BYTES);
    }
  }

  #libxcBody(b: Uint8Array): void {
    const body = this.#checkedBody(b);
    if (!body) return;
    const r = decodeLibxcRecord(this.#libxc!, this.#recType, body, this.#recOffset);
    if (!r.ok) return this.#fail(r.code, r.reason);
    this.#emit(r.value);
    const libxl = this.#opts.format !== "libxc";
    if (this.#recType === XcRec.END) {
      return libxl ? this.#enter("libxl-rec-header", REC_HEADER_BYTES) : this.#finishImage();
    }
    if (this.#recType === XcRec.CHECKPOINT && libxl) {
      this.#libxl.interlude = true;
      return this.#enter("libxl-rec-header", REC_HEADER_BYTES);
    }
    this.#enter("libxc-rec-header", REC_HEADER_BYTES);
  }

  #pageHeader(b: Uint8Array): void {
    const dv = new DataView(b.buffer, b.byteOffset, PAGE_DATA_HEADER_BYTES);
    const count = dv.getUint32(0, true);
    const ok = checkPageDataHeader(this.#recLength, count, dv.getUint32(4, true));
    if (!ok.ok) return this.#fail(ok.code, ok.reason);
    this.#enter("page-pfns", PFN_ENTRY_BYTES * count);
  }

  #pagePfns(b: Uint8Array): void {
    const batch = this.#batch;
    const r = batch.decode(b, b.length / PFN_ENTRY_BYTES);
    if (!r.ok) return this.#fail(r.code, r.reason);
    const ok = checkPageBatch(this.#libxc!, batch, this.#recLength);
    if (!ok.ok) return this.#fail(ok.code, ok.reason);
    this.#emit({
      layer: "libxc",
      kind: "PAGE_DATA",
      offset: this.#recOffset,
      count: batch.count,
      dataPages: batch.dataPages,
      verify: this.#libxc!.verify,
    });
    if (!this.#libxc!.verify) this.#opts.batchSink?.(batch.pfns, batch.types, batch.count);
    this.#pageIdx = 0;
    this.#staged = 0;
    this.#enter("page-data", 0);
    this.#pages(this.#pageBuf.subarray(0, 0), 0); // entries without data before the first page
  }

  /** Hands pages to the sink straight from the chunk, staging only a page split across chunks. */
  #pages(chunk: Uint8Array, pos: number): number {
    const b = this.#batch;
    const sink = this.#libxc!.verify ? this.#opts.verifyPageSink : this.#opts.pageSink;
    while (this.#pageIdx < b.count) {
      const i = this.#pageIdx;
      const type = b.types[i];
      if (!pageTypeHasData(type)) {
        if (sink) sink(b.pfns[i], type, null);
        this.#pageIdx++;
        continue;
      }
      const avail = chunk.length - pos;
      if (this.#staged === 0 && avail >= XC_PAGE_SIZE) {
        if (sink) sink(b.pfns[i], type, chunk.subarray(pos, pos + XC_PAGE_SIZE));
        pos += XC_PAGE_SIZE;
        this.#offset += XC_PAGE_SIZE;
        this.#pageIdx++;
        continue;
      }
      if (avail === 0) return pos;
      const n = Math.min(XC_PAGE_SIZE - this.#staged, avail);
      this.#pageBuf.set(chunk.subarray(pos, pos + n), this.#staged);
      this.#staged += n;
      pos += n;
      this.#offset += n;
      if (this.#staged === XC_PAGE_SIZE) {
        if (sink) sink(b.pfns[i], type, this.#pageBuf);
        this.#staged = 0;
        this.#pageIdx++;
      }
    }
    this.#enter("libxc-rec-header", REC_HEADER_BYTES);
    return pos;
  }

  #finishImage(): void {
    this.#state = "done";
    this.#image.bytes = this.#offset;
  }

  /** Why a stream that ended now is incomplete. */
  #truncation(): SaveImageError {
    const s = this.#state;
    const header = HEADER_NAMES[s];
    if (header) {
      const start = this.#offset - this.#have;
      const short = this.#want - this.#have;
      return new SaveImageError(
        "truncated",
        { layer: header[0], what: header[1], offset: s === "xl-optdata" ? XL_HEADER_BYTES : start },
        `truncated: the stream ends at offset ${this.#offset}, ${short} bytes short of the ${
          header[1]
        }'s end`,
      );
    }
    if ((s === "libxl-rec-header" || s === "libxc-rec-header") && this.#have === 0) {
      const layer: SaveImageLayer = s === "libxl-rec-header" ? "libxl stream" : "libxc stream";
      const expected = this.#libxl.interlude && s === "libxl-rec-header" ? "CHECKPOINT_END" : "END";
      return new SaveImageError(
        "missing_end",
        { layer, offset: this.#offset },
        `the stream ends between records, before the ${expected} record`,
      );
    }
    if (s === "libxl-rec-header" || s === "libxc-rec-header") {
      const layer: SaveImageLayer = s === "libxl-rec-header" ? "libxl stream" : "libxc stream";
      return new SaveImageError(
        "truncated",
        { layer, what: "record header", offset: this.#offset - this.#have },
        `truncated: the stream ends after ${this.#have} of ${REC_HEADER_BYTES} header bytes`,
      );
    }
    const end = this.#recOffset + REC_HEADER_BYTES + paddedLength(this.#recLength);
    const layer: SaveImageLayer = this.#recLayer === "libxl" ? "libxl stream" : "libxc stream";
    return new SaveImageError(
      "truncated",
      { layer, what: this.#recWhat(), offset: this.#recOffset },
      `truncated: the stream ends at offset ${this.#offset}, ${
        end - this.#offset
      } bytes short of the record's end`,
    );
  }
}
