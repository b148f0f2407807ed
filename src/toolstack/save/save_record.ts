/**
 * @module
 * What the reader hands out: one typed {@link SaveRecord} per header or
 * record (pages go to a page sink instead, see `save_image_reader.ts`), and
 * the {@link SaveImage} a whole image adds up to — the config, the domain
 * type, vCPU contexts, HVM context and params, shared info, emulator state
 * and how many checkpoints went by. In a checkpointed stream later records
 * replace earlier ones, so the image holds the latest consistent state.
 */
import type { XlConfig } from "./xl_header.ts";
import type { DomainType, XenVersion } from "./stream_headers.ts";
import type {
  CpuidLeaf,
  HvmParam,
  MsrEntry,
  P2mFrames,
  PvInfo,
  TscInfo,
  VcpuBlobKind,
} from "./libxc_records.ts";
import type { EmulatorContext, EmulatorXenstoreData } from "./libxl_records.ts";

/** Fields every record carries: where it starts in the stream. */
interface At {
  offset: number;
}

/** The xl header with its config. */
export interface XlHeaderRecord extends At {
  layer: "xl";
  kind: "XL_HEADER";
  mandatoryFlags: number;
  optionalFlags: number;
  config: XlConfig | undefined;
}

/** libxl layer headers and records. */
export type LibxlRecord =
  & At
  & { layer: "libxl" }
  & (
    | { kind: "LIBXL_HEADER"; legacy: boolean }
    | { kind: "LIBXC_CONTEXT" }
    | { kind: "EMULATOR_XENSTORE_DATA"; data: EmulatorXenstoreData }
    | { kind: "EMULATOR_CONTEXT"; context: EmulatorContext }
    | { kind: "CHECKPOINT_END" }
    | { kind: "CHECKPOINT_STATE"; controlId: number }
    | { kind: "END" }
    | { kind: "OPTIONAL"; type: number; length: number }
  );

/** The per-vCPU PV record kinds. */
export type VcpuRecordKind =
  | "X86_PV_VCPU_BASIC"
  | "X86_PV_VCPU_EXTENDED"
  | "X86_PV_VCPU_XSAVE"
  | "X86_PV_VCPU_MSRS";

/** libxc layer headers and records. */
export type LibxcRecord =
  & At
  & { layer: "libxc" }
  & (
    | { kind: "IMAGE_HEADER"; version: number }
    | { kind: "DOMAIN_HEADER"; domainType: DomainType; xenVersion: XenVersion }
    | { kind: "PAGE_DATA"; count: number; dataPages: number; verify: boolean }
    | { kind: "X86_PV_INFO"; info: PvInfo }
    | { kind: "X86_PV_P2M_FRAMES"; p2m: P2mFrames }
    | { kind: VcpuRecordKind; vcpu: VcpuBlobKind; vcpuId: number; blob: Uint8Array }
    | { kind: "SHARED_INFO"; page: Uint8Array }
    | { kind: "X86_TSC_INFO"; tsc: TscInfo }
    | { kind: "HVM_CONTEXT"; blob: Uint8Array }
    | { kind: "HVM_PARAMS"; params: HvmParam[] }
    | { kind: "X86_CPUID_POLICY"; leaves: CpuidLeaf[] }
    | { kind: "X86_MSR_POLICY"; entries: MsrEntry[] }
    | { kind: "VERIFY" | "CHECKPOINT" | "STATIC_DATA_END" | "END" }
    | { kind: "OPTIONAL"; type: number; length: number }
  );

/** Anything the reader reports. */
export type SaveRecord = XlHeaderRecord | LibxlRecord | LibxcRecord;

/** One vCPU's saved PV state; absent parts were not in the stream. */
export type PvVcpuState = Partial<Record<VcpuBlobKind, Uint8Array>>;

