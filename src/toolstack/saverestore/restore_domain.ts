/**
 * @module
 * `xl restore` / the migration receiver: `libxl_domain_create_restore`
 * with libxc's `xc_domain_restore` inside (lifecycle-and-migration.md
 * §5.5, §4.2):
 *
 * 1. read the xl header; the JSON config says what domain to make (a
 *    config that is missing or not a domain config is refused before
 *    anything is created);
 * 2. domain_make (new domid, `/local/domain/<id>` skeleton), no
 *    bootloader, build_pre (limits, **new** store and console ports);
 * 3. the libxc stream: each PAGE_DATA batch populates its pfns (XTAB and
 *    BROKEN are skipped, XALLOC only allocated) and its pages go straight
 *    into the guest through a foreign mapping; vCPU and HVM state are kept
 *    until the end;
 * 4. `stream_complete`: PV — vCPU 0's RDX (a pfn in the stream) becomes
 *    start_info's new MFN, and start_info gets the new store/console MFNs
 *    and ports, `nr_pages` = max_pfn + 1, `shared_info`, `flags` = 0;
 *    vCPU contexts are set (cr3 pfn → mfn). HVM — the saved params, then
 *    STORE_EVTCHN / CONSOLE_EVTCHN = the new ports, then the HVM context
 *    (CALLBACK_IRQ is not in the stream: the guest sets it again). Both:
 *    grant entries 0 and 1 seeded for the new backends;
 * 5. build_post: `/vm` and domain details, XS_INTRODUCE with the store
 *    page and new port; devices written fresh (frontends and backends at
 *    state 1); the device model gets EMULATOR_CONTEXT;
 * 6. the domain is left paused for the caller (xl unpauses unless `-p`);
 *    the guest resumes inside its suspend hypercall with RAX = 0.
 *
 * Any failure — a truncated or corrupt image, a pfn beyond the domain's
 * memory, a device that does not come up — destroys the half-built domain
 * and its xenstore nodes, and the error names the step
 * ({@link RestoreError}).
 */
import {
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_STORE_PFN,
} from "../../hv/hvm_params.ts";
import { PAGE_SIZE, VGCF_online } from "../../hv/xen_abi.ts";
import { check } from "../build/hypercall_error.ts";
import { editStartInfo, pfnsToMfns, seedGrants } from "../build/guest_frames.ts";
import {
  attachDevices,
  buildPre,
  LIBXL_MAXMEM_CONSTANT_KB,
  makeDomain,
} from "../create/create_domain.ts";
import { storeDetails } from "../create/create_domain.ts";
import { destroyDomain } from "../create/destroy_domain.ts";
import type { DomainOps } from "../create/domain_ops.ts";
import type { DomainConfig } from "../domain_config.ts";
import { SaveImageReader } from "../save/save_image_reader.ts";
import type { SaveImage } from "../save/save_record.ts";
import { SaveImageError } from "../save/save_image_error.ts";
import { PFINFO, XL_HEADER_BYTES } from "../save/stream_format.ts";
import { decodeXlFixedHeader, type XlConfig } from "../save/xl_header.ts";
import { pageTypeHasData } from "../save/page_data.ts";
import type { ForeignMapping } from "../../hv/foreign_mapping.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { parseDomainConfigJson } from "./config_json.ts";
import { hvContextFromBlob, pvVcpuContext } from "./vcpu_state.ts";

/** The restore steps, for errors and progress. */
export type RestoreStep = "header" | "domain" | "memory" | "state" | "devices";

/** Restoring failed: at which step, why; nothing of the new domain is left. */
export class RestoreError extends Error {
  override name = "RestoreError";
  readonly step: RestoreStep;
  override readonly cause: unknown;
  constructor(step: RestoreStep, cause: unknown) {
    super(`restore failed during ${step}: ${cause instanceof Error ? cause.message : cause}`);
    this.step = step;
    this.cause = cause;
  }
}

export interface RestoreProgress {
  readonly step: RestoreStep | "done";
  /** Pages written so far. */
  readonly pages: number;
  readonly bytes: number;
}

export interface RestoreOptions {
  readonly progress?: (p: RestoreProgress) => void;
  /**
   * Runs after the devices are attached, before the caller unpauses: the
   * host starts the guest's kernel (in its resume path) and the device
   * model with the saved emulator state.
   */
  readonly beforeUnpause?: (r: RestoredDomain) => void | Promise<void>;
  /** Replaces the config's name (migration's `<name>--incoming`). */
  readonly name?: string;
}

