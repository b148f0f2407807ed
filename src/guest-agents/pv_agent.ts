/**
 * @module
 * {@link PvAgent}: a paravirtualised Linux guest (lifecycle-and-migration.md
 * §2.3). It boots when the hypervisor first runs vCPU 0: RSI holds
 * start_info's address; start_info names the xenstore ring (`store_mfn`,
 * `store_evtchn`) and the console ring (`console.domU.{mfn,evtchn}`). A PV
 * guest sees machine frames, so it maps the console MFN back to its pfn
 * with the M2P (`memory_op machphys_lookup`) to write its boot messages;
 * the store frame goes to `openXenstore` as found, since that is what the
 * toolstack INTRODUCEd. Then the PV driver core: manage.c's watches and
 * features, and the frontends (`pv_drivers.ts`).
 *
 * @example
 * ```ts ignore
 * const agent = new PvAgent(env, { profile: guestProfile("well-behaved") });
 * await agent.ready; // xenstore connected, features written, frontends up
 * ```
 */
import { decodeStartInfo, START_INFO_BYTES, startInfoPfn } from "../hv/start_info.ts";
import { INVALID_PFN, XEN_DOMCTL_SENDTRIGGER_NMI } from "../hv/xen_abi.ts";
import { finishResume, resumeEntry } from "./resume_entry.ts";
import { vcpuRestore } from "./vcpu_restore.ts";
import { setupKernelClock } from "./kernel_clock.ts";
import { gnttabResume } from "./gnttab_resume.ts";
import {
  type AgentCommonOptions,
  AgentCore,
  type AgentState,
  type GuestAgent,
} from "./agent_core.ts";
import { ConsoleRing } from "./console_ring.ts";
import type { GuestEnv } from "./guest_env.ts";
import { KernelPower } from "./kernel_power.ts";
import type { GuestProfile } from "./profiles.ts";
import { type FrontendsBringUp, PvDrivers } from "./pv_drivers.ts";
import { findScratchPages, SCRATCH_PAGES_DEFAULT } from "./scratch_pages.ts";
import type { SuspendHook } from "./suspend_hook.ts";

/** Options of a PV agent. */
export interface PvAgentOptions extends AgentCommonOptions {
  readonly profile: GuestProfile;
  /** do_suspend (issue 5); without it the guest does not offer suspend. */
  readonly suspend?: SuspendHook;
  /** First pfn of the frontends' ring pages; default: the top free pages of RAM. */
  readonly ringPfnBase?: number;
  /** Ring pages for the frontends; default {@link SCRATCH_PAGES_DEFAULT}. */
  readonly ringPages?: number;
  /** Bound on waiting for devices at boot (Linux `wait_for_devices`); default 300 s. */
  readonly waitDevicesNs?: number;
  /** Replaces the frontend bring-up (tests). */
  readonly bringUpFrontends?: FrontendsBringUp;
  /** Where the kernel keeps its record (`kernel_record.ts`); needed to resume from an image. */
  readonly kernelRecordPfn?: number;
  /** The domain was restored from an image: resume (§4.3) instead of booting. */
  readonly resume?: boolean;
}

/** A PV Linux guest. */
export class PvAgent implements GuestAgent {
  readonly kind = "pv" as const;
  readonly profile: GuestProfile;
  readonly ready: Promise<void>;
  readonly #core: AgentCore;
  readonly #opts: PvAgentOptions;
  readonly #power: KernelPower;
  #drivers: PvDrivers | null = null;

