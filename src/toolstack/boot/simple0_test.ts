import assert from "node:assert/strict";
import {
  formatSimple0,
  parseSimple0,
  SIMPLE0_BYTES_MAX,
  SIMPLE0_RECORD_BYTES_MAX,
} from "./simple0.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("simple0: pygrub's format_simple bytes (golden)", () => {
  assert.equal(
    text(formatSimple0({ kernel: "/boot/vmlinuz", ramdisk: "/boot/initrd", args: "ro quiet" })),
    "kernel /boot/vmlinuz\0ramdisk /boot/initrd\0args ro quiet\0\0",
  );
  assert.equal(text(formatSimple0({ kernel: "/k" })), "kernel /k\0\0");
  assert.equal(text(formatSimple0({ kernel: "/k", args: "" })), "kernel /k\0\0");
});

Deno.test("simple0: libxl reads it back, in any record order, skipping empty records", () => {
  const out = { kernel: "/boot/vmlinuz", ramdisk: "/boot/initrd", args: "root=/dev/xvda1 ro" };
  assert.deepEqual(parseSimple0(formatSimple0(out)), { ok: true, output: out, warnings: [] });
  assert.deepEqual(parseSimple0(bytes("\0args a b\0\0kernel /k")), {
    ok: true,
    output: { kernel: "/k", args: "a b" },
    warnings: [],
  });
});

Deno.test("simple0: unknown records are warned about; no kernel, huge records and huge output fail", () => {
  assert.deepEqual(parseSimple0(bytes("kernel /k\0colour blue\0")), {
    ok: true,
    output: { kernel: "/k" },
    warnings: ["unexpected output from bootloader: `colour blue'"],
  });
  assert.deepEqual(parseSimple0(bytes("ramdisk /r\0\0")), {
    ok: false,
    reason: "bootloader did not return a kernel",
  });
  const rec = (n: number) => bytes(`args ${"a".repeat(n - 5)}\0kernel /k\0`);
  assert.equal(parseSimple0(rec(SIMPLE0_RECORD_BYTES_MAX)).ok, true);
  assert.match(
    (parseSimple0(rec(SIMPLE0_RECORD_BYTES_MAX + 1)) as { reason: string }).reason,
    /record too long/,
  );
  assert.match(
    (parseSimple0(new Uint8Array(SIMPLE0_BYTES_MAX + 1)) as { reason: string }).reason,
    /65537 bytes \(limit 65536\)/,
  );
});
