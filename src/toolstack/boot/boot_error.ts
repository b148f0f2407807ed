/**
 * @module
 * The one error a boot plan raises when the guest cannot be booted as
 * configured. `code` names the failure for programs; the message names the
 * thing and the way out for people, e.g.
 * `pygrub: no bootloader config in /img/web.tar (looked for /boot/grub/grub.cfg, ...)`.
 */

/** Why a boot could not be planned. */
export type BootErrorCode =
  | "no_bootable_disk"
  | "disk_image_missing"
  | "disk_image_corrupt"
  | "no_bootloader_config"
  | "bootloader_config_invalid"
  | "no_boot_entries"
  | "entry_out_of_range"
  | "entry_not_found"
  | "kernel_missing"
  | "ramdisk_missing"
  | "bootloader_args_invalid"
  | "bootloader_unsupported"
  | "kernel_not_found"
  | "ramdisk_not_found"
  | "boot_policy_unsupported";

/** A guest that cannot be booted as configured. */
export class BootError extends Error {
  override name = "BootError";
  constructor(readonly code: BootErrorCode, message: string) {
    super(message);
  }
}
