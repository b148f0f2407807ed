/**
 * @module
 * The saving side of `xl save` (lifecycle-and-migration.md §5.2, non-live):
 * libxl's stream writer and libxc's `xc_domain_save` in their order, onto
 * any {@link SaveSink}:
 *
 * 1. xl header + JSON config, libxl header, LIBXC_CONTEXT, libxc image and
 *    domain headers;
 * 2. static data: X86_PV_INFO (PV), CPUID and MSR policy, STATIC_DATA_END;
 *    PV: X86_PV_P2M_FRAMES (`start_of_stream`);
 * 3. the **suspend callback** (§3: libxl's method choice, ack and shutdown
 *    waits, named errors);
 * 4. every page, in pfn order, in PAGE_DATA batches of at most
 *    MAX_BATCH_SIZE (1024) read through a foreign mapping; a pfn with no
 *    page is sent as XTAB (no data);
 * 5. end-of-checkpoint records: X86_TSC_INFO, then PV: SHARED_INFO and
 *    per vCPU X86_PV_VCPU_BASIC (vCPU 0's RDX, start_info's frame, as a
 *    pfn: `write_one_vcpu_basic`); HVM: HVM_CONTEXT and HVM_PARAMS (the
 *    saved list of §5.1, zero values omitted);
 * 6. libxc END; libxl: EMULATOR_CONTEXT (HVM: the device model's state,
 *    §3.5), END.
 *
 * The guest's page tables are not modelled (a xenlab PV guest runs with
 * virtual = pseudo-physical), so every PV page is NOTAB and the p2m frame
 * list names the pfns where a p2m of that size would sit: pfns 0..n-1.
 * The SHARED_INFO record carries the arch part Xen's restorer uses
 * (`max_pfn`); the event-channel bits are cleared on restore anyway.
 */
import { decodeDominf } from "../../hv/domain_info.ts";
import {
  HVM_PARAM_ACPI_IOPORTS_LOCATION,
  HVM_PARAM_BUFIOREQ_PFN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_IDENT_PT,
  HVM_PARAM_IOREQ_PFN,
  HVM_PARAM_IOREQ_SERVER_PFN,
  HVM_PARAM_MCA_CAP,
  HVM_PARAM_NR_IOREQ_SERVER_PAGES,
  HVM_PARAM_STORE_PFN,
  HVM_PARAM_VIRIDIAN,
  HVM_PARAM_VM86_TSS_SIZED,
  HVM_PARAM_VM_GENERATION_ID_ADDR,
  HVM_PARAM_X87_FIP_WIDTH,
} from "../../hv/hvm_params.ts";
import { OFF_ARCH } from "../../hv/shared_info.ts";
import { PAGE_SIZE } from "../../hv/xen_abi.ts";
import { check } from "../build/hypercall_error.ts";
import { mfnToPfn } from "../build/guest_frames.ts";
import type { CpuidLeaf, HvmParam, MsrEntry } from "../save/libxc_records.ts";
import { p2mFrameCount } from "../save/libxc_records.ts";
import { EMULATOR_QEMU_UPSTREAM, MAX_BATCH_SIZE, PFINFO } from "../save/stream_format.ts";
import { type SaveSink, SaveStreamWriter } from "../save/save_stream_writer.ts";
import {
  suspendDomain,
  type SuspendOptions,
  type SuspendResult,
} from "../suspend/suspend_domain.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import {
  hvmContextBlob,
  pvVcpuBlob,
  XENLAB_CPUID_SIGNATURE,
  XENLAB_TSC_KHZ,
} from "./vcpu_state.ts";

