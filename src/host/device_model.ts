/**
 * @module
 * The device model of an HVM domain (QEMU's part, in dom0) as the emulated
 * PC its firmware and OS reach (`HvmPlatform`): the CMOS boot order
 * (lifecycle-and-migration.md §2.4), the disks, CD-ROMs and NIC boot ROMs
 * the BIOS probes, COM1, and PIIX4 PM1a_CNT, where S5 becomes Xen's remote
 * shutdown (poweroff) and S3 sets HVM_PARAM_ACPI_S_STATE (§3.9, §7.1);
 * a system reset becomes SHUTDOWN_reboot.
 */
import type { Hypervisor } from "../hv/hypervisor.ts";
import { HVM_PARAM_ACPI_S_STATE } from "../hv/hvm_params.ts";
import { SHUTDOWN_poweroff, SHUTDOWN_reboot } from "../hv/xen_abi.ts";
import type { Trace } from "../sim/trace.ts";
import type { BiosDevice, BiosKind } from "../platform/bios_boot.ts";
import { CMOS_BOOTFLAG1, CMOS_BOOTFLAG2, type CmosBootOrder } from "../platform/cmos_boot_order.ts";
import {
  ACPI_SLP_EN,
  ACPI_SLP_TYP_S3,
  ACPI_SLP_TYP_S5,
  ACPI_SLP_TYP_SHIFT,
  type HvmPlatform,
} from "../guest-agents/hvm_platform.ts";

/** Lines of COM1 output kept per domain. */
export const SERIAL_LINES_MAX = 10_000;
/** QEMU_VM_FILE_MAGIC "QEVM" and QEMU_VM_FILE_VERSION 3. */
export const QEMU_SAVE_HEADER = Uint8Array.of(0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3);

export interface DeviceModelOptions {
  readonly bios?: BiosKind;
  /** CMOS bytes for `-boot order=` (from the boot plan). */
  readonly cmos: CmosBootOrder;
  /** What the BIOS finds, in probe order. */
  readonly devices: readonly BiosDevice[];
}

export class DeviceModel implements HvmPlatform {
  readonly bios: BiosKind;
  readonly serial: string[] = [];
  readonly #hv: Hypervisor;
  readonly #trace: Trace;
  readonly #domid: number;
  readonly #cmos: CmosBootOrder;
  readonly #devices: readonly BiosDevice[];
  #partial = "";
  #devicesReset = 0;
  #running = true;

  constructor(hv: Hypervisor, domid: number, trace: Trace, opts: DeviceModelOptions) {
    this.#hv = hv;
    this.#trace = trace;
    this.#domid = domid;
    this.bios = opts.bios ?? "seabios";
    this.#cmos = opts.cmos;
    this.#devices = opts.devices;
  }

  cmosRead(reg: number): number {
    if (reg === CMOS_BOOTFLAG2) return this.#cmos.reg3d;
    if (reg === CMOS_BOOTFLAG1) return this.#cmos.reg38;
    return 0;
  }

  probeBootDevices(): readonly BiosDevice[] {
    return this.#devices;
  }

