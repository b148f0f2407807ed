import assert from "node:assert/strict";
import { Rng } from "../../sim/rng.ts";
import type { DomainConfig } from "../domain_config.ts";
import { parseCInteger } from "./cfg_reader.ts";
import { ConfigError } from "./config_error.ts";
import { parseXlCfg } from "./xl_cfg.ts";

const rng = () => new Rng(7);

/** A Debian PV guest booted through pygrub, as people write them. */
const PV_PYGRUB = `# /etc/xen/web.cfg
name        = "web"
bootloader  = "pygrub"
memory      = 1024
maxmem      = 2048
vcpus       = 2
maxvcpus    = 4
uuid        = "4F0F1E4C-1D43-4B77-A0E5-6B9B6F1F2E3D"
extra       = "console=hvc0 elevator=noop"
bootloader_args = [ "--entry=1" ]
disk        = [ 'phy:/dev/vg0/web-disk,xvda2,w',
                'phy:/dev/vg0/web-swap,xvda1,w' ]
vif         = [ 'mac=00:16:3e:11:22:33,bridge=xenbr0' ]
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
`;

/** A xen-tools generated PV guest with a dom0 kernel (direct kernel boot). */
const PV_DIRECT = `#
# Configuration file for the Xen instance db, created
# by xen-tools 4.9 on Tue Mar  5 10:00:00 2024.
#

#
#  Kernel + memory size
#
kernel      = '/boot/vmlinuz-6.1.0-18-amd64'
extra       = 'elevator=noop'
ramdisk     = '/boot/initrd.img-6.1.0-18-amd64'

vcpus       = '1'
memory      = '512'

#
#  Disk device(s).
#
root        = '/dev/xvda2 ro'
disk        = [
                  'file:/srv/xen/domains/db/disk.img,xvda2,w',
                  'file:/srv/xen/domains/db/swap.img,xvda1,w',
              ]

#
#  Physical volumes
#

#
#  Hostname
#
name        = 'db'

#
#  Networking
#
dhcp        = 'dhcp'
vif         = [ 'mac=00:16:3E:7B:4C:1A' ]

#
#  Behaviour
#
on_poweroff = 'destroy'
on_reboot   = 'restart'
on_crash    = 'restart'
`;

/** An HVM guest booting from CD first, then disk. */
const HVM = `type = "hvm"
name = "win"
memory = 4096
vcpus = 4
boot = "dc"
firmware = "seabios"
disk = [ 'format=qcow2, vdev=hda, access=rw, target=/var/lib/xen/images/win.qcow2',
         '/srv/iso/install.iso,raw,hdc,cdrom' ]
vif = [ 'type=ioemu, model=e1000, bridge=xenbr0', '' ]
vnc = 1
vnclisten = "0.0.0.0"
serial = 'pty'
usbdevice = 'tablet'
on_crash = 'preserve'
xenlab_guest = "profile=no-suspend,pv_drivers=0"
`;

Deno.test("xl.cfg: a PV guest with pygrub", () => {
  const { config, warnings } = parseXlCfg(PV_PYGRUB, rng());
  assert.deepEqual(
    config,
    {
      name: "web",
      type: "pv",
      memoryMb: 1024,
      maxmemMb: 2048,
      vcpus: 2,
      maxvcpus: 4,
      uuid: "4f0f1e4c-1d43-4b77-a0e5-6b9b6f1f2e3d",
      cmdline: "console=hvc0 elevator=noop",
      bootloader: "pygrub",
      bootloaderArgs: ["--entry=1"],
      boot: "cda",
      disks: [
        {
          vdev: "xvda2",
          devid: 51714,
          target: "/dev/vg0/web-disk",
          format: "raw",
          access: "w",
          deviceType: "disk",
          backendType: "phy",
        },
        {
          vdev: "xvda1",
          devid: 51713,
          target: "/dev/vg0/web-swap",
          format: "raw",
          access: "w",
          deviceType: "disk",
          backendType: "phy",
        },
      ],
      vifs: [{
        devid: 0,
        mac: "00:16:3e:11:22:33",
        bridge: "xenbr0",
        script: "vif-bridge",
        type: "vif",
      }],
      onPoweroff: "destroy",
      onReboot: "restart",
      onCrash: "restart",
      onWatchdog: "destroy",
      onSoftReset: "soft-reset",
      guest: { profile: "well-behaved", pvDrivers: true },
    } satisfies DomainConfig,
  );
  assert.deepEqual(warnings, []);
});

