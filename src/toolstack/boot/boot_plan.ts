/**
 * @module
 * How a domain boots, decided from its configuration and dom0's files — the
 * three boot modes of libvirt's domain format (seed "Xen Virtual Machine
 * startup (BOOT) Mode"), as xl/libxl carry them out:
 *
 * * **direct kernel** — `kernel=` (and `ramdisk=`) are files in dom0; the
 *   command line is the config's (`cmdline=`, or `root=`/`extra=`, §2.3).
 *   PV and PVH through the domain builder; HVM through QEMU's `-kernel`.
 * * **host bootloader** — PV/PVH with `bootloader=`: pygrub reads the
 *   guest's own disk and picks kernel, ramdisk and arguments (see
 *   `pygrub.ts`). Only pygrub is modelled; another bootloader is refused.
 *   With both `bootloader=` and `kernel=`, the bootloader runs and gets
 *   `--kernel=` (a path inside the guest image), as libxl does.
 * * **BIOS** — HVM without `kernel=`: hvmloader then the BIOS, which boots
 *   from the devices in `boot=` order, passed through CMOS (§2.4; see
 *   `cmos_boot_order.ts` and, for the BIOS side, `bios_boot_device.ts`).
 */
import type { DomainConfig } from "../domain_config.ts";
import type { Dom0Resources } from "../toolstack_context.ts";
import { BootError } from "./boot_error.ts";
import { type CmosBootOrder, cmosBootOrder } from "../../platform/cmos_boot_order.ts";
import { pygrubForConfig } from "./pygrub.ts";

/** What the guest receives. */
export type BootPlan =
  | {
    readonly mode: "direct-kernel";
    readonly kernel: Uint8Array;
    readonly ramdisk?: Uint8Array;
    readonly cmdline: string;
    /** Paths in dom0. */
    readonly kernelPath: string;
    readonly ramdiskPath?: string;
  }
  | {
    readonly mode: "bootloader";
    /** `pygrub` or the configured path to it. */
    readonly bootloader: string;
    readonly kernel: Uint8Array;
    readonly ramdisk?: Uint8Array;
    readonly cmdline: string;
    /** The menu entry booted; undefined when `--kernel=` bypassed the menu. */
    readonly entryTitle?: string;
    /** What pygrub wrote for libxl (simple0). */
    readonly simple0: Uint8Array;
    readonly warnings: readonly string[];
  }
  | {
    readonly mode: "bios";
    /** `seabios`, `rombios`, `ovmf`, or a firmware path (`firmware=`). */
    readonly firmware: string;
    /** xl `boot=` letters. */
    readonly bootOrder: string;
    readonly cmosBootOrder: CmosBootOrder;
  };

/** `firmware=` → the BIOS libxl runs (libxl's default with qemu-xen is SeaBIOS). */
export function hvmFirmware(firmware: string | undefined): string {
  switch (firmware) {
    case undefined:
    case "bios":
    case "seabios":
      return "seabios";
    case "uefi":
    case "ovmf":
      return "ovmf";
    default:
      return firmware; // rombios, or a path to a custom firmware
  }
}

/** Whether a `bootloader=` value is pygrub (by name or by path). */
export function isPygrub(bootloader: string): boolean {
  return bootloader.split("/").pop() === "pygrub";
}

function dom0File(
  dom0: Dom0Resources,
  path: string,
  what: "kernel" | "ramdisk",
  domain: string,
): Uint8Array {
  const bytes = dom0.readFile(path);
  if (bytes === undefined) {
    throw new BootError(
      what === "kernel" ? "kernel_not_found" : "ramdisk_not_found",
      `${what} ${path}: no such file in dom0 (domain "${domain}"); fix ${what}= in its config`,
    );
  }
  return bytes;
}

function directKernel(config: DomainConfig, kernelPath: string, dom0: Dom0Resources): BootPlan {
  const kernel = dom0File(dom0, kernelPath, "kernel", config.name);
  const ramdisk = config.ramdisk === undefined
    ? undefined
    : dom0File(dom0, config.ramdisk, "ramdisk", config.name);
  return {
    mode: "direct-kernel",
    kernel,
    ...(ramdisk === undefined ? {} : { ramdisk, ramdiskPath: config.ramdisk }),
    cmdline: config.cmdline,
    kernelPath,
  };
}

function bootloader(config: DomainConfig, name: string, dom0: Dom0Resources): BootPlan {
  if (!isPygrub(name)) {
    throw new BootError(
      "bootloader_unsupported",
      `bootloader "${name}" (domain "${config.name}"): only pygrub is modelled by xenlab; ` +
        `use bootloader = "pygrub" or boot a dom0 kernel with kernel = "..."`,
    );
  }
  const r = pygrubForConfig(config, dom0);
  return {
    mode: "bootloader",
    bootloader: name,
    kernel: r.kernel,
    ...(r.ramdisk === undefined ? {} : { ramdisk: r.ramdisk }),
    cmdline: r.cmdline,
    ...(r.entry === undefined ? {} : { entryTitle: r.entry.title }),
    simple0: r.simple0,
    warnings: r.warnings,
  };
}

/**
 * Plans the boot of `config` against dom0's files. Throws
 * {@link BootError} when the guest cannot boot as configured.
 *
 * @example
 * ```ts
 * import { planBoot } from "./boot_plan.ts";
 * // HVM, boot = "dc":
 * // planBoot(config, dom0) → { mode: "bios", firmware: "seabios", bootOrder: "dc",
 * //                            cmosBootOrder: { reg3d: 0x23, reg38: 0x00 } }
 * ```
 */
export function planBoot(config: DomainConfig, dom0: Dom0Resources): BootPlan {
  switch (config.type) {
    case "hvm":
      if (config.kernel !== undefined) return directKernel(config, config.kernel, dom0);
      return {
        mode: "bios",
        firmware: hvmFirmware(config.firmware),
        bootOrder: config.boot,
        cmosBootOrder: cmosBootOrder(config.boot),
      };
    case "pv":
    case "pvh":
      if (config.bootloader !== undefined) return bootloader(config, config.bootloader, dom0);
      if (config.kernel !== undefined) return directKernel(config, config.kernel, dom0);
      throw new BootError(
        "kernel_not_found",
        `domain "${config.name}" (${config.type}): neither kernel nor bootloader specified`,
      );
  }
}
