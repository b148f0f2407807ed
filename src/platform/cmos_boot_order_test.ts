import assert from "node:assert/strict";
import {
  BOOT_LETTERS,
  bootOrderKinds,
  bootOrderProblem,
  cmosBootOrder,
  decodeCmosBootOrder,
} from "./cmos_boot_order.ts";

Deno.test("cmos boot order: QEMU's nibbles in 0x3D and 0x38 (golden)", () => {
  assert.deepEqual(cmosBootOrder("cda"), { reg3d: 0x32, reg38: 0x10 });
  assert.deepEqual(cmosBootOrder("dc"), { reg3d: 0x23, reg38: 0x00 });
  assert.deepEqual(cmosBootOrder("c"), { reg3d: 0x02, reg38: 0x00 });
  assert.deepEqual(cmosBootOrder("n"), { reg3d: 0x04, reg38: 0x00 });
  assert.deepEqual(cmosBootOrder("ndc"), { reg3d: 0x34, reg38: 0x20 });
  assert.deepEqual(cmosBootOrder("a", false), { reg3d: 0x01, reg38: 0x01 });
});

Deno.test("cmos boot order: every valid order decodes back to its devices", () => {
  const letters = Object.keys(BOOT_LETTERS);
  const orders: string[] = [];
  for (const a of letters) {
    orders.push(a);
    for (const b of letters.filter((x) => x !== a)) {
      orders.push(a + b);
      for (const c of letters.filter((x) => x !== a && x !== b)) orders.push(a + b + c);
    }
  }
  assert.equal(orders.length, 4 + 12 + 24);
  for (const o of orders) {
    for (const check of [true, false]) {
      assert.deepEqual(decodeCmosBootOrder(cmosBootOrder(o, check)), {
        kinds: bootOrderKinds(o),
        floppySignatureCheck: check,
      }, o);
    }
  }
});

Deno.test("cmos boot order: a BIOS reading hand-made CMOS skips unknown nibbles; a repeat takes its later slot", () => {
  assert.deepEqual(decodeCmosBootOrder({ reg3d: 0x32, reg38: 0x20 }).kinds, ["cdrom", "disk"]);
  assert.deepEqual(decodeCmosBootOrder({ reg3d: 0x92, reg38: 0xf0 }).kinds, ["disk"]);
  assert.deepEqual(decodeCmosBootOrder({ reg3d: 0x00, reg38: 0x00 }).kinds, []);
});

Deno.test("cmos boot order: invalid orders are refused with QEMU's reasons", () => {
  assert.equal(bootOrderProblem("cda"), undefined);
  assert.match(
    bootOrderProblem("cdan")!,
    /too many boot devices for PC: "cdan" names 4 \(at most 3\)/,
  );
  assert.match(bootOrderProblem("cz")!, /invalid boot device for PC: 'z'/);
  assert.match(bootOrderProblem("cc")!, /boot device 'c' was given twice/);
  assert.match(bootOrderProblem("")!, /empty boot order/);
  assert.throws(() => cmosBootOrder("cdan"), /RangeError: boot order: too many boot devices/);
});
