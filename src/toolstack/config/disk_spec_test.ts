import assert from "node:assert/strict";
import type { DiskConfig } from "../domain_config.ts";
import { ConfigError } from "./config_error.ts";
import { DISK_SPEC_LENGTH_MAX, parseDiskSpec } from "./disk_spec.ts";

const disk = (
  d: Partial<DiskConfig> & Pick<DiskConfig, "vdev" | "devid" | "target">,
): DiskConfig => ({
  format: "raw",
  access: "w",
  deviceType: "disk",
  backendType: "phy",
  ...d,
});

Deno.test("disk specs: positional, deprecated-prefix and keyed forms (xl-disk-configuration.txt)", () => {
  const table: [string, DiskConfig][] = [
    // target,format,vdev,access
    ["/img/web.raw,raw,xvda,rw", disk({ vdev: "xvda", devid: 51712, target: "/img/web.raw" })],
    [
      "/img/web.qcow2,qcow2,xvdb,r",
      disk({
        vdev: "xvdb",
        devid: 51728,
        target: "/img/web.qcow2",
        format: "qcow2",
        access: "r",
        backendType: "qdisk",
      }),
    ],
    // an empty format slot means raw; access defaults to rw
    ["/dev/vg/web,,xvda", disk({ vdev: "xvda", devid: 51712, target: "/dev/vg/web" })],
    // deprecated prefixes skip the format slot
    ["phy:/dev/vg/web,xvda,w", disk({ vdev: "xvda", devid: 51712, target: "/dev/vg/web" })],
    ["file:/img/a.raw,hda,w", disk({ vdev: "hda", devid: 768, target: "/img/a.raw" })],
    [
      "qcow2:/img/a.q,xvdc,r",
      disk({
        vdev: "xvdc",
        devid: 51744,
        target: "/img/a.q",
        format: "qcow2",
        access: "r",
        backendType: "qdisk",
      }),
    ],
    [
      "iscsi:iqn.2001-05.com.example:disk,xvdd,w",
      disk({
        vdev: "xvdd",
        devid: 51760,
        target: "iqn.2001-05.com.example:disk",
        script: "block-iscsi",
      }),
    ],
    // vdev:devtype, and an empty CD-ROM drive
    [
      "file:/iso/debian.iso,hdc:cdrom,r",
      disk({
        vdev: "hdc",
        devid: 5632,
        target: "/iso/debian.iso",
        access: "r",
        deviceType: "cdrom",
      }),
    ],
    [
      ",hdc:cdrom,r",
      disk({ vdev: "hdc", devid: 5632, target: "", access: "r", deviceType: "cdrom" }),
    ],
    // keyed
    [
      "vdev=xvda, access=rw, format=raw, target=/img/a,b.raw",
      disk({ vdev: "xvda", devid: 51712, target: "/img/a,b.raw" }),
    ],
    [
      "format=vhd,vdev=hdd,access=ro,backendtype=tap,target=/img/x.vhd",
      disk({
        vdev: "hdd",
        devid: 5696,
        target: "/img/x.vhd",
        format: "vhd",
        access: "r",
        backendType: "tap",
      }),
    ],
    [
      "vdev=hdc,devtype=cdrom,target=/iso/a.iso",
      disk({ vdev: "hdc", devid: 5632, target: "/iso/a.iso", access: "r", deviceType: "cdrom" }),
    ],
    [
      "/iso/b.iso,raw,hdc,cdrom",
      disk({ vdev: "hdc", devid: 5632, target: "/iso/b.iso", access: "r", deviceType: "cdrom" }),
    ],
    [
      "script=block-drbd,vdev=xvda,target=res0",
      disk({ vdev: "xvda", devid: 51712, target: "res0", script: "block-drbd" }),
    ],
    ["d1p3,,xvdb", disk({ vdev: "xvdb", devid: 51728, target: "d1p3" })],
    ["/img/s,raw,sda,w", disk({ vdev: "sda", devid: 2048, target: "/img/s" })],
  ];
  for (const [spec, want] of table) {
    assert.deepEqual(parseDiskSpec(spec).disk, want, spec);
  }
});

Deno.test("disk specs: flags xenlab does not model are accepted with a warning", () => {
  const r = parseDiskSpec("vdev=xvda,discard,direct-io-safe,target=/img/a");
  assert.equal(r.disk.target, "/img/a");
  assert.deepEqual(r.warnings, [
    'disk: ignoring "discard" (not modelled by xenlab)',
    'disk: ignoring "direct-io-safe" (not modelled by xenlab)',
  ]);
});

Deno.test("disk specs: every refusal names the problem, the text near it and the spec", () => {
  const table: [string, RegExp][] = [
    ["/img/a,xvda,w", /unknown value for format near "xvda" in "\/img\/a,xvda,w"/],
    ["/img/a.iso,hdc:cdrom,r", /unknown value for format near "hdc:cdrom"/],
    ["/img/a", /no vdev specified in "\/img\/a"/],
    ["vdev=xvda", /no target specified \(and device not removable\)/],
    ["/img/a,raw,xvda,w,extra", /too many positional parameters near "extra"/],
    ["/img/a,raw,xvda,rx", /unknown value for access near "rx"/],
    ["format=qcow3,vdev=xvda,target=/a", /unknown value for format near "qcow3"/],
    ["format=raw,format=vhd,vdev=xvda,target=/a", /format respecified near "vhd"/],
    ["vdev=xvda,vdev=xvdb,target=/a", /vdev respecified near "xvdb"/],
    ["devtype=floppy,vdev=xvda,target=/a", /unknown value for type near "devtype=floppy,"/],
    ["bogus=1,vdev=xvda,target=/a", /unknown parameter near "bogus=1,"/],
    ["nfs:/srv/a,xvda,w", /unknown deprecated disk prefix near "nfs:"/],
    ["/a,raw,hdc:floppy", /unknown deprecated type near "floppy"/],
    ["backendtype=lvm,vdev=xvda,target=/a", /unknown value for backendtype near "lvm"/],
    ["specification=scsi,vdev=xvda,target=/a", /unknown value for specification near "scsi"/],
    ["/a,raw,vda,w", /invalid or unsupported virtual disk identifier near "vda"/],
    ["/a,raw,xvda,w=", /bad disk syntax near "="/],
    ["/a,qed,xvda,w", /format qed is not supported by xenlab/],
    ["backendtype=standalone,vdev=xvda,target=/a", /standalone is not supported/],
    ["specification=virtio,vdev=xvda,target=/a", /virtio is not supported/],
    ["backend=driverdom,vdev=xvda,target=/a", /driver domains .* near "driverdom"/],
  ];
  for (const [spec, reason] of table) {
    assert.throws(() => parseDiskSpec(spec, 7), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.line, 7);
      assert.match(e.message, /^line 7: disk: /);
      assert.match(e.reason, reason, spec);
      return true;
    }, spec);
  }
});

Deno.test("disk specs: a spec longer than the limit is refused", () => {
  const long = `vdev=xvda,target=/${"a".repeat(DISK_SPEC_LENGTH_MAX)}`;
  assert.throws(() => parseDiskSpec(long), /disk: spec is \d+ chars \(limit 4096\)/);
  assert.equal(
    parseDiskSpec(long.slice(0, DISK_SPEC_LENGTH_MAX)).disk.target.length,
    DISK_SPEC_LENGTH_MAX - "vdev=xvda,target=".length,
  );
});
