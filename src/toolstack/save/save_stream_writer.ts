/**
 * @module
 * A streaming writer of Xen save images and migration streams, byte for
 * byte in the format `xl save` / `xl migrate` produce (§5.1), in the order
 * the real saver emits records (§5.1 "Record order actually emitted", §5.2,
 * §6.1):
 *
 * ```
 * xlHeader()            xl header + JSON config             (xl files and migration)
 * libxlHeader()         LibxlFmt header                      (libxl layer)
 * libxcBegin()          LIBXC_CONTEXT, XENF image + domain header
 *   PV:  pvInfo, cpuidPolicy, msrPolicy, staticDataEnd, p2mFrames,
 *        pageData…, tscInfo, sharedInfo, vcpuBasic/Extended/Xsave/Msrs…
 *   HVM: cpuidPolicy, msrPolicy, staticDataEnd, pageData…, tscInfo,
 *        hvmContext, hvmParams
 *   checkpointed: checkpoint(), [emulatorXenstoreData], emulatorContext,
 *        checkpointEnd(), then the next round's pageData… and state records
 * libxcEnd()            libxc END
 * [emulatorXenstoreData], emulatorContext (HVM), libxlEnd()
 * ```
 *
 * Output goes to a sink in chunks: small records are gathered into chunks of
 * about {@link WRITE_CHUNK_BYTES}, while page data and other large bodies go
 * to the sink as the caller's own bytes, without a copy — so saving a
 * 256 MiB guest never builds a 256 MiB buffer, and no per-page object is
 * made. Each method resolves once the sink has accepted its bytes
 * (back-pressure). Chunks are never reused by the writer, but large ones are
 * views of the caller's arguments: do not modify `pages` or a blob until the
 * call that took it resolves, and a sink that keeps chunks must copy them.
 *
 * Calling methods out of order, or with arguments that would make a stream
 * Xen's restorer refuses, is a programmer error (an AssertionError).
 *
 * @example
 * ```ts
 * import { PFINFO, SaveStreamWriter } from "./mod.ts";
 * const chunks: Uint8Array[] = [];
 * const w = new SaveStreamWriter((c) => void chunks.push(c.slice()), {
 *   domainType: "hvm", xenVersion: { major: 4, minor: 17 }, xlConfigJson: "{}",
 * });
 * await w.xlHeader(); await w.libxlHeader(); await w.libxcBegin();
 * await w.staticDataEnd();
 * await w.pageData([0], PFINFO.NOTAB, new Uint8Array(4096));
 * await w.hvmContext(new Uint8Array(8)); await w.hvmParams([]);
 * await w.libxcEnd(); await w.libxlEnd();
 * ```
 */
import { AssertionError } from "node:assert";
import { encodeXlHeader } from "./xl_header.ts";
import {
  type DomainType,
  encodeDomainHeader,
  encodeImageHeader,
  encodeLibxlHeader,
  type XenVersion,
} from "./stream_headers.ts";
import { paddingOf, putRecordHeader } from "./record_framing.ts";
import { encodePageDataHead } from "./page_data.ts";
import {
  type CpuidLeaf,
  encodeCpuidPolicy,
  encodeHvmParams,
  encodeMsrPolicy,
  encodeP2mFrames,
  encodePvInfo,
  encodeTscInfo,
  encodeVcpuRecord,
  EXT_VCPUCONTEXT_BYTES_MAX,
  type MsrEntry,
  p2mFrameCount,
  type P2mFrames,
  type PvInfo,
  type TscInfo,
  VCPU_GUEST_CONTEXT_X86_32_BYTES,
  VCPU_GUEST_CONTEXT_X86_64_BYTES,
  VCPU_MSR_BYTES,
  type VcpuBlobKind,
} from "./libxc_records.ts";
import {
  type EmulatorContext,
  type EmulatorXenstoreData,
  encodeCheckpointState,
  encodeEmulatorContext,
  encodeEmulatorXenstoreData,
} from "./libxl_records.ts";
import {
  LibxlRec,
  REC_HEADER_BYTES,
  REC_LENGTH_MAX,
  XC_PAGE_SIZE,
  XcRec,
} from "./stream_format.ts";

