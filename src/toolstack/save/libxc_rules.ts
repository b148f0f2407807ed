/**
 * @module
 * What a libxc stream may contain, and where: the per-record checks of
 * libxc's restore side (`xg_sr_restore.c` `process_record`,
 * `handle_page_data`, `handle_static_data_end`; `xg_sr_restore_x86_pv.c`;
 * `xg_sr_restore_x86_hvm.c`; `xg_sr_common_x86.c`), kept apart from the
 * byte-level state machine that feeds them.
 *
 * * A record's guest type must match the domain header: PV records in an
 *   HVM stream (and vice versa) are "not handled" mandatory records.
 * * v3: X86_CPUID_POLICY / X86_MSR_POLICY before STATIC_DATA_END, memory
 *   (PAGE_DATA, and P2M_FRAMES for PV) after it; v2 streams have none of the
 *   three and STATIC_DATA_END is inferred at the first memory record.
 * * PV: X86_PV_INFO once, before P2M_FRAMES, vCPU and SHARED_INFO records;
 *   P2M_FRAMES before PAGE_DATA (§5.1 "Required order"); pfns up to the
 *   p2m's end pfn.
 * * CHECKPOINT only in a checkpointed (Remus/COLO) stream;
 *   CHECKPOINT_DIRTY_PFN_LIST only on COLO's back channel; TOOLSTACK is gone.
 * * At END: PV has vcpu0's basic state, HVM has an HVM context
 *   ("Sender didn't send vcpu0's basic state").
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import { MAX_BATCH_SIZE, XC_PAGE_SIZE, XcRec } from "./stream_format.ts";
import { isOptionalRecord } from "./record_framing.ts";
import { type PageBatch, pageDataLength } from "./page_data.ts";
import type { DomainType } from "./stream_headers.ts";
import {
  decodeCpuidPolicy,
  decodeHvmParams,
  decodeMsrPolicy,
  decodeP2mFrames,
  decodePvInfo,
  decodeTscInfo,
  decodeVcpuRecord,
  type VcpuBlobKind,
} from "./libxc_records.ts";
import type { LibxcRecord, VcpuRecordKind } from "./save_record.ts";

/** What the rules remember about the stream so far. */
export interface LibxcStreamState {
  version: number;
  domainType: DomainType;
  checkpointed: boolean;
  guestWidth: 4 | 8 | undefined;
  seenStaticDataEnd: boolean;
  seenP2m: boolean;
  /** Highest pfn the p2m covers (PV). */
  p2mEndPfn: number;
  verify: boolean;
  vcpu0Basic: boolean;
  hvmContext: boolean;
}

export function newLibxcStreamState(
  version: number,
  domainType: DomainType,
  checkpointed: boolean,
): LibxcStreamState {
  return {
    version,
    domainType,
    checkpointed,
    guestWidth: undefined,
    seenStaticDataEnd: false,
    seenP2m: false,
    p2mEndPfn: 0,
    verify: false,
    vcpu0Basic: false,
    hvmContext: false,
  };
}

/** How the reader takes a record's body. */
export type BodyPlan = "page-data" | "buffer" | "skip";

const PV_ONLY = new Set<number>([
  XcRec.X86_PV_INFO,
  XcRec.X86_PV_P2M_FRAMES,
  XcRec.X86_PV_VCPU_BASIC,
  XcRec.X86_PV_VCPU_EXTENDED,
  XcRec.X86_PV_VCPU_XSAVE,
  XcRec.X86_PV_VCPU_MSRS,
  XcRec.SHARED_INFO,
]);
const HVM_ONLY = new Set<number>([XcRec.HVM_CONTEXT, XcRec.HVM_PARAMS]);
const EMPTY = new Set<number>([XcRec.END, XcRec.VERIFY, XcRec.CHECKPOINT, XcRec.STATIC_DATA_END]);
const VCPU_KINDS = new Map<number, [VcpuRecordKind, VcpuBlobKind]>([
  [XcRec.X86_PV_VCPU_BASIC, ["X86_PV_VCPU_BASIC", "basic"]],
  [XcRec.X86_PV_VCPU_EXTENDED, ["X86_PV_VCPU_EXTENDED", "extended"]],
  [XcRec.X86_PV_VCPU_XSAVE, ["X86_PV_VCPU_XSAVE", "xsave"]],
  [XcRec.X86_PV_VCPU_MSRS, ["X86_PV_VCPU_MSRS", "msrs"]],
]);
const KNOWN_MAX = XcRec.X86_MSR_POLICY;

