/**
 * One host for the device tests, all in process on virtual time: the
 * emulated hypervisor, xenstored on it, the toolstack's context (dom0),
 * netback, blkback and xenconsoled each on their own dom0 connection, and
 * guests built the way libxl builds them (home, INTRODUCE) with an
 * in-process {@link GuestEnv}.
 */
import assert from "node:assert/strict";
import { Hypervisor } from "../../src/hv/mod.ts";
import { buildGuest } from "../../src/hv/testing.ts";
import { xenstoredOnHypervisor } from "../../src/host/xenstored_on_hv.ts";
import { Faults, type FaultSpec } from "../../src/sim/faults.ts";
import { Rng } from "../../src/sim/rng.ts";
import { assertRunOk, Scheduler } from "../../src/sim/scheduler.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import { XsClient } from "../../src/xenstore/client/client.ts";
import type { GuestEnv } from "../../src/guest-agents/guest_env.ts";
import type { Dom0Resources, ToolstackContext } from "../../src/toolstack/toolstack_context.ts";
import type { BackendEnv } from "../../src/toolstack/backends/backend_env.ts";
import { startNetback } from "../../src/toolstack/backends/netback.ts";
import { startBlkback } from "../../src/toolstack/backends/blkback.ts";
import { startXenconsoled, type Xenconsoled } from "../../src/toolstack/backends/xenconsoled.ts";
import type { BackendBus } from "../../src/toolstack/backends/backend_bus.ts";
import type { DiskConfig, VifConfig } from "../../src/toolstack/domain_config.ts";
import { ClockedXs } from "../../src/xenstore/client/clocked_xs.ts";

/** Pages each test guest gets; ring pages are taken from {@link RING_PFN_BASE} up. */
export const GUEST_PAGES = 64;
export const RING_PFN_BASE = 48;
/** The console ring and xenstore ring pfns of a test guest. */
export const CONSOLE_PFN = 2;
export const STORE_PFN = 1;
/** A 1 MiB disk image in dom0. */
export const DISK_IMAGE = "/images/disk.img";
export const DISK_BYTES = 1 << 20;

/** vif 0 on xenbr0. */
export const VIF0: VifConfig = {
  devid: 0,
  mac: "00:16:3e:00:00:01",
  bridge: "xenbr0",
  script: "vif-bridge",
  type: "vif",
};

/** xvda on the disk image, through blkback. */
export const XVDA: DiskConfig = {
  vdev: "xvda",
  devid: 51712,
  target: DISK_IMAGE,
  format: "raw",
  access: "w",
  deviceType: "disk",
  backendType: "phy",
};

export interface HostOptions {
  seed?: number;
  /** Faults for the backend drivers. */
  backendFaults?: FaultSpec;
  /** netback's bound on devices. */
  netbackDevicesMax?: number;
}

export interface TestGuest {
  domid: number;
  env: GuestEnv;
  xs: XsClient;
  consolePort: number;
}

export type DeviceHost = Awaited<ReturnType<typeof newDeviceHost>>;

