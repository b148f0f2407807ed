/**
 * One in-process host for the guest-agent tests, on virtual time: a
 * Scheduler, the emulated hypervisor, xenstored on it, and a minimal
 * "toolstack" written here (so these tests do not depend on src/toolstack):
 * createdomain, memory, store and console event channels, start_info (PV)
 * or HVM params, vCPU 0's context, grant seeding, the domain's xenstore home
 * with libxl's permissions (lifecycle-and-migration.md §2.2), INTRODUCE,
 * unpause. HVM domains get a small device model (CMOS boot order, probed
 * disks, serial port, PIIX4 PM1a) that turns S5 into a remote shutdown from
 * dom0, as QEMU does.
 */
import { cmosBootOrder } from "../../src/platform/cmos_boot_order.ts";
import assert from "node:assert/strict";
import {
  emptyStartInfo,
  emptyVcpuContext,
  encodeStartInfo,
  HVM_PARAM_CALLBACK_IRQ,
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_STORE_PFN,
  Hypervisor,
  PAGE_SIZE,
  VGCF_online,
  XEN_DOMINF_shutdown,
  XEN_DOMINF_shutdownmask,
  XEN_DOMINF_shutdownshift,
} from "../../src/hv/mod.ts";
import { Rng } from "../../src/sim/rng.ts";
import { assertRunOk, Scheduler } from "../../src/sim/scheduler.ts";
import { MemoryTrace, type Trace } from "../../src/sim/trace.ts";
import type { Clock } from "../../src/sim/clock.ts";
import { XsClient } from "../../src/xenstore/client/client.ts";
import type { XsPerm } from "../../src/xenstore/client/perms.ts";
import { type XenstoredOnHv, xenstoredOnHypervisor } from "../../src/host/xenstored_on_hv.ts";
import type { GuestEnv } from "../../src/guest-agents/guest_env.ts";
import { inProcessGuestEnv } from "../../src/guest-agents/in_process_env.ts";
import { DeviceModel } from "../../src/host/device_model.ts";
import { clockedLink } from "../../src/xenstore/client/clocked_link.ts";
import { type HvmPlatform } from "../../src/guest-agents/hvm_platform.ts";
import { type BiosDevice, type BiosKind } from "../../src/platform/bios_boot.ts";
import { readConsoleOut } from "../../src/guest-agents/console_ring.ts";

/**
 * What the build helpers need: the hypervisor, xenstored on it, dom0's
 * client, a clock, and a way to wait for a promise (on virtual time, by
 * running the scheduler; on the system clock, by awaiting it).
 */
export interface HostBase {
  readonly clock: Clock;
  readonly hv: Hypervisor;
  readonly trace: Trace;
  readonly xenstored: XenstoredOnHv;
  readonly dom0: XsClient;
  /** Waits until `p` settles (bounded). */
  run<T>(p: Promise<T>, maxEvents?: number): Promise<T>;
}

/** The host, on virtual time. */
export interface GuestHost extends HostBase {
  readonly sched: Scheduler;
  readonly trace: MemoryTrace;
  /** Runs `ns` of virtual time. */
  advance(ns: number): Promise<void>;
}

export async function newHost(seed = 1): Promise<GuestHost> {
  const sched = new Scheduler();
  const trace = new MemoryTrace(sched);
  const hv = new Hypervisor({ clock: sched, rng: new Rng(seed), trace });
  const xenstored = xenstoredOnHypervisor(hv, { clock: sched, trace });
  const dom0 = new XsClient(clockedLink(xenstored.xenstored.connectInProcess(0), sched));
  const run = async <T>(p: Promise<T>, maxEvents = 100_000): Promise<T> => {
    let done = false;
    const r = p.finally(() => (done = true));
    r.catch(() => {});
    assertRunOk(await sched.runUntilAsync(() => done, { maxEvents }));
    return await r;
  };
  const advance = async (ns: number) => {
    assertRunOk(await sched.runAsync({ untilNs: sched.nowNs() + ns, maxEvents: 100_000 }));
  };
  await Promise.resolve();
  return { sched, clock: sched, hv, trace, xenstored, dom0, run, advance };
}