  constructor(env: GuestEnv, opts: PvAgentOptions) {
    this.profile = opts.profile;
    this.#opts = opts;
    this.#core = new AgentCore(env, "pv", opts.profile, opts);
    this.#power = new KernelPower(this.#core);
    this.ready = this.#core.ready;
    this.#core.trace("agent", { kind: "pv", profile: opts.profile.name });
    this.#core.attach({
      trigger: (trigger, vcpu) => {
        // x86 PV guests only get NMIs (POWER/SLEEP are refused for PV by Xen).
        this.#core.trace("trigger", { trigger, vcpu });
        if (trigger === XEN_DOMCTL_SENDTRIGGER_NMI) {
          this.#core.print("Uhhuh. NMI received for unknown reason on CPU 0.");
        }
      },
    });
    void (opts.resume ? this.#resume() : this.#boot());
  }

  get state(): AgentState {
    return this.#core.state;
  }

  get console(): readonly string[] {
    return this.#core.console;
  }

  /** The PV driver core once booted (xenstore client, watcher, frontends). */
  get drivers(): PvDrivers | null {
    return this.#drivers;
  }

  stop(): Promise<void> {
    return this.#core.stop();
  }

  async #boot(): Promise<void> {
    const core = this.#core;
    const env = core.env;
    const ctx = await core.nextVcpuEntry();
    if (core.state !== "booting") return;
    const siPfn = startInfoPfn(ctx.rsi);
    const page = new Uint8Array(START_INFO_BYTES);
    if ((await env.readPage(siPfn, 0, page)) < 0) {
      core.bootFailed(`no start_info at pfn ${siPfn} (RSI ${ctx.rsi})`);
      return;
    }
    const si = decodeStartInfo(page);
    if (!si.magic.startsWith("xen-")) {
      core.bootFailed(`start_info at pfn ${siPfn} has magic "${si.magic}", not "xen-..."`);
      return;
    }
    core.trace("start_info", {
      pfn: siPfn,
      magic: si.magic,
      nrPages: si.nrPages,
      storeMfn: si.storeMfn,
      storeEvtchn: si.storeEvtchn,
      consoleMfn: si.consoleMfn,
      consoleEvtchn: si.consoleEvtchn,
      cmdline: si.cmdLine,
    });
    // The M2P gives the pfns behind the MFNs start_info names.
    const m2p = await env.hypercall({
      hc: "memory_op",
      op: "machphys_lookup",
      mfns: [si.storeMfn, si.consoleMfn],
    });
    const [storePfn, consolePfn] = m2p.pfns ?? [INVALID_PFN, INVALID_PFN];
    core.trace("m2p", { storePfn, consolePfn, ret: m2p.ret });
    if (consolePfn !== undefined && consolePfn !== INVALID_PFN) {
      // The early console (xenboot): the same ring the console frontend takes over.
      const ring = new ConsoleRing(env, consolePfn, si.consoleEvtchn);
      await ring.refresh();
      core.setConsoleSink((text) => ring.write(text));
    }
    core.print(`Linux version 6.1.0-xenlab (pv) on Xen, start_info ${si.magic}`);
    core.print(`Command line: ${si.cmdLine}`);
    await setupKernelClock(core, this.#opts.kernelRecordPfn, "boot");

    const reserved = new Set([siPfn, storePfn, consolePfn]);
    const ringPages = this.#opts.ringPages ?? SCRATCH_PAGES_DEFAULT;
    const ringPfnBase = this.#opts.ringPfnBase ??
      await findScratchPages(env, si.nrPages - 1, ringPages, reserved);
    core.trace("layout", { ringPfnBase, ringPages });
    const hasConsole = consolePfn !== undefined && consolePfn !== INVALID_PFN;
    const drivers = new PvDrivers(core, this.#power, {
      ringPfnBase: ringPfnBase >= 0 ? ringPfnBase : undefined,
      ringPages,
      console: hasConsole ? { pfn: consolePfn, port: si.consoleEvtchn } : false,
      waitDevicesNs: this.#opts.waitDevicesNs,
      suspend: this.#opts.suspend,
      startInfoPfn: siPfn,
      bringUpFrontends: this.#opts.bringUpFrontends,
      kernelRecordPfn: this.#opts.kernelRecordPfn,
    });
    this.#drivers = drivers;
    try {
      await drivers.connect(si.storeMfn, si.storeEvtchn);
    } catch (e) {
      core.bootFailed(`xenstore: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    if (core.state !== "booting") return;
    await drivers.start();
    if (core.state !== "booting") {
      core.bootAborted(`boot did not finish: ${core.state}`);
      return;
    }
    core.print("xenlab login:");
    core.booted();
  }

  /**
   * Linux's `xen_suspend` returning 0 in a restored domain, then the rest
   * of `do_suspend` (lifecycle-and-migration.md §4.3, PV column):
   * `xen_pv_post_suspend(0)` (shared_info from start_info, `xen_vcpu_restore`),
   * `gnttab_resume` (GNTTABOP_setup_table), `xen_irq_resume` (interdomain
   * channels are gone; the frontends bind new ones), `xen_console_resume`,
   * `xs_resume` through the store MFN and port the toolstack wrote into
   * start_info, and every frontend RESTOREd (§4.4).
   */
  async #resume(): Promise<void> {
    const core = this.#core;
    const env = core.env;
    const entry = await resumeEntry(core, this.#opts.kernelRecordPfn, true);
    if (entry === undefined) return;
    const { ctx, record } = entry;
    const siPfn = record.startInfoPfn;
    if (siPfn === undefined) {
      core.bootFailed("resume: the kernel record has no start_info pfn");
      return;
    }
    const page = new Uint8Array(START_INFO_BYTES);
    if ((await env.readPage(siPfn, 0, page)) < 0) {
      core.bootFailed(`resume: no start_info at pfn ${siPfn}`);
      return;
    }
    const si = decodeStartInfo(page);
    core.trace("start_info", {
      pfn: siPfn,
      rdx: ctx.rdx,
      nrPages: si.nrPages,
      sharedInfo: si.sharedInfo,
      storeMfn: si.storeMfn,
      storeEvtchn: si.storeEvtchn,
      consoleMfn: si.consoleMfn,
      consoleEvtchn: si.consoleEvtchn,
    });
    core.trace("post_suspend", { cancelled: false, sharedInfo: si.sharedInfo });
    await vcpuRestore(core);
    core.trace("gnttab_resume", await gnttabResume(env, true));
    core.trace("irq_resume", { interdomain: "dropped; frontends bind new channels" });
    await setupKernelClock(core, this.#opts.kernelRecordPfn, "resume");
    const m2p = await env.hypercall({
      hc: "memory_op",
      op: "machphys_lookup",
      mfns: [si.storeMfn, si.consoleMfn],
    });
    const [, consolePfn] = m2p.pfns ?? [INVALID_PFN, INVALID_PFN];
    const hasConsole = record.console && consolePfn !== undefined && consolePfn !== INVALID_PFN;
    if (hasConsole) {
      const ring = new ConsoleRing(env, consolePfn, si.consoleEvtchn);
      await ring.refresh();
      core.setConsoleSink((text) => ring.write(text));
    }
    const drivers = new PvDrivers(core, this.#power, {
      ringPfnBase: record.ringPfnBase ?? this.#opts.ringPfnBase,
      ringPages: record.ringPages ?? this.#opts.ringPages ?? SCRATCH_PAGES_DEFAULT,
      console: hasConsole ? { pfn: consolePfn, port: si.consoleEvtchn } : false,
      waitDevicesNs: this.#opts.waitDevicesNs,
      suspend: this.#opts.suspend,
      startInfoPfn: siPfn,
      kernelRecordPfn: this.#opts.kernelRecordPfn,
    });
    this.#drivers = drivers;
    await finishResume(core, drivers, { frame: si.storeMfn, port: si.storeEvtchn }, record);
  }
}
