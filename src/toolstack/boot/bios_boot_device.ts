/**
 * @module
 * The emulated HVM BIOS choosing what to boot from, as SeaBIOS does on QEMU
 * (`src/boot.c` `boot_init`, `boot_prep`, `do_boot`, `boot_fail`), given the
 * CMOS boot order QEMU wrote (see `cmos_boot_order.ts`):
 *
 * * kinds named in CMOS get priorities 101, 102, 103 in slot order; kinds not
 *   named are still tried afterwards, in the order the devices were found
 *   (SeaBIOS gives them a default priority, ties keep registration order);
 * * only the first floppy and the first hard disk are boot candidates (they
 *   become drives 0x00 and 0x80); every CD-ROM and network device is;
 * * a disk needs a boot signature — unless it is a floppy and reg 0x38 bit 0
 *   turned the floppy signature check off;
 * * when nothing boots: "No bootable device." (and SeaBIOS retries after
 *   `etc/boot-fail-wait`, 60 s by default).
 *
 * The guest agent calls {@link biosSelectBootDevice} with the devices its
 * machine has, in the order QEMU registers them.
 */
import {
  type BootDeviceKind,
  type CmosBootOrder,
  decodeCmosBootOrder,
  PC_MAX_BOOT_DEVICES,
} from "./cmos_boot_order.ts";

/** SeaBIOS's boot-fail wait default (`etc/boot-fail-wait`), seconds. */
export const BIOS_BOOT_RETRY_S = 60;
/** Most devices the BIOS looks at (SeaBIOS's boot list is small; so is ours). */
export const BIOS_DEVICES_MAX = 64;

/** A device as the BIOS sees it: present, of a kind, bootable or not. */
export interface BiosDevice {
  readonly kind: BootDeviceKind;
  /** Has a boot sector with the 0x55AA signature / El Torito record / a PXE answer. */
  readonly bootable: boolean;
}

export type BiosBootResult =
  | {
    readonly ok: true;
    /** Index of the chosen device in the input list. */
    readonly index: number;
    readonly device: BiosDevice;
    /** What the BIOS printed, in order. */
    readonly console: readonly string[];
  }
  | {
    readonly ok: false;
    readonly error: "No bootable device.";
    readonly retryInS: number;
    readonly console: readonly string[];
  };

const BOOTING: Record<BootDeviceKind, string> = {
  floppy: "Booting from Floppy...",
  disk: "Booting from Hard Disk...",
  cdrom: "Booting from DVD/CD...",
  network: "Booting from ROM...",
};

const FAILED: Record<BootDeviceKind, string> = {
  floppy: "Boot failed: not a bootable disk",
  disk: "Boot failed: not a bootable disk",
  cdrom: "Boot failed: Could not read from CDROM",
  network: "Boot failed: no boot server answered",
};

/** The boot candidates, ordered by SeaBIOS priority. */
function candidates(
  kinds: readonly BootDeviceKind[],
  devices: readonly BiosDevice[],
): number[] {
  const prio = (k: BootDeviceKind) => {
    const i = kinds.indexOf(k);
    return i < 0 ? 100 + PC_MAX_BOOT_DEVICES + 1 : 101 + i;
  };
  const seen = new Set<BootDeviceKind>();
  const list: number[] = [];
  devices.forEach((d, i) => {
    const firstOnly = d.kind === "floppy" || d.kind === "disk";
    if (firstOnly && seen.has(d.kind)) return;
    seen.add(d.kind);
    list.push(i);
  });
  // Array.prototype.sort is stable: equal priorities keep registration order.
  return list.sort((a, b) => prio(devices[a].kind) - prio(devices[b].kind));
}

/**
 * Picks the boot device. Throws RangeError on more than
 * {@link BIOS_DEVICES_MAX} devices (a machine description error).
 *
 * @example
 * ```ts
 * import { biosSelectBootDevice } from "./bios_boot_device.ts";
 * import { cmosBootOrder } from "./cmos_boot_order.ts";
 * const r = biosSelectBootDevice(cmosBootOrder("dc"), [
 *   { kind: "disk", bootable: true },
 *   { kind: "cdrom", bootable: false },
 * ]);
 * // r.ok, r.index === 0; console: "Booting from DVD/CD...", "Boot failed: ...", "Booting from Hard Disk..."
 * ```
 */
export function biosSelectBootDevice(
  cmos: CmosBootOrder,
  devices: readonly BiosDevice[],
): BiosBootResult {
  if (devices.length > BIOS_DEVICES_MAX) {
    throw new RangeError(`bios: ${devices.length} devices (limit ${BIOS_DEVICES_MAX})`);
  }
  const { kinds, floppySignatureCheck } = decodeCmosBootOrder(cmos);
  const console: string[] = [];
  for (const i of candidates(kinds, devices)) {
    const d = devices[i];
    console.push(BOOTING[d.kind]);
    const skipSignature = d.kind === "floppy" && !floppySignatureCheck;
    if (d.bootable || skipSignature) return { ok: true, index: i, device: d, console };
    console.push(FAILED[d.kind]);
  }
  console.push(`No bootable device.  Retrying in ${BIOS_BOOT_RETRY_S} seconds.`);
  return { ok: false, error: "No bootable device.", retryInS: BIOS_BOOT_RETRY_S, console };
}