/** A built (not yet unpaused) guest. */
export interface BuiltGuest {
  readonly domid: number;
  readonly env: GuestEnv;
  readonly hvm: boolean;
  readonly storeFrame: number;
  readonly storePort: number;
  readonly consolePfn: number;
  readonly consolePort: number;
  readonly startInfoPfn?: number;
  readonly dm?: DeviceModel;
}

/** What the test toolstack builds. */
export interface BuildOptions {
  readonly pages?: number;
  readonly cmdline?: string;
  /** HVM: `boot=` letters (default libxl's "cda"). */
  readonly boot?: string;
  readonly devices?: readonly BiosDevice[];
  readonly bios?: BiosKind;
  /** HVM: no device model at all. */
  readonly noPlatform?: boolean;
  /** Extra xenstore nodes under the home (relative path → value). */
  readonly extraNodes?: Readonly<Record<string, string>>;
}

/** PV layout (as the domain builder): kernel 0-1, start_info 2, store 3, console 4. */
export const PV_START_INFO_PFN = 2;
const PAGES_DEFAULT = 48;

function ok(r: { ret: number }, what: string): void {
  assert.ok(r.ret >= 0, `${what}: ${r.ret}`);
}

function createDomain(
  h: HostBase,
  hvm: boolean,
  pages: number,
): { domid: number; mfns: number[] } {
  const c = h.hv.hypercall(0, {
    hc: "domctl",
    op: "createdomain",
    config: { maxVcpus: 1, hvm, hap: hvm },
  });
  assert.equal(c.ret, 0);
  const domid = c.domid!;
  ok(h.hv.hypercall(0, { hc: "domctl", op: "max_mem", domid, maxMemKb: pages * 4 }), "max_mem");
  const gpfns = Array.from({ length: pages }, (_, i) => i);
  const p = h.hv.hypercall(0, {
    hc: "memory_op",
    op: "populate_physmap",
    domid,
    extentOrder: 0,
    gpfns,
  });
  assert.equal(p.ret, pages);
  return { domid, mfns: p.mfns! };
}

function allocPort(h: HostBase, domid: number): number {
  const r = h.hv.hypercall(0, {
    hc: "event_channel_op",
    op: "alloc_unbound",
    dom: domid,
    remoteDom: 0,
  });
  ok(r, "alloc_unbound");
  return r.port!;
}

function setVcpu0(h: HostBase, domid: number, rip: number, rsi: number): void {
  const ctx = emptyVcpuContext();
  ctx.rip = rip;
  ctx.rsi = rsi;
  ctx.flags = VGCF_online;
  ok(h.hv.hypercall(0, { hc: "domctl", op: "setvcpucontext", domid, vcpu: 0, ctx }), "vcpu0");
}

/**
 * The domain's xenstore home as libxl writes it (§2.2, xenstore-protocol.md
 * §8.2): `~` read-only to the guest, control/* and data guest-owned.
 */
export async function writeHome(
  h: HostBase,
  domid: number,
  hvm: boolean,
  store: { frame: number; port: number },
  extra: Readonly<Record<string, string>> = {},
): Promise<void> {
  const home = `/local/domain/${domid}`;
  const ro: XsPerm[] = [{ id: 0, perm: "n" }, { id: domid, perm: "r" }];
  const rw: XsPerm[] = [{ id: domid, perm: "n" }];
  const xs = h.dom0;
  await h.run(xs.transaction(async (tx) => {
    await xs.rm(home, tx).catch(() => {});
    const node = async (rel: string, value: string, perms?: XsPerm[]) => {
      const p = rel === "" ? home : `${home}/${rel}`;
      await xs.write(p, value, tx);
      if (perms) await xs.setPerms(p, perms, tx);
    };
    await node("", "", ro);
    await node("name", `guest${domid}`);
    await node("domid", String(domid));
    await node("device", "", ro);
    await node("device/suspend/event-channel", "", rw);
    await node("control", "", ro);
    await node("control/shutdown", "", rw);
    for (const f of ["poweroff", "reboot", "suspend", ...(hvm ? ["s3", "s4"] : [])]) {
      await node(`control/feature-${f}`, "", rw);
    }
    await node("control/sysrq", "", rw);
    for (const d of ["data", "drivers", "feature", "attr", "error"]) await node(d, "", rw);
    await node("control/platform-feature-multiprocessor-suspend", "1");
    await node("control/platform-feature-xs_reset_watches", "1");
    await node("store/port", String(store.port));
    await node("store/ring-ref", String(store.frame));
    for (const [rel, value] of Object.entries(extra)) await node(rel, value);
  }));
}

