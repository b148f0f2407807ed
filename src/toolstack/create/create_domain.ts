/**
 * @module
 * `xl create`: libxl's creation pipeline in its exact order
 * (lifecycle-and-migration.md §2.1) with the xenstore writes and
 * permissions of §2.2, reported in xend's progress phases (§2.6). On any
 * failure the half-built domain is destroyed and its nodes removed, and the
 * error names the phase. The domain is left paused if asked (`-p`).
 */
import { NS_PER_S } from "../../sim/clock.ts";
import type { DomainConfig } from "../domain_config.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { buildHvm, buildPv, type BuiltDomain } from "../build/domain_builder.ts";
import { check } from "../build/hypercall_error.ts";
import { applyLayout } from "./apply_layout.ts";
import type { BootImage, DomainOps } from "./domain_ops.ts";
import { type PhaseName, Progress, type ProgressSink } from "./progress.ts";
import { domainDetails, skeleton, vmDetails } from "./xenstore_layout.ts";
import { destroyDomain } from "./destroy_domain.ts";

export interface CreateOptions {
  /** `xl create -p`: leave the domain paused. */
  readonly paused?: boolean;
  readonly progress?: ProgressSink;
  /**
   * Runs after the devices are attached and before the domain is unpaused:
   * the host starts the guest's kernel here, so it is there when vCPU 0
   * first runs.
   */
  readonly beforeUnpause?: (created: CreatedDomain) => void | Promise<void>;
}

export interface CreatedDomain {
  readonly domid: number;
  readonly uuid: string;
  readonly name: string;
  readonly built: BuiltDomain;
  readonly storePort: number;
  readonly consolePort: number;
  readonly boot: BootImage;
}

/** Creation failed: which phase, and why; nothing of the domain is left. */
export class CreateError extends Error {
  readonly phase: PhaseName;
  override readonly cause: unknown;
  constructor(name: string, phase: PhaseName, cause: unknown) {
    super(
      `creating domain "${name}" failed during ${phase}: ${
        cause instanceof Error ? cause.message : cause
      }`,
    );
    this.name = "CreateError";
    this.phase = phase;
    this.cause = cause;
  }
}

/** LIBXL_MAXMEM_CONSTANT: slack on top of maxmem, in KiB. */
export const LIBXL_MAXMEM_CONSTANT_KB = 1024;