Deno.test("xl.cfg: a xen-tools PV guest with a dom0 kernel, root= and extra=", () => {
  const { config, warnings } = parseXlCfg(PV_DIRECT, rng());
  assert.equal(config.name, "db");
  assert.equal(config.kernel, "/boot/vmlinuz-6.1.0-18-amd64");
  assert.equal(config.ramdisk, "/boot/initrd.img-6.1.0-18-amd64");
  assert.equal(config.bootloader, undefined);
  assert.equal(config.cmdline, "root=/dev/xvda2 ro elevator=noop"); // xl_parse: "root=%s %s"
  assert.equal(config.memoryMb, 512); // a quoted number is a number, as in xl
  assert.equal(config.maxmemMb, 512);
  assert.equal(config.vcpus, 1);
  assert.equal(config.maxvcpus, 1);
  assert.deepEqual(config.disks.map((d) => [d.vdev, d.devid, d.target]), [
    ["xvda2", 51714, "/srv/xen/domains/db/disk.img"],
    ["xvda1", 51713, "/srv/xen/domains/db/swap.img"],
  ]);
  assert.equal(config.vifs[0].mac, "00:16:3e:7b:4c:1a");
  assert.deepEqual(warnings, ['line 37: ignoring unknown key "dhcp" (not used by xenlab)']);
});

Deno.test("xl.cfg: an HVM guest with boot=dc, a qcow2 disk, a CD-ROM and two vifs", () => {
  const { config, warnings } = parseXlCfg(HVM, new Rng(99));
  const mac = parseXlCfg(HVM, new Rng(99)).config.vifs[1].mac;
  assert.deepEqual(
    config,
    {
      name: "win",
      type: "hvm",
      memoryMb: 4096,
      maxmemMb: 4096,
      vcpus: 4,
      maxvcpus: 4,
      cmdline: "",
      bootloaderArgs: [],
      firmware: "seabios",
      boot: "dc",
      disks: [
        {
          vdev: "hda",
          devid: 768,
          target: "/var/lib/xen/images/win.qcow2",
          format: "qcow2",
          access: "w",
          deviceType: "disk",
          backendType: "qdisk",
        },
        {
          vdev: "hdc",
          devid: 5632,
          target: "/srv/iso/install.iso",
          format: "raw",
          access: "r",
          deviceType: "cdrom",
          backendType: "phy",
        },
      ],
      vifs: [
        {
          devid: 0,
          mac: config.vifs[0].mac,
          bridge: "xenbr0",
          script: "vif-bridge",
          type: "vif_ioemu",
        },
        { devid: 1, mac, bridge: "xenbr0", script: "vif-bridge", type: "vif_ioemu" },
      ],
      onPoweroff: "destroy",
      onReboot: "restart",
      onCrash: "preserve",
      onWatchdog: "destroy",
      onSoftReset: "soft-reset",
      guest: { profile: "no-suspend", pvDrivers: false },
    } satisfies DomainConfig,
  );
  assert.match(config.vifs[0].mac, /^00:16:3e:/);
  assert.notEqual(config.vifs[0].mac, config.vifs[1].mac);
  assert.deepEqual(warnings, [
    'line 9: vif: ignoring "model" (not modelled by xenlab)',
    'line 10: ignoring unknown key "vnc" (not used by xenlab)',
    'line 11: ignoring unknown key "vnclisten" (not used by xenlab)',
    'line 12: ignoring unknown key "serial" (not used by xenlab)',
    'line 13: ignoring unknown key "usbdevice" (not used by xenlab)',
  ]);
});

