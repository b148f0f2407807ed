/**
 * @module
 * Deterministic PV and HVM save images for the round-trip, corruption and
 * verify-stream-v2 tests: one seed makes the guest's memory, page types,
 * vCPU state, HVM context and emulator blob, and the image is written with
 * {@link SaveStreamWriter} in the saver's record order. The builder returns
 * the bytes together with what a reader must find in them.
 */
import { Rng } from "../../src/sim/rng.ts";
import {
  buildHvmContext,
  type CpuidLeaf,
  encodeVcpuGuestContext,
  type HvmParam,
  MAX_BATCH_SIZE,
  type MsrEntry,
  p2mFrameCount,
  pageTypeHasData,
  PFINFO,
  SaveStreamWriter,
  VGCF_IN_KERNEL,
  VGCF_ONLINE,
  XC_PAGE_SIZE,
} from "../../src/toolstack/save/mod.ts";
import { EMULATOR_QEMU_UPSTREAM } from "../../src/toolstack/save/stream_format.ts";

export type ImageFormat = "xl" | "libxl" | "libxc";

export interface ImageSpec {
  seed: number;
  domainType: "pv" | "hvm";
  format: ImageFormat;
  /** Guest pages (pfns 0..pages-1). */
  pages: number;
  vcpus?: number;
  /** Remus rounds after the first copy: each re-sends some dirty pages then checkpoints. */
  checkpoints?: number;
  /** Include EMULATOR_XENSTORE_DATA with pairs (HVM, libxl formats). */
  xenstoreData?: boolean;
  /** Writer chunk size. */
  chunkBytes?: number;
}

export interface BuiltImage {
  bytes: Uint8Array;
  /** Final guest memory (pages × 4096); pages with no-data types stay zero. */
  memory: Uint8Array;
  /** Final PFINFO type per pfn. */
  types: Uint8Array;
  config: string | undefined;
  vcpuBasic: Uint8Array[];
  sharedInfo: Uint8Array | undefined;
  hvmContext: Uint8Array | undefined;
  hvmParams: HvmParam[];
  emulatorBlob: Uint8Array | undefined;
  xenstorePairs: [string, string][];
  cpuid: CpuidLeaf[];
  msr: MsrEntry[];
  checkpoints: number;
}

const CPUID: CpuidLeaf[] = [
  { leaf: 0, subleaf: 0xffffffff, a: 0xd, b: 0x756e6547, c: 0x6c65746e, d: 0x49656e69 },
  { leaf: 1, subleaf: 0xffffffff, a: 0x000906ea, b: 0x00100800, c: 0xf7fa3203, d: 0x178bfbff },
  { leaf: 7, subleaf: 0, a: 0, b: 0x009c27ab, c: 0, d: 0x9c000400 },
];
const MSR: MsrEntry[] = [{ idx: 0xce, flags: 0, val: 0x80000000n }, {
  idx: 0x10a,
  flags: 0,
  val: 0n,
}];

/** Page type for pfn `i` of a PV guest: a few pagetables, some pinned, some vanished. */
function pvType(rng: Rng, i: number, pages: number): number {
  if (i === 1) return PFINFO.L4TAB_PIN;
  if (i >= 2 && i < 4) return PFINFO.L3TAB;
  if (i >= 4 && i < 8) return PFINFO.L2TAB;
  if (i >= 8 && i < 16) return PFINFO.L1TAB;
  if (i === pages - 2) return PFINFO.XALLOC;
  if (i === pages - 3) return PFINFO.BROKEN;
  return rng.chance(1, 97) ? PFINFO.XTAB : PFINFO.NOTAB;
}

/** A QEMU-like device model save blob ("QEVM", version 3, then state bytes). */
function qemuBlob(rng: Rng): Uint8Array {
  const b = rng.bytes(3001); // odd, so the EMULATOR_CONTEXT record is padded
  b.set([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3]);
  return b;
}