function uuidFrom(bytes: Uint8Array): string {
  const b = [...bytes];
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

async function nameTaken(tc: ToolstackContext, name: string): Promise<boolean> {
  for (const d of await tc.xs.directory("/local/domain").catch(() => [] as string[])) {
    if ((await tc.xs.readString(`/local/domain/${d}/name`).catch(() => undefined)) === name) {
      return true;
    }
  }
  return false;
}

/** Event channels build_pre allocates for the store and the console. */
export interface DomainPorts {
  readonly storePort: number;
  readonly consolePort: number;
}

/**
 * domain_make (§2.1 steps 1-3, §5.5): refuses a name in use, creates the
 * domain and writes its xenstore skeleton. Returns the new domid and uuid.
 */
export async function makeDomain(
  tc: ToolstackContext,
  c: DomainConfig,
  created: (domid: number) => void,
): Promise<{ domid: number; uuid: string }> {
  if (await nameTaken(tc, c.name)) throw new Error(`a domain named "${c.name}" already exists`);
  const uuid = c.uuid ?? uuidFrom(tc.rng.bytes(16));
  const r = check(
    tc.hypercall({
      hc: "domctl",
      op: "createdomain",
      config: { handle: uuid, hvm: c.type !== "pv", hap: c.type !== "pv", maxVcpus: c.maxvcpus },
    }),
    "createdomain",
    0,
  );
  const id = r.domid!;
  created(id);
  await tc.xs.transaction(async (tx) => await applyLayout(tc.xs, tx, skeleton(id, uuid, c)));
  if (c.type === "hvm") await tc.xs.write(`/libxl/${id}/dm-version`, "qemu_xen");
  return { domid: id, uuid };
}

/** build_pre (§2.1 step 5, §5.5): vCPUs, the memory limit, new store and console ports. */
export async function buildPre(
  tc: ToolstackContext,
  id: number,
  c: DomainConfig,
): Promise<DomainPorts> {
  check(
    tc.hypercall({ hc: "domctl", op: "max_vcpus", domid: id, max: c.maxvcpus }),
    "max_vcpus",
    id,
  );
  check(
    tc.hypercall({
      hc: "domctl",
      op: "max_mem",
      domid: id,
      maxMemKb: c.maxmemMb * 1024 + LIBXL_MAXMEM_CONSTANT_KB,
    }),
    "max_mem",
    id,
  );
  const xsDomid = Number(await tc.xs.readString("/tool/xenstored/domid").catch(() => "0")) || 0;
  const consoleDomid = Number(
    await tc.xs.readString("/tool/xenconsoled/domid").catch(() => "0"),
  ) || 0;
  const storePort = check(
    tc.hypercall({ hc: "event_channel_op", op: "alloc_unbound", dom: id, remoteDom: xsDomid }),
    "alloc_unbound (store)",
    id,
  ).port!;
  const consolePort = check(
    tc.hypercall({
      hc: "event_channel_op",
      op: "alloc_unbound",
      dom: id,
      remoteDom: consoleDomid,
    }),
    "alloc_unbound (console)",
    id,
  ).port!;
  return { storePort, consolePort };
}

/** build_post (§2.2): `/vm/<uuid>` and `/local/domain/<id>` in one transaction, then INTRODUCE. */
export async function storeDetails(
  tc: ToolstackContext,
  id: number,
  uuid: string,
  c: DomainConfig,
  image: { kernel?: string; ramdisk?: string },
  store: { port: number; frame: number },
): Promise<void> {
  const startTime = (tc.clock.nowNs() / NS_PER_S).toFixed(2);
  const vmEntries = vmDetails(uuid, c, startTime, image);
  const domEntries = domainDetails(id, c, { port: store.port, ringRef: store.frame });
  await tc.xs.transaction(async (tx) =>
    await applyLayout(tc.xs, tx, [...vmEntries, ...domEntries])
  );
  await tc.xs.introduce(id, store.frame, store.port);
}

/** Devices in libxl's order (§2.1 steps 6-9): disks, console 0, NICs. */
export async function attachDevices(
  tc: ToolstackContext,
  ops: DomainOps,
  id: number,
  c: DomainConfig,
  console: { port: number; frame: number },
  step: (fraction: number, detail: string) => void = () => {},
): Promise<void> {
  for (const d of c.disks) {
    step(0.2, `disk ${d.vdev}`);
    await ops.addDisk(tc, id, d);
  }
  step(0.5, "console 0");
  await ops.addConsole(tc, id, {
    port: console.port,
    ringRef: console.frame,
    backendType: c.type === "hvm" ? "ioemu" : "xenconsoled",
  });
  for (const v of c.vifs) {
    step(0.8, `vif ${v.devid} on ${v.bridge}`);
    await ops.addVif(tc, id, v);
  }
}

export async function createDomain(
  tc: ToolstackContext,
  ops: DomainOps,
  c: DomainConfig,
  opts: CreateOptions = {},
): Promise<CreatedDomain> {
  const progress = new Progress(opts.progress);
  let phase: PhaseName = "construct";
  let domid: number | undefined;
  const enter = (p: PhaseName, detail: string) => {
    phase = p;
    progress.phase(p, detail);
    tc.trace.emit({ src: "toolstack", dom: domid, op: "create", phase: p, detail });
  };
  try {
    // --- construct (§2.1 steps 1-3) -----------------------------------
    enter("construct", `checking configuration of "${c.name}"`);
    const { uuid } = await makeDomain(tc, c, (id) => {
      domid = id;
      progress.step(0.5, `domain ${id} created, writing its xenstore skeleton`);
    });
    const id = domid!;

    // --- init: bootloader, build_pre, build (§2.1 steps 4-5) -----------
    enter("init", c.bootloader ? `running ${c.bootloader}` : "preparing the boot image");
    const boot = ops.planBoot(c, tc.dom0);
    progress.step(0.3, "build_pre: vCPUs, memory limit, event channels");
    const { storePort, consolePort } = await buildPre(tc, id, c);
    progress.step(0.6, `building a ${c.type} domain of ${c.memoryMb} MiB`);
    const pages = c.memoryMb * 256;
    const ports = { store: storePort, console: consolePort };
    const built = boot.mode === "bios" || c.type !== "pv"
      ? buildHvm(tc, id, pages, ports)
      : buildPv(tc, id, pages, boot, ports);

    // --- store VM and domain details, INTRODUCE (build_post) -----------
    enter("store VM details", `/vm/${uuid}`);
    const image = boot.mode === "bios"
      ? {}
      : { kernel: boot.kernelPath, ramdisk: boot.ramdiskPath };
    enter("store domain details", `/local/domain/${id}, then INTRODUCE`);
    await storeDetails(tc, id, uuid, c, image, { port: storePort, frame: built.storeFrame });

    // --- devices: disks, console, NICs (§2.1 steps 6-9) ---------------
    enter("register watches", "attaching devices");
    await attachDevices(
      tc,
      ops,
      id,
      c,
      { port: consolePort, frame: built.consoleFrame },
      (f, d) => progress.step(f, d),
    );

    // --- refresh shutdown, unpause (§2.1 step 12) ----------------------
    enter("refresh shutdown", opts.paused ? "left paused (-p)" : "unpausing");
    check(tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid: id }), "getdomaininfo", id);
    const result = { domid: id, uuid, name: c.name, built, storePort, consolePort, boot };
    await opts.beforeUnpause?.(result);
    if (!opts.paused) {
      check(tc.hypercall({ hc: "domctl", op: "unpausedomain", domid: id }), "unpause", id);
    }
    progress.step(1, `domain ${id} "${c.name}" ${opts.paused ? "created paused" : "running"}`);
    return result;
  } catch (e) {
    tc.trace.emit({ src: "toolstack", dom: domid, op: "create", phase, error: String(e) });
    if (domid !== undefined) await destroyDomain(tc, ops, domid, { force: true }).catch(() => {});
    throw new CreateError(c.name, phase, e);
  }
}
