/**
 * @module
 * Virtual device name → `virtual-device` number, as libxl's
 * `libxl__device_disk_dev_number` computes it (lifecycle-and-migration.md
 * §2.5, `docs/man/xen-vbd-interface.7.pandoc`):
 *
 * | name                  | number                                     |
 * |-----------------------|--------------------------------------------|
 * | `xvd<L><p>`, disk ≤ 15 and part ≤ 15 | `202<<8 \| disk<<4 \| part` (xvda = 51712, xvdb = 51728) |
 * | `xvd<L><p>` otherwise (disk < 2^20, part ≤ 255) | `1<<28 \| disk<<8 \| part` |
 * | `d<N>p<M>`            | as xvd with disk N, part M                  |
 * | `hd<L><p>`, disk 0–1  | `3<<8 \| disk<<6 \| part` (hda = 768), part ≤ 63 |
 * | `hd<L><p>`, disk 2–3  | `22<<8 \| (disk−2)<<6 \| part`              |
 * | `sd<L><p>`, disk ≤ 15 | `8<<8 \| disk<<4 \| part`, part ≤ 15        |
 * | a plain number        | itself (decimal, `0x` hex or `0` octal, ≤ INT_MAX) |
 *
 * Disk letters count in bijective base 26: `a` = 0, `z` = 25, `aa` = 26.
 * A partition number has no leading zero. Worked example: `xvdq` is disk 16,
 * too big for the compact form, so it is `1<<28 | 16<<8` = 268439552.
 */

/** Largest xvd disk index (2^20 − 1). */
export const XVD_DISK_MAX = (1 << 20) - 1;
const INT_MAX = 0x7fffffff;

/** Disk index and partition of `<prefix><letters><partition>`, or undefined. */
function letterDisk(
  name: string,
  prefix: string,
  diskMax: number,
  partMax: number,
): { disk: number; part: number } | undefined {
  const m = new RegExp(`^${prefix}([a-z]+)([1-9][0-9]*)?$`).exec(name);
  if (!m) return undefined;
  let disk = -1;
  for (const ch of m[1]) {
    disk = (disk + 1) * 26 + (ch.charCodeAt(0) - 97);
    if (disk > diskMax) return undefined;
  }
  const part = m[2] === undefined ? 0 : Number(m[2]);
  if (part > partMax) return undefined;
  return { disk, part };
}

function xvdNumber(disk: number, part: number): number {
  return disk <= 15 && part <= 15
    ? (202 << 8) | (disk << 4) | part
    : (1 << 28) | (disk << 8) | part;
}

/**
 * The `virtual-device` number of a vdev name, or undefined when libxl would
 * refuse it ("Invalid or unsupported virtual disk identifier").
 *
 * @example
 * ```ts
 * import { virtualDeviceNumber } from "./vdev_number.ts";
 * virtualDeviceNumber("xvda"); // 51712
 * virtualDeviceNumber("hdc");  // 5632
 * ```
 */
export function virtualDeviceNumber(vdev: string): number | undefined {
  const dp = /^d([0-9]+)p([0-9]+)$/.exec(vdev);
  if (dp) {
    const disk = Number(dp[1]), part = Number(dp[2]);
    return disk <= XVD_DISK_MAX && part < 256 ? xvdNumber(disk, part) : undefined;
  }
  const xvd = letterDisk(vdev, "xvd", XVD_DISK_MAX, 255);
  if (xvd) return xvdNumber(xvd.disk, xvd.part);
  if (/^(0x[0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(vdev)) {
    const n = vdev.startsWith("0x")
      ? parseInt(vdev.slice(2), 16)
      : vdev.length > 1 && vdev.startsWith("0")
      ? parseInt(vdev, 8)
      : Number(vdev);
    return n <= INT_MAX ? n : undefined;
  }
  const hd = letterDisk(vdev, "hd", 3, 63);
  if (hd) return ((hd.disk < 2 ? 3 : 22) << 8) | ((hd.disk & 1) << 6) | hd.part;
  const sd = letterDisk(vdev, "sd", 15, 15);
  if (sd) return (8 << 8) | (sd.disk << 4) | sd.part;
  return undefined;
}
