import assert from "node:assert/strict";
import { Rng } from "../../sim/rng.ts";
import { parseXlCfg } from "../config/xl_cfg.ts";
import type { DomainConfig } from "../domain_config.ts";
import { BootError, type BootErrorCode } from "./boot_error.ts";
import { PYGRUB_ARGV_MAX, pygrubArgv, pygrubForConfig, runPygrub } from "./pygrub.ts";
import { parseSimple0 } from "./simple0.ts";
import { makeDiskImage } from "./tar_image.ts";
import { centosBootImage, debianImage, fakeBlob, fakeDom0 } from "./testing.ts";

const IMG = "/srv/xen/web.img";
const dom0 = fakeDom0({ [IMG]: debianImage(), "/srv/xen/centos.img": centosBootImage() });

function web(extra = ""): DomainConfig {
  return parseXlCfg(
    `name = "web"\nbootloader = "pygrub"\ndisk = [ "${IMG},raw,xvda,w" ]\n${extra}`,
    new Rng(1),
  ).config;
}

function refusedWith(code: BootErrorCode, re: RegExp, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BootError, String(e));
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("pygrub: libxl's argv (§2.3): --kernel/--ramdisk/--args, output options, bootloader_args, disk", () => {
  const c = web('kernel = "/boot/vmlinuz"\nextra = "console=hvc0"\nbootloader_args = [ "-q" ]\n');
  assert.deepEqual(pygrubArgv(c, IMG), [
    "--kernel=/boot/vmlinuz",
    "--args=console=hvc0",
    "--output=/var/run/xen/bootloader.d/output",
    "--output-format=simple0",
    "--output-directory=/var/run/xen/bootloader.d",
    "-q",
    IMG,
  ]);
});

Deno.test("pygrub: GRUB 2 default entry, with the config's command line appended after a blank", () => {
  const r = pygrubForConfig(web('extra = "console=hvc0"\n'), dom0);
  assert.deepEqual(r.entry, { index: 0, title: "Debian GNU/Linux" });
  assert.equal(r.configFile, "/boot/grub/grub.cfg");
  assert.deepEqual(r.kernel, fakeBlob("vmlinuz-6.1.0-18-amd64"));
  assert.deepEqual(r.ramdisk, fakeBlob("initrd.img-6.1.0-18-amd64"));
  assert.equal(r.cmdline, "root=UUID=4f0f ro  quiet console=hvc0");
  assert.equal(r.kernelPath, "/boot/vmlinuz-6.1.0-18-amd64");
  assert.deepEqual(parseSimple0(r.simple0), {
    ok: true,
    output: {
      kernel: "/boot/vmlinuz-6.1.0-18-amd64",
      ramdisk: "/boot/initrd.img-6.1.0-18-amd64",
      args: "root=UUID=4f0f ro  quiet console=hvc0",
    },
    warnings: [],
  });
  assert.equal(pygrubForConfig(web(), dom0).cmdline, "root=UUID=4f0f ro  quiet");
});

Deno.test("pygrub: --entry by index or title; --args in bootloader_args overrides libxl's", () => {
  const byIndex = pygrubForConfig(web('bootloader_args = [ "--entry=2" ]\n'), dom0);
  assert.equal(byIndex.entry!.title, "Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)");
  assert.equal(byIndex.cmdline, "root=UUID=4f0f ro single");
  const byTitle = pygrubForConfig(
    web('bootloader_args = [ "--entry", "Debian GNU/Linux, with Linux 6.1.0-18-amd64" ]\n'),
    dom0,
  );
  assert.equal(byTitle.entry!.index, 1);
  const args = pygrubForConfig(web('extra = "a"\nbootloader_args = [ "--args=b" ]\n'), dom0);
  assert.equal(args.cmdline, "root=UUID=4f0f ro  quiet b");
  const abbreviated = pygrubForConfig(web('bootloader_args = [ "--ent=1", "-q" ]\n'), dom0);
  assert.equal(abbreviated.entry!.index, 1);
});

Deno.test("pygrub: GRUB legacy grub.conf on a /boot partition, default=1, entry with no args of its own", () => {
  const r = runPygrub(["--args=console=xvc0", "/srv/xen/centos.img"], dom0);
  assert.equal(r.configFile, "/grub/grub.conf");
  assert.deepEqual(r.entry, { index: 1, title: "CentOS (2.6.18-371.el5xen)" });
  assert.deepEqual(r.kernel, fakeBlob("vmlinuz-371"));
  assert.equal(r.cmdline, "ro root=/dev/VolGroup00/LogVol00 console=xvc0 console=xvc0");
  const noArgs = makeDiskImage({ "/boot/grub/menu.lst": "title x\nkernel /k\n", "/k": "K" });
  const r2 = runPygrub(["--args=quiet", "/i"], fakeDom0({ "/i": noArgs }));
  assert.equal(r2.cmdline, " quiet"); // pygrub: "" + " " + args
  assert.equal(r2.ramdisk, undefined);
});

Deno.test("pygrub: --kernel= takes the kernel from the image and skips the menu", () => {
  const r = pygrubForConfig(
    web('kernel = "/boot/vmlinuz-6.1.0-18-amd64"\nextra = "init=/bin/sh"\n'),
    dom0,
  );
  assert.equal(r.entry, undefined);
  assert.equal(r.configFile, undefined);
  assert.equal(r.cmdline, "init=/bin/sh");
  assert.equal(r.ramdisk, undefined);
  assert.deepEqual(r.kernel, fakeBlob("vmlinuz-6.1.0-18-amd64"));
});

