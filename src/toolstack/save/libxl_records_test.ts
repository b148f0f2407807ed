import assert from "node:assert/strict";
import {
  decodeCheckpointState,
  decodeEmulatorContext,
  decodeEmulatorXenstoreData,
  encodeCheckpointState,
  encodeEmulatorContext,
  encodeEmulatorXenstoreData,
} from "./libxl_records.ts";
import { CHECKPOINT_SVM_READY, EMULATOR_QEMU_UPSTREAM } from "./stream_format.ts";

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));

Deno.test("EMULATOR_XENSTORE_DATA: emulator header then NUL-terminated key, value (golden, both ways)", () => {
  const d = {
    emulatorId: EMULATOR_QEMU_UPSTREAM,
    index: 0,
    pairs: [["a/b", "1"], ["c", ""]] as [string, string][],
  };
  // deno-fmt-ignore
  const golden = new Uint8Array([
    2, 0, 0, 0, 0, 0, 0, 0, // emulator_id 2 (qemu upstream), index 0
    ...ascii("a/b"), 0, ...ascii("1"), 0, ...ascii("c"), 0, 0,
  ]);
  assert.deepEqual(encodeEmulatorXenstoreData(d), golden);
  assert.deepEqual(decodeEmulatorXenstoreData(golden), { ok: true, value: d });
  assert.deepEqual(decodeEmulatorXenstoreData(new Uint8Array(8)), {
    ok: true,
    value: { emulatorId: 0, index: 0, pairs: [] },
  });
});

Deno.test("EMULATOR_XENSTORE_DATA refuses a short header, unknown emulator, missing NUL, odd strings", () => {
  const cases: [number[], string][] = [
    [[2, 0, 0, 0], "shorter"],
    [[3, 0, 0, 0, 0, 0, 0, 0], "unrecognised emulator id 0x3"],
    [[2, 0, 0, 0, 0, 0, 0, 0, ...ascii("k")], "not NUL terminated"],
    [[2, 0, 0, 0, 0, 0, 0, 0, ...ascii("k"), 0], "even number of strings, got 1"],
    [[2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0x41, 0], "UTF-8"],
  ];
  for (const [b, why] of cases) {
    const r = decodeEmulatorXenstoreData(new Uint8Array(b));
    assert.ok(!r.ok && r.reason.includes(why), `${why}: ${JSON.stringify(r)}`);
  }
});

Deno.test("EMULATOR_CONTEXT: emulator header then the blob (golden, both ways)", () => {
  const c = { emulatorId: 1, index: 2, blob: new Uint8Array([0x51, 0x45, 0x56, 0x4d]) };
  const golden = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 0x51, 0x45, 0x56, 0x4d]);
  assert.deepEqual(encodeEmulatorContext(c), golden);
  assert.deepEqual(decodeEmulatorContext(golden), { ok: true, value: c });
  assert.ok(!decodeEmulatorContext(new Uint8Array(7)).ok);
});

Deno.test("CHECKPOINT_STATE: control_id and padding (golden, both ways); unknown ids refused", () => {
  assert.deepEqual(
    encodeCheckpointState(CHECKPOINT_SVM_READY),
    new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]),
  );
  assert.deepEqual(decodeCheckpointState(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0])), {
    ok: true,
    value: 2,
  });
  assert.ok(!decodeCheckpointState(new Uint8Array([4, 0, 0, 0])).ok);
  assert.ok(!decodeCheckpointState(new Uint8Array([0, 0])).ok);
});
