/**
 * @module
 * {@link HvmAgent}: a fully virtualised guest without PV drivers
 * (lifecycle-and-migration.md §2.4, §3.4, §7.1). It never touches xenstore,
 * PV devices or `HVM_PARAM_CALLBACK_IRQ`, so a toolstack sees it as "no PV
 * drivers" (ERROR_NOPARAVIRT for control requests). What it does use is the
 * emulated PC (`GuestEnv.platform`, the device model's): when vCPU 0 first
 * runs, the BIOS boots from the first working device in the CMOS boot order
 * and says so on the serial port (`hvm_firmware.ts`); afterwards the OS
 * answers the ACPI power and sleep buttons (`acpi_power.ts`) — a POWER
 * trigger ends in S5 written to PM1a_CNT, and the device model in dom0
 * shuts the domain down.
 *
 * Without a platform it cannot boot (`ready` rejects). A crash-on-request
 * guest panics on the power button and hangs: without PV drivers nothing
 * tells Xen (Linux's default `panic=0`).
 */
import {
  type AgentCommonOptions,
  AgentCore,
  type AgentState,
  type GuestAgent,
} from "./agent_core.ts";
import { AcpiPower } from "./acpi_power.ts";
import type { BiosDevice } from "../platform/bios_boot.ts";
import type { GuestEnv } from "./guest_env.ts";
import { bootFirmware } from "./hvm_firmware.ts";
import { writeKernelRecord } from "./kernel_record.ts";
import { resumeEntry } from "./resume_entry.ts";
import type { GuestProfile } from "./profiles.ts";

/** Options of an HVM agent. */
export interface HvmAgentOptions extends AgentCommonOptions {
  readonly profile: GuestProfile;
  /** Where the OS keeps its record (`kernel_record.ts`); needed to resume from an image. */
  readonly kernelRecordPfn?: number;
  /** The domain was restored from an image: continue (§4.3) instead of booting. */
  readonly resume?: boolean;
}

const utf8 = new TextEncoder();

/** An HVM guest without PV drivers. */
export class HvmAgent implements GuestAgent {
  readonly kind = "hvm" as const;
  readonly profile: GuestProfile;
  readonly ready: Promise<void>;
  readonly #core: AgentCore;
  #bootDevice: BiosDevice | undefined;
  readonly #recordPfn: number | undefined;
  readonly #acpi: AcpiPower;

  constructor(env: GuestEnv, opts: HvmAgentOptions) {
    this.profile = opts.profile;
    const core = new AgentCore(env, "hvm", opts.profile, opts);
    this.#core = core;
    this.ready = core.ready;
    core.trace("agent", { kind: "hvm", profile: opts.profile.name });
    const platform = env.platform;
    if (platform !== undefined) {
      core.setConsoleSink((text) => platform.serialWrite(utf8.encode(text)));
    }
    const acpi = new AcpiPower(
      core,
      platform,
      (why) => {
        core.print(`Kernel panic - not syncing: ${why}`);
        core.trace("panic", { why, reported: false });
        core.setState("crashed");
      },
      (asleep) => this.#writeRecord(this.#bootDevice?.name ?? this.#bootDevice?.kind ?? "", asleep),
    );
    this.#acpi = acpi;
    core.attach({ trigger: (t, v) => acpi.trigger(t, v) });
    this.#recordPfn = opts.kernelRecordPfn;
    void (opts.resume ? this.#resume() : this.#boot());
  }

  get state(): AgentState {
    return this.#core.state;
  }

  get console(): readonly string[] {
    return this.#core.console;
  }

  /** The device the BIOS booted from, once it has. */
  get bootDevice(): BiosDevice | undefined {
    return this.#bootDevice;
  }

  stop(): Promise<void> {
    return this.#core.stop();
  }

  async #boot(): Promise<void> {
    const core = this.#core;
    await core.nextVcpuEntry();
    if (core.state !== "booting") return;
    const platform = core.env.platform;
    if (platform === undefined) {
      core.bootFailed("no emulated platform (device model) to boot from");
      return;
    }
    const device = bootFirmware(core, platform);
    if (device === undefined) return;
    this.#bootDevice = device;
    core.print(`Linux version 6.1.0-xenlab (hvm) booted from ${device.name ?? device.kind}`);
    core.print("xenlab login:");
    await this.#writeRecord(device.name ?? device.kind);
    core.booted();
  }

  /** The OS's facts in its memory; `sleeping`: it set the FACS waking vector for S3. */
  async #writeRecord(bootDevice: string, sleeping = false): Promise<void> {
    if (this.#recordPfn === undefined) return;
    try {
      await writeKernelRecord(this.#core.env, this.#recordPfn, {
        kind: "hvm",
        console: false,
        devices: [],
        bootDevice,
        ...(sleeping ? { sleeping } : {}),
      });
    } catch (e) {
      this.#core.trace("error", { what: "kernel record", err: String(e) });
    }
  }

  /**
   * A plain HVM guest re-does nothing after a restore (§4.3): it was frozen
   * at an arbitrary instruction and continues with the CPU state of the HVM
   * context and the device model's state.
   */
  async #resume(): Promise<void> {
    const core = this.#core;
    const entry = await resumeEntry(core, this.#recordPfn, false);
    if (entry === undefined) return;
    const saved = entry.record.bootDevice;
    this.#bootDevice = core.env.platform?.probeBootDevices().find((d) =>
      (d.name ?? d.kind) === saved
    );
    core.trace("continued", { rip: entry.ctx.rip, bootDevice: saved });
    if (entry.record.sleeping) {
      // Saved in S3: the restored vCPU starts at the reset vector, the
      // firmware finds the S3-resume mark and jumps to the waking vector.
      core.setState("sleeping");
      this.#acpi.wake(entry.ctx.rip);
    }
    core.booted();
  }
}