Deno.test("pygrub: a menu default naming no entry falls back to entry 0 with a warning", () => {
  const img = makeDiskImage({
    "/boot/grub/grub.cfg": "set default=5\nmenuentry 'only' {\nlinux /k\n}\n",
    "/k": "K",
  });
  const r = runPygrub(["/i"], fakeDom0({ "/i": img }));
  assert.equal(r.entry!.index, 0);
  assert.deepEqual(r.warnings, [
    'pygrub: /boot/grub/grub.cfg: default "5" names no entry (1 entries); using entry 0',
  ]);
});

Deno.test("pygrub: every failure is a named BootError", () => {
  const only = (files: Record<string, string>) => fakeDom0({ "/i": makeDiskImage(files) });
  refusedWith(
    "no_bootable_disk",
    /domain "web" has no disk to boot from \(disk = \[ ... \] is empty\)/,
    () => pygrubForConfig({ ...web(), disks: [] }, dom0),
  );
  refusedWith(
    "no_bootable_disk",
    /its first disk hdc is an empty CD-ROM drive/,
    () =>
      pygrubForConfig(
        parseXlCfg('name="web"\nbootloader="pygrub"\ndisk=[",hdc:cdrom,r"]\n', new Rng(1)).config,
        dom0,
      ),
  );
  refusedWith(
    "disk_image_missing",
    /disk image \/nope does not exist in dom0/,
    () => runPygrub(["/nope"], dom0),
  );
  refusedWith("disk_image_corrupt", /unable to read \/i: .*checksum mismatch/, () => {
    const img = debianImage();
    img[10] ^= 1;
    return runPygrub(["/i"], fakeDom0({ "/i": img }));
  });
  refusedWith(
    "no_bootloader_config",
    /couldn't find bootloader config file in \/i \(looked for \/boot\/grub\/grub.cfg, /,
    () => runPygrub(["/i"], only({ "/etc/fstab": "" })),
  );
  refusedWith(
    "no_boot_entries",
    /\/boot\/grub\/grub.cfg has no boot entries/,
    () => runPygrub(["/i"], only({ "/boot/grub/grub.cfg": "set timeout=5\n" })),
  );
  refusedWith(
    "entry_out_of_range",
    /--entry=3 is out of range: \/boot\/grub\/grub.cfg has 3 entries \(0..2\)/,
    () => runPygrub(["--entry=3", IMG], dom0),
  );
  refusedWith(
    "entry_not_found",
    /--entry="Windows" matches no title .*"Debian GNU\/Linux"/,
    () => runPygrub(["--entry=Windows", IMG], dom0),
  );
  refusedWith(
    "kernel_missing",
    /entry 0 \("a"\) of \/boot\/grub\/grub.cfg names kernel \/vmlinuz, but \/i has no such file/,
    () =>
      runPygrub(["/i"], only({ "/boot/grub/grub.cfg": "menuentry 'a' {\nlinux /vmlinuz ro\n}\n" })),
  );
  refusedWith(
    "kernel_missing",
    /entry 0 \("a"\) of \/boot\/grub\/grub.cfg has no linux\/kernel line/,
    () => runPygrub(["/i"], only({ "/boot/grub/grub.cfg": "menuentry 'a' {\necho hi\n}\n" })),
  );
  refusedWith(
    "ramdisk_missing",
    /names ramdisk \/initrd, but \/i has no such file/,
    () =>
      runPygrub(
        ["/i"],
        only({
          "/boot/grub/grub.cfg": "menuentry 'a' {\nlinux /k\ninitrd /initrd\n}\n",
          "/k": "K",
        }),
      ),
  );
  refusedWith(
    "kernel_missing",
    /--kernel names kernel \/boot\/nope/,
    () => runPygrub(["--kernel=/boot/nope", IMG], dom0),
  );
  refusedWith(
    "bootloader_config_invalid",
    /syntax error: closing brace without menuentry/,
    () => runPygrub(["/i"], only({ "/boot/grub/grub.cfg": "}\n" })),
  );
});

Deno.test("pygrub: bad command lines are refused with pygrub's usage", () => {
  const bad = (argv: string[], re: RegExp) =>
    refusedWith("bootloader_args_invalid", re, () => runPygrub(argv, dom0));
  bad(["--colour=blue", IMG], /option --colour not recognized\nUsage: pygrub /);
  bad(["--o=x", IMG], /option --o not a unique prefix/);
  bad(["-x", IMG], /option -x not recognized/);
  bad(["--quiet=1", IMG], /option --quiet must not have an argument/);
  bad([IMG, "--entry"], /option --entry requires argument/);
  bad(["--output-format=sxp", IMG], /output format sxp: libxl reads simple0 only/);
  bad(["--isconfig", IMG], /--isconfig .* not supported/);
  bad(["-q"], /no disk image given/);
  bad(Array.from({ length: PYGRUB_ARGV_MAX + 1 }, () => "-q"), /257 arguments \(limit 256\)/);
  assert.equal(runPygrub([...Array(PYGRUB_ARGV_MAX - 1).fill("-q"), IMG], dom0).entry!.index, 0);
});