/** HVM params the saver keeps (§5.1 "HVM_PARAMS saved"); PAGING/MONITOR/SHARING rings are not emulated. */
export const SAVED_HVM_PARAMS: readonly number[] = [
  HVM_PARAM_STORE_PFN,
  HVM_PARAM_IOREQ_PFN,
  HVM_PARAM_BUFIOREQ_PFN,
  HVM_PARAM_VM86_TSS_SIZED,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_ACPI_IOPORTS_LOCATION,
  HVM_PARAM_VIRIDIAN,
  HVM_PARAM_IDENT_PT,
  HVM_PARAM_VM_GENERATION_ID_ADDR,
  HVM_PARAM_IOREQ_SERVER_PFN,
  HVM_PARAM_NR_IOREQ_SERVER_PAGES,
  HVM_PARAM_X87_FIP_WIDTH,
  HVM_PARAM_MCA_CAP,
];

/** The CPUID policy xenlab's vCPUs present (leaf 0 "GenuineIntel", leaf 1 signature). */
export const XENLAB_CPUID_POLICY: readonly CpuidLeaf[] = [
  { leaf: 0, subleaf: 0xffffffff, a: 0xd, b: 0x756e6547, c: 0x6c65746e, d: 0x49656e69 },
  { leaf: 1, subleaf: 0xffffffff, a: XENLAB_CPUID_SIGNATURE, b: 0, c: 0x80000000, d: 0x178bfbff },
];
/** The MSR policy: MSR_INTEL_PLATFORM_INFO (CPUID faulting available). */
export const XENLAB_MSR_POLICY: readonly MsrEntry[] = [{ idx: 0xce, flags: 0, val: 0x80000000n }];

/** Where a save is. */
export interface SaveProgress {
  readonly step: "static" | "suspend" | "memory" | "state" | "done";
  /** Pages sent so far and in all (memory step). */
  readonly sent: number;
  readonly total: number;
}

export interface SaveDomainOptions {
  /** The config JSON for the xl header (`config_json.ts`). */
  readonly configJson: string;
  readonly suspend?: SuspendOptions;
  readonly progress?: (p: SaveProgress) => void;
  /** HVM: the device model's saved state (`xen-save-devices-state`), for EMULATOR_CONTEXT. */
  readonly deviceModelState?: () => Uint8Array | Promise<Uint8Array>;
}

export interface SaveDomainResult {
  readonly domainType: "pv" | "hvm";
  readonly suspend: SuspendResult;
  /** pfn entries sent, and how many of them carried a page. */
  readonly pfns: number;
  readonly dataPages: number;
  readonly bytes: number;
}

