/**
 * @module
 * {@link PvhvmAgent}: an HVM Linux guest with PV drivers (PVHVM,
 * lifecycle-and-migration.md §0.5, §2.4, §4.3). It boots like an HVM guest
 * — when vCPU 0 first runs, the BIOS picks the boot device if there is an
 * emulated platform (`hvm_firmware.ts`) — and then its kernel finds Xen:
 *
 * 1. maps shared_info into its physmap (`XENMEM_add_to_physmap`,
 *    XENMAPSPACE_shared_info) at a page of its own RAM, as
 *    `xen_hvm_init_shared_info` does;
 * 2. sets `HVM_PARAM_CALLBACK_IRQ` to the vector callback (type 2, vector
 *    0xf3 = `HYPERVISOR_CALLBACK_VECTOR`): from now on the toolstack sees
 *    PV drivers;
 * 3. finds xenstore through `HVM_PARAM_STORE_PFN` / `STORE_EVTCHN` (a GFN:
 *    no M2P needed) and the PV console through `CONSOLE_PFN` / `EVTCHN`;
 * 4. brings up the PV driver core like a PV guest: manage.c's watches and
 *    `feature-poweroff`/`feature-reboot` (and `feature-suspend` with a
 *    suspend hook). Linux writes no `feature-s3`/`feature-s4` (libxl
 *    creates them empty for HVM; only Windows PV drivers fill them).
 *
 * The ACPI buttons still work (`acpi_power.ts`); a panic is reported to Xen
 * as SHUTDOWN_crash, since this kernel has PV drivers.
 */
import { DOMID_SELF, XENMAPSPACE_shared_info } from "../hv/xen_abi.ts";
import {
  HVM_PARAM_CALLBACK_IRQ,
  HVM_PARAM_CALLBACK_TYPE_VECTOR,
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_STORE_PFN,
  hvmCallbackVia,
} from "../hv/hvm_params.ts";
import {
  type AgentCommonOptions,
  AgentCore,
  type AgentState,
  type GuestAgent,
} from "./agent_core.ts";
import { AcpiPower } from "./acpi_power.ts";
import type { BiosDevice } from "../platform/bios_boot.ts";
import { ConsoleRing } from "./console_ring.ts";
import type { GuestEnv } from "./guest_env.ts";
import { bootFirmware } from "./hvm_firmware.ts";
import { KernelPower } from "./kernel_power.ts";
import type { GuestProfile } from "./profiles.ts";
import { type FrontendsBringUp, PvDrivers } from "./pv_drivers.ts";
import { findScratchPages, SCRATCH_PAGES_DEFAULT } from "./scratch_pages.ts";
import type { SuspendHook } from "./suspend_hook.ts";
import { finishResume, resumeEntry } from "./resume_entry.ts";
import { vcpuRestore } from "./vcpu_restore.ts";
import { setupKernelClock } from "./kernel_clock.ts";
import { gnttabResume } from "./gnttab_resume.ts";

/** Linux's `HYPERVISOR_CALLBACK_VECTOR` on x86. */
export const HYPERVISOR_CALLBACK_VECTOR = 0xf3;

/** Options of a PVHVM agent. */
export interface PvhvmAgentOptions extends AgentCommonOptions {
  readonly profile: GuestProfile;
  readonly suspend?: SuspendHook;
  /** First pfn of the frontends' ring pages; default: free pages at the top of RAM. */
  readonly ringPfnBase?: number;
  /** Where to map shared_info; default: the page above the ring pages. */
  readonly sharedInfoPfn?: number;
  /** Ring pages for the frontends; default {@link SCRATCH_PAGES_DEFAULT}. */
  readonly ringPages?: number;
  /** Bound on waiting for devices at boot (Linux `wait_for_devices`); default 300 s. */
  readonly waitDevicesNs?: number;
  readonly bringUpFrontends?: FrontendsBringUp;
  /** Where the kernel keeps its record (`kernel_record.ts`); needed to resume from an image. */
  readonly kernelRecordPfn?: number;
  /** The domain was restored from an image: resume (§4.3) instead of booting. */
  readonly resume?: boolean;
}

const utf8 = new TextEncoder();

/** An HVM guest with PV drivers. */
export class PvhvmAgent implements GuestAgent {
  readonly kind = "pvhvm" as const;
  readonly profile: GuestProfile;
  readonly ready: Promise<void>;
  readonly #core: AgentCore;
  readonly #opts: PvhvmAgentOptions;
  readonly #power: KernelPower;
  #drivers: PvDrivers | null = null;
  #bootDevice: BiosDevice | undefined;

