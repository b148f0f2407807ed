/**
 * @module
 * {@link AcpiPower}: an HVM guest OS's answer to the ACPI buttons Xen
 * raises with `XEN_DOMCTL_sendtrigger` (lifecycle-and-migration.md §3.9,
 * §7.1), the only shutdown path of an HVM guest without PV drivers:
 *
 * * POWER → the OS shuts down in order (acpid / logind), then writes S5
 *   (SLP_TYP 0 | SLP_EN) to PM1a_CNT. The write goes to the device model in
 *   dom0 (QEMU's PIIX4 PM), which asks Xen to shut the domain down
 *   (`xendevicemodel_shutdown(domid, SHUTDOWN_poweroff)`): the domain's
 *   shutdown reaches the hypervisor from dom0, not from the guest.
 * * SLEEP → suspend to RAM: S3 (SLP_TYP 1) to PM1a_CNT; the device model
 *   sets `HVM_PARAM_ACPI_S_STATE` = 3 and Xen holds the domain. On wake
 *   (`xl trigger s3resume`) vCPU 0 restarts at the reset vector, the
 *   firmware jumps to the OS's wake vector, and the OS runs on.
 * * NMI → logged.
 *
 * Profiles: never-ack ignores the power button (no ACPI daemon), slow-ack
 * acts `ackDelayNs` late, crash-on-request panics instead (`onPanic`).
 */
import {
  XEN_DOMCTL_SENDTRIGGER_NMI,
  XEN_DOMCTL_SENDTRIGGER_POWER,
  XEN_DOMCTL_SENDTRIGGER_SLEEP,
} from "../hv/xen_abi.ts";
import type { AgentCore } from "./agent_core.ts";
import {
  ACPI_SLP_TYP_S3,
  ACPI_SLP_TYP_S5,
  type HvmPlatform,
  pm1aSleepValue,
} from "./hvm_platform.ts";

/** The ACPI side of an HVM guest's OS. */
export class AcpiPower {
  readonly #core: AgentCore;
  readonly #platform: HvmPlatform | undefined;
  readonly #onPanic: (why: string) => void;
  readonly #onSleep: (asleep: boolean) => void | Promise<void>;
  #pressed = false;

  /**
   * `onSleep(true)` runs before the OS writes S3 (it has set the FACS
   * waking vector), `onSleep(false)` after it woke.
   */
  constructor(
    core: AgentCore,
    platform: HvmPlatform | undefined,
    onPanic: (why: string) => void,
    onSleep: (asleep: boolean) => void | Promise<void> = () => {},
  ) {
    this.#core = core;
    this.#platform = platform;
    this.#onPanic = onPanic;
    this.#onSleep = onSleep;
    core.entryHandler = (ctx) => {
      if (core.state !== "sleeping") return false;
      this.wake(ctx.rip);
      return true;
    };
  }

  /** The firmware jumped to the OS's waking vector: devices up again, running. */
  wake(rip: number): void {
    const core = this.#core;
    core.trace("acpi_wake", { rip });
    core.print("ACPI: Waking up from system sleep state S3");
    this.#resumeDevices();
    core.setState("running");
    void this.#onSleep(false);
  }

  /** `GuestKernel.trigger`. */
  trigger(trigger: number, vcpu: number): void {
    const core = this.#core;
    core.trace("trigger", { trigger, vcpu });
    switch (trigger) {
      case XEN_DOMCTL_SENDTRIGGER_POWER:
        void this.#powerButton();
        return;
      case XEN_DOMCTL_SENDTRIGGER_SLEEP:
        this.#sleepButton();
        return;
      case XEN_DOMCTL_SENDTRIGGER_NMI:
        core.print(`Uhhuh. NMI received for unknown reason on CPU ${vcpu}.`);
        return;
    }
  }

  async #powerButton(): Promise<void> {
    const core = this.#core;
    const platform = this.#platform;
    core.print("ACPI: Power Button [PWRF]");
    if (platform === undefined || core.state !== "running" || this.#pressed) {
      core.trace("acpi_ignored", { button: "power", state: core.state });
      return;
    }
    const profile = core.profile;
    if (!profile.acknowledges) {
      core.trace("never_ack", { button: "power" });
      return;
    }
    this.#pressed = true;
    if (profile.ackDelayNs > 0) {
      core.trace("slow_ack_wait", { ns: profile.ackDelayNs });
      if (!(await core.sleep(profile.ackDelayNs))) return;
    }
    if (profile.crashOnRequest) {
      this.#onPanic("crash-on-request: power button");
      return;
    }
    core.setState("shutting-down");
    core.print("The system is going down for power-off NOW!");
    if (!(await core.sleep(core.orderlyShutdownNs))) return;
    core.print("ACPI: Preparing to enter system sleep state S5");
    core.print("reboot: Power down");
    this.#enter("S5", ACPI_SLP_TYP_S5);
    core.setState("shutdown");
  }

  #sleepButton(): void {
    const core = this.#core;
    core.print("ACPI: Sleep Button [SLPF]");
    if (this.#platform === undefined || core.state !== "running" || !core.profile.acknowledges) {
      core.trace("acpi_ignored", { button: "sleep", state: core.state });
      return;
    }
    core.print("PM: suspend entry (deep)");
    core.print("ACPI: Preparing to enter system sleep state S3");
    core.setState("sleeping");
    void Promise.resolve(this.#onSleep(true)).then(() => this.#enter("S3", ACPI_SLP_TYP_S3));
  }

  /**
   * The OS's device resume after S3: the device model reset every emulated
   * device on wake, so each driver finds its device again and sets it up
   * (Linux's `dpm_resume`: ata link up and reconfigure the disk, the NIC
   * re-initialised).
   */
  #resumeDevices(): void {
    const core = this.#core;
    const devices = this.#platform?.probeBootDevices() ?? [];
    for (const d of devices) {
      const name = d.name ?? d.kind;
      if (d.kind === "network") core.print(`e1000 ${name}: reset, link is up`);
      else core.print(`ata: ${name}: link up, configured (${d.kind})`);
    }
    core.trace("acpi_resume_devices", { devices: devices.map((d) => d.name ?? d.kind) });
    core.print("PM: suspend exit");
  }

  #enter(sState: string, slpTyp: number): void {
    const value = pm1aSleepValue(slpTyp);
    this.#core.trace("acpi_sleep", { state: sState, pm1aCnt: value });
    this.#platform!.pm1aCntWrite(value);
  }
}