export interface RestoredDomain {
  readonly domid: number;
  readonly uuid: string;
  readonly config: DomainConfig;
  readonly storePort: number;
  readonly consolePort: number;
  readonly storeFrame: number;
  readonly consoleFrame: number;
  readonly storePfn: number;
  readonly consolePfn: number;
  /** PV: start_info's pfn. */
  readonly startInfoPfn?: number;
  /** EMULATOR_CONTEXT blobs (HVM). */
  readonly emulatorContext?: Uint8Array;
  readonly pages: number;
  readonly bytes: number;
}

/**
 * The restorer's side of PAGE_DATA (`process_page_data`): when a batch's
 * entries arrive, the pfns not yet populated are populated in one
 * `populate_physmap` (XTAB and BROKEN skipped, XALLOC only allocated) and
 * the ones with data are mapped writable; each page then goes straight from
 * the stream into the guest through that mapping — one copy.
 */
class PageWriter {
  readonly #tc: ToolstackContext;
  readonly #domid: number;
  readonly #limitPages: number;
  readonly #populated = new Set<number>();
  /** Highest pfn populated (the restorer's max_pfn), -1 before any. */
  maxPfn = -1;
  #map: ForeignMapping | undefined;
  #slot = 0;
  written = 0;

  constructor(tc: ToolstackContext, domid: number, limitPages: number) {
    this.#tc = tc;
    this.#domid = domid;
    this.#limitPages = limitPages;
  }

  /** The reader's batch sink. */
  begin(pfns: ArrayLike<number>, types: ArrayLike<number>, count: number): void {
    this.end();
    const alloc: number[] = [];
    const data: number[] = [];
    for (let i = 0; i < count; i++) {
      const pfn = pfns[i], type = types[i];
      if (type === PFINFO.XTAB || type === PFINFO.BROKEN) continue;
      if (pfn >= this.#limitPages) {
        throw new Error(`pfn ${pfn} is beyond the domain's ${this.#limitPages} pages`);
      }
      if (!this.#populated.has(pfn)) alloc.push(pfn);
      if (pageTypeHasData(type)) data.push(pfn);
    }
    const id = this.#domid;
    if (alloc.length > 0) {
      const r = check(
        this.#tc.hypercall({
          hc: "memory_op",
          op: "populate_physmap",
          domid: id,
          extentOrder: 0,
          gpfns: alloc,
        }),
        "populate_physmap",
        id,
      );
      if (r.ret !== alloc.length) {
        throw new Error(`populate_physmap: ${r.ret} of ${alloc.length} pages`);
      }
      for (const p of alloc) {
        this.#populated.add(p);
        if (p > this.maxPfn) this.maxPfn = p;
      }
    }
    if (data.length > 0) this.#map = this.#tc.foreignMap(id, data, true);
    this.#slot = 0;
  }

  /** The reader's page sink: `page` is only valid during the call. */
  take(_pfn: number, type: number, page: Uint8Array | null): void {
    if (page === null || !pageTypeHasData(type)) return;
    const map = this.#map;
    if (map === undefined) throw new Error("page data outside a batch");
    const ret = map.write(this.#slot++, 0, page);
    if (ret < 0) throw new Error(`writing pfn ${map.pfn(this.#slot - 1)}: ${ret}`);
    this.written++;
  }

  /** Unmaps the current batch. */
  end(): void {
    this.#map?.unmap();
    this.#map = undefined;
  }

  get populated(): ReadonlySet<number> {
    return this.#populated;
  }
}

/**
 * Feeds `reader` exactly the xl header — its fixed part, then the optional
 * data whose length the fixed part gives — so that no page data reaches the
 * reader before the domain exists. Returns the config and a copy of what
 * the last chunk held past the header (the start of the libxl stream).
 */
async function readXlHeader(
  reader: SaveImageReader,
  it: AsyncIterator<Uint8Array>,
): Promise<{ config: XlConfig | undefined; rest: Uint8Array }> {
  const fixed = new Uint8Array(XL_HEADER_BYTES);
  let end = XL_HEADER_BYTES;
  for (;;) {
    const next = await it.next();
    if (next.done) {
      const f = reader.finish();
      throw f.ok ? new Error("image ended before the xl header") : f.error;
    }
    let chunk = next.value;
    while (chunk.length > 0) {
      const at = reader.offset;
      const part = chunk.subarray(0, end - at);
      if (at < XL_HEADER_BYTES) fixed.set(part, at);
      const r = reader.push(part);
      if (!r.ok) throw r.error;
      chunk = chunk.subarray(part.length);
      const xl = r.records.find((x) => x.layer === "xl");
      if (xl !== undefined && xl.layer === "xl") return { config: xl.config, rest: chunk.slice() };
      if (reader.offset === XL_HEADER_BYTES && end === XL_HEADER_BYTES) {
        const h = decodeXlFixedHeader(fixed); // accepted by the reader already
        if (h.ok) end += h.value.optionalDataBytes;
      }
    }
  }
}

