/**
 * @module
 * {@link PvDrivers}: the PV driver core a PV or PVHVM Linux brings up once
 * it knows where xenstore is — the xenbus connection (through the store
 * frame and event channel it was given, never anything else), manage.c's
 * watches and `feature-*` nodes (`shutdown_watcher.ts`), and the frontends
 * (`frontends/`): the devices under `~/device/` and console 0, whose ring
 * and port the guest found at boot. The order is Linux's:
 * xenstore up, then the xenstore notifiers (shutdown watcher, frontend
 * probe).
 */
import { NS_PER_S } from "../sim/clock.ts";
import { XsClient } from "../xenstore/client/client.ts";
import type { AgentCore } from "./agent_core.ts";
import { bringUpFrontends, resumeFrontends } from "./frontends/bring_up_frontends.ts";
import { type KernelRecord, type RecordedDevice, writeKernelRecord } from "./kernel_record.ts";
import { XenbusFrontend } from "./frontends/xenbus_frontend.ts";
import { emptyVcpuContext } from "../hv/vcpu.ts";
import { VGCF_online } from "../hv/xen_abi.ts";
import type { ConsoleLocation } from "./frontends/console_frontend.ts";
import type { Frontend } from "./frontends/frontend.ts";
import type { GuestEnv } from "./guest_env.ts";
import type { KernelPower } from "./kernel_power.ts";
import {
  CONTROL_SHUTDOWN as CONTROL_SHUTDOWN_PATH,
  CONTROL_SYSRQ as CONTROL_SYSRQ_PATH,
  ShutdownWatcher,
} from "./shutdown_watcher.ts";
import type { SuspendHook } from "./suspend_hook.ts";

/** A frontend as the agent holds it. */
export type FrontendHandle = Frontend;

/** What the agent passes to the frontend bring-up. */
export interface FrontendsBringUpOptions {
  readonly ringPfnBase?: number;
  readonly ringPages?: number;
  /** Console 0's ring pfn and port as found at boot; false: none. */
  readonly console?: ConsoleLocation | false;
  readonly waitConnectedNs?: number;
}

/** `bringUpFrontends` of `frontends/`: probes `device/` and starts each frontend. */
export type FrontendsBringUp = (
  xs: XsClient,
  env: GuestEnv,
  opts?: FrontendsBringUpOptions,
) => Promise<FrontendHandle[]>;

/**
 * Linux's `wait_for_devices` bound: the boot waits at most this long for
 * the frontends to reach Connected (then goes on without them).
 */
export const WAIT_FOR_DEVICES_NS_DEFAULT = 300 * NS_PER_S;

/** Options of {@link PvDrivers}. */
export interface PvDriversOptions {
  /** First pfn of the pages the frontends may use for their rings (their default if absent). */
  readonly ringPfnBase?: number;
  /** How many ring pages from `ringPfnBase`. */
  readonly ringPages?: number;
  /** Console 0's ring and port as found at boot (false: none). */
  readonly console: ConsoleLocation | false;
  /** Bound on waiting for devices to connect; default {@link WAIT_FOR_DEVICES_NS_DEFAULT}. */
  readonly waitDevicesNs?: number;
  readonly suspend?: SuspendHook;
  /** PV: the pfn of start_info, for the suspend hook. */
  readonly startInfoPfn?: number;
  /** Replaces the frontend bring-up (tests). */
  readonly bringUpFrontends?: FrontendsBringUp;
  /** Where the kernel keeps its record for a resume in a new domain (`kernel_record.ts`). */
  readonly kernelRecordPfn?: number;
  /** PVHVM: where shared_info is mapped (kept in the record). */
  readonly sharedInfoPfn?: number;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The PV driver core of one guest. */
/** Bound on vCPUs probed at boot (Xen's HVM_MAX_VCPUS is 128; PV allows more). */
export const VCPUS_MAX = 4096;
/** Where secondary vCPUs start (`cpu_bringup_and_idle`'s stand-in). */
export const SECONDARY_VCPU_ENTRY_RIP = 0x2000;

export class PvDrivers {
  readonly #core: AgentCore;
  readonly #power: KernelPower;
  readonly #opts: PvDriversOptions;
  #xs: XsClient | null = null;
  #watcher: ShutdownWatcher | null = null;
  #frontends: FrontendHandle[] = [];