/** Writes the image described by `spec`. */
export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const rng = new Rng(spec.seed);
  const vcpus = spec.vcpus ?? 2;
  const pv = spec.domainType === "pv";
  const chunks: Uint8Array[] = [];
  const config = spec.format === "xl"
    ? JSON.stringify({
      c_info: { type: spec.domainType, name: `guest-${spec.seed}` },
      b_info: { max_vcpus: vcpus },
    })
    : undefined;
  const w = new SaveStreamWriter((c) => void chunks.push(c.slice()), {
    domainType: spec.domainType,
    xenVersion: { major: 4, minor: 17 },
    xlConfigJson: config,
    checkpointed: (spec.checkpoints ?? 0) > 0,
    chunkBytes: spec.chunkBytes,
  });
  const memory = new Uint8Array(spec.pages * XC_PAGE_SIZE);
  const types = new Uint8Array(spec.pages);
  for (let i = 0; i < spec.pages; i++) types[i] = pv ? pvType(rng, i, spec.pages) : PFINFO.NOTAB;

  if (spec.format === "xl") await w.xlHeader();
  if (spec.format !== "libxc") await w.libxlHeader();
  await w.libxcBegin();
  if (pv) await w.pvInfo({ guestWidth: 8, ptLevels: 4 });
  await w.cpuidPolicy(CPUID);
  await w.msrPolicy(MSR);
  await w.staticDataEnd();
  if (pv) {
    const end = spec.pages - 1;
    const n = p2mFrameCount(0, end, 8);
    await w.p2mFrames({
      startPfn: 0,
      endPfn: end,
      frames: Array.from({ length: n }, (_, i) => end - 16 - i),
    });
  }

  const sendPages = async (pfns: number[]) => {
    for (let at = 0; at < pfns.length; at += MAX_BATCH_SIZE) {
      const batch = pfns.slice(at, at + MAX_BATCH_SIZE);
      const bt = batch.map((p) => types[p]);
      const data = batch.filter((p) => pageTypeHasData(types[p]));
      const buf = new Uint8Array(data.length * XC_PAGE_SIZE);
      data.forEach((p, k) => {
        const page = rng.bytes(XC_PAGE_SIZE);
        memory.set(page, p * XC_PAGE_SIZE);
        buf.set(page, k * XC_PAGE_SIZE);
      });
      await w.pageData(batch, bt, buf);
    }
  };

  const vcpuBasic: Uint8Array[] = [];
  let sharedInfo: Uint8Array | undefined;
  let hvmContext: Uint8Array | undefined;
  let hvmParams: HvmParam[] = [];
  let emulatorBlob: Uint8Array | undefined;
  const xenstorePairs: [string, string][] = spec.xenstoreData
    ? [["physmap/f0000000/start_addr", "f0000000"], ["physmap/f0000000/size", "800000"], [
      "physmap/f0000000/name",
      "vga.vram",
    ]]
    : [];

  const endOfCheckpoint = async () => {
    await w.tscInfo({
      mode: 0,
      khz: 2_400_000 + rng.int(1000),
      nsec: BigInt(rng.int(2 ** 40)),
      incarnation: 1,
    });
    if (pv) {
      sharedInfo = rng.bytes(XC_PAGE_SIZE);
      await w.sharedInfo(sharedInfo);
      vcpuBasic.length = 0;
      for (let v = 0; v < vcpus; v++) {
        const blob = encodeVcpuGuestContext({
          flags: VGCF_ONLINE | VGCF_IN_KERNEL,
          rip: 0xffffffff81000000n + BigInt(rng.int(1 << 20)),
          rsp: 0xffffc90000000000n + BigInt(rng.int(1 << 20)),
          rax: rng.int(2 ** 32),
          cr3: 1 * XC_PAGE_SIZE,
          cs: 0xe033,
          ss: 0xe02b,
          kernel_ss: 0xe02b,
          event_callback_eip: 0xffffffff81001000n,
        });
        vcpuBasic.push(blob);
        await w.vcpuBasic(v, blob);
        await w.vcpuExtended(v, rng.bytes(128));
        await w.vcpuXsave(v, rng.bytes(832));
        await w.vcpuMsrs(v, rng.bytes(32));
      }
    } else {
      hvmContext = buildHvmContext({
        cpuid: 0x000906ea,
        gtscKhz: 2_400_000,
        cpus: Array.from({ length: vcpus }, () => ({
          rip: 0xfff0 + rng.int(4096),
          rflags: 0x202,
          cr0: 0x80050033,
          cr3: 0x1000 * rng.int(1024),
          cr4: 0x3406e0,
          msr_efer: 0xd01,
          tsc: BigInt(rng.int(2 ** 48)),
          flags: 1,
        })),
      });
      await w.hvmContext(hvmContext);
      hvmParams = [
        { index: 1, value: BigInt(spec.pages - 2) }, // STORE_PFN
        { index: 17, value: BigInt(spec.pages - 3) }, // CONSOLE_PFN
        { index: 19, value: 1n }, // ACPI_IOPORTS_LOCATION
      ];
      await w.hvmParams(hvmParams);
    }
  };
  const libxlEmulatorRecords = async () => {
    if (pv || spec.format === "libxc") return;
    if (spec.xenstoreData) {
      await w.emulatorXenstoreData({
        emulatorId: EMULATOR_QEMU_UPSTREAM,
        index: 0,
        pairs: xenstorePairs,
      });
    }
    emulatorBlob = qemuBlob(rng);
    await w.emulatorContext({ emulatorId: EMULATOR_QEMU_UPSTREAM, index: 0, blob: emulatorBlob });
  };

  await sendPages(Array.from({ length: spec.pages }, (_, i) => i));
  await endOfCheckpoint();
  for (let round = 0; round < (spec.checkpoints ?? 0); round++) {
    await w.checkpoint();
    if (spec.format !== "libxc") {
      await libxlEmulatorRecords();
      await w.checkpointEnd();
    }
    const dirty = Array.from({ length: spec.pages }, (_, i) => i).filter(() => rng.chance(1, 5));
    if (dirty.length > 0) await sendPages(dirty);
    await endOfCheckpoint();
  }
  await w.libxcEnd();
  if (spec.format !== "libxc") {
    await libxlEmulatorRecords();
    await w.libxlEnd();
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return {
    bytes,
    memory,
    types,
    config,
    vcpuBasic,
    sharedInfo,
    hvmContext,
    hvmParams,
    emulatorBlob,
    xenstorePairs,
    cpuid: CPUID,
    msr: MSR,
    checkpoints: spec.checkpoints ?? 0,
  };
}
