import assert from "node:assert/strict";
import { cmosBootOrder, PC_MAX_BOOT_DEVICES } from "./cmos_boot_order.ts";
import {
  BIOS_DEVICES_MAX,
  type BiosDevice,
  biosSelectBootDevice,
  cmosBootKinds,
} from "./bios_boot.ts";

const HDA: BiosDevice = { kind: "disk", name: "hda", bootable: true };
const HDB: BiosDevice = { kind: "disk", name: "hdb", bootable: true };
const CD: BiosDevice = { kind: "cdrom", name: "hdc", bootable: true };
const EMPTY_CD: BiosDevice = { kind: "cdrom", name: "cd1", bootable: false };
const NIC: BiosDevice = { kind: "network", name: "vif0", bootable: true };
const FLOPPY: BiosDevice = { kind: "floppy", name: "fda", bootable: true };
const BLANK_FLOPPY: BiosDevice = { kind: "floppy", name: "fda", bootable: false };

Deno.test("bios: CMOS bytes as QEMU's set_boot_dev writes them", () => {
  // libxl's default "cda": HDD 2 first, CD 3, floppy 1; reg 0x38 bit 0 = skip the floppy check.
  assert.deepEqual(cmosBootOrder("cda", false), { reg3d: 0x32, reg38: 0x11 });
  assert.deepEqual(cmosBootOrder("n", true), { reg3d: 0x04, reg38: 0x00 });
  assert.throws(() => cmosBootOrder("cdan", false), /too many boot devices/);
  assert.throws(() => cmosBootOrder("x", false), /invalid boot device for PC: 'x'/);
  assert.equal(PC_MAX_BOOT_DEVICES, 3);
});

Deno.test("bios: the order is read back nibble by nibble, empty and unknown nibbles skipped", () => {
  assert.deepEqual(cmosBootKinds({ reg3d: 0x23, reg38: 0x11 }), ["cdrom", "disk", "floppy"]);
  assert.deepEqual(cmosBootKinds({ reg3d: 0x02, reg38: 0x41 }), ["disk", "network"]);
  assert.deepEqual(cmosBootKinds({ reg3d: 0x9f, reg38: 0x00 }), []);
});

Deno.test("bios: the first present bootable device in CMOS order wins", () => {
  const table: [string, BiosDevice[], string | undefined][] = [
    ["cda", [HDA, CD, FLOPPY], "hda"],
    ["dca", [HDA, CD, FLOPPY], "hdc"],
    ["c", [CD, HDA], "hda"],
    ["dc", [HDA, EMPTY_CD], "hda"], // the CD has no media: next in order
    ["n", [HDA, NIC], "vif0"],
    ["cd", [HDA, HDB], "hda"], // all hard disks are one entry: the first is 0x80
    ["a", [HDA, FLOPPY], "fda"],
  ];
  for (const [order, devices, want] of table) {
    const plan = biosSelectBootDevice(cmosBootOrder(order, false), devices);
    assert.equal(plan.device?.name, want, `boot=${order}`);
    assert.equal(devices[plan.index!], plan.device);
  }
});

Deno.test("bios: SeaBIOS tries unlisted kinds last; ROMBIOS never does", () => {
  const cmos = cmosBootOrder("d", false);
  const seabios = biosSelectBootDevice(cmos, [HDA, EMPTY_CD]);
  assert.equal(seabios.device?.name, "hda");
  assert.deepEqual(seabios.console, [
    "Booting from DVD/CD...",
    "Boot failed: Could not read from CDROM",
    "Booting from Hard Disk...",
  ]);
  const rombios = biosSelectBootDevice(cmos, [HDA, EMPTY_CD], "rombios");
  assert.equal(rombios.device, undefined);
  assert.equal(rombios.retryInS, undefined);
  assert.equal(rombios.console.at(-1), "No bootable device.");
});

Deno.test("bios: a floppy needs its signature only while the check is on", () => {
  assert.equal(
    biosSelectBootDevice(cmosBootOrder("a", true), [BLANK_FLOPPY]).device,
    undefined,
  );
  assert.equal(biosSelectBootDevice(cmosBootOrder("a", false), [BLANK_FLOPPY]).device?.name, "fda");
});

Deno.test("bios: nothing bootable: SeaBIOS says it will retry in 60 s", () => {
  const plan = biosSelectBootDevice(cmosBootOrder("dc", false), [EMPTY_CD]);
  assert.equal(plan.device, undefined);
  assert.equal(plan.retryInS, 60);
  assert.equal(plan.console.at(-1), "No bootable device.  Retrying in 60 seconds.");
});

Deno.test("bios: a probe over the device bound is refused", () => {
  const many = Array.from({ length: BIOS_DEVICES_MAX + 1 }, (_, i) => ({ ...NIC, name: `n${i}` }));
  assert.throws(() => biosSelectBootDevice(cmosBootOrder("n", false), many), /65 devices/);
});
