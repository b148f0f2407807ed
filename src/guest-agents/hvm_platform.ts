/**
 * @module
 * {@link HvmPlatform}: the emulated PC an HVM guest's firmware and OS touch
 * — the part of "what a guest sees" that is not Xen's but the device
 * model's (QEMU in dom0). An HVM guest without PV drivers has nothing else:
 * it finds its boot device through CMOS and the probed disks, prints on the
 * serial port, and powers off by writing S5 to the ACPI PM1a control
 * register, which the device model turns into a remote shutdown of the
 * domain (lifecycle-and-migration.md §7.1: QEMU →
 * `xendevicemodel_shutdown(domid, SHUTDOWN_poweroff)`).
 *
 * Why it is an optional member of `GuestEnv`: hypercalls, xenstore and
 * guest pages reach Xen, but PM1a, CMOS and the UART are emulated devices
 * in dom0; without them an HVM guest could neither choose what to boot nor
 * power off. PV guests have no such platform.
 *
 * Values follow QEMU's PIIX4 ACPI and Xen's ACPI tables (`tools/libacpi`
 * ssdt_s3/ssdt_s4, "must match piix emulation"): PM1a_CNT.SLP_TYP in bits
 * 10..12, SLP_EN bit 13; S3 = 1; S4 and S5 = 0 (soft off, which QEMU
 * treats as a shutdown request).
 */
import type { BiosDevice, BiosKind } from "../platform/bios_boot.ts";

/** PM1a_CNT.SLP_EN (bit 13): the write starts the sleep. */
export const ACPI_SLP_EN = 1 << 13;
/** PM1a_CNT.SLP_TYP field shift (bits 10..12). */
export const ACPI_SLP_TYP_SHIFT = 10;
/** SLP_TYP of S3 in Xen's SSDT (`_S3`, PIIX: suspend request). */
export const ACPI_SLP_TYP_S3 = 1;
/** SLP_TYP of S5 (and of S4 in Xen's SSDT): PIIX "soft power off". */
export const ACPI_SLP_TYP_S5 = 0;
/** PM1a_CNT with `ACPI_IOPORTS_LOCATION` = 1 (hvmloader, qemu-xen): 0xb000 + 4. */
export const ACPI_PM1A_CNT_PORT = 0xb004;

/** The PM1a_CNT value a guest writes to enter sleep type `slpTyp`. */
export function pm1aSleepValue(slpTyp: number): number {
  return ((slpTyp & 7) << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN;
}

/** The emulated PC of one HVM domain, as its firmware and OS reach it. */
export interface HvmPlatform {
  /** Which BIOS hvmloader loaded (`~/hvmloader/bios`); default `seabios`. */
  readonly bios?: BiosKind;
  /** A CMOS/RTC byte (ports 0x70/0x71) as the device model set it (boot order: 0x3D, 0x38). */
  cmosRead(reg: number): number;
  /** Disks, CD-ROMs, floppies and boot ROMs of NICs, in the order the BIOS probes them. */
  probeBootDevices(): readonly BiosDevice[];
  /** A 16-bit write to PM1a_CNT ({@link ACPI_PM1A_CNT_PORT}); the device model acts on SLP_EN. */
  pm1aCntWrite(value: number): void;
  /** Bytes sent to COM1 (what `serial = "pty"` shows in dom0). */
  serialWrite(bytes: Uint8Array): void;
  /**
   * A system reset request (keyboard-controller pulse, port 0xCF9): QEMU
   * under Xen turns it into a reboot of the domain (SHUTDOWN_reboot).
   * Optional: without it the guest halts where it would reset.
   */
  reset?(): void;
}
