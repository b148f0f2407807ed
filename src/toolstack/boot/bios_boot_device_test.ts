import assert from "node:assert/strict";
import { BIOS_DEVICES_MAX, type BiosDevice, biosSelectBootDevice } from "./bios_boot_device.ts";
import { cmosBootOrder } from "./cmos_boot_order.ts";

const disk = (bootable: boolean): BiosDevice => ({ kind: "disk", bootable });
const cdrom = (bootable: boolean): BiosDevice => ({ kind: "cdrom", bootable });
const floppy = (bootable: boolean): BiosDevice => ({ kind: "floppy", bootable });
const net = (bootable: boolean): BiosDevice => ({ kind: "network", bootable });

Deno.test("bios: boots the first present, bootable device in CMOS order", () => {
  const devices = [disk(true), cdrom(true)];
  const dc = biosSelectBootDevice(cmosBootOrder("dc"), devices);
  assert.deepEqual(dc, {
    ok: true,
    index: 1,
    device: cdrom(true),
    console: ["Booting from DVD/CD..."],
  });
  const cd = biosSelectBootDevice(cmosBootOrder("cd"), devices);
  assert.ok(cd.ok && cd.index === 0);
});

Deno.test("bios: a non-bootable device is tried, fails, and the next one boots", () => {
  const r = biosSelectBootDevice(cmosBootOrder("dc"), [disk(true), cdrom(false)]);
  assert.deepEqual(r, {
    ok: true,
    index: 0,
    device: disk(true),
    console: [
      "Booting from DVD/CD...",
      "Boot failed: Could not read from CDROM",
      "Booting from Hard Disk...",
    ],
  });
});

Deno.test("bios: kinds missing from CMOS are still tried afterwards, in device order (SeaBIOS default priority)", () => {
  const r = biosSelectBootDevice(cmosBootOrder("c"), [net(true), disk(false), cdrom(true)]);
  assert.ok(r.ok);
  assert.equal(r.index, 0); // the disk fails; then network and CD share the default priority
  assert.deepEqual(r.console, [
    "Booting from Hard Disk...",
    "Boot failed: not a bootable disk",
    "Booting from ROM...",
  ]);
});

Deno.test("bios: only the first hard disk and floppy are boot candidates; every CD-ROM is", () => {
  const disks = biosSelectBootDevice(cmosBootOrder("c"), [disk(false), disk(true)]);
  assert.equal(disks.ok, false);
  const cds = biosSelectBootDevice(cmosBootOrder("d"), [cdrom(false), cdrom(true)]);
  assert.ok(cds.ok && cds.index === 1);
  const fds = biosSelectBootDevice(cmosBootOrder("a"), [floppy(false), floppy(true)]);
  assert.equal(fds.ok, false);
});

Deno.test("bios: with the floppy signature check off, a floppy without a boot signature boots", () => {
  assert.equal(biosSelectBootDevice(cmosBootOrder("a", true), [floppy(false)]).ok, false);
  const r = biosSelectBootDevice(cmosBootOrder("a", false), [floppy(false)]);
  assert.ok(r.ok && r.device.kind === "floppy");
  // The check is for floppies only: a disk still needs its signature.
  assert.equal(biosSelectBootDevice(cmosBootOrder("c", false), [disk(false)]).ok, false);
});

Deno.test('bios: nothing bootable is SeaBIOS\'s "No bootable device." with the retry notice', () => {
  assert.deepEqual(biosSelectBootDevice(cmosBootOrder("cda"), []), {
    ok: false,
    error: "No bootable device.",
    retryInS: 60,
    console: ["No bootable device.  Retrying in 60 seconds."],
  });
  const r = biosSelectBootDevice(cmosBootOrder("dc"), [cdrom(false), disk(false)]);
  assert.equal(r.ok, false);
  assert.deepEqual(r.console, [
    "Booting from DVD/CD...",
    "Boot failed: Could not read from CDROM",
    "Booting from Hard Disk...",
    "Boot failed: not a bootable disk",
    "No bootable device.  Retrying in 60 seconds.",
  ]);
});

Deno.test("bios: more devices than the limit is a machine description error", () => {
  const many = Array.from({ length: BIOS_DEVICES_MAX }, () => cdrom(false));
  assert.equal(biosSelectBootDevice(cmosBootOrder("d"), many).ok, false);
  assert.throws(
    () => biosSelectBootDevice(cmosBootOrder("d"), [...many, cdrom(true)]),
    /bios: 65 devices \(limit 64\)/,
  );
});