/**
 * The guest's environment: the host refuses a xenstore ring or port other
 * than the INTRODUCEd ones.
 */
function guestEnv(
  h: HostBase,
  domid: number,
  store: { frame: number; port: number },
  platform?: HvmPlatform,
): GuestEnv {
  return inProcessGuestEnv({
    hv: h.hv,
    domid,
    clock: h.clock,
    rng: new Rng(1000 + domid),
    trace: h.trace,
    platform,
    openXenstore: (frame, port) => {
      if (frame !== store.frame || port !== store.port) {
        return Promise.reject(
          new Error(
            `xenstore ring ${frame} port ${port} refused: domain ${domid} was introduced ` +
              `with ring ${store.frame} port ${store.port}`,
          ),
        );
      }
      return Promise.resolve(h.xenstored.xenstored.connectInProcess(domid));
    },
  });
}

/** Builds a PV guest (paused). */
export async function buildPv(h: HostBase, opts: BuildOptions = {}): Promise<BuiltGuest> {
  const pages = opts.pages ?? PAGES_DEFAULT;
  const { domid, mfns } = createDomain(h, false, pages);
  const storePort = allocPort(h, domid);
  const consolePort = allocPort(h, domid);
  const storePfn = PV_START_INFO_PFN + 1, consolePfn = PV_START_INFO_PFN + 2;
  const si = emptyStartInfo();
  si.nrPages = pages;
  si.storeMfn = mfns[storePfn];
  si.storeEvtchn = storePort;
  si.consoleMfn = mfns[consolePfn];
  si.consoleEvtchn = consolePort;
  si.cmdLine = opts.cmdline ?? "root=/dev/xvda1 ro quiet";
  const page = new Uint8Array(PAGE_SIZE);
  encodeStartInfo(si, page);
  const map = h.hv.foreignMap(0, domid, [PV_START_INFO_PFN], true);
  assert.equal(map.ret, 0);
  map.mapping!.copyIn(page);
  map.mapping!.unmap();
  setVcpu0(h, domid, 0x1000, PV_START_INFO_PFN * PAGE_SIZE);
  seed(h, domid, storePfn, consolePfn);
  const store = { frame: mfns[storePfn], port: storePort };
  await writeHome(h, domid, false, store, opts.extraNodes);
  await h.run(h.dom0.introduce(domid, store.frame, store.port));
  return {
    domid,
    env: guestEnv(h, domid, store),
    hvm: false,
    storeFrame: store.frame,
    storePort,
    consolePfn,
    consolePort,
    startInfoPfn: PV_START_INFO_PFN,
  };
}

function seed(h: HostBase, domid: number, storePfn: number, consolePfn: number): void {
  ok(
    h.hv.hypercall(0, {
      hc: "grant_table_op",
      op: "seed",
      dom: domid,
      consoleGfn: consolePfn,
      consoleDomid: 0,
      xenstoreGfn: storePfn,
      xenstoreDomid: 0,
    }),
    "seed",
  );
}

