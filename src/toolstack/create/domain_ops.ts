/**
 * @module
 * What creation and destruction need from parts built elsewhere: device
 * attach/detach (`devices/`) and boot planning (`boot/`). Injected, so the
 * pipeline is written once and tested with the real parts.
 */
import type { DiskConfig, DomainConfig, VifConfig } from "../domain_config.ts";
import type { Dom0Resources, ToolstackContext } from "../toolstack_context.ts";
import type { CmosBootOrder } from "../../platform/cmos_boot_order.ts";

/** The kernel a PV/PVH guest boots, or the firmware boot of an HVM guest. */
export type BootImage =
  | {
    readonly mode: "direct-kernel" | "bootloader";
    readonly kernel: Uint8Array;
    readonly ramdisk?: Uint8Array;
    readonly cmdline: string;
    readonly kernelPath?: string;
    readonly ramdiskPath?: string;
  }
  | { readonly mode: "bios"; readonly bootOrder: string; readonly cmos: CmosBootOrder };

export interface DomainOps {
  planBoot(config: DomainConfig, dom0: Dom0Resources): BootImage;
  addDisk(tc: ToolstackContext, domid: number, disk: DiskConfig): Promise<void>;
  addVif(tc: ToolstackContext, domid: number, vif: VifConfig): Promise<void>;
  addConsole(
    tc: ToolstackContext,
    domid: number,
    c: { port: number; ringRef: number; backendType: "xenconsoled" | "ioemu" },
  ): Promise<void>;
  /** Removes every device of the domain (`force`: no guest cooperation, §7.6). */
  removeAllDevices(tc: ToolstackContext, domid: number, force: boolean): Promise<void>;
}