  constructor(env: GuestEnv, opts: PvhvmAgentOptions) {
    this.profile = opts.profile;
    this.#opts = opts;
    const core = new AgentCore(env, "pvhvm", opts.profile, opts);
    this.#core = core;
    this.#power = new KernelPower(core);
    this.ready = core.ready;
    core.trace("agent", { kind: "pvhvm", profile: opts.profile.name });
    const platform = env.platform;
    if (platform !== undefined) {
      core.setConsoleSink((text) => platform.serialWrite(utf8.encode(text)));
    }
    const acpi = new AcpiPower(core, platform, (why) => this.#power.panic(why));
    core.attach({ trigger: (t, v) => acpi.trigger(t, v) });
    void (opts.resume ? this.#resume() : this.#boot());
  }

  get state(): AgentState {
    return this.#core.state;
  }

  get console(): readonly string[] {
    return this.#core.console;
  }

  get drivers(): PvDrivers | null {
    return this.#drivers;
  }

  /** The device the BIOS booted from (undefined without a platform). */
  get bootDevice(): BiosDevice | undefined {
    return this.#bootDevice;
  }

  stop(): Promise<void> {
    return this.#core.stop();
  }

  async #param(index: number): Promise<number | undefined> {
    const r = await this.#core.env.hypercall({
      hc: "hvm_op",
      op: "get_param",
      domid: DOMID_SELF,
      index,
    });
    return r.ret === 0 ? r.value : undefined;
  }

  async #boot(): Promise<void> {
    const core = this.#core;
    const env = core.env;
    await core.nextVcpuEntry();
    if (core.state !== "booting") return;
    if (env.platform !== undefined) {
      this.#bootDevice = bootFirmware(core, env.platform);
      if (this.#bootDevice === undefined) return;
    } else {
      core.trace("firmware", { skipped: "no emulated platform: direct kernel boot" });
    }
    core.print("Linux version 6.1.0-xenlab (pvhvm): Xen HVM callback vector for event delivery");
    const storePfn = await this.#param(HVM_PARAM_STORE_PFN);
    const storeEvtchn = await this.#param(HVM_PARAM_STORE_EVTCHN);
    if (!storePfn || !storeEvtchn) {
      core.bootFailed(`no xenstore in HVM params (STORE_PFN ${storePfn}, EVTCHN ${storeEvtchn})`);
      return;
    }
    const consolePfn = (await this.#param(HVM_PARAM_CONSOLE_PFN)) ?? 0;
    const consoleEvtchn = (await this.#param(HVM_PARAM_CONSOLE_EVTCHN)) ?? 0;
    core.trace("hvm_params", { storePfn, storeEvtchn, consolePfn, consoleEvtchn });
    const layout = await this.#layout(new Set([storePfn, consolePfn]));
    await this.#mapSharedInfo(layout.sharedInfoPfn);
    await this.#setCallbackVector();
    await setupKernelClock(core, this.#opts.kernelRecordPfn, "boot");
    await this.#consoleRing(consolePfn, consoleEvtchn);
    const drivers = new PvDrivers(core, this.#power, {
      ringPfnBase: layout.ringPfnBase,
      ringPages: layout.ringPages,
      console: consolePfn !== 0 && consoleEvtchn !== 0
        ? { pfn: consolePfn, port: consoleEvtchn }
        : false,
      waitDevicesNs: this.#opts.waitDevicesNs,
      suspend: this.#opts.suspend,
      bringUpFrontends: this.#opts.bringUpFrontends,
      kernelRecordPfn: this.#opts.kernelRecordPfn,
      sharedInfoPfn: layout.sharedInfoPfn,
    });
    this.#drivers = drivers;
    try {
      await drivers.connect(storePfn, storeEvtchn);
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

  /** Ring pages and the shared_info page: given, or found at the top of RAM. */
  async #layout(
    reserved: Set<number>,
  ): Promise<{ ringPfnBase?: number; ringPages: number; sharedInfoPfn?: number }> {
    const core = this.#core;
    const top = await core.env.hypercall({
      hc: "memory_op",
      op: "maximum_gpfn",
      domid: DOMID_SELF,
    });
    const ringPages = this.#opts.ringPages ?? SCRATCH_PAGES_DEFAULT;
    let { ringPfnBase, sharedInfoPfn } = this.#opts;
    if (ringPfnBase === undefined || sharedInfoPfn === undefined) {
      const base = top.ret >= 0
        ? await findScratchPages(core.env, top.ret, ringPages + 1, reserved)
        : -1;
      if (base >= 0) {
        ringPfnBase ??= base;
        sharedInfoPfn ??= base + ringPages;
      }
    }
    core.trace("layout", { maxGpfn: top.ret, ringPfnBase, ringPages, sharedInfoPfn });
    return { ringPfnBase, ringPages, sharedInfoPfn };
  }

  async #mapSharedInfo(gpfn: number | undefined): Promise<void> {
    const core = this.#core;
    if (gpfn === undefined) {
      core.trace("error", { what: "no free page for shared_info" });
      return;
    }
    const r = await core.env.hypercall({
      hc: "memory_op",
      op: "add_to_physmap",
      domid: DOMID_SELF,
      space: XENMAPSPACE_shared_info,
      idx: 0,
      gpfn,
    });
    core.trace("shared_info", { gpfn, ret: r.ret });
  }

  /** `xen_setup_callback_vector`: HVM_PARAM_CALLBACK_IRQ = vector 0xf3 (PV drivers present). */
  async #setCallbackVector(): Promise<void> {
    const via = hvmCallbackVia(HVM_PARAM_CALLBACK_TYPE_VECTOR, HYPERVISOR_CALLBACK_VECTOR);
    const cb = await this.#core.env.hypercall({
      hc: "hvm_op",
      op: "set_param",
      domid: DOMID_SELF,
      index: HVM_PARAM_CALLBACK_IRQ,
      value: via,
    });
    this.#core.trace("callback_via", {
      type: "vector",
      vector: HYPERVISOR_CALLBACK_VECTOR,
      ret: cb.ret,
    });
  }

  /** The PV console on `pfn`/`port` (mirrored to the serial port when there is one). */
  async #consoleRing(pfn: number, port: number): Promise<void> {
    if (pfn === 0 || port === 0) return;
    const env = this.#core.env;
    const ring = new ConsoleRing(env, pfn, port);
    await ring.refresh();
    const platform = env.platform;
    this.#core.setConsoleSink((text) => {
      ring.write(text);
      platform?.serialWrite(utf8.encode(text));
    });
  }

  /**
   * `xen_suspend` returning 0 in a restored domain (§4.3, PVHVM column):
   * `xen_hvm_post_suspend(0)` — shared_info mapped again
   * (`XENMAPSPACE_shared_info`), `xen_vcpu_restore`, the callback vector set
   * again (CALLBACK_IRQ is not in the stream); `gnttab_resume`;
   * `xenbus_resume_cb` reads the new HVM_PARAM_STORE_EVTCHN; `xs_resume`;
   * console on the new CONSOLE_EVTCHN; frontends RESTOREd (§4.4).
   */
  async #resume(): Promise<void> {
    const core = this.#core;
    const env = core.env;
    const entry = await resumeEntry(core, this.#opts.kernelRecordPfn, true);
    if (entry === undefined) return;
    const { record } = entry;
    await this.#mapSharedInfo(record.sharedInfoPfn ?? this.#opts.sharedInfoPfn);
    await vcpuRestore(core);
    await this.#setCallbackVector();
    core.trace("gnttab_resume", await gnttabResume(env, false));
    core.trace("irq_resume", { interdomain: "dropped; frontends bind new channels" });
    await setupKernelClock(core, this.#opts.kernelRecordPfn, "resume");
    const storePfn = await this.#param(HVM_PARAM_STORE_PFN);
    const storeEvtchn = await this.#param(HVM_PARAM_STORE_EVTCHN);
    if (!storePfn || !storeEvtchn) {
      core.bootFailed(
        `resume: no xenstore in HVM params (STORE_PFN ${storePfn}, EVTCHN ${storeEvtchn})`,
      );
      return;
    }
    const consolePfn = (await this.#param(HVM_PARAM_CONSOLE_PFN)) ?? 0;
    const consoleEvtchn = (await this.#param(HVM_PARAM_CONSOLE_EVTCHN)) ?? 0;
    core.trace("hvm_params", { storePfn, storeEvtchn, consolePfn, consoleEvtchn });
    const hasConsole = record.console && consolePfn !== 0 && consoleEvtchn !== 0;
    if (hasConsole) await this.#consoleRing(consolePfn, consoleEvtchn);
    const drivers = new PvDrivers(core, this.#power, {
      ringPfnBase: record.ringPfnBase ?? this.#opts.ringPfnBase,
      ringPages: record.ringPages ?? this.#opts.ringPages ?? SCRATCH_PAGES_DEFAULT,
      console: hasConsole ? { pfn: consolePfn, port: consoleEvtchn } : false,
      waitDevicesNs: this.#opts.waitDevicesNs,
      suspend: this.#opts.suspend,
      kernelRecordPfn: this.#opts.kernelRecordPfn,
      sharedInfoPfn: record.sharedInfoPfn,
    });
    this.#drivers = drivers;
    await finishResume(core, drivers, { frame: storePfn, port: storeEvtchn }, record);
  }
}