/** Builds the host and starts the backends. */
export async function newDeviceHost(opts: HostOptions = {}) {
  const seed = opts.seed ?? 1;
  const sched = new Scheduler();
  const trace = new MemoryTrace(sched);
  const hv = new Hypervisor({ clock: sched, rng: new Rng(seed), trace });
  const host = xenstoredOnHypervisor(hv, { clock: sched });
  const files = new Map<string, Uint8Array>([[DISK_IMAGE, new Uint8Array(DISK_BYTES)]]);
  const dom0: Dom0Resources = {
    bridges: new Set(["xenbr0"]),
    readFile: (p) => files.get(p),
  };
  const tc: ToolstackContext = {
    xs: new XsClient(host.xenstored.connectInProcess(0)),
    hypercall: (c) => hv.hypercall(0, c),
    foreignMap: (domid, pfns, writable) => {
      const r = hv.foreignMap(0, domid, pfns, writable);
      assert.ok(r.mapping !== undefined, `foreignMap d${domid}: ${r.ret}`);
      return r.mapping;
    },
    clock: sched,
    rng: new Rng(seed + 1),
    trace,
    dom0,
    sleep: (ns) => sched.sleep(ns),
  };
  const backendEnv = (): BackendEnv => ({
    xs: new XsClient(host.xenstored.connectInProcess(0)),
    hypercall: (c) => hv.hypercall(0, c),
    clock: sched,
    trace,
    dom0,
    faults: new Faults(new Rng(seed + 2), opts.backendFaults ?? {}),
    grantPage: (h) => hv.grantPage(0, h),
    onPort: (p, fn) => hv.onPort(0, p, fn),
  });

  /** Runs the simulation until `p` settles; returns its value or throws its error. */
  const run = async <T>(p: Promise<T>, maxEvents = 200_000): Promise<T> => {
    let done = false;
    const r = p.finally(() => (done = true));
    r.catch(() => {});
    assertRunOk(await sched.runUntilAsync(() => done, { maxEvents }));
    return await r;
  };
  /** Runs the simulation until `pred()` holds. */
  const runUntil = async (pred: () => boolean, maxEvents = 200_000) => {
    assertRunOk(await sched.runUntilAsync(pred, { maxEvents }));
  };

  // xen-init-dom0.
  await run(tc.xs.write("/local/domain/0/name", "Domain-0"));
  await run(tc.xs.write("/local/domain/0/domid", "0"));
  const netback: BackendBus = await run(
    startNetback(backendEnv(), { devicesMax: opts.netbackDevicesMax }),
  );
  const blkback: BackendBus = await run(startBlkback(backendEnv()));
  const xenconsoled: Xenconsoled = await run(startXenconsoled(backendEnv()));

  /** A running PV guest with libxl's home, introduced to xenstored, and its env. */
  const addGuest = async (): Promise<TestGuest> => {
    const domid = buildGuest(hv, { pages: GUEST_PAGES });
    const home = `/local/domain/${domid}`;
    const ro = [{ id: 0, perm: "n" as const }, { id: domid, perm: "r" as const }];
    const rw = [{ id: domid, perm: "n" as const }];
    const cx = new ClockedXs(tc.xs, () => sched.sleep(0));
    await run(cx.transaction(async (tx) => {
      await cx.mkdir(home, tx);
      await cx.setPerms(home, ro, tx);
      await cx.mkdir(`/libxl/${domid}/device`, tx);
      await cx.write(`/libxl/${domid}/type`, "pv", tx);
      await cx.write(`${home}/domid`, String(domid), tx);
      await cx.mkdir(`${home}/device`, tx);
      await cx.setPerms(`${home}/device`, ro, tx);
      await cx.write(`${home}/device/suspend/event-channel`, "", tx);
      await cx.setPerms(`${home}/device/suspend/event-channel`, rw, tx);
    }));
    // build_pre: the console channel (remote: xenconsoled in dom0); entries 0/1 seeded.
    const c = hv.hypercall(0, {
      hc: "event_channel_op",
      op: "alloc_unbound",
      dom: domid,
      remoteDom: 0,
    });
    assert.equal(c.ret, 0);
    assert.equal(
      hv.hypercall(0, {
        hc: "grant_table_op",
        op: "seed",
        dom: domid,
        consoleGfn: CONSOLE_PFN,
        consoleDomid: 0,
        xenstoreGfn: STORE_PFN,
        xenstoreDomid: 0,
      }).ret,
      0,
    );
    await run(tc.xs.introduce(domid, STORE_PFN, 1));
    const env: GuestEnv = {
      domid,
      clock: sched,
      rng: new Rng(seed + 100 + domid),
      trace,
      hypercall: (call) => Promise.resolve(hv.hypercall(domid, call)),
      attachKernel: (k) => hv.attachKernel(domid, k),
      readPage: (pfn, off, out) => {
        const r = hv.guestRead(domid, pfn, off, out);
        return Promise.resolve(r < 0 ? r : out.length);
      },
      writePage: (pfn, off, data) => {
        const r = hv.guestWrite(domid, pfn, off, data);
        return Promise.resolve(r < 0 ? r : data.length);
      },
      openXenstore: () => Promise.resolve(host.xenstored.connectInProcess(domid)),
      sleep: (ns) => sched.sleep(ns),
    };
    const xs = new XsClient(await run(env.openXenstore(STORE_PFN, 1)));
    return { domid, env, xs, consolePort: c.port! };
  };

  return {
    sched,
    trace,
    hv,
    host,
    tc,
    dom0,
    files,
    netback,
    blkback,
    xenconsoled,
    run,
    runUntil,
    addGuest,
  };
}

/** A node's value, or undefined. */
export async function readOpt(h: DeviceHost, path: string): Promise<string | undefined> {
  return await h.run(h.tc.xs.readString(path).catch(() => undefined));
}

/** Whether a node exists. */
export async function exists(h: DeviceHost, path: string): Promise<boolean> {
  return await h.run(h.tc.xs.exists(path));
}

/** Perms of a node as `n0,r5`. */
export async function perms(h: DeviceHost, path: string): Promise<string> {
  return (await h.run(h.tc.xs.getPerms(path))).map((p) => `${p.perm}${p.id}`).join(",");
}

/** Every key directly under `dir` with its value. */
export async function keys(h: DeviceHost, dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of (await h.run(h.tc.xs.directory(dir))).sort()) {
    out[k] = await h.run(h.tc.xs.readString(`${dir}/${k}`));
  }
  return out;
}

/** The guest's valid grant entries (dump_table, as dom0). */
export function grantEntries(h: DeviceHost, domid: number) {
  const r = h.hv.hypercall(0, { hc: "grant_table_op", op: "dump_table", dom: domid });
  return r.entries ?? [];
}

/** Status of one of `domid`'s ports (as dom0). */
export function portStatus(h: DeviceHost, domid: number, port: number) {
  return h.hv.hypercall(0, { hc: "event_channel_op", op: "status", dom: domid, port }).status;
}