Deno.test("xl.cfg: legacy builder=hvm, libxl defaults, C integers and PVH", () => {
  const legacy = parseXlCfg('name = "old"\nbuilder = "hvm"\n', rng()).config;
  assert.equal(legacy.type, "hvm");
  assert.equal(legacy.boot, "cda"); // libxl's default (§9.3)
  assert.equal(legacy.memoryMb, 32);
  assert.equal(legacy.maxmemMb, 32);
  assert.equal(legacy.vcpus, 1);
  assert.equal(parseXlCfg('name="g"\nbuilder="generic"\nkernel="/k"\n', rng()).config.type, "pv");
  const onlyMax = parseXlCfg('name="m"\nkernel="/k"\nmaxmem=0x400\n', rng()).config;
  assert.deepEqual([onlyMax.memoryMb, onlyMax.maxmemMb], [1024, 1024]);
  assert.equal(parseXlCfg('name="o"\nkernel="/k"\nmemory=0400\n', rng()).config.memoryMb, 256);
  const pvh = parseXlCfg('type="pvh"\nname="p"\nfirmware="pvgrub64"\n', rng()).config;
  assert.equal(pvh.kernel, "/usr/lib/xen/boot/pvgrub64.bin");
  assert.equal(pvh.type, "pvh");
  assert.deepEqual(
    [parseCInteger("12"), parseCInteger("0x1f"), parseCInteger("017"), parseCInteger("-3")],
    [12, 31, 15, -3],
  );
  assert.deepEqual([parseCInteger("12k"), parseCInteger(""), parseCInteger("08")], [
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("xl.cfg: command line rules of xl_parse (cmdline wins, root= gets its prefix)", () => {
  const cmd = (body: string) => {
    const r = parseXlCfg(`name="c"\nkernel="/k"\n${body}`, rng());
    return [r.config.cmdline, r.warnings];
  };
  assert.deepEqual(cmd('root="/dev/xvda1"\n'), ["root=/dev/xvda1", []]);
  assert.deepEqual(cmd('extra="quiet"\n'), ["quiet", []]);
  assert.deepEqual(cmd(""), ["", []]);
  assert.deepEqual(cmd('cmdline="a b"\nroot="/dev/x"\nextra="q"\n'), [
    "a b",
    ["line 3: ignoring root= and extra= in favour of cmdline="],
  ]);
});

Deno.test("xl.cfg: warnings for ignored or deprecated settings", () => {
  const w = (text: string) => parseXlCfg(text, rng()).warnings;
  assert.deepEqual(w('name="a"\nkernel="/k"\nmemory=1\nmemory=2\n'), [
    "line 4: memory is set again; the value on line 3 is ignored",
  ]);
  const args = parseXlCfg(
    'name="a"\nbootloader="pygrub"\nbootloader_args="-q  --entry=2"\n',
    rng(),
  );
  assert.deepEqual(args.config.bootloaderArgs, ["-q", "--entry=2"]);
  assert.match(args.warnings[0], /line 3: specifying "bootloader_args" as a string is deprecated/);
  assert.match(
    w('type="hvm"\nname="a"\nkernel="/usr/lib/xen/boot/hvmloader"\n')[0],
    /line 3: you seem to be using "kernel" directive to override HVM guest firmware/,
  );
  assert.equal(
    parseXlCfg('type="hvm"\nname="a"\nkernel="/usr/lib/xen/boot/hvmloader"\n', rng()).config.kernel,
    undefined,
  );
  assert.deepEqual(w('type="hvm"\nname="a"\nbootloader="pygrub"\n'), [
    "line 3: bootloader is ignored for HVM guests",
  ]);
  assert.deepEqual(w('name="a"\nkernel="/k"\nboot="c"\n'), [
    "line 3: boot= applies to HVM guests only; ignored",
  ]);
  assert.deepEqual(w('name="a"\nkernel="/k"\ndisk=["vdev=xvda,discard,target=/a"]\n'), [
    'line 3: disk: ignoring "discard" (not modelled by xenlab)',
  ]);
});

/** Each bad config and the exact ConfigError it must raise. */
const REFUSED: [string, string, number | undefined, string][] = [
  [
    "syntax",
    'name = "a"\nmemory = lots\n',
    2,
    'memory: syntax error near "lots": a value is a quoted string, a number or a [ list ]',
  ],
  [
    "memory not an integer",
    'name = "a"\nkernel = "/k"\nmemory = "lots"\n',
    3,
    'memory: expected an integer (MiB), got "lots"',
  ],
  [
    "memory zero",
    'name="a"\nkernel="/k"\nmemory=0\n',
    3,
    "memory: 0 MiB is outside 1..16777216 MiB",
  ],
  [
    "memory a list",
    'name="a"\nkernel="/k"\nmemory=[1]\n',
    3,
    "memory: expected a single value, got a list",
  ],
  [
    "maxmem < memory",
    'name="a"\nkernel="/k"\nmemory=1024\nmaxmem=512\n',
    4,
    "maxmem: 512 MiB is less than memory (1024 MiB); raise maxmem or lower memory",
  ],
  [
    "missing name",
    'kernel="/k"\n',
    undefined,
    'name: domain name must be specified (name = "...")',
  ],
  ["empty name", 'name=""\nkernel="/k"\n', 1, "name: must not be empty"],
  ["bad type", 'name="a"\ntype="xen"\n', 2, 'type: expected pv, pvh or hvm, got "xen"'],
  [
    "bad builder",
    'name="a"\nbuilder="linux"\n',
    2,
    'builder: expected hvm or generic, got "linux"',
  ],
  [
    "builder contradicts type",
    'name="a"\ntype="pv"\nbuilder="hvm"\n',
    3,
    'builder: contradicting "builder" and "type" options (builder "hvm" is hvm, type is pv); drop the deprecated builder=',
  ],
  [
    "vcpus not an integer",
    'name="a"\nkernel="/k"\nvcpus="two"\n',
    3,
    'vcpus: expected an integer, got "two"',
  ],
  [
    "memory over the limit",
    'name="a"\nkernel="/k"\nmemory=16777217\n',
    3,
    "memory: 16777217 MiB is outside 1..16777216 MiB",
  ],
  [
    "vcpus over the limit",
    'name="a"\nkernel="/k"\nvcpus=4097\n',
    3,
    "vcpus: 4097 is outside 1..4096",
  ],
  ["vcpus zero", 'name="a"\nkernel="/k"\nvcpus=0\n', 3, "vcpus: 0 is outside 1..4096"],
  [
    "maxvcpus < vcpus",
    'name="a"\nkernel="/k"\nvcpus=4\nmaxvcpus=2\n',
    4,
    "maxvcpus: 2 is less than vcpus (4)",
  ],
  [
    "bad uuid",
    'name="a"\nkernel="/k"\nuuid="1234"\n',
    3,
    'uuid: "1234" is not a UUID (expected 8-4-4-4-12 hex digits)',
  ],
  [
    "PV without kernel or bootloader",
    'name="a"\n',
    undefined,
    'type pv: neither kernel nor bootloader specified; set kernel = "/path/vmlinuz" or bootloader = "pygrub"',
  ],
  [
    "PVH without kernel or bootloader",
    'name="a"\ntype="pvh"\n',
    2,
    'type pvh: neither kernel nor bootloader specified; set kernel = "/path/vmlinuz" or bootloader = "pygrub"',
  ],
  [
    "kernel and firmware",
    'name="a"\nkernel="/k"\nfirmware="pvgrub64"\n',
    3,
    "firmware: both kernel and firmware specified",
  ],
  [
    "PV firmware not pvgrub",
    'name="a"\nfirmware="ovmf"\n',
    2,
    'firmware: only pvgrub32 or pvgrub64 are firmware options for pv guests, got "ovmf"',
  ],
  [
    "boot: too many",
    'type="hvm"\nname="a"\nboot="cdna"\n',
    3,
    'boot: too many boot devices for PC: "cdna" names 4 (at most 3)',
  ],
  [
    "boot: bad letter",
    'type="hvm"\nname="a"\nboot="cx"\n',
    3,
    "boot: invalid boot device for PC: 'x' (use a floppy, c hard disk, d CD-ROM, n network)",
  ],
  ["boot: twice", 'type="hvm"\nname="a"\nboot="cdc"\n', 3, "boot: boot device 'c' was given twice"],
  [
    "boot: empty",
    'type="hvm"\nname="a"\nboot=""\n',
    3,
    "boot: empty boot order (use letters a, c, d, n)",
  ],
  [
    "disk not a list",
    'name="a"\nkernel="/k"\ndisk="phy:/dev/a,xvda,w"\n',
    3,
    'disk: expected a list [ "...", ... ], got a single value "phy:/dev/a,xvda,w"',
  ],
  [
    "bad disk on its own line",
    'name="a"\nkernel="/k"\ndisk=[\n  "phy:/dev/a,xvda,w",\n  "/img/b,xvdb,w"\n]\n',
    5,
    'disk: unknown value for format near "xvdb" in "/img/b,xvdb,w"',
  ],
  [
    "duplicate vdev",
    'name="a"\nkernel="/k"\ndisk=["phy:/dev/a,xvda,w",\n"phy:/dev/b,xvda,w"]\n',
    4,
    "disk: duplicate virtual device xvda (devid 51712); xvda on line 3 already uses it",
  ],
  [
    "duplicate vdev, two spellings",
    'name="a"\nkernel="/k"\ndisk=["phy:/dev/a,xvda,w", "phy:/dev/b,d0p0,w"]\n',
    3,
    "disk: duplicate virtual device d0p0 (devid 51712); xvda on line 3 already uses it",
  ],
  [
    "duplicate vif devid",
    'name="a"\nkernel="/k"\nvif=["devid=1", "bridge=xenbr1"]\n',
    3,
    "vif: duplicate devid 1; the vif on line 3 already uses it",
  ],
  [
    "bad vif",
    'name="a"\nkernel="/k"\nvif=["mac=zz"]\n',
    3,
    'vif: mac: expected six hex octets like 00:16:3e:12:34:56, got "zz" in "mac=zz"',
  ],
  [
    "unknown action",
    'name="a"\nkernel="/k"\non_crash="explode"\n',
    3,
    'on_crash: unknown action "explode" (expected destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)',
  ],
  [
    "unknown profile",
    'name="a"\nkernel="/k"\nxenlab_guest="profile=sloppy"\n',
    3,
    'xenlab_guest: unknown profile "sloppy"; use one of well-behaved, slow-ack, never-ack, crash-on-request, no-suspend',
  ],
  [
    "bad pv_drivers",
    'name="a"\nkernel="/k"\nxenlab_guest="pv_drivers=yes"\n',
    3,
    'xenlab_guest: pv_drivers: expected 0 or 1, got "yes"',
  ],
  [
    "unknown xenlab_guest key",
    'name="a"\nkernel="/k"\nxenlab_guest="speed=9"\n',
    3,
    'xenlab_guest: unknown key "speed" (expected profile= or pv_drivers=)',
  ],
  [
    "pv_drivers=0 on PV",
    'name="a"\nkernel="/k"\nxenlab_guest="pv_drivers=0"\n',
    3,
    'xenlab_guest: pv_drivers=0 needs type = "hvm" (a pv guest is paravirtual by construction)',
  ],
];

Deno.test("xl.cfg: every refusal carries its line and the reason", () => {
  for (const [what, text, line, reason] of REFUSED) {
    assert.throws(() => parseXlCfg(text, rng()), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `${what}: ${e}`);
      assert.equal(e.reason, reason, what);
      assert.equal(e.line, line, what);
      assert.equal(e.message, line === undefined ? reason : `line ${line}: ${reason}`, what);
      return true;
    }, what);
  }
});

Deno.test("xl.cfg: the brief's example message, verbatim", () => {
  assert.throws(
    () => parseXlCfg('name = "a"\nkernel = "/k"\nmemory = "lots"\n', rng()),
    { name: "ConfigError", message: 'line 3: memory: expected an integer (MiB), got "lots"' },
  );
});