/** Restores a domain from the xl-format image in `chunks`; see the module doc. */
export async function restoreDomain(
  tc: ToolstackContext,
  ops: DomainOps,
  chunks: AsyncIterable<Uint8Array>,
  opts: RestoreOptions = {},
): Promise<RestoredDomain> {
  const report = opts.progress ?? (() => {});
  let step: RestoreStep = "header";
  let domid: number | undefined;
  let bytes = 0;
  let pages: PageWriter | undefined;
  // The reader runs with a page sink that forwards to `pages` once the
  // domain exists; the xl header (and so the config) comes first.
  const reader = new SaveImageReader({
    format: "xl",
    batchSink: (pfns, types, count) => {
      if (pages === undefined) throw new Error("page data before the domain exists");
      pages.begin(pfns, types, count);
    },
    pageSink: (pfn, type, page) => pages!.take(pfn, type, page),
  });
  const it = chunks[Symbol.asyncIterator]();
  try {
    // --- 1. header and config ----------------------------------------
    const header = await readXlHeader(reader, it);
    if (header.config === undefined) throw new Error("the image holds no domain config");
    bytes = reader.offset;
    const saved = parseDomainConfigJson(header.config.text);
    const config: DomainConfig = opts.name ? { ...saved, name: opts.name } : saved;

    // --- 2. domain_make, build_pre ---------------------------------------
    step = "domain";
    report({ step, pages: 0, bytes });
    await tc.sleep(0);
    const { uuid } = await makeDomain(tc, config, (id) => (domid = id));
    const id = domid!;
    tc.trace.emit({ src: "toolstack", dom: id, op: "restore", step, name: config.name });
    const ports = await buildPre(tc, id, config);
    pages = new PageWriter(tc, id, config.maxmemMb * 256 + LIBXL_MAXMEM_CONSTANT_KB / 4);

    // --- 3. the stream -----------------------------------------------------
    step = "memory";
    let done = false;
    const feed = (chunk: Uint8Array) => {
      bytes += chunk.length;
      if (done) {
        if (chunk.length > 0) {
          throw new SaveImageError(
            "trailing_data",
            { layer: "libxl stream", offset: reader.offset },
            "bytes follow the final END record",
          );
        }
        return;
      }
      const r = reader.push(chunk);
      if (!r.ok) throw r.error;
      done = r.done;
      if (done && r.consumed < chunk.length) feed(chunk.subarray(r.consumed));
    };
    feed(header.rest);
    report({ step, pages: pages.written, bytes });
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      feed(next.value);
      report({ step, pages: pages.written, bytes });
      await tc.sleep(0); // one clock event per chunk (see save_domain.ts)
    }
    const f = reader.finish();
    if (!f.ok) throw f.error;
    const image = f.image;
    pages.end();
    const wantType = config.type === "pv" ? "pv" : "hvm";
    if (image.domainType !== wantType) {
      throw new Error(
        `the stream is for an ${image.domainType} domain, the config for ${wantType}`,
      );
    }

    // --- 4. stream_complete --------------------------------------------
    step = "state";
    report({ step, pages: pages.written, bytes });
    const layout = image.domainType === "pv"
      ? completePv(tc, id, image, ports, pages)
      : completeHvm(tc, id, image, ports);
    seedGrants(tc, id, layout);

    // --- 5. build_post, devices -----------------------------------------
    step = "devices";
    report({ step, pages: pages.written, bytes });
    await storeDetails(tc, id, uuid, config, { kernel: config.kernel, ramdisk: config.ramdisk }, {
      port: ports.storePort,
      frame: layout.storeFrame,
    });
    await attachDevices(tc, ops, id, config, {
      port: ports.consolePort,
      frame: layout.consoleFrame,
    });
    const restored: RestoredDomain = {
      domid: id,
      uuid,
      config,
      ...ports,
      ...layout,
      emulatorContext: image.emulatorContexts[0]?.blob,
      pages: pages.written,
      bytes,
    };
    await opts.beforeUnpause?.(restored);
    tc.trace.emit({ src: "toolstack", dom: id, op: "restore", step: "done", pages: pages.written });
    report({ step: "done", pages: pages.written, bytes });
    return restored;
  } catch (e) {
    tc.trace.emit({ src: "toolstack", dom: domid, op: "restore", step, error: String(e) });
    pages?.end();
    if (domid !== undefined) await destroyDomain(tc, ops, domid, { force: true }).catch(() => {});
    throw new RestoreError(step, e);
  } finally {
    await it.return?.();
  }
}

