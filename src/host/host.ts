/**
 * @module
 * A whole Xen host in one process (ARCHITECTURE.md "One host"): the
 * emulated hypervisor, xenstored on it, dom0's backends (netback, blkback,
 * xenconsoled), the toolstack, and for every domain it builds the guest
 * agent that plays the guest's kernel (and, for HVM, its device model).
 * On the simulation clock (the default) everything runs on virtual time
 * from one seed; with the system clock it is the `deno task host` process.
 */
import { Hypervisor } from "../hv/mod.ts";
import type { Clock } from "../sim/clock.ts";
import { Faults, type FaultSpec } from "../sim/faults.ts";
import { Rng } from "../sim/rng.ts";
import { assertRunOk, Scheduler } from "../sim/scheduler.ts";
import { NULL_TRACE, type Trace } from "../sim/trace.ts";
import { XsClient } from "../xenstore/client/client.ts";
import { clockedLink } from "../xenstore/client/clocked_link.ts";
import type { XsLink } from "../xenstore/client/link.ts";
import type { GuestAgent, GuestKind } from "../guest-agents/guest_agent.ts";
import { startGuestAgent } from "../guest-agents/guest_agent.ts";
import { inProcessGuestEnv } from "../guest-agents/in_process_env.ts";
import { guestLayout } from "../guest-agents/guest_layout.ts";
import { linuxSuspend } from "../guest-agents/linux_suspend.ts";
import type { SuspendHook } from "../guest-agents/suspend_hook.ts";
import { startBlkback } from "../toolstack/backends/blkback.ts";
import { startNetback } from "../toolstack/backends/netback.ts";
import { startXenconsoled, type Xenconsoled } from "../toolstack/backends/xenconsoled.ts";
import type { BackendEnv } from "../toolstack/backends/backend_env.ts";
import type { BackendBus } from "../toolstack/backends/backend_bus.ts";
import type { CreatedDomain } from "../toolstack/create/create_domain.ts";
import type { RestoredDomain } from "../toolstack/saverestore/restore_domain.ts";
import type { DomainConfig } from "../toolstack/domain_config.ts";
import type { Dom0Resources, ToolstackContext } from "../toolstack/toolstack_context.ts";
import { Toolstack, type ToolstackEvent } from "../toolstack/toolstack.ts";
import { DeviceModel } from "./device_model.ts";
import { GuestProcess } from "./guest_process.ts";
import { libxlDomainOps } from "../toolstack/create/libxl_domain_ops.ts";
import { type XenstoredOnHv, xenstoredOnHypervisor } from "./xenstored_on_hv.ts";

export interface HostOptions {
  /** One seed for every choice (default 1). */
  readonly seed?: number;
  /** A real clock for `deno task host`; absent: a simulation {@link Scheduler}. */
  readonly clock?: Clock;
  readonly trace?: (clock: Clock) => Trace;
  /** Bridges `vif-bridge` finds (default `xenbr0`). */
  readonly bridges?: readonly string[];
  /** dom0's files: kernels, ramdisks, disk images. */
  readonly files?: ReadonlyMap<string, Uint8Array>;
  /** dom0's file system instead (the real host reads its own files). */
  readonly readFile?: (path: string) => Uint8Array | undefined;
  /** The PV/PVHVM guests' do_suspend (default Linux's); tests replace it. */
  readonly guestSuspend?: SuspendHook;
  /** Guests whose kernel runs elsewhere (`deno task guest`): no in-process agent. */
  readonly externalGuests?: boolean;
  /** Named fault points (`hotplug.vif.fail`, ...) for the backends and devices. */
  readonly faults?: FaultSpec;
  readonly onEvent?: (e: ToolstackEvent) => void;
  /**
   * One-way delay of every in-process xenstore message, dom0's and the
   * guests' (default 0: each still crosses as a clock event). With a ring
   * round trip's worth (a few µs), virtual time counts the protocol's
   * sequential xenstore round trips.
   */
  readonly xenstoreLatencyNs?: number;
}

export { GUEST_RING_PAGES } from "../guest-agents/guest_layout.ts";

export class Host {
  readonly clock: Clock;
  readonly sched: Scheduler | undefined;
  readonly rng: Rng;
  readonly trace: Trace;
  readonly hv: Hypervisor;
  readonly xenstore: XenstoredOnHv;
  readonly dom0: Dom0Resources;
  readonly faults: Faults;
  readonly guests = new Map<number, GuestAgent>();
  readonly deviceModels = new Map<number, DeviceModel>();
  readonly files: Map<string, Uint8Array>;
  toolstack!: Toolstack;
  xenconsoled!: Xenconsoled;
  #backends: BackendBus[] = [];
  readonly #externalGuests: boolean;
  readonly #xenstoreLatencyNs: number;
  #guestProcesses: { ws: string; rundir: string } | undefined;
  readonly #guestSuspend: SuspendHook;