  serialWrite(bytes: Uint8Array): void {
    const lines = (this.#partial + new TextDecoder().decode(bytes)).split("\n");
    this.#partial = lines.pop()!;
    this.serial.push(...lines);
    if (this.serial.length > SERIAL_LINES_MAX) {
      this.serial.splice(0, this.serial.length - SERIAL_LINES_MAX);
    }
  }

  /** QEMU's reset request under Xen: the domain reboots. */
  reset(): void {
    this.#trace.emit({ src: "qemu", dom: this.#domid, reset: true });
    this.#shutdown(SHUTDOWN_reboot);
  }

  /** QEMU's acpi_pm1_cnt_write: S5 (soft off) → remote shutdown; S3 → ACPI_S_STATE. */
  pm1aCntWrite(value: number): void {
    this.#trace.emit({ src: "qemu", dom: this.#domid, pm1aCnt: value });
    if ((value & ACPI_SLP_EN) === 0) return;
    const slpTyp = (value >> ACPI_SLP_TYP_SHIFT) & 7;
    if (slpTyp === ACPI_SLP_TYP_S5) this.#shutdown(SHUTDOWN_poweroff);
    else if (slpTyp === ACPI_SLP_TYP_S3) {
      const r = this.#hv.hypercall(0, {
        hc: "hvm_op",
        op: "set_param",
        domid: this.#domid,
        index: HVM_PARAM_ACPI_S_STATE,
        value: 3,
      });
      if (r.ret < 0) throw new Error(`device model: S3 on domain ${this.#domid}: ${r.ret}`);
    }
  }

  #shutdown(reason: number): void {
    const r = this.#hv.hypercall(0, {
      hc: "sched_op",
      op: "remote_shutdown",
      domid: this.#domid,
      reason,
    });
    if (r.ret < 0) {
      throw new Error(
        `device model: remote_shutdown(${reason}) of domain ${this.#domid}: ${r.ret}`,
      );
    }
  }

  /**
   * QMP `system_wakeup` (`xl trigger DOM s3resume`, §3.9): QEMU resets its
   * devices and sets HVM_PARAM_ACPI_S_STATE to 0; Xen restarts vCPU 0 at
   * the reset vector and the firmware jumps to the OS's wake vector.
   * Returns the set_param's ret (-EINVAL if the domain is not asleep).
   */
  systemWakeup(): number {
    const asleep = this.#hv.hypercall(0, {
      hc: "hvm_op",
      op: "get_param",
      domid: this.#domid,
      index: HVM_PARAM_ACPI_S_STATE,
    }).value;
    this.#trace.emit({ src: "qemu", dom: this.#domid, qmp: "system_wakeup", sState: asleep });
    if (asleep !== 3) return -22; // QEMU: "Unable to wake up: guest is not in suspended state"
    this.#devicesReset++;
    return this.#hv.hypercall(0, {
      hc: "hvm_op",
      op: "set_param",
      domid: this.#domid,
      index: HVM_PARAM_ACPI_S_STATE,
      value: 0,
    }).ret;
  }

  /** How many times the emulated devices were reset by a wake-up. */
  get devicesReset(): number {
    return this.#devicesReset;
  }

  /**
   * `xen-save-devices-state` (§3.5): QEMU's save file — "QEVM", version 3,
   * then (xenlab) the platform state as JSON: CMOS boot flags, BIOS kind
   * and the devices the BIOS probes. Serial output is not device state.
   */
  saveState(): Uint8Array {
    // libxl (§3.5): QMP `stop`, then `xen-save-devices-state` to a file.
    this.#trace.emit({ src: "qemu", dom: this.#domid, qmp: "stop" });
    this.#running = false;
    const json = new TextEncoder().encode(
      JSON.stringify({ bios: this.bios, cmos: this.#cmos, devices: this.#devices }),
    );
    const out = new Uint8Array(QEMU_SAVE_HEADER.length + json.length);
    out.set(QEMU_SAVE_HEADER);
    out.set(json, QEMU_SAVE_HEADER.length);
    this.#trace.emit({
      src: "qemu",
      dom: this.#domid,
      qmp: "xen-save-devices-state",
      bytes: out.length,
    });
    return out;
  }

  /** QMP `cont` (libxl_domain_resume step 1, §4.1): emulation runs again. */
  cont(): void {
    this.#trace.emit({ src: "qemu", dom: this.#domid, qmp: "cont", wasRunning: this.#running });
    this.#running = true;
  }

  /** Whether emulation runs (false between QMP `stop` and `cont`). */
  get running(): boolean {
    return this.#running;
  }

  /** The options a device model started with `-incoming` gets from a saved state. */
  static optionsFromState(blob: Uint8Array): DeviceModelOptions {
    const head = blob.subarray(0, QEMU_SAVE_HEADER.length);
    if (blob.length < QEMU_SAVE_HEADER.length || head.some((b, i) => b !== QEMU_SAVE_HEADER[i])) {
      throw new Error("device model state: not a QEMU save file (no QEVM v3 header)");
    }
    let o: DeviceModelOptions;
    try {
      o = JSON.parse(new TextDecoder().decode(blob.subarray(QEMU_SAVE_HEADER.length)));
    } catch {
      throw new Error("device model state: unreadable");
    }
    if (typeof o?.cmos !== "object" || !Array.isArray(o.devices)) {
      throw new Error("device model state: no CMOS or device list");
    }
    return o;
  }
}