  constructor(core: AgentCore, power: KernelPower, opts: PvDriversOptions) {
    this.#core = core;
    this.#power = power;
    this.#opts = opts;
  }

  get xs(): XsClient | null {
    return this.#xs;
  }

  get watcher(): ShutdownWatcher | null {
    return this.#watcher;
  }

  get frontends(): readonly FrontendHandle[] {
    return this.#frontends;
  }

  /** Connects to xenstore through the ring the guest was given; throws if refused. */
  async connect(storeFrame: number, storeEvtchn: number): Promise<void> {
    const core = this.#core;
    const link = await core.env.openXenstore(storeFrame, storeEvtchn);
    this.#xs = new XsClient(link);
    core.trace("xenstore_connected", { storeFrame, storeEvtchn });
    core.onStop(() => this.#close());
  }

  /** The xenstore notifiers: manage.c's watches and features, then the frontends. */
  async start(): Promise<void> {
    const core = this.#core;
    const xs = this.#xs;
    if (xs === null) throw new Error("PvDrivers.start before connect");
    const watcher = this.#newWatcher(xs);
    await this.#bringUpSecondaryVcpus(xs);
    await watcher.setup();
    if (watcher.commands.includes("suspend")) core.trace("suspend_supported");
    await this.#probeFrontends(xs);
    await this.#writeRecord();
  }

  /**
   * The PV driver core after a resume in a new domain (§4.3): `xs_resume`
   * re-registers the watches (no `feature-*` writes), then every frontend
   * the kernel had goes through xenbus RESTORE (§4.4), console 0 on its
   * new port.
   */
  async resume(record: KernelRecord): Promise<void> {
    const core = this.#core;
    const xs = this.#xs;
    if (xs === null) throw new Error("PvDrivers.resume before connect");
    const watcher = this.#newWatcher(xs);
    await watcher.setup({ resume: true });
    core.trace("xs_resume", { watches: [CONTROL_SHUTDOWN_PATH, CONTROL_SYSRQ_PATH] });
    try {
      this.#frontends = await resumeFrontends(
        xs,
        core.env,
        record.devices,
        this.#frontendOptions(),
      );
      core.trace("frontends", {
        devices: this.#frontends.map((f) => `${f.kind}/${f.devid}:${f.state}`),
        restored: true,
      });
    } catch (e) {
      core.trace("error", { what: "frontends", err: errText(e) });
    }
    await this.#writeRecord();
  }

