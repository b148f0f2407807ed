import assert from "node:assert/strict";
import type { DomainConfig } from "../domain_config.ts";
import { BootError } from "./boot_error.ts";
import { planBoot } from "./boot_plan.ts";
import { debianImage, fakeBlob, fakeDom0 } from "./testing.ts";
import { xenapiBootConfig, type XenApiBootFields, xenapiBootPolicy } from "./xenapi_boot_policy.ts";

const VM: XenApiBootFields = {
  HVM_boot_policy: "",
  HVM_boot_params: {},
  PV_bootloader: "",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};

Deno.test("xenapi boot: HVM_boot_policy 'BIOS order' passes the order through", () => {
  assert.deepEqual(
    xenapiBootPolicy({ ...VM, HVM_boot_policy: "BIOS order", HVM_boot_params: { order: "dc" } }),
    { kind: "hvm-bios-order", order: "dc" },
  );
});

Deno.test("xenapi boot: PV_bootloader empty + PV_kernel set ⇒ kernel and ramdisk in dom0, PV_args the command line", () => {
  assert.deepEqual(
    xenapiBootPolicy({
      ...VM,
      PV_kernel: "/boot/vmlinuz",
      PV_ramdisk: "/boot/initrd",
      PV_args: "ro",
    }),
    { kind: "pv-kernel", kernel: "/boot/vmlinuz", ramdisk: "/boot/initrd", args: "ro" },
  );
  assert.deepEqual(xenapiBootPolicy({ ...VM, PV_kernel: "/k" }), {
    kind: "pv-kernel",
    kernel: "/k",
    args: "",
  });
});

Deno.test("xenapi boot: both empty ⇒ pygrub; a bootloader gets every PV_ field unmodified", () => {
  assert.deepEqual(xenapiBootPolicy(VM), {
    kind: "pv-bootloader",
    bootloader: "pygrub",
    args: "",
    bootloaderArgs: [],
  });
  assert.deepEqual(
    xenapiBootPolicy({
      ...VM,
      PV_bootloader: "/usr/bin/pygrub",
      PV_kernel: "/boot/vmlinuz",
      PV_args: "console=hvc0",
      PV_bootloader_args: "-q  --entry=1",
    }),
    {
      kind: "pv-bootloader",
      bootloader: "/usr/bin/pygrub",
      kernel: "/boot/vmlinuz",
      args: "console=hvc0",
      bootloaderArgs: ["-q", "--entry=1"],
    },
  );
});

Deno.test("xenapi boot: unknown policies and bad orders are refused", () => {
  const refused = (vm: XenApiBootFields, re: RegExp) =>
    assert.throws(() => xenapiBootPolicy(vm), (e: unknown) => {
      assert.ok(e instanceof BootError && e.code === "boot_policy_unsupported");
      assert.match(e.message, re);
      return true;
    });
  refused({ ...VM, HVM_boot_policy: "UEFI" }, /HVM_boot_policy "UEFI" is not defined/);
  refused({ ...VM, HVM_boot_policy: "BIOS order" }, /needs HVM_boot_params\["order"\]/);
  refused(
    { ...VM, HVM_boot_policy: "BIOS order", HVM_boot_params: { order: "cdnx" } },
    /HVM_boot_params\["order"\]: too many boot devices/,
  );
});

Deno.test("xenapi boot: the decision drives planBoot end to end (pygrub by default, dom0 kernel, BIOS)", () => {
  const base: DomainConfig = {
    name: "vm",
    type: "pv",
    memoryMb: 256,
    maxmemMb: 256,
    vcpus: 1,
    maxvcpus: 1,
    cmdline: "",
    bootloaderArgs: [],
    boot: "cda",
    vifs: [],
    disks: [{
      vdev: "xvda",
      devid: 51712,
      target: "/vdi/root",
      format: "raw",
      access: "w",
      deviceType: "disk",
      backendType: "phy",
    }],
    onPoweroff: "destroy",
    onReboot: "restart",
    onCrash: "destroy",
    onWatchdog: "destroy",
    onSoftReset: "soft-reset",
    guest: { profile: "well-behaved", pvDrivers: true },
  };
  const dom0 = fakeDom0({ "/vdi/root": debianImage(), "/boot/vmlinuz": fakeBlob("k") });
  const viaPygrub = planBoot({
    ...base,
    ...xenapiBootConfig(xenapiBootPolicy({ ...VM, PV_args: "quiet" })),
  }, dom0);
  assert.equal(viaPygrub.mode, "bootloader");
  assert.equal(
    viaPygrub.mode === "bootloader" && viaPygrub.cmdline,
    "root=UUID=4f0f ro  quiet quiet",
  );
  const direct = planBoot(
    {
      ...base,
      ...xenapiBootConfig(xenapiBootPolicy({ ...VM, PV_kernel: "/boot/vmlinuz", PV_args: "ro" })),
    },
    dom0,
  );
  assert.deepEqual(direct, {
    mode: "direct-kernel",
    kernel: fakeBlob("k"),
    cmdline: "ro",
    kernelPath: "/boot/vmlinuz",
  });
  const hvm = planBoot(
    {
      ...base,
      ...xenapiBootConfig(
        xenapiBootPolicy({
          ...VM,
          HVM_boot_policy: "BIOS order",
          HVM_boot_params: { order: "nc" },
        }),
      ),
    },
    dom0,
  );
  assert.deepEqual(hvm, {
    mode: "bios",
    firmware: "seabios",
    bootOrder: "nc",
    cmosBootOrder: { reg3d: 0x24, reg38: 0 },
  });
});