interface Layout {
  storePfn: number;
  storeFrame: number;
  consolePfn: number;
  consoleFrame: number;
  startInfoPfn?: number;
}

/** x86_pv_stream_complete: vCPUs, then start_info's fix-ups (§4.2). */
function completePv(
  tc: ToolstackContext,
  id: number,
  image: SaveImage,
  ports: { storePort: number; consolePort: number },
  pages: PageWriter,
): Layout {
  const basic0 = image.vcpus.get(0)?.basic;
  if (basic0 === undefined) throw new Error("the stream has no X86_PV_VCPU_BASIC for vCPU 0");
  const pfnToMfn = (pfn: number) => {
    if (!pages.populated.has(pfn)) {
      throw new Error(`pfn ${pfn} named by a vCPU is not in the stream`);
    }
    return pfnsToMfns(tc, id, [pfn])[0];
  };
  const ctx0 = pvVcpuContext(basic0, pfnToMfn);
  const startInfoPfn = ctx0.rdx;
  if (!pages.populated.has(startInfoPfn)) {
    throw new Error(`vCPU 0's start_info pfn ${startInfoPfn} is not in the stream`);
  }
  const info = check(
    tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid: id }),
    "getdomaininfo",
    id,
  ).info!;
  // process_start_info: start_info's frames were made pfns by the guest.
  let storePfn = 0, consolePfn = 0, storeMfn = 0, consoleMfn = 0;
  editStartInfo(tc, id, startInfoPfn, (si) => {
    if (!si.magic.startsWith("xen-")) {
      throw new Error(`pfn ${startInfoPfn} named by vCPU 0 holds no start_info`);
    }
    storePfn = si.storeMfn;
    consolePfn = si.consoleMfn;
    for (const [what, pfn] of [["store", storePfn], ["console", consolePfn]] as const) {
      if (!pages.populated.has(pfn)) {
        throw new Error(`start_info's ${what} pfn ${pfn} is not in the stream`);
      }
    }
    [storeMfn, consoleMfn] = pfnsToMfns(tc, id, [storePfn, consolePfn]);
    si.storeMfn = storeMfn;
    si.storeEvtchn = ports.storePort;
    si.consoleMfn = consoleMfn;
    si.consoleEvtchn = ports.consolePort;
    si.nrPages = pages.maxPfn + 1;
    si.sharedInfo = info.sharedInfoFrame * PAGE_SIZE;
    si.flags = 0;
  });
  ctx0.rdx = pfnToMfn(startInfoPfn);
  for (const [v, state] of [...image.vcpus.entries()].sort((a, b) => a[0] - b[0])) {
    if (state.basic === undefined) continue;
    const ctx = v === 0 ? ctx0 : pvVcpuContext(state.basic, pfnToMfn);
    ctx.flags |= VGCF_online; // vCPUs restored from records are online
    check(
      tc.hypercall({ hc: "domctl", op: "setvcpucontext", domid: id, vcpu: v, ctx }),
      "setvcpucontext",
      id,
    );
  }
  return { storePfn, storeFrame: storeMfn, consolePfn, consoleFrame: consoleMfn, startInfoPfn };
}

/** x86_hvm_stream_complete: params, the new ports, then the HVM context. */
function completeHvm(
  tc: ToolstackContext,
  id: number,
  image: SaveImage,
  ports: { storePort: number; consolePort: number },
): Layout {
  if (image.hvmContext === undefined) throw new Error("the stream has no HVM_CONTEXT");
  const set = (index: number, value: number) =>
    check(
      tc.hypercall({ hc: "hvm_op", op: "set_param", domid: id, index, value }),
      `set_param ${index}`,
      id,
    );
  let storePfn = 0, consolePfn = 0;
  for (const p of image.hvmParams) {
    const value = Number(p.value);
    if (p.index === HVM_PARAM_STORE_PFN) storePfn = value;
    if (p.index === HVM_PARAM_CONSOLE_PFN) consolePfn = value;
    set(p.index, value);
  }
  if (storePfn === 0) throw new Error("HVM_PARAMS has no STORE_PFN");
  set(HVM_PARAM_STORE_EVTCHN, ports.storePort);
  set(HVM_PARAM_CONSOLE_EVTCHN, ports.consolePort);
  const blob = hvContextFromBlob(image.hvmContext);
  check(tc.hypercall({ hc: "domctl", op: "sethvmcontext", domid: id, blob }), "sethvmcontext", id);
  return { storePfn, storeFrame: storePfn, consolePfn, consoleFrame: consolePfn };
}