/** Where the writer's bytes go. A returned promise is awaited before the next chunk. */
export type SaveSink = (chunk: Uint8Array) => void | Promise<void>;

/** Default size of the chunks small records are gathered into (64 KiB). */
export const WRITE_CHUNK_BYTES = 64 * 1024;

export interface SaveStreamWriterOptions {
  domainType: DomainType;
  /** Written in the libxc domain header, e.g. `{ major: 4, minor: 17 }`. */
  xenVersion: XenVersion;
  /** The domain config (libxl JSON) for the xl header; none ⇒ no JSON flag. */
  xlConfigJson?: string;
  /** A Remus/COLO stream: {@link SaveStreamWriter.checkpoint} is allowed. */
  checkpointed?: boolean;
  /** Size of gathered chunks; bodies this big or bigger bypass gathering. */
  chunkBytes?: number;
}

/** Where the writer is in the stream (§5.1 layers). */
type Phase = "start" | "xl" | "libxl" | "static" | "memory" | "interlude" | "libxl-tail" | "done";

const VCPU_TYPES: Record<VcpuBlobKind, number> = {
  basic: XcRec.X86_PV_VCPU_BASIC,
  extended: XcRec.X86_PV_VCPU_EXTENDED,
  xsave: XcRec.X86_PV_VCPU_XSAVE,
  msrs: XcRec.X86_PV_VCPU_MSRS,
};

function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError({ message: `SaveStreamWriter: ${message}` });
}

/** Writes one image; see the module documentation for the call order. */
export class SaveStreamWriter {
  readonly #sink: SaveSink;
  readonly #opts: SaveStreamWriterOptions;
  readonly #chunkBytes: number;
  #phase: Phase = "start";
  #libxl = false;
  #pending: Uint8Array;
  #pendingLen = 0;
  #bytesWritten = 0;
  #guestWidth: 4 | 8 | undefined;
  #p2mSent = false;
  #vcpu0Sent = false;
  #hvmContextSent = false;

