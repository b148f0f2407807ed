/**
 * @module
 * The emulated BIOS's choice of boot device (lifecycle-and-migration.md
 * §2.4): QEMU turns `-boot order=<letters>` into CMOS nibbles (reg 0x3D =
 * (2nd<<4)|1st, reg 0x38 = (3rd<<4)|skip-floppy-signature bit; codes floppy
 * 1, hard disk 2, CD-ROM 3, network 4), and the BIOS tries devices in that
 * order. Pure: the CMOS bytes and the probed devices in, a plan out.
 *
 * Part of the emulated PC platform that both sides use: the toolstack's
 * device model writes the CMOS bytes (`cmos_boot_order.ts`), the guest's
 * firmware reads them here.
 *
 * Two BIOSes, as hvmloader has them (`~/hvmloader/bios`):
 *
 * * `seabios` (libxl's default with qemu-xen): the CMOS order sets the
 *   priorities of the four kinds; kinds not listed keep SeaBIOS's default
 *   priority and are tried *after* the listed ones, in probe order
 *   (`boot.c`: DefaultFloppyPrio/HDPrio/CDPrio/BEVPrio). When nothing boots
 *   it says so and resets the machine after `etc/boot-fail-wait` (60 s).
 * * `rombios`: only the listed kinds are tried; nothing bootable halts.
 *
 * In both, all hard disks are one entry (the first one found is drive 0x80)
 * and so are floppies (drive 0x00); every CD-ROM and every network boot ROM
 * is an entry of its own. A disk needs a boot signature — except a floppy
 * when reg 0x38 bit 0 turned the floppy signature check off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { biosSelectBootDevice, cmosBootKinds } from "./bios_boot.ts";
 * import { cmosBootOrder } from "./cmos_boot_order.ts";
 * const cmos = cmosBootOrder("dc"); // CD first, then hard disk
 * assert.deepEqual(cmosBootKinds(cmos), ["cdrom", "disk"]);
 * const plan = biosSelectBootDevice(cmos, [
 *   { kind: "disk", name: "hda", bootable: true },
 *   { kind: "cdrom", name: "hdc", bootable: false },
 * ]);
 * assert.equal(plan.device?.name, "hda"); // the CD had nothing to boot
 * ```
 */
import { type BootDeviceKind, decodeCmosBootOrder } from "./cmos_boot_order.ts";

export type BiosDeviceKind = BootDeviceKind;
export type BiosKind = "seabios" | "rombios";

/** Bound on devices one probe may report. */
export const BIOS_DEVICES_MAX = 64;
/** SeaBIOS's `etc/boot-fail-wait` default: seconds before it resets the machine. */
export const BIOS_BOOT_RETRY_S = 60;

/** A device the BIOS found while probing, in probe order. */
export interface BiosDevice {
  readonly kind: BiosDeviceKind;
  /** Its name in the configuration (`hda`, `hdc`, `vif0`, ...), for the record. */
  readonly name?: string;
  /**
   * Whether booting it works: a disk with a boot signature, a CD with an
   * El Torito image, a NIC whose PXE server answers.
   */
  readonly bootable: boolean;
}

/** CMOS registers 0x3D and 0x38 (the shape of the toolstack's `CmosBootOrder`). */
export interface CmosBootBytes {
  readonly reg3d: number;
  readonly reg38: number;
}

/** The BIOS's decision. */
export interface BootPlan {
  /** The order read from CMOS (kinds, at most three). */
  readonly order: readonly BiosDeviceKind[];
  /** Whether reg 0x38 asks for the floppy boot-signature check. */
  readonly floppySignatureCheck: boolean;
  /** What the BIOS printed, in order. */
  readonly console: readonly string[];
  /** The device booted from, or undefined: "No bootable device." */
  readonly device?: BiosDevice;
  /** Its index in the probed list. */
  readonly index?: number;
  /** SeaBIOS, nothing bootable: seconds until it resets the machine. */
  readonly retryInS?: number;
}

const BOOTING: Readonly<Record<BiosDeviceKind, string>> = {
  floppy: "Booting from Floppy...",
  disk: "Booting from Hard Disk...",
  cdrom: "Booting from DVD/CD...",
  network: "Booting from ROM...",
};

const FAILED: Readonly<Record<BiosDeviceKind, string>> = {
  floppy: "Boot failed: not a bootable disk",
  disk: "Boot failed: not a bootable disk",
  cdrom: "Boot failed: Could not read from CDROM",
  network: "Boot failed: no boot server answered",
};

/** The kinds listed in CMOS, in priority order (the platform's decoding). */
export function cmosBootKinds(cmos: CmosBootBytes): BiosDeviceKind[] {
  return decodeCmosBootOrder(cmos).kinds;
}

/**
 * The boot entries (indexes into `devices`, probe order) the BIOS tries:
 * the first floppy, the first hard disk, every CD-ROM and NIC, stably
 * ordered by CMOS priority.
 */
export function bootEntries(
  order: readonly BiosDeviceKind[],
  devices: readonly BiosDevice[],
  bios: BiosKind = "seabios",
): number[] {
  if (devices.length > BIOS_DEVICES_MAX) {
    throw new RangeError(`bios: ${devices.length} devices (limit ${BIOS_DEVICES_MAX})`);
  }
  const seen = new Set<BiosDeviceKind>();
  const entries: number[] = [];
  devices.forEach((d, i) => {
    if ((d.kind === "floppy" || d.kind === "disk") && seen.has(d.kind)) return;
    seen.add(d.kind);
    if (bios === "seabios" || order.includes(d.kind)) entries.push(i);
  });
  const DEFAULT_PRIO = 9999;
  const prio = (i: number) => {
    const p = order.indexOf(devices[i].kind);
    return p >= 0 ? p : DEFAULT_PRIO;
  };
  // Array.prototype.sort is stable: equal priorities keep probe order.
  return entries.sort((a, b) => prio(a) - prio(b));
}

/** What the BIOS boots from, given the CMOS bytes and the devices it probed. */
export function biosSelectBootDevice(
  cmos: CmosBootBytes,
  devices: readonly BiosDevice[],
  bios: BiosKind = "seabios",
): BootPlan {
  const order = cmosBootKinds(cmos);
  const floppySignatureCheck = (cmos.reg38 & 1) === 0;
  const console: string[] = [];
  for (const index of bootEntries(order, devices, bios)) {
    const device = devices[index];
    console.push(BOOTING[device.kind]);
    const noCheck = device.kind === "floppy" && !floppySignatureCheck;
    if (device.bootable || noCheck) return { order, floppySignatureCheck, console, device, index };
    console.push(FAILED[device.kind]);
  }
  if (bios === "rombios") {
    console.push("No bootable device.");
    return { order, floppySignatureCheck, console };
  }
  console.push(`No bootable device.  Retrying in ${BIOS_BOOT_RETRY_S} seconds.`);
  return { order, floppySignatureCheck, console, retryInS: BIOS_BOOT_RETRY_S };
}