  /** manage.c's handler table over this kernel's power actions. */
  #newWatcher(xs: XsClient): ShutdownWatcher {
    const suspend = this.#opts.suspend;
    const watcher = new ShutdownWatcher(xs, this.#core, {
      poweroff: (c) => this.#power.poweroff(c),
      reboot: () => this.#power.reboot(),
      crash: (c) => this.#power.crash(c),
      sysrq: (k) => this.#power.sysrq(k),
      suspend: suspend === undefined ? undefined : () => this.#suspend(suspend),
    });
    this.#watcher = watcher;
    this.#power.setWatcher(watcher);
    return watcher;
  }

  /** What the kernel would need to resume elsewhere (`kernel_record.ts`). */
  record(): KernelRecord {
    const devices: RecordedDevice[] = this.#frontends
      .filter((f): f is XenbusFrontend => f instanceof XenbusFrontend)
      .map((f) => ({ kind: f.kind, devid: f.devid }));
    return {
      kind: this.#core.kind,
      startInfoPfn: this.#opts.startInfoPfn,
      sharedInfoPfn: this.#opts.sharedInfoPfn,
      ringPfnBase: this.#opts.ringPfnBase,
      ringPages: this.#opts.ringPages,
      console: this.#opts.console !== false,
      devices,
    };
  }

  async #writeRecord(): Promise<void> {
    const pfn = this.#opts.kernelRecordPfn;
    if (pfn === undefined) return;
    try {
      await writeKernelRecord(this.#core.env, pfn, this.record());
    } catch (e) {
      this.#core.trace("error", { what: "kernel record", err: errText(e) });
    }
  }

  /**
   * Linux's SMP bring-up as the CPU-hotplug watcher settles it
   * (`drivers/xen/cpu_hotplug.c`): every vCPU the hypervisor has
   * (VCPUOP_is_up answers) and the toolstack marked `cpu/<n>/availability`
   * = `online` is initialised and brought up; `offline` ones stay down.
   */
  async #bringUpSecondaryVcpus(xs: XsClient): Promise<void> {
    const core = this.#core;
    for (let vcpu = 1; vcpu < VCPUS_MAX; vcpu++) {
      const isUp = await core.env.hypercall({ hc: "vcpu_op", op: "is_up", vcpu });
      if (isUp.ret < 0) return; // no such vCPU: done
      if (isUp.ret > 0) continue;
      const availability = await xs.readString(`cpu/${vcpu}/availability`).catch(() => "");
      if (availability !== "online") {
        core.trace("vcpu", { vcpu, state: "offline", availability });
        continue;
      }
      const ctx = emptyVcpuContext();
      ctx.rip = SECONDARY_VCPU_ENTRY_RIP;
      ctx.flags = VGCF_online;
      const init = await core.env.hypercall({ hc: "vcpu_op", op: "initialise", vcpu, ctx });
      const up = init.ret < 0 ? init : await core.env.hypercall({ hc: "vcpu_op", op: "up", vcpu });
      core.trace("vcpu", { vcpu, state: up.ret < 0 ? "failed" : "up", ret: up.ret });
    }
  }

  /** Where the frontends' rings go, console 0, and the wait for devices. */
  #frontendOptions(): FrontendsBringUpOptions {
    return {
      ringPfnBase: this.#opts.ringPfnBase,
      ringPages: this.#opts.ringPages,
      console: this.#opts.console,
      waitConnectedNs: this.#opts.waitDevicesNs ?? WAIT_FOR_DEVICES_NS_DEFAULT,
    };
  }

  /**
   * Linux's frontend probe: every device under `device/` the drivers know
   * (vif, vbd) plus console 0; waits (bounded) for them to connect.
   */
  async #probeFrontends(xs: XsClient): Promise<void> {
    const core = this.#core;
    const up = this.#opts.bringUpFrontends ?? bringUpFrontends;
    try {
      this.#frontends = await up(xs, core.env, this.#frontendOptions());
      core.trace("frontends", {
        devices: this.#frontends.map((f) => `${f.kind}/${f.devid}:${f.state}`),
      });
    } catch (e) {
      // Linux boots on without a device whose frontend failed.
      core.trace("error", { what: "frontends", err: errText(e) });
    }
  }

  async #suspend(hook: SuspendHook): Promise<void> {
    const core = this.#core;
    core.setState("suspending");
    await this.#writeRecord();
    try {
      await hook({
        env: core.env,
        kind: core.kind === "pv" ? "pv" : "pvhvm",
        xs: this.#xs!,
        frontends: this.#frontends,
        startInfoPfn: this.#opts.startInfoPfn,
        nextVcpuEntry: () => core.nextVcpuEntry(),
        trace: (ev, fields) => core.trace(ev, fields),
      });
    } finally {
      if (core.state === "suspending") core.setState("running");
    }
  }

  /**
   * The guest goes away: nothing waits on xenstored (a stopped guest does
   * not tear down politely); closing the connection ends every watch and
   * request still pending.
   */
  #close(): void {
    for (const f of this.#frontends.splice(0)) f.close().catch(() => {});
    this.#watcher?.close();
    this.#xs?.close();
  }
}