  private constructor(opts: HostOptions) {
    this.sched = opts.clock ? undefined : new Scheduler();
    this.clock = opts.clock ?? this.sched!;
    this.rng = new Rng(opts.seed ?? 1);
    this.trace = opts.trace?.(this.clock) ?? NULL_TRACE;
    this.faults = new Faults(this.rng.fork("faults"), opts.faults ?? {});
    this.hv = new Hypervisor({ clock: this.clock, rng: this.rng.fork("hv"), trace: this.trace });
    this.xenstore = xenstoredOnHypervisor(this.hv, { clock: this.clock, trace: this.trace });
    this.files = new Map(opts.files ?? []);
    const files = this.files;
    this.dom0 = {
      bridges: new Set<string>(opts.bridges ?? ["xenbr0"]),
      readFile: opts.readFile ?? ((p) => files.get(p)),
    };
    this.#externalGuests = opts.externalGuests ?? false;
    this.#xenstoreLatencyNs = opts.xenstoreLatencyNs ?? 0;
    this.#guestSuspend = opts.guestSuspend ?? linuxSuspend;
  }

  /** Starts a host: dom0's xenstore entries, backends, toolstack monitor. */
  static async start(opts: HostOptions = {}): Promise<Host> {
    const h = new Host(opts);
    await h.run(h.#boot(opts));
    return h;
  }

  async #boot(opts: HostOptions): Promise<void> {
    const tc = this.#toolstackContext();
    // xen-init-dom0 (xenstore-protocol.md §8.1).
    await tc.xs.write("/local/domain/0/name", "Domain-0");
    await tc.xs.write("/local/domain/0/domid", "0");
    await tc.xs.write("/tool/xenstored/domid", "0");
    this.#backends = [
      await startNetback(this.#backendEnv()),
      await startBlkback(this.#backendEnv()),
    ];
    this.xenconsoled = await startXenconsoled(this.#backendEnv());
    this.toolstack = new Toolstack(tc, libxlDomainOps(this.faults), {
      built: (domid, config, created) => this.#startGuest(domid, config, created),
      restored: (r) => this.#startRestoredGuest(r),
      deviceModelState: (domid) => this.deviceModels.get(domid)?.saveState(),
      deviceModelWakeup: (domid) => this.deviceModels.get(domid)?.systemWakeup(),
      deviceModelCont: (domid) => this.deviceModels.get(domid)?.cont(),
      event: opts.onEvent,
    });
    await this.toolstack.start();
  }

  /** A dom0 xenstore client (messages cross as clock events). */
  dom0Client(): XsClient {
    return new XsClient(this.#link(0));
  }

  #link(domid: number): XsLink {
    return clockedLink(
      this.xenstore.xenstored.connectInProcess(domid),
      this.clock,
      this.#xenstoreLatencyNs,
    );
  }

  #toolstackContext(): ToolstackContext {
    const hv = this.hv;
    return {
      xs: this.dom0Client(),
      hypercall: (c) => hv.hypercall(0, c),
      foreignMap: (domid, pfns, writable) => {
        const r = hv.foreignMap(0, domid, [...pfns], writable);
        if (!r.mapping) throw new Error(`foreign map of domain ${domid}: ${r.ret}`);
        return r.mapping;
      },
      clock: this.clock,
      rng: this.rng.fork("toolstack"),
      trace: this.trace,
      dom0: this.dom0,
      sleep: (ns) => new Promise((r) => this.clock.setTimer(ns, r)),
    };
  }

  #backendEnv(): BackendEnv {
    const hv = this.hv;
    return {
      xs: this.dom0Client(),
      hypercall: (c) => hv.hypercall(0, c),
      clock: this.clock,
      trace: this.trace,
      dom0: this.dom0,
      faults: this.faults,
      grantPage: (handle) => hv.grantPage(0, handle),
      onPort: (port, fn) => hv.onPort(0, port, fn),
    };
  }

  /** The kernel a domain runs: which agent, as the config says (PVH boots like PVHVM). */
  static guestKind(c: DomainConfig): GuestKind {
    if (c.type === "pv") return "pv";
    return c.type === "hvm" && !c.guest.pvDrivers ? "hvm" : "pvhvm";
  }

