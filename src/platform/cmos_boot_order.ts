/**
 * @module
 * The HVM boot order as QEMU stores it for the BIOS
 * (lifecycle-and-migration.md §2.4; QEMU `hw/i386/pc.c` `set_boot_dev`,
 * `boot_device2nibble`). xl's `boot=` letters — `a` floppy, `c` hard disk,
 * `d` CD-ROM, `n` network, at most three, each once — become one nibble
 * each (floppy 1, HDD 2, CD 3, network 4) in two CMOS registers:
 *
 * ```
 * reg 0x3D = (2nd << 4) | 1st
 * reg 0x38 = (3rd << 4) | (floppy signature check ? 0 : 1)
 * ```
 *
 * Worked example, libxl's default `boot = "cda"`: HDD 2, CD 3, floppy 1 →
 * reg 0x3D = (3 << 4) | 2 = 0x32, reg 0x38 = (1 << 4) | 0 = 0x10. The BIOS
 * (SeaBIOS `boot_init`) reads them back as `reg3d | (reg38 & 0xf0) << 4` =
 * 0x132 and takes nibbles low first: 2, 3, 1.
 */

/** What a boot letter names. */
export type BootDeviceKind = "floppy" | "disk" | "cdrom" | "network";

/** xl.cfg `boot=` letters (xl.cfg(5)); QEMU also knows `b` and `o`/`p`, xl documents these. */
export const BOOT_LETTERS: Readonly<Record<string, BootDeviceKind>> = {
  a: "floppy",
  c: "disk",
  d: "cdrom",
  n: "network",
};

/** QEMU `boot_device2nibble` codes. */
export const BOOT_NIBBLE: Readonly<Record<BootDeviceKind, number>> = {
  floppy: 1,
  disk: 2,
  cdrom: 3,
  network: 4,
};

/** QEMU `PC_MAX_BOOT_DEVICES`: the CMOS has room for three. */
export const PC_MAX_BOOT_DEVICES = 3;
/** CMOS register holding the 1st and 2nd boot devices (`CMOS_BIOS_BOOTFLAG2`). */
export const CMOS_BOOTFLAG2 = 0x3d;
/** CMOS register holding the 3rd device and the floppy-check bit (`CMOS_BIOS_BOOTFLAG1`). */
export const CMOS_BOOTFLAG1 = 0x38;

/** The two CMOS bytes. */
export interface CmosBootOrder {
  readonly reg3d: number;
  readonly reg38: number;
}

/**
 * Why `boot` is not a valid PC boot order (QEMU's wording), or undefined if
 * it is.
 */
export function bootOrderProblem(boot: string): string | undefined {
  if (boot.length === 0) return "empty boot order (use letters a, c, d, n)";
  if (boot.length > PC_MAX_BOOT_DEVICES) {
    return `too many boot devices for PC: "${boot}" names ${boot.length} (at most ${PC_MAX_BOOT_DEVICES})`;
  }
  for (let i = 0; i < boot.length; i++) {
    const c = boot[i];
    if (!(c in BOOT_LETTERS)) {
      return `invalid boot device for PC: '${c}' (use a floppy, c hard disk, d CD-ROM, n network)`;
    }
    if (boot.indexOf(c) !== i) return `boot device '${c}' was given twice`;
  }
  return undefined;
}

/** The devices of a valid boot order, in order. Throws RangeError on an invalid one. */
export function bootOrderKinds(boot: string): BootDeviceKind[] {
  const problem = bootOrderProblem(boot);
  if (problem !== undefined) throw new RangeError(`boot order: ${problem}`);
  return [...boot].map((c) => BOOT_LETTERS[c]);
}

/**
 * CMOS encoding of a boot order. `floppySignatureCheck` is QEMU's
 * `fd_bootchk` (default on, which leaves bit 0 of reg 0x38 clear).
 *
 * @example
 * ```ts
 * import { cmosBootOrder } from "./cmos_boot_order.ts";
 * cmosBootOrder("dc"); // { reg3d: 0x23, reg38: 0x00 }
 * ```
 */
export function cmosBootOrder(boot: string, floppySignatureCheck = true): CmosBootOrder {
  const n = bootOrderKinds(boot).map((k) => BOOT_NIBBLE[k]);
  return {
    reg3d: ((n[1] ?? 0) << 4) | (n[0] ?? 0),
    reg38: ((n[2] ?? 0) << 4) | (floppySignatureCheck ? 0 : 1),
  };
}

/**
 * What a BIOS reads back: the listed device kinds in boot priority order and
 * the floppy check. As SeaBIOS `boot_init` does, a kind named twice takes
 * its later slot, and unknown nibbles are skipped.
 */
export function decodeCmosBootOrder(
  cmos: CmosBootOrder,
): { kinds: BootDeviceKind[]; floppySignatureCheck: boolean } {
  let order = (cmos.reg3d & 0xff) | ((cmos.reg38 & 0xf0) << 4);
  const slot = new Map<BootDeviceKind, number>();
  for (let i = 0; i < PC_MAX_BOOT_DEVICES; i++) {
    const nibble = order & 0x0f;
    order >>= 4;
    const kind = (Object.keys(BOOT_NIBBLE) as BootDeviceKind[]).find((k) =>
      BOOT_NIBBLE[k] === nibble
    );
    if (kind !== undefined) slot.set(kind, i);
  }
  const kinds = [...slot.keys()].sort((a, b) => slot.get(a)! - slot.get(b)!);
  return { kinds, floppySignatureCheck: (cmos.reg38 & 1) === 0 };
}
