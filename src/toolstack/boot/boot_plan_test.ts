import assert from "node:assert/strict";
import { Rng } from "../../sim/rng.ts";
import { parseXlCfg } from "../config/xl_cfg.ts";
import type { DomainConfig } from "../domain_config.ts";
import { biosSelectBootDevice } from "../../platform/bios_boot.ts";
import { BootError } from "./boot_error.ts";
import { hvmFirmware, isPygrub, planBoot } from "./boot_plan.ts";
import { parseSimple0 } from "./simple0.ts";
import { decodeDiskImage, makeDiskImage } from "./tar_image.ts";
import { debianImage, fakeBlob, fakeDom0 } from "./testing.ts";

const cfg = (text: string): DomainConfig => parseXlCfg(text, new Rng(3)).config;

Deno.test("boot plan: direct kernel — dom0 kernel and ramdisk, root=/extra command line", () => {
  const dom0 = fakeDom0({
    "/boot/vmlinuz-6.1.0-18-amd64": fakeBlob("dom0 kernel"),
    "/boot/initrd.img-6.1.0-18-amd64": fakeBlob("dom0 initrd"),
  });
  const plan = planBoot(
    cfg(`name = 'db'
kernel = '/boot/vmlinuz-6.1.0-18-amd64'
ramdisk = '/boot/initrd.img-6.1.0-18-amd64'
root = '/dev/xvda2 ro'
extra = 'elevator=noop'
`),
    dom0,
  );
  assert.deepEqual(plan, {
    mode: "direct-kernel",
    kernel: fakeBlob("dom0 kernel"),
    ramdisk: fakeBlob("dom0 initrd"),
    ramdiskPath: "/boot/initrd.img-6.1.0-18-amd64",
    cmdline: "root=/dev/xvda2 ro elevator=noop",
    kernelPath: "/boot/vmlinuz-6.1.0-18-amd64",
  });
});

Deno.test("boot plan: host bootloader — pygrub reads the guest's own disk", () => {
  const dom0 = fakeDom0({ "/dev/vg0/web-disk": debianImage() });
  const plan = planBoot(
    cfg(`name = "web"
type = "pvh"
bootloader = "/usr/lib/xen/bin/pygrub"
extra = "console=hvc0"
disk = [ 'phy:/dev/vg0/web-disk,xvda,w' ]
`),
    dom0,
  );
  assert.equal(plan.mode, "bootloader");
  if (plan.mode !== "bootloader") return;
  assert.equal(plan.bootloader, "/usr/lib/xen/bin/pygrub");
  assert.equal(plan.entryTitle, "Debian GNU/Linux");
  assert.deepEqual(plan.kernel, fakeBlob("vmlinuz-6.1.0-18-amd64"));
  assert.deepEqual(plan.ramdisk, fakeBlob("initrd.img-6.1.0-18-amd64"));
  assert.equal(plan.cmdline, "root=UUID=4f0f ro  quiet console=hvc0");
  const handoff = parseSimple0(plan.simple0);
  assert.ok(handoff.ok);
  assert.equal(handoff.output.args, plan.cmdline);
});

Deno.test("boot plan: BIOS — boot=dc in CMOS, and the BIOS then boots the disk when the CD is not bootable", () => {
  const plan = planBoot(
    cfg(`type = "hvm"
name = "win"
boot = "dc"
disk = [ 'file:/img/win.img,hda,w', 'file:/iso/data.iso,hdc:cdrom,r' ]
`),
    fakeDom0({}),
  );
  assert.deepEqual(plan, {
    mode: "bios",
    firmware: "seabios",
    bootOrder: "dc",
    cmosBootOrder: { reg3d: 0x23, reg38: 0x00 },
  });
  if (plan.mode !== "bios") return;
  const boot = biosSelectBootDevice(plan.cmosBootOrder, [
    { kind: "disk", bootable: true },
    { kind: "cdrom", bootable: false },
  ]);
  assert.equal(boot.device?.kind, "disk");
  assert.deepEqual(boot.console, [
    "Booting from DVD/CD...",
    "Boot failed: Could not read from CDROM",
    "Booting from Hard Disk...",
  ]);
});

Deno.test("boot plan: an HVM guest with kernel= boots it directly (QEMU -kernel), firmware names map as libxl's", () => {
  const plan = planBoot(
    cfg('type="hvm"\nname="k"\nkernel="/boot/vmlinuz"\ncmdline="console=ttyS0"\n'),
    fakeDom0({ "/boot/vmlinuz": "K" }),
  );
  assert.equal(plan.mode, "direct-kernel");
  assert.equal(plan.mode === "direct-kernel" && plan.cmdline, "console=ttyS0");
  assert.deepEqual(
    ["bios", "seabios", "uefi", "ovmf", "rombios", "/opt/fw.bin", undefined].map(hvmFirmware),
    ["seabios", "seabios", "ovmf", "ovmf", "rombios", "/opt/fw.bin", "seabios"],
  );
  const uefi = planBoot(cfg('type="hvm"\nname="u"\nfirmware="uefi"\n'), fakeDom0({}));
  assert.equal(uefi.mode === "bios" && uefi.firmware, "ovmf");
  assert.deepEqual(
    [isPygrub("pygrub"), isPygrub("/usr/bin/pygrub"), isPygrub("/usr/bin/pv-grub")],
    [
      true,
      true,
      false,
    ],
  );
});

Deno.test("boot plan: refusals are named — unsupported bootloader, kernel or ramdisk missing in dom0", () => {
  const refused = (code: string, re: RegExp, config: DomainConfig) =>
    assert.throws(() => planBoot(config, fakeDom0({ "/k": "K" })), (e: unknown) => {
      assert.ok(e instanceof BootError);
      assert.equal(e.code, code);
      assert.match(e.message, re);
      return true;
    });
  refused(
    "bootloader_unsupported",
    /bootloader "\/usr\/bin\/pv-grub" \(domain "a"\): only pygrub is modelled by xenlab/,
    cfg('name="a"\nbootloader="/usr/bin/pv-grub"\n'),
  );
  refused(
    "kernel_not_found",
    /kernel \/boot\/missing: no such file in dom0 \(domain "a"\); fix kernel= in its config/,
    cfg('name="a"\nkernel="/boot/missing"\n'),
  );
  refused(
    "ramdisk_not_found",
    /ramdisk \/initrd: no such file in dom0/,
    cfg('name="a"\nkernel="/k"\nramdisk="/initrd"\n'),
  );
  refused("no_bootable_disk", /has no disk to boot from/, cfg('name="a"\nbootloader="pygrub"\n'));
});

Deno.test("boot plan: the disk image the test builds is a real ustar archive", () => {
  const img = makeDiskImage({ "/boot/grub/grub.cfg": "x" });
  const r = decodeDiskImage(img);
  assert.ok(r.ok);
  assert.deepEqual([...r.files.keys()], ["/boot/grub/grub.cfg"]);
});