  #startGuest(domid: number, c: DomainConfig, created: CreatedDomain): void {
    let platform: DeviceModel | undefined;
    if (c.type === "hvm" && created.boot.mode === "bios") {
      platform = new DeviceModel(this.hv, domid, this.trace, {
        cmos: created.boot.cmos,
        devices: c.disks.map((d) => ({
          kind: d.deviceType === "cdrom" ? "cdrom" as const : "disk" as const,
          name: d.vdev,
          // A disk boots if its image exists and is not empty (no MBR model).
          bootable: (this.files.get(d.target)?.length ?? 0) > 0,
        })),
      });
      this.deviceModels.set(domid, platform);
    }
    this.#startAgent(domid, c, platform, {
      frame: created.built.storeFrame,
      port: created.storePort,
    }, false);
  }

  /**
   * A restored domain: its device model comes back from EMULATOR_CONTEXT
   * (QEMU `-incoming`), and its kernel resumes from the restored memory.
   */
  #startRestoredGuest(r: RestoredDomain): void {
    let platform: DeviceModel | undefined;
    if (
      r.config.type === "hvm" && r.emulatorContext !== undefined && r.emulatorContext.length > 0
    ) {
      platform = new DeviceModel(
        this.hv,
        r.domid,
        this.trace,
        DeviceModel.optionsFromState(r.emulatorContext),
      );
      this.deviceModels.set(r.domid, platform);
    }
    this.#startAgent(r.domid, r.config, platform, { frame: r.storeFrame, port: r.storePort }, true);
  }

  #startAgent(
    domid: number,
    c: DomainConfig,
    platform: DeviceModel | undefined,
    store: { frame: number; port: number },
    resume: boolean,
  ): void {
    const kind = Host.guestKind(c);
    if (this.#externalGuests) return; // `deno task guest` attaches over WebSocket
    if (this.#guestProcesses !== undefined) {
      const agent = new GuestProcess({
        ...this.#guestProcesses,
        domid,
        kind,
        profile: c.guest.profile,
        memoryMib: c.memoryMb,
        resume,
        seed: this.rng.fork(`guest-${domid}`).u32(),
        trace: this.trace,
      });
      this.guests.set(domid, agent);
      return;
    }
    const env = inProcessGuestEnv({
      hv: this.hv,
      domid,
      clock: this.clock,
      rng: this.rng.fork(`guest-${domid}`),
      trace: this.trace,
      platform,
      xenstoreLatencyNs: this.#xenstoreLatencyNs,
      openXenstore: (frame, port) => {
        if (frame !== store.frame || port !== store.port) {
          return Promise.reject(
            new Error(
              `domain ${domid}: xenstore ring ${frame}/port ${port} is not the introduced ${store.frame}/${store.port}`,
            ),
          );
        }
        return Promise.resolve(this.xenstore.xenstored.connectInProcess(domid));
      },
    });
    const agent = startGuestAgent(env, {
      kind,
      profile: c.guest.profile,
      suspend: kind === "hvm" ? undefined : this.#guestSuspend,
      ...guestLayout(c.memoryMb * 1024),
      resume,
    });
    agent.ready.catch(() => {}); // failures show in the agent's state and trace
    this.guests.set(domid, agent);
  }

  /**
   * From now on every guest kernel runs as its own process (`deno task
   * guest` over the WebSocket endpoint `ws`, its secret under `rundir`),
   * tracked as a {@link GuestProcess}: `--real` scenarios.
   */
  useGuestProcesses(o: { ws: string; rundir: string }): void {
    this.#guestProcesses = o;
  }

  /** dom0's administrator takes a bridge down (`ip link delete`): vif-bridge no longer finds it. */
  removeBridge(name: string): boolean {
    return (this.dom0.bridges as Set<string>).delete(name);
  }

  /**
   * Waits for `p`: on the simulation clock, by running the scheduler until
   * it settles (bounded); on a real clock, by awaiting it.
   */
  async run<T>(p: Promise<T>, maxEvents = 5_000_000): Promise<T> {
    if (!this.sched) return await p;
    let done = false;
    const r = p.finally(() => (done = true));
    r.catch(() => {});
    assertRunOk(await this.sched.runUntilAsync(() => done, { maxEvents }));
    return await r;
  }

  /** Runs virtual time forward by `ns` (simulation only). */
  /** Lets `ns` of time pass: virtual time on the simulation clock, real time otherwise. */
  async advance(ns: number): Promise<void> {
    if (!this.sched) {
      await new Promise<void>((resolve) => this.clock.setTimer(ns, resolve));
      return;
    }
    assertRunOk(await this.sched.runAsync({ untilNs: this.sched.nowNs() + ns }));
  }

  async stop(): Promise<void> {
    await this.run(this.toolstack.stop());
    // Guest processes are waited for; in-process agents just stop.
    await Promise.all(
      [...this.guests.values()].map((g) => g instanceof GuestProcess ? g.stop() : void g.stop()),
    );
    for (const b of this.#backends) b.stop?.();
    this.xenstore.close();
  }
}
