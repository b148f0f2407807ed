/**
 * @module
 * The domain builder (libxenguest `xc_dom_*`, lifecycle-and-migration.md
 * §2.3, §2.4), as the toolstack runs it between `build_pre` and
 * `build_post`: populate memory, load the kernel and ramdisk (PV), write
 * start_info (PV) or the store/console HVM params (HVM, PVH), give vCPU 0
 * its context, and seed grant entries 0 (console) and 1 (xenstore).
 *
 * PV layout, in pages from pfn 0 (the order of §2.3, without page tables:
 * the emulated guest runs with virtual = pseudo-physical): kernel, ramdisk,
 * start_info, xenstore ring, console ring; RSI = start_info's address.
 * HVM layout: the store and console rings sit in the special pages at the
 * top of guest memory, as libxl's `build_hvm` places them.
 */
import { emptyStartInfo, encodeStartInfo, SIF_MOD_START_PFN } from "../../hv/start_info.ts";
import {
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_STORE_PFN,
} from "../../hv/hvm_params.ts";
import { emptyVcpuContext } from "../../hv/vcpu.ts";
import { PAGE_SIZE, VGCF_online } from "../../hv/xen_abi.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { check } from "./hypercall_error.ts";
import { seedGrants } from "./guest_frames.ts";

/** Where the builder put the rings, for build_post and the console. */
export interface BuiltDomain {
  readonly storePfn: number;
  /** store_mfn for PV (start_info, INTRODUCE), the gfn for HVM. */
  readonly storeFrame: number;
  readonly consolePfn: number;
  readonly consoleFrame: number;
  /** PV: pfn of start_info. */
  readonly startInfoPfn?: number;
}

/** Guest entry point given to vCPU 0 (the kernel's first page). */
export const PV_ENTRY_RIP = 0x1000;
/** Extra pages a PV guest needs besides kernel and ramdisk (start_info, rings). */
export const PV_BUILD_EXTRA_PAGES = 3;

function pagesFor(bytes: number): number {
  return Math.ceil(bytes / PAGE_SIZE);
}

/** Populates pfns 0..pages-1; returns their mfns. */
function populate(tc: ToolstackContext, domid: number, pages: number): number[] {
  const gpfns = Array.from({ length: pages }, (_, i) => i);
  const r = check(
    tc.hypercall({ hc: "memory_op", op: "populate_physmap", domid, extentOrder: 0, gpfns }),
    "populate_physmap",
    domid,
  );
  if (r.ret !== pages) {
    throw new Error(`populate_physmap on domain ${domid}: ${r.ret} of ${pages} pages`);
  }
  return r.mfns ?? [];
}

function load(tc: ToolstackContext, domid: number, firstPfn: number, bytes: Uint8Array): void {
  const n = pagesFor(bytes.length);
  if (n === 0) return;
  const map = tc.foreignMap(domid, Array.from({ length: n }, (_, i) => firstPfn + i), true);
  try {
    const padded = new Uint8Array(n * PAGE_SIZE);
    padded.set(bytes);
    const ret = map.copyIn(padded);
    if (ret < 0) throw new Error(`loading ${bytes.length} bytes into domain ${domid}: ${ret}`);
  } finally {
    map.unmap();
  }
}

export interface PvImage {
  readonly kernel: Uint8Array;
  readonly ramdisk?: Uint8Array;
  readonly cmdline: string;
}

/** Builds a PV guest of `memPages` pages. */
export function buildPv(
  tc: ToolstackContext,
  domid: number,
  memPages: number,
  image: PvImage,
  ports: { store: number; console: number },
): BuiltDomain {
  const kernelPages = pagesFor(image.kernel.length);
  const ramdiskPages = pagesFor(image.ramdisk?.length ?? 0);
  const needed = kernelPages + ramdiskPages + PV_BUILD_EXTRA_PAGES;
  if (needed > memPages) {
    throw new Error(
      `domain ${domid}: kernel and ramdisk need ${needed} pages, memory is ${memPages}`,
    );
  }
  const mfns = populate(tc, domid, memPages);
  load(tc, domid, 0, image.kernel);
  const ramdiskPfn = kernelPages;
  if (image.ramdisk) load(tc, domid, ramdiskPfn, image.ramdisk);
  const startInfoPfn = kernelPages + ramdiskPages;
  const storePfn = startInfoPfn + 1, consolePfn = startInfoPfn + 2;
  const info = check(
    tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }),
    "getdomaininfo",
    domid,
  ).info!;
  const si = emptyStartInfo();
  si.nrPages = memPages;
  si.sharedInfo = info.sharedInfoFrame * PAGE_SIZE;
  si.storeMfn = mfns[storePfn];
  si.storeEvtchn = ports.store;
  si.consoleMfn = mfns[consolePfn];
  si.consoleEvtchn = ports.console;
  si.cmdLine = image.cmdline;
  if (image.ramdisk) {
    si.flags |= SIF_MOD_START_PFN;
    si.modStart = ramdiskPfn;
    si.modLen = image.ramdisk.length;
  }
  const page = new Uint8Array(PAGE_SIZE);
  encodeStartInfo(si, page);
  load(tc, domid, startInfoPfn, page);
  const ctx = emptyVcpuContext();
  ctx.rip = PV_ENTRY_RIP;
  ctx.rsi = startInfoPfn * PAGE_SIZE;
  ctx.flags = VGCF_online;
  check(
    tc.hypercall({ hc: "domctl", op: "setvcpucontext", domid, vcpu: 0, ctx }),
    "setvcpucontext",
    domid,
  );
  const built = {
    storePfn,
    storeFrame: mfns[storePfn],
    consolePfn,
    consoleFrame: mfns[consolePfn],
    startInfoPfn,
  };
  seedGrants(tc, domid, built);
  return built;
}

/** Builds an HVM (or PVH) guest: memory, rings in the top pages, params, vCPU 0 at reset. */
export function buildHvm(
  tc: ToolstackContext,
  domid: number,
  memPages: number,
  ports: { store: number; console: number },
): BuiltDomain {
  if (memPages < 2) throw new Error(`domain ${domid}: ${memPages} pages is too little memory`);
  populate(tc, domid, memPages);
  const storePfn = memPages - 1, consolePfn = memPages - 2;
  const params: [number, number][] = [
    [HVM_PARAM_STORE_PFN, storePfn],
    [HVM_PARAM_STORE_EVTCHN, ports.store],
    [HVM_PARAM_CONSOLE_PFN, consolePfn],
    [HVM_PARAM_CONSOLE_EVTCHN, ports.console],
  ];
  for (const [index, value] of params) {
    check(
      tc.hypercall({ hc: "hvm_op", op: "set_param", domid, index, value }),
      `set_param ${index}`,
      domid,
    );
  }
  const ctx = emptyVcpuContext();
  ctx.rip = 0xfff0; // the reset vector: the firmware runs first
  ctx.flags = VGCF_online;
  check(
    tc.hypercall({ hc: "domctl", op: "setvcpucontext", domid, vcpu: 0, ctx }),
    "setvcpucontext",
    domid,
  );
  const built = { storePfn, storeFrame: storePfn, consolePfn, consoleFrame: consolePfn };
  seedGrants(tc, domid, built);
  return built;
}
