/**
 * @module
 * XenAPI's VM boot parameters (seed `docs/xen-api/vm-lifecycle.tex`, "VM
 * boot parameters"; lifecycle-and-migration.md §2.3, §2.4):
 *
 * * `HVM_boot_policy` non-empty ⇒ HVM, booted by the emulated BIOS; the only
 *   policy is `"BIOS order"`, whose `HVM_boot_params["order"]` is passed to
 *   QEMU as is.
 * * Otherwise PV. `PV_bootloader` set ⇒ run it (`pygrub` or a dom0 path);
 *   `PV_kernel`, `PV_ramdisk`, `PV_args`, `PV_bootloader_args` go to it
 *   unmodified (all bootable disks are appended to its command line).
 *   `PV_bootloader` empty and `PV_kernel` set ⇒ kernel and ramdisk are dom0
 *   paths. Both empty ⇒ as if `PV_bootloader` were `"pygrub"`. `PV_args` is
 *   appended to the kernel command line whichever way the kernel is found.
 *
 * {@link xenapiBootPolicy} makes that decision; {@link xenapiBootConfig}
 * turns it into the {@link DomainConfig} fields `planBoot` reads.
 */
import type { DomainConfig } from "../domain_config.ts";
import { BootError } from "./boot_error.ts";
import { bootOrderProblem } from "../../platform/cmos_boot_order.ts";

/** The VM record fields that control booting (XenAPI spelling). */
export interface XenApiBootFields {
  readonly HVM_boot_policy: string;
  readonly HVM_boot_params: Readonly<Record<string, string>>;
  readonly PV_bootloader: string;
  readonly PV_kernel: string;
  readonly PV_ramdisk: string;
  readonly PV_args: string;
  readonly PV_bootloader_args: string;
}

/** The only HVM boot policy defined. */
export const HVM_BOOT_POLICY_BIOS_ORDER = "BIOS order";

export type XenApiBootDecision =
  | { readonly kind: "hvm-bios-order"; readonly order: string }
  | {
    readonly kind: "pv-kernel";
    readonly kernel: string;
    readonly ramdisk?: string;
    readonly args: string;
  }
  | {
    readonly kind: "pv-bootloader";
    readonly bootloader: string;
    readonly kernel?: string;
    readonly ramdisk?: string;
    readonly args: string;
    readonly bootloaderArgs: readonly string[];
  };

const opt = <K extends string>(key: K, v: string) =>
  v === "" ? {} : { [key]: v } as Record<K, string>;

/**
 * The boot decision for a VM record. Throws {@link BootError}
 * `boot_policy_unsupported` for an unknown HVM policy or a bad order.
 */
export function xenapiBootPolicy(vm: XenApiBootFields): XenApiBootDecision {
  if (vm.HVM_boot_policy !== "") {
    if (vm.HVM_boot_policy !== HVM_BOOT_POLICY_BIOS_ORDER) {
      throw new BootError(
        "boot_policy_unsupported",
        `HVM_boot_policy "${vm.HVM_boot_policy}" is not defined (the only policy is "BIOS order")`,
      );
    }
    const order = vm.HVM_boot_params["order"];
    if (order === undefined) {
      throw new BootError(
        "boot_policy_unsupported",
        'HVM_boot_policy "BIOS order" needs HVM_boot_params["order"] (e.g. "cd")',
      );
    }
    const problem = bootOrderProblem(order);
    if (problem !== undefined) {
      throw new BootError("boot_policy_unsupported", `HVM_boot_params["order"]: ${problem}`);
    }
    return { kind: "hvm-bios-order", order };
  }
  if (vm.PV_bootloader === "" && vm.PV_kernel !== "") {
    return {
      kind: "pv-kernel",
      kernel: vm.PV_kernel,
      ...opt("ramdisk", vm.PV_ramdisk),
      args: vm.PV_args,
    };
  }
  return {
    kind: "pv-bootloader",
    bootloader: vm.PV_bootloader === "" ? "pygrub" : vm.PV_bootloader,
    ...opt("kernel", vm.PV_kernel),
    ...opt("ramdisk", vm.PV_ramdisk),
    args: vm.PV_args,
    bootloaderArgs: vm.PV_bootloader_args.split(/[ \t\n]+/).filter((a) => a !== ""),
  };
}

/** The DomainConfig boot fields for a decision (merge them into a config). */
export function xenapiBootConfig(
  d: XenApiBootDecision,
): Pick<
  DomainConfig,
  "type" | "cmdline" | "bootloaderArgs" | "boot" | "kernel" | "ramdisk" | "bootloader"
> {
  switch (d.kind) {
    case "hvm-bios-order":
      return { type: "hvm", cmdline: "", bootloaderArgs: [], boot: d.order };
    case "pv-kernel":
      return {
        type: "pv",
        kernel: d.kernel,
        ...(d.ramdisk === undefined ? {} : { ramdisk: d.ramdisk }),
        cmdline: d.args,
        bootloaderArgs: [],
        boot: "cda",
      };
    case "pv-bootloader":
      return {
        type: "pv",
        bootloader: d.bootloader,
        ...(d.kernel === undefined ? {} : { kernel: d.kernel }),
        ...(d.ramdisk === undefined ? {} : { ramdisk: d.ramdisk }),
        cmdline: d.args,
        bootloaderArgs: d.bootloaderArgs,
        boot: "cda",
      };
  }
}