/** v2 streams: STATIC_DATA_END is implied by the first memory record. */
function needStaticDataEnd(s: LibxcStreamState, name: string): Decoded<void> {
  if (!s.seenStaticDataEnd && s.version < 3) s.seenStaticDataEnd = true;
  if (!s.seenStaticDataEnd) return refused("bad_order", `${name} before STATIC_DATA_END`);
  return decoded(undefined);
}

/**
 * Decides, from its header alone, whether a record may appear here and how
 * to take its body.
 */
export function planLibxcRecord(
  s: LibxcStreamState,
  type: number,
  length: number,
  name: string,
): Decoded<BodyPlan> {
  if (type > KNOWN_MAX) {
    if (isOptionalRecord(type)) return decoded("skip");
    return refused("unknown_record", `unknown mandatory record type 0x${type.toString(16)}`);
  }
  const guest = s.domainType === "pv" ? "x86 PV" : "x86 HVM";
  if (
    (s.domainType === "hvm" && PV_ONLY.has(type)) || (s.domainType === "pv" && HVM_ONLY.has(type))
  ) {
    return refused("unexpected_record", `${name} record in an ${guest} stream`);
  }
  if (EMPTY.has(type) && length !== 0) return refused("bad_length", `length ${length}, expected 0`);
  switch (type) {
    case XcRec.TOOLSTACK:
      return refused("unsupported", "deprecated TOOLSTACK record (removed in Xen 4.7)");
    case XcRec.CHECKPOINT_DIRTY_PFN_LIST:
      return refused(
        "unexpected_record",
        "CHECKPOINT_DIRTY_PFN_LIST belongs on COLO's back channel",
      );
    case XcRec.CHECKPOINT:
      if (!s.checkpointed) {
        return refused(
          "unexpected_record",
          "CHECKPOINT in a non-checkpointed stream (read it with checkpointed: true)",
        );
      }
      break;
    case XcRec.STATIC_DATA_END:
      if (s.version < 3) return refused("unexpected_record", "STATIC_DATA_END in a v2 stream");
      if (s.seenStaticDataEnd) return refused("bad_order", "multiple STATIC_DATA_END records");
      break;
    case XcRec.X86_CPUID_POLICY:
    case XcRec.X86_MSR_POLICY:
      if (s.version < 3) return refused("unexpected_record", `${name} in a v2 stream`);
      if (s.seenStaticDataEnd) return refused("bad_order", `${name} after STATIC_DATA_END`);
      break;
    case XcRec.X86_PV_INFO:
      if (s.guestWidth !== undefined) return refused("bad_order", "already received X86_PV_INFO");
      break;
    case XcRec.X86_PV_P2M_FRAMES: {
      if (s.guestWidth === undefined) {
        return refused("bad_order", "X86_PV_P2M_FRAMES before X86_PV_INFO");
      }
      const sde = needStaticDataEnd(s, name);
      if (!sde.ok) return sde;
      break;
    }
    case XcRec.PAGE_DATA: {
      const sde = needStaticDataEnd(s, name);
      if (!sde.ok) return sde;
      if (s.domainType === "pv" && !s.seenP2m) {
        return refused("bad_order", "PAGE_DATA before X86_PV_P2M_FRAMES");
      }
      return decoded("page-data");
    }
    case XcRec.SHARED_INFO:
      if (length !== XC_PAGE_SIZE) {
        return refused("bad_length", `length ${length}, expected ${XC_PAGE_SIZE}`);
      }
      if (s.guestWidth === undefined) return refused("bad_order", `${name} before X86_PV_INFO`);
      break;
    case XcRec.HVM_CONTEXT:
      if (length === 0) return refused("bad_length", "zero-length HVM context");
      break;
    default:
      if (VCPU_KINDS.has(type) && s.guestWidth === undefined) {
        return refused("bad_order", `${name} before X86_PV_INFO`);
      }
  }
  return decoded("buffer");
}