  constructor(sink: SaveSink, opts: SaveStreamWriterOptions) {
    this.#sink = sink;
    this.#opts = opts;
    this.#chunkBytes = opts.chunkBytes ?? WRITE_CHUNK_BYTES;
    check(this.#chunkBytes >= 64, "chunkBytes must be at least 64");
    this.#pending = new Uint8Array(this.#chunkBytes);
  }

  /** Bytes handed to the sink so far (pending bytes not included). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** The xl header and config (`save_domain_core_writeconfig`). */
  async xlHeader(): Promise<void> {
    this.#expect(["start"], "xlHeader");
    this.#append(encodeXlHeader(this.#opts.xlConfigJson));
    this.#phase = "xl";
    await this.#maybeFlush();
  }

  /** The libxl stream header. */
  async libxlHeader(): Promise<void> {
    this.#expect(["start", "xl"], "libxlHeader");
    this.#append(encodeLibxlHeader());
    this.#phase = "libxl";
    this.#libxl = true;
    await this.#maybeFlush();
  }

  /** LIBXC_CONTEXT (when inside a libxl stream), then the image and domain headers. */
  async libxcBegin(): Promise<void> {
    this.#expect(["start", "libxl"], "libxcBegin (after xlHeader, call libxlHeader first)");
    if (this.#libxl) await this.#record(LibxlRec.LIBXC_CONTEXT);
    this.#append(encodeImageHeader());
    this.#append(encodeDomainHeader(this.#opts.domainType, this.#opts.xenVersion));
    this.#phase = "static";
    await this.#maybeFlush();
  }

  /** X86_PV_INFO (PV, static data). */
  async pvInfo(info: PvInfo): Promise<void> {
    this.#expect(["static"], "pvInfo");
    check(this.#opts.domainType === "pv", "X86_PV_INFO in an HVM stream");
    check(this.#guestWidth === undefined, "X86_PV_INFO twice");
    this.#guestWidth = info.guestWidth;
    await this.#record(XcRec.X86_PV_INFO, encodePvInfo(info));
  }

  /** X86_CPUID_POLICY; an empty policy is not written (as libxc does). */
  async cpuidPolicy(leaves: readonly CpuidLeaf[]): Promise<void> {
    this.#expect(["static"], "cpuidPolicy");
    if (leaves.length > 0) await this.#record(XcRec.X86_CPUID_POLICY, encodeCpuidPolicy(leaves));
  }

  /** X86_MSR_POLICY; an empty policy is not written (as libxc does). */
  async msrPolicy(entries: readonly MsrEntry[]): Promise<void> {
    this.#expect(["static"], "msrPolicy");
    if (entries.length > 0) await this.#record(XcRec.X86_MSR_POLICY, encodeMsrPolicy(entries));
  }

  /** STATIC_DATA_END: memory and state records may follow. */
  async staticDataEnd(): Promise<void> {
    this.#expect(["static"], "staticDataEnd");
    check(
      this.#opts.domainType === "hvm" || this.#guestWidth !== undefined,
      "PV stream needs pvInfo first",
    );
    await this.#record(XcRec.STATIC_DATA_END);
    this.#phase = "memory";
  }

  /** X86_PV_P2M_FRAMES (PV, before any PAGE_DATA). */
  async p2mFrames(p: P2mFrames): Promise<void> {
    this.#expect(["memory"], "p2mFrames");
    check(this.#guestWidth !== undefined, "X86_PV_P2M_FRAMES in an HVM stream");
    check(p.startPfn <= p.endPfn, "p2m start pfn above end pfn");
    const n = p2mFrameCount(p.startPfn, p.endPfn, this.#guestWidth);
    check(p.frames.length === n, `p2m frames: ${p.frames.length} given, ${n} needed`);
    this.#p2mSent = true;
    await this.#record(XcRec.X86_PV_P2M_FRAMES, encodeP2mFrames(p));
  }

  /**
   * One PAGE_DATA record: up to MAX_BATCH_SIZE pfns with their PFINFO types
   * (one type for all, or one each) and, back to back, the 4096 bytes of
   * each page whose type carries data. `pages` goes to the sink as is.
   */
  async pageData(
    pfns: ArrayLike<number>,
    types: ArrayLike<number> | number,
    pages: Uint8Array,
  ): Promise<void> {
    this.#expect(["memory"], "pageData");
    check(
      this.#opts.domainType === "hvm" || this.#p2mSent,
      "PV PAGE_DATA before X86_PV_P2M_FRAMES",
    );
    const { head, dataPages } = encodePageDataHead(pfns, types);
    check(
      pages.length === dataPages * XC_PAGE_SIZE,
      `pages is ${pages.length} bytes; ${dataPages} pages of data need ${dataPages * XC_PAGE_SIZE}`,
    );
    this.#append(head);
    if (pages.length >= this.#chunkBytes) {
      await this.flush();
      await this.#emit(pages);
    } else {
      this.#append(pages);
      await this.#maybeFlush();
    }
  }

  /** VERIFY: a debug re-send of every page follows (`xl migrate --debug`). */
  async verify(): Promise<void> {
    this.#expect(["memory"], "verify");
    await this.#record(XcRec.VERIFY);
  }

  /** X86_TSC_INFO. */
  async tscInfo(t: TscInfo): Promise<void> {
    this.#expect(["memory"], "tscInfo");
    await this.#record(XcRec.X86_TSC_INFO, encodeTscInfo(t));
  }

  /** SHARED_INFO (PV): the domain's shared_info page. */
  async sharedInfo(page: Uint8Array): Promise<void> {
    this.#expect(["memory"], "sharedInfo");
    check(this.#guestWidth !== undefined, "SHARED_INFO in an HVM stream");
    check(page.length === XC_PAGE_SIZE, "shared_info must be one page");
    await this.#record(XcRec.SHARED_INFO, page);
  }

  /** X86_PV_VCPU_BASIC: `vcpu_guest_context` (5168 bytes for a 64-bit guest). */
  vcpuBasic(vcpuId: number, blob: Uint8Array): Promise<void> {
    return this.#vcpu("basic", vcpuId, blob);
  }

  /** X86_PV_VCPU_EXTENDED: `ext_vcpucontext` (at most 128 bytes). */
  vcpuExtended(vcpuId: number, blob: Uint8Array): Promise<void> {
    return this.#vcpu("extended", vcpuId, blob);
  }

  /** X86_PV_VCPU_XSAVE: the `getvcpuextstate` buffer. */
  vcpuXsave(vcpuId: number, blob: Uint8Array): Promise<void> {
    return this.#vcpu("xsave", vcpuId, blob);
  }

  /** X86_PV_VCPU_MSRS: `xen_domctl_vcpu_msr_t[]`. */
  vcpuMsrs(vcpuId: number, blob: Uint8Array): Promise<void> {
    return this.#vcpu("msrs", vcpuId, blob);
  }

  /** HVM_CONTEXT: the `gethvmcontext` blob (non-empty). */
  async hvmContext(blob: Uint8Array): Promise<void> {
    this.#expect(["memory"], "hvmContext");
    check(this.#opts.domainType === "hvm", "HVM_CONTEXT in a PV stream");
    check(blob.length > 0, "HVM_CONTEXT must not be empty");
    this.#hvmContextSent = true;
    await this.#record(XcRec.HVM_CONTEXT, blob);
  }

  /** HVM_PARAMS: the saved params (the saver omits zero values). */
  async hvmParams(params: readonly { index: number; value: bigint | number }[]): Promise<void> {
    this.#expect(["memory"], "hvmParams");
    check(this.#opts.domainType === "hvm", "HVM_PARAMS in a PV stream");
    await this.#record(XcRec.HVM_PARAMS, encodeHvmParams(params));
  }

  /**
   * CHECKPOINT: the end of one consistent state. In a libxl stream the libxl
   * layer follows (emulator records, then {@link checkpointEnd}).
   */
  async checkpoint(): Promise<void> {
    this.#expect(["memory"], "checkpoint");
    check(
      this.#opts.checkpointed === true,
      "CHECKPOINT in a stream not opened with checkpointed: true",
    );
    this.#checkComplete("CHECKPOINT");
    await this.#record(XcRec.CHECKPOINT);
    if (this.#libxl) this.#phase = "interlude";
    await this.flush();
  }

  /** EMULATOR_XENSTORE_DATA (libxl; after a checkpoint or after libxc's END). */
  async emulatorXenstoreData(d: EmulatorXenstoreData): Promise<void> {
    this.#expect(["interlude", "libxl-tail"], "emulatorXenstoreData");
    await this.#record(LibxlRec.EMULATOR_XENSTORE_DATA, encodeEmulatorXenstoreData(d));
  }

  /** EMULATOR_CONTEXT (libxl): the device model's save blob. */
  async emulatorContext(c: EmulatorContext): Promise<void> {
    this.#expect(["interlude", "libxl-tail"], "emulatorContext");
    await this.#record(LibxlRec.EMULATOR_CONTEXT, encodeEmulatorContext(c));
  }

  /** CHECKPOINT_STATE (libxl, COLO control). */
  async checkpointState(controlId: number): Promise<void> {
    this.#expect(["interlude", "libxl-tail"], "checkpointState");
    await this.#record(LibxlRec.CHECKPOINT_STATE, encodeCheckpointState(controlId));
  }

  /** CHECKPOINT_END (libxl): hands the stream back to libxc for the next round. */
  async checkpointEnd(): Promise<void> {
    this.#expect(["interlude"], "checkpointEnd");
    await this.#record(LibxlRec.CHECKPOINT_END);
    this.#phase = "memory";
    await this.flush();
  }

  /** libxc END. */
  async libxcEnd(): Promise<void> {
    this.#expect(["memory"], "libxcEnd");
    this.#checkComplete("END");
    await this.#record(XcRec.END);
    this.#phase = this.#libxl ? "libxl-tail" : "done";
    await this.flush();
  }

  /** libxl END: the image is complete. */
  async libxlEnd(): Promise<void> {
    this.#expect(["libxl-tail"], "libxlEnd");
    await this.#record(LibxlRec.END);
    this.#phase = "done";
    await this.flush();
  }

  /** Hands gathered bytes to the sink now. */
  async flush(): Promise<void> {
    if (this.#pendingLen === 0) return;
    const chunk = this.#pending.subarray(0, this.#pendingLen);
    this.#pending = new Uint8Array(this.#chunkBytes);
    this.#pendingLen = 0;
    await this.#emit(chunk);
  }

  async #vcpu(kind: VcpuBlobKind, vcpuId: number, blob: Uint8Array): Promise<void> {
    this.#expect(["memory"], `vcpu ${kind}`);
    const width = this.#guestWidth;
    check(width !== undefined, `X86_PV_VCPU_${kind.toUpperCase()} in an HVM stream`);
    check(Number.isInteger(vcpuId) && vcpuId >= 0 && vcpuId <= 0xffffffff, `vcpu id ${vcpuId}`);
    const basic = width === 8 ? VCPU_GUEST_CONTEXT_X86_64_BYTES : VCPU_GUEST_CONTEXT_X86_32_BYTES;
    if (kind === "basic") check(blob.length === basic, `vcpu context must be ${basic} bytes`);
    if (kind === "extended") {
      check(blob.length <= EXT_VCPUCONTEXT_BYTES_MAX, "extended context too long");
    }
    if (kind === "xsave" || kind === "msrs") {
      check(blob.length % VCPU_MSR_BYTES === 0, `${kind} blob not a multiple of ${VCPU_MSR_BYTES}`);
    }
    if (kind === "basic" && vcpuId === 0) this.#vcpu0Sent = true;
    await this.#record(VCPU_TYPES[kind], encodeVcpuRecord(vcpuId, blob));
  }

  /** What the restorer needs by the end of each consistent state. */
  #checkComplete(what: string): void {
    if (this.#opts.domainType === "pv") {
      check(this.#vcpu0Sent, `${what} before vcpu0's X86_PV_VCPU_BASIC`);
    } else {
      check(this.#hvmContextSent, `${what} before HVM_CONTEXT`);
    }
  }

  #expect(phases: Phase[], what: string): void {
    check(phases.includes(this.#phase), `${what} is not allowed after phase "${this.#phase}"`);
  }

  /** Frames a record: header, body, zero padding. */
  async #record(type: number, body: Uint8Array = new Uint8Array(0)): Promise<void> {
    check(body.length <= REC_LENGTH_MAX, `record body ${body.length} exceeds REC_LENGTH_MAX`);
    const hdr = new Uint8Array(REC_HEADER_BYTES);
    putRecordHeader(hdr, 0, type, body.length);
    this.#append(hdr);
    if (body.length >= this.#chunkBytes) {
      await this.flush();
      await this.#emit(body);
    } else {
      this.#append(body);
    }
    this.#append(new Uint8Array(paddingOf(body.length)));
    await this.#maybeFlush();
  }

  #append(b: Uint8Array): void {
    if (b.length === 0) return;
    if (this.#pendingLen + b.length > this.#pending.length) {
      const grown = new Uint8Array(Math.max(this.#pending.length * 2, this.#pendingLen + b.length));
      grown.set(this.#pending.subarray(0, this.#pendingLen));
      this.#pending = grown;
    }
    this.#pending.set(b, this.#pendingLen);
    this.#pendingLen += b.length;
  }

  async #maybeFlush(): Promise<void> {
    if (this.#pendingLen >= this.#chunkBytes) await this.flush();
  }

  async #emit(chunk: Uint8Array): Promise<void> {
    this.#bytesWritten += chunk.length;
    await this.#sink(chunk);
  }
}
