/**
 * @module
 * dom0 files the scenarios boot from: a Debian-like disk image pygrub can
 * read (GRUB2 menu, kernel, initrd), a kernel for direct boot, and an HVM
 * disk.
 */
import { makeDiskImage } from "../src/toolstack/boot/tar_image.ts";

export const DEBIAN_IMAGE = "/var/lib/xen/images/debian.img";
export const DIRECT_KERNEL = "/boot/vmlinuz-6.1.0-xen";
export const HVM_DISK = "/var/lib/xen/images/win.img";

export function standardFiles(): Map<string, Uint8Array> {
  const kernel = new Uint8Array(24_000).fill(0x90);
  return new Map([
    [
      DEBIAN_IMAGE,
      makeDiskImage({
        "boot/grub/grub.cfg": "set default=0\nmenuentry 'Debian GNU/Linux, with Linux 6.1.0' {\n" +
          "  linux /boot/vmlinuz-6.1.0 root=/dev/xvda1 ro quiet\n  initrd /boot/initrd.img-6.1.0\n}\n",
        "boot/vmlinuz-6.1.0": kernel,
        "boot/initrd.img-6.1.0": new Uint8Array(8_000).fill(1),
      }),
    ],
    [DIRECT_KERNEL, kernel],
    [HVM_DISK, new Uint8Array(8192).fill(0x55)],
  ]);
}

/** The guest kinds the scenarios run. */
export type GuestKindName = "pv" | "pvhvm" | "hvm";

/**
 * A 32 MiB guest of each kind, as xl.cfg text: PV from the Debian image by
 * pygrub, PVHVM and HVM (no PV drivers) from the HVM disk; PV and PVHVM
 * with a vif on xenbr0. `name` defaults to `<kind>-guest`.
 */
export function kindConfig(kind: GuestKindName, name = `${kind}-guest`): string {
  switch (kind) {
    case "pv":
      return `name = "${name}"\nmemory = 32\nbootloader = "pygrub"\ndisk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`;
    case "pvhvm":
      return `name = "${name}"\ntype = "hvm"\nmemory = 32\ndisk = [ "${HVM_DISK},raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`;
    case "hvm":
      return `name = "${name}"\ntype = "hvm"\nmemory = 32\ndisk = [ "${HVM_DISK},raw,hda,w" ]\nxenlab_guest = "pv_drivers=0"\n`;
  }
}

/** `--kind` checked: one of pv, pvhvm, hvm. */
export function parseKind(arg: string | undefined): GuestKindName {
  const kind = arg ?? "pv";
  if (kind !== "pv" && kind !== "pvhvm" && kind !== "hvm") {
    throw new Error(`--kind must be pv, pvhvm or hvm, not ${JSON.stringify(kind)}`);
  }
  return kind;
}