/** Saves `domid` to `sink`; the domain is left shut down (suspend). */
export async function saveDomain(
  tc: ToolstackContext,
  domid: number,
  sink: SaveSink,
  opts: SaveDomainOptions,
): Promise<SaveDomainResult> {
  const report = opts.progress ?? (() => {});
  const info = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
  if (!info) throw new Error(`save: no domain ${domid}`);
  const hvm = decodeDominf(info.flags).hvm;
  const domainType = hvm ? "hvm" : "pv";
  // Every chunk handed on is a clock event (`tc.sleep(0)`): on virtual
  // time the save is a chain of events, not one long microtask run.
  const paced: SaveSink = async (chunk) => {
    await sink(chunk);
    await tc.sleep(0);
  };
  const w = new SaveStreamWriter(paced, {
    domainType,
    xenVersion: { major: 4, minor: 17 },
    xlConfigJson: opts.configJson,
  });
  tc.trace.emit({ src: "toolstack", dom: domid, op: "save", step: "static", type: domainType });
  report({ step: "static", sent: 0, total: 0 });
  await w.xlHeader();
  await w.libxlHeader();
  await w.libxcBegin();
  if (!hvm) await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
  await w.cpuidPolicy(XENLAB_CPUID_POLICY);
  await w.msrPolicy(XENLAB_MSR_POLICY);
  await w.staticDataEnd();
  const maxPfn = check(
    tc.hypercall({ hc: "memory_op", op: "maximum_gpfn", domid }),
    "maximum_gpfn",
    domid,
  ).ret;
  if (!hvm) {
    const n = p2mFrameCount(0, maxPfn, 8);
    await w.p2mFrames({
      startPfn: 0,
      endPfn: maxPfn,
      frames: Array.from({ length: n }, (_, i) => i),
    });
  }

  const total = maxPfn + 1;

  // --- the suspend callback (§3) ---------------------------------------
  report({ step: "suspend", sent: 0, total });
  const suspended = await suspendDomain(tc, domid, opts.suspend);

  // --- every page (send_domain_memory_nonlive) ---------------------------
  let dataPages = 0;
  const buf = new Uint8Array(MAX_BATCH_SIZE * PAGE_SIZE);
  const types = new Uint8Array(MAX_BATCH_SIZE);
  report({ step: "memory", sent: 0, total });
  for (let first = 0; first < total; first += MAX_BATCH_SIZE) {
    const count = Math.min(MAX_BATCH_SIZE, total - first);
    const pfns = Array.from({ length: count }, (_, i) => first + i);
    const map = tc.foreignMap(domid, pfns, false);
    try {
      let holes = 0;
      for (let i = 0; i < count; i++) {
        types[i] = map.err[i] < 0 ? PFINFO.XTAB : PFINFO.NOTAB;
        if (map.err[i] < 0) holes++;
      }
      if (holes === 0) map.copyOut(buf);
      else {
        let at = 0;
        for (let i = 0; i < count; i++) {
          if (types[i] !== PFINFO.NOTAB) continue;
          map.read(i, 0, buf.subarray(at * PAGE_SIZE, (at + 1) * PAGE_SIZE));
          at++;
        }
      }
      const withData = count - holes;
      dataPages += withData;
      await w.pageData(pfns, types.subarray(0, count), buf.subarray(0, withData * PAGE_SIZE));
    } finally {
      map.unmap();
    }
    report({ step: "memory", sent: first + count, total });
  }

  // --- end-of-checkpoint records ------------------------------------------
  report({ step: "state", sent: total, total });
  await w.tscInfo({
    mode: 0,
    khz: XENLAB_TSC_KHZ,
    nsec: BigInt(tc.clock.nowNs()),
    incarnation: 0,
  });
  if (!hvm) {
    const shared = new Uint8Array(PAGE_SIZE);
    new DataView(shared.buffer).setBigUint64(OFF_ARCH, BigInt(maxPfn + 1), true);
    await w.sharedInfo(shared);
    for (let v = 0; v <= info.maxVcpuId; v++) {
      const r = tc.hypercall({ hc: "domctl", op: "getvcpucontext", domid, vcpu: v });
      if (r.ret < 0 || !r.ctx) continue; // not initialised: nothing to save
      const ctx = r.ctx;
      // write_one_vcpu_basic: vCPU 0's RDX (start_info's frame) goes as a pfn.
      if (v === 0) ctx.rdx = mfnToPfn(tc, domid, ctx.rdx);
      await w.vcpuBasic(v, pvVcpuBlob(ctx, (mfn) => mfnToPfn(tc, domid, mfn)));
    }
  } else {
    const blob = check(
      tc.hypercall({ hc: "domctl", op: "gethvmcontext", domid }),
      "gethvmcontext",
      domid,
    ).blob!;
    await w.hvmContext(hvmContextBlob(blob));
    const params: HvmParam[] = [];
    for (const index of SAVED_HVM_PARAMS) {
      const value = tc.hypercall({ hc: "hvm_op", op: "get_param", domid, index }).value ?? 0;
      if (value !== 0) params.push({ index, value: BigInt(value) });
    }
    await w.hvmParams(params);
  }
  await w.libxcEnd();
  if (hvm && opts.deviceModelState) {
    const blob = await opts.deviceModelState();
    await w.emulatorContext({ emulatorId: EMULATOR_QEMU_UPSTREAM, index: 0, blob });
  }
  await w.libxlEnd();
  report({ step: "done", sent: total, total });
  tc.trace.emit({
    src: "toolstack",
    dom: domid,
    op: "save",
    step: "done",
    pfns: total,
    dataPages,
    bytes: w.bytesWritten,
  });
  return { domainType, suspend: suspended, pfns: total, dataPages, bytes: w.bytesWritten };
}
