/**
 * @module
 * The {@link DomainOps} libxl uses: boot planning (`boot/`) and the device
 * workflows (`devices/`), with the run's fault points.
 */
import type { Faults } from "../../sim/faults.ts";
import { planBoot } from "../boot/boot_plan.ts";
import { addConsole } from "../devices/add_console.ts";
import { addDisk } from "../devices/add_disk.ts";
import { addVif } from "../devices/add_vif.ts";
import { removeAllDevices } from "../devices/remove_device.ts";
import type { BootImage, DomainOps } from "./domain_ops.ts";

export function libxlDomainOps(faults?: Faults): DomainOps {
  return {
    planBoot(config, dom0): BootImage {
      const p = planBoot(config, dom0);
      switch (p.mode) {
        case "bios":
          return { mode: "bios", bootOrder: p.bootOrder, cmos: p.cmosBootOrder };
        case "direct-kernel":
          return {
            mode: p.mode,
            kernel: p.kernel,
            ramdisk: p.ramdisk,
            cmdline: p.cmdline,
            kernelPath: p.kernelPath,
            ramdiskPath: p.ramdiskPath,
          };
        case "bootloader":
          return { mode: p.mode, kernel: p.kernel, ramdisk: p.ramdisk, cmdline: p.cmdline };
      }
    },
    addDisk: (tc, domid, disk) => addDisk(tc, domid, disk, { faults }),
    addVif: (tc, domid, vif) => addVif(tc, domid, vif, { faults }),
    addConsole: (tc, domid, c) => addConsole(tc, domid, c, { faults }),
    removeAllDevices: (tc, domid, force) => removeAllDevices(tc, domid, force, { faults }),
  };
}