/** Everything a complete image holds apart from its pages. */
export interface SaveImage {
  xl: { mandatoryFlags: number; optionalFlags: number; config: XlConfig | undefined } | undefined;
  libxl: { legacy: boolean } | undefined;
  /** libxc image header version (3, or 2 for Xen 4.6–4.13 streams). */
  streamVersion: number;
  domainType: DomainType;
  xenVersion: XenVersion;
  pvInfo: PvInfo | undefined;
  p2m: P2mFrames | undefined;
  cpuidPolicy: CpuidLeaf[] | undefined;
  msrPolicy: MsrEntry[] | undefined;
  /** PAGE_DATA records, pfn entries, and pages of data handed to the page sink. */
  pageRecords: number;
  pfnEntries: number;
  dataPages: number;
  /** PV vCPU blobs by vcpu id. */
  vcpus: Map<number, PvVcpuState>;
  sharedInfo: Uint8Array | undefined;
  tscInfo: TscInfo | undefined;
  hvmContext: Uint8Array | undefined;
  hvmParams: HvmParam[];
  emulatorXenstoreData: EmulatorXenstoreData[];
  emulatorContexts: EmulatorContext[];
  /** libxc CHECKPOINT records seen (Remus/COLO rounds). */
  checkpoints: number;
  /** A VERIFY record was seen (debug re-send of all pages followed). */
  verify: boolean;
  optionalRecordsSkipped: number;
  /** Bytes the image took, up to and including its final END. */
  bytes: number;
}

/** An empty image, filled in by {@link applyRecord}. */
export function emptySaveImage(): SaveImage {
  return {
    xl: undefined,
    libxl: undefined,
    streamVersion: 0,
    domainType: "pv",
    xenVersion: { major: 0, minor: 0 },
    pvInfo: undefined,
    p2m: undefined,
    cpuidPolicy: undefined,
    msrPolicy: undefined,
    pageRecords: 0,
    pfnEntries: 0,
    dataPages: 0,
    vcpus: new Map(),
    sharedInfo: undefined,
    tscInfo: undefined,
    hvmContext: undefined,
    hvmParams: [],
    emulatorXenstoreData: [],
    emulatorContexts: [],
    checkpoints: 0,
    verify: false,
    optionalRecordsSkipped: 0,
    bytes: 0,
  };
}

function upsert<T extends { emulatorId: number; index: number }>(list: T[], item: T): void {
  const i = list.findIndex((x) => x.emulatorId === item.emulatorId && x.index === item.index);
  if (i >= 0) list[i] = item;
  else list.push(item);
}

/** Folds one record into the image (later state replaces earlier). */
export function applyRecord(img: SaveImage, r: SaveRecord): void {
  if (r.layer === "xl") {
    img.xl = { mandatoryFlags: r.mandatoryFlags, optionalFlags: r.optionalFlags, config: r.config };
    return;
  }
  switch (r.kind) {
    case "LIBXL_HEADER":
      img.libxl = { legacy: r.legacy };
      return;
    case "EMULATOR_XENSTORE_DATA":
      return upsert(img.emulatorXenstoreData, r.data);
    case "EMULATOR_CONTEXT":
      return upsert(img.emulatorContexts, r.context);
    case "OPTIONAL":
      img.optionalRecordsSkipped++;
      return;
    case "IMAGE_HEADER":
      img.streamVersion = r.version;
      return;
    case "DOMAIN_HEADER":
      img.domainType = r.domainType;
      img.xenVersion = r.xenVersion;
      return;
    case "PAGE_DATA":
      img.pageRecords++;
      img.pfnEntries += r.count;
      img.dataPages += r.dataPages;
      return;
    case "X86_PV_INFO":
      img.pvInfo = r.info;
      return;
    case "X86_PV_P2M_FRAMES":
      img.p2m = r.p2m;
      return;
    case "X86_PV_VCPU_BASIC":
    case "X86_PV_VCPU_EXTENDED":
    case "X86_PV_VCPU_XSAVE":
    case "X86_PV_VCPU_MSRS": {
      const v = img.vcpus.get(r.vcpuId) ?? {};
      v[r.vcpu] = r.blob;
      img.vcpus.set(r.vcpuId, v);
      return;
    }
    case "SHARED_INFO":
      img.sharedInfo = r.page;
      return;
    case "X86_TSC_INFO":
      img.tscInfo = r.tsc;
      return;
    case "HVM_CONTEXT":
      img.hvmContext = r.blob;
      return;
    case "HVM_PARAMS":
      img.hvmParams = r.params;
      return;
    case "X86_CPUID_POLICY":
      img.cpuidPolicy = r.leaves;
      return;
    case "X86_MSR_POLICY":
      img.msrPolicy = r.entries;
      return;
    case "CHECKPOINT":
      img.checkpoints++;
      return;
    case "VERIFY":
      img.verify = true;
      return;
    case "LIBXC_CONTEXT":
    case "CHECKPOINT_END":
    case "CHECKPOINT_STATE":
    case "STATIC_DATA_END":
    case "END":
      return;
    default: {
      const unhandled: never = r;
      throw new Error(`applyRecord: unhandled record ${JSON.stringify(unhandled)}`);
    }
  }
}