/** Builds an HVM guest (paused): rings in the top pages, params, vCPU 0 at the reset vector. */
export async function buildHvm(h: GuestHost, opts: BuildOptions = {}): Promise<BuiltGuest> {
  const pages = opts.pages ?? PAGES_DEFAULT;
  const { domid } = createDomain(h, true, pages);
  const storePort = allocPort(h, domid);
  const consolePort = allocPort(h, domid);
  const storePfn = pages - 1, consolePfn = pages - 2;
  for (
    const [index, value] of [
      [HVM_PARAM_STORE_PFN, storePfn],
      [HVM_PARAM_STORE_EVTCHN, storePort],
      [HVM_PARAM_CONSOLE_PFN, consolePfn],
      [HVM_PARAM_CONSOLE_EVTCHN, consolePort],
    ]
  ) ok(h.hv.hypercall(0, { hc: "hvm_op", op: "set_param", domid, index, value }), "param");
  setVcpu0(h, domid, 0xfff0, 0);
  seed(h, domid, storePfn, consolePfn);
  const store = { frame: storePfn, port: storePort };
  await writeHome(h, domid, true, store, opts.extraNodes);
  await h.run(h.dom0.introduce(domid, store.frame, store.port));
  const dm = opts.noPlatform ? undefined : new DeviceModel(h.hv, domid, h.trace, {
    bios: opts.bios,
    cmos: cmosBootOrder(opts.boot ?? "cda", false),
    devices: opts.devices ?? [{ kind: "disk", name: "hda", bootable: true }],
  });
  return {
    domid,
    env: guestEnv(h, domid, store, dm),
    hvm: true,
    storeFrame: storePfn,
    storePort,
    consolePfn,
    consolePort,
    dm,
  };
}

/** Unpauses a built domain (its vCPU 0 then runs). */
export function unpause(h: HostBase, domid: number): void {
  ok(h.hv.hypercall(0, { hc: "domctl", op: "unpausedomain", domid }), "unpause");
}

/** The shutdown code dom0 reads from getdomaininfo, or undefined while not shut down. */
export function shutdownCode(h: HostBase, domid: number): number | undefined {
  const r = h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid });
  const flags = r.info!.flags;
  if ((flags & XEN_DOMINF_shutdown) === 0) return undefined;
  return (flags >>> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
}

/** HVM_PARAM_CALLBACK_IRQ as the toolstack reads it (≠ 0: PV drivers). */
export function callbackIrq(h: GuestHost, domid: number): number {
  const r = h.hv.hypercall(0, {
    hc: "hvm_op",
    op: "get_param",
    domid,
    index: HVM_PARAM_CALLBACK_IRQ,
  });
  return r.value ?? -1;
}

/** What the guest wrote to its PV console ring, as xenconsoled would read it. */
export function consoleText(h: HostBase, domid: number, consolePfn: number): string {
  const map = h.hv.foreignMap(0, domid, [consolePfn], false);
  assert.equal(map.ret, 0);
  const page = new Uint8Array(PAGE_SIZE);
  map.mapping!.read(0, 0, page);
  map.mapping!.unmap();
  return readConsoleOut(page);
}

/** The values of `~/control/<name>` for the given names. */
export async function controlNodes(
  h: HostBase,
  domid: number,
  names: readonly string[],
): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const n of names) {
    const p = `/local/domain/${domid}/control/${n}`;
    out[n] = (await h.run(h.dom0.exists(p))) ? await h.run(h.dom0.readString(p)) : undefined;
  }
  return out;
}

/** The guest trace events of `domid` (parsed), optionally only those named `ev`. */
export function guestEvents(h: GuestHost, domid: number, ev?: string): Record<string, unknown>[] {
  return h.trace.lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.src === "guest" && e.dom === domid && (ev === undefined || e.ev === ev));
}

/** The xenstore requests domain `domid` made, as `OP tx path [value]` strings. */
export function xenstoreOps(h: GuestHost, domid: number): string[] {
  return h.trace.lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.src === "xenstored" && e.dom === domid)
    .map((e) =>
      [e.op, e.tx === 0 ? "-" : "T", e.path, ...(e.value !== undefined ? [`"${e.value}"`] : [])]
        .join(" ")
    );
}
