/**
 * @module
 * Xen's own validator judges our images: `verify-stream-v2` from Debian's
 * xen-utils-4.17 (tools/python/scripts/verify-stream-v2 with the
 * xen.migration package: xl.py, libxl.py, libxc.py). PV and HVM images as
 * `xl save` writes them (`-f xl`), a bare libxl stream (`-f libxl`), bare
 * libxc streams including a checkpointed one (`-f libxc`) must all exit 0;
 * corrupted ones must be refused by it and by our reader alike.
 *
 * Note: the script's input is `-i FILE`; a bare FILE argument is ignored and
 * stdin is read instead.
 *
 * The validator is looked for where ../shared/tools/real-xenstored puts it
 * (installed under /usr/lib/xen-4.17, or unpacked under
 * `${XSD_CACHE:-${TMPDIR:-/tmp}/real-xenstored}/root`; run that start.sh
 * once to unpack it). Where it is missing the tests say so and are skipped —
 * except with CI=true, where that is a failure.
 */
import assert from "node:assert/strict";
import { SaveImageReader } from "../../src/toolstack/save/mod.ts";
import { buildImage, type ImageFormat, type ImageSpec } from "./images.ts";
import { found as validatorFound, validator, verify } from "./validator.ts";

const found = validatorFound;
if (typeof found === "string") {
  console.error(
    `\n*** SKIPPING the verify-stream-v2 tests: ${found}\n` +
      "*** (run ../shared/tools/real-xenstored/start.sh DIR && stop.sh DIR once to unpack xen-utils-4.17)\n",
  );
  if (Deno.env.get("CI") === "true") {
    Deno.test("verify-stream-v2 is available (required when CI=true)", () => {
      throw new Error(found);
    });
  }
}

function ours(bytes: Uint8Array, format: ImageFormat, checkpointed = false): string {
  const r = new SaveImageReader({ format, checkpointed });
  const p = r.push(bytes);
  if (!p.ok) return String(p.error);
  const f = r.finish();
  return f.ok ? "ok" : String(f.error);
}

const ACCEPTED: [string, ImageSpec, string[]][] = [
  ["a PV `xl save` image (-f xl)", {
    seed: 101,
    domainType: "pv",
    format: "xl",
    pages: 3000,
    vcpus: 2,
  }, [
    "Domain Header: x86 PV from Xen 4.17",
    "64bit guest, 4 levels of pagetables",
    "Squashed 3 Page Data records together",
    "vcpu1 basic context, 5168 bytes",
    "Libxc Record: Shared info, length 4096",
  ]],
  ["an HVM `xl save` image (-f xl)", {
    seed: 102,
    domainType: "hvm",
    format: "xl",
    pages: 3000,
    vcpus: 4,
  }, [
    "Domain Header: x86 HVM from Xen 4.17",
    "Libxc Record: HVM context, length",
    "Libxc Record: HVM params, length 56",
    "Index 0, type Qemu Upstream",
  ]],
  ["an HVM libxl stream without the xl header (-f libxl)", {
    seed: 103,
    domainType: "hvm",
    format: "libxl",
    pages: 1200,
  }, [
    "Libxl Header: little endian",
    "Libxl Record: Emulator context",
  ]],
  ["a PV libxl stream without the xl header (-f libxl)", {
    seed: 104,
    domainType: "pv",
    format: "libxl",
    pages: 1200,
  }, [
    "x86 PV P2M frames",
  ]],
  ["a bare PV libxc stream (-f libxc)", {
    seed: 105,
    domainType: "pv",
    format: "libxc",
    pages: 1200,
  }, [
    "Libxc Image Header: Version 3, little endian",
  ]],
  ["a checkpointed HVM libxc stream, 3 rounds (-f libxc)", {
    seed: 106,
    domainType: "hvm",
    format: "libxc",
    pages: 500,
    checkpoints: 3,
  }, ["Libxc Record: Checkpoint, length 0"]],
];

for (const [name, spec, mentions] of ACCEPTED) {
  Deno.test({
    name: `verify-stream-v2 accepts ${name}`,
    ignore: validator === undefined,
    async fn() {
      const img = await buildImage(spec);
      assert.equal(ours(img.bytes, spec.format, (spec.checkpoints ?? 0) > 0), "ok");
      const v = await verify(img.bytes, spec.format);
      assert.equal(v.code, 0, `verify-stream-v2 exited ${v.code}:\n${v.stderr}\n${v.stdout}`);
      for (const m of mentions) {
        assert.ok(v.stdout.includes(m), `output mentions "${m}":\n${v.stdout}`);
      }
      if (spec.checkpoints) {
        assert.equal(v.stdout.split("Libxc Record: Checkpoint,").length - 1, spec.checkpoints);
      }
      assert.ok(
        v.stdout.trimEnd().endsWith(
          spec.format === "libxc" ? "Libxc Record: End, length 0" : "Libxl Record: End, length 0",
        ),
      );
    },
  });
}

Deno.test({
  name:
    "verify-stream-v2 on EMULATOR_XENSTORE_DATA: refused only through its Python 3 bytes/str bug, accepted once that is fixed",
  ignore: validator === undefined,
  async fn() {
    // libxl.py compares content[-1] (an int under Python 3) with '\x00' (a str), so any
    // non-empty xenstore data fails as "Data not NUL terminated". Our data is NUL-terminated;
    // with the comparison fixed (and nothing else changed) the same image passes.
    const img = await buildImage({
      seed: 107,
      domainType: "hvm",
      format: "xl",
      pages: 64,
      xenstoreData: true,
    });
    assert.equal(ours(img.bytes, "xl"), "ok");
    const stock = await verify(img.bytes, "xl");
    assert.equal(stock.code, 1);
    assert.match(stock.stderr, /RecordError: Data not NUL terminated/);
    const fixed = await verify(img.bytes, "xl", true);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /'physmap\/f0000000\/name' = 'vga.vram'/);
  },
});

Deno.test({
  name:
    "verify-stream-v2 and our reader both refuse corrupted images (reserved pfn bits, padding, record type)",
  ignore: validator === undefined,
  async fn() {
    const img = await buildImage({ seed: 108, domainType: "hvm", format: "xl", pages: 64 });
    const recs = (() => {
      const r = new SaveImageReader({ format: "xl" }).push(img.bytes);
      assert.ok(r.ok);
      return r.records;
    })();
    const at = (kind: string) => recs.find((r) => r.kind === kind)!.offset;
    const page = at("PAGE_DATA"), emu = at("EMULATOR_CONTEXT"), params = at("HVM_PARAMS");
    const emuLen = new DataView(img.bytes.buffer).getUint32(emu + 4, true);
    const cases: [string, (b: Uint8Array) => void, RegExp, RegExp][] = [
      [
        "reserved pfn bits",
        (b) => b[page + 16 + 6] = 0x10,
        /Reserved bits set in pfn\[0\]/,
        /bad|reserved bits 59\.\.52/,
      ],
      [
        "non-zero padding",
        (b) => b[emu + 8 + emuLen] = 1,
        /Padding containing non0 bytes/,
        /padding/,
      ],
      [
        "unknown record type",
        (b) => b[params] = 0x13,
        /Unrecognised record type 0x13/,
        /unknown mandatory record type 0x13/,
      ],
    ];
    for (const [name, corrupt, theirs, mine] of cases) {
      const b = img.bytes.slice();
      corrupt(b);
      const v = await verify(b, "xl");
      assert.equal(v.code, 1, `${name}: verify-stream-v2 exited ${v.code}`);
      assert.match(v.stderr, theirs, name);
      assert.match(ours(b, "xl"), mine, name);
    }
  },
});