/** Decodes a buffered record body (planned "buffer") and updates the state. */
export function decodeLibxcRecord(
  s: LibxcStreamState,
  type: number,
  body: Uint8Array,
  offset: number,
): Decoded<LibxcRecord> {
  const at = { layer: "libxc" as const, offset };
  const vk = VCPU_KINDS.get(type);
  if (vk !== undefined) {
    const r = decodeVcpuRecord(vk[1], body, s.guestWidth!);
    if (!r.ok) return r;
    if (vk[1] === "basic" && r.value.vcpuId === 0 && r.value.blob.length > 0) s.vcpu0Basic = true;
    return decoded({ ...at, kind: vk[0], vcpu: vk[1], vcpuId: r.value.vcpuId, blob: r.value.blob });
  }
  switch (type) {
    case XcRec.END:
      if (s.domainType === "pv" && !s.vcpu0Basic) {
        return refused(
          "bad_order",
          "END before vcpu0's X86_PV_VCPU_BASIC (sender didn't send vcpu0's basic state)",
        );
      }
      if (s.domainType === "hvm" && !s.hvmContext) {
        return refused("bad_order", "END before HVM_CONTEXT");
      }
      return decoded({ ...at, kind: "END" });
    case XcRec.VERIFY:
      s.verify = true;
      return decoded({ ...at, kind: "VERIFY" });
    case XcRec.CHECKPOINT:
      return decoded({ ...at, kind: "CHECKPOINT" });
    case XcRec.STATIC_DATA_END:
      s.seenStaticDataEnd = true;
      return decoded({ ...at, kind: "STATIC_DATA_END" });
    case XcRec.X86_PV_INFO: {
      const r = decodePvInfo(body);
      if (!r.ok) return r;
      s.guestWidth = r.value.guestWidth;
      return decoded({ ...at, kind: "X86_PV_INFO", info: r.value });
    }
    case XcRec.X86_PV_P2M_FRAMES: {
      const r = decodeP2mFrames(body, s.guestWidth!);
      if (!r.ok) return r;
      s.seenP2m = true;
      s.p2mEndPfn = Math.max(s.p2mEndPfn, r.value.endPfn);
      return decoded({ ...at, kind: "X86_PV_P2M_FRAMES", p2m: r.value });
    }
    case XcRec.SHARED_INFO:
      return decoded({ ...at, kind: "SHARED_INFO", page: body.slice() });
    case XcRec.X86_TSC_INFO: {
      const r = decodeTscInfo(body);
      return r.ok ? decoded({ ...at, kind: "X86_TSC_INFO", tsc: r.value }) : r;
    }
    case XcRec.HVM_CONTEXT:
      s.hvmContext = true;
      return decoded({ ...at, kind: "HVM_CONTEXT", blob: body.slice() });
    case XcRec.HVM_PARAMS: {
      const r = decodeHvmParams(body);
      return r.ok ? decoded({ ...at, kind: "HVM_PARAMS", params: r.value }) : r;
    }
    case XcRec.X86_CPUID_POLICY: {
      const r = decodeCpuidPolicy(body);
      return r.ok ? decoded({ ...at, kind: "X86_CPUID_POLICY", leaves: r.value }) : r;
    }
    case XcRec.X86_MSR_POLICY: {
      const r = decodeMsrPolicy(body);
      return r.ok ? decoded({ ...at, kind: "X86_MSR_POLICY", entries: r.value }) : r;
    }
  }
  throw new Error(`libxc_rules: record type ${type} was planned but has no decoder`);
}

/** Checks a PAGE_DATA record's count word against its length (`handle_page_data`). */
export function checkPageDataHeader(
  length: number,
  count: number,
  reserved: number,
): Decoded<void> {
  if (count < 1) return refused("bad_field", "expected at least 1 pfn");
  if (count > MAX_BATCH_SIZE) {
    return refused("batch_too_large", `count ${count} exceeds MAX_BATCH_SIZE ${MAX_BATCH_SIZE}`);
  }
  if (reserved !== 0) {
    return refused("bad_field", `reserved u32 is 0x${reserved.toString(16)}, not zero`);
  }
  if (length < pageDataLength(count, 0)) {
    return refused("bad_length", `length ${length} too short to contain ${count} pfns`);
  }
  return decoded(undefined);
}

/** Checks a decoded batch: pfns within the PV p2m, and the exact record length. */
export function checkPageBatch(
  s: LibxcStreamState,
  batch: PageBatch,
  length: number,
): Decoded<void> {
  if (s.domainType === "pv") {
    for (let i = 0; i < batch.count; i++) {
      if (batch.pfns[i] > s.p2mEndPfn) {
        return refused(
          "bad_field",
          `pfn 0x${batch.pfns[i].toString(16)} (index ${i}) outside domain maximum 0x${
            s.p2mEndPfn.toString(16)
          }`,
        );
      }
    }
  }
  const want = pageDataLength(batch.count, batch.dataPages);
  if (length !== want) {
    return refused(
      "bad_length",
      `length ${length}, expected 8 + 8 * ${batch.count} pfns + 4096 * ${batch.dataPages} pages = ${want}`,
    );
  }
  return decoded(undefined);
}
