import assert from "node:assert/strict";
import { SaveImageReader, type SaveImageReaderOptions } from "./save_image_reader.ts";
import { SaveImageError } from "./save_image_error.ts";
import { frameRecord } from "./record_framing.ts";
import { encodeDomainHeader, encodeImageHeader, encodeLibxlHeader } from "./stream_headers.ts";
import { encodePageDataHead } from "./page_data.ts";
import { encodeCpuidPolicy, encodeHvmParams } from "./libxc_records.ts";
import { encodeEmulatorContext } from "./libxl_records.ts";
import { EMULATORS_MAX } from "./libxl_rules.ts";
import { LibxlRec, PFINFO, REC_LENGTH_MAX, XcRec } from "./stream_format.ts";
import type { SaveRecord } from "./save_record.ts";

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function page(fill: number, pfn: number, type: number = PFINFO.NOTAB): Uint8Array {
  return cat(encodePageDataHead([pfn], type).head, new Uint8Array(4096).fill(fill));
}

/** A libxc HVM body: headers, STATIC_DATA_END, `middle`, HVM_CONTEXT, END. */
function hvmLibxc(middle: Uint8Array[] = [], version = 3): Uint8Array {
  const ihdr = encodeImageHeader();
  ihdr[15] = version;
  return cat(
    ihdr,
    encodeDomainHeader("hvm", { major: 4, minor: 17 }),
    ...(version >= 3 ? [frameRecord(XcRec.STATIC_DATA_END)] : []),
    ...middle,
    frameRecord(XcRec.HVM_CONTEXT, new Uint8Array(8)),
    frameRecord(XcRec.END),
  );
}

function libxl(libxc: Uint8Array, ...tail: Uint8Array[]): Uint8Array {
  return cat(
    encodeLibxlHeader(),
    frameRecord(LibxlRec.LIBXC_CONTEXT),
    libxc,
    ...tail,
    frameRecord(LibxlRec.END),
  );
}

function read(bytes: Uint8Array, opts: Partial<SaveImageReaderOptions> = {}) {
  const r = new SaveImageReader({ format: "libxl", ...opts });
  const pushed = r.push(bytes);
  return { r, pushed, finished: pushed.ok ? r.finish() : pushed };
}

Deno.test("records come out typed and in stream order, each with its offset", () => {
  const bytes = libxl(hvmLibxc([page(1, 0)]));
  const { pushed } = read(bytes);
  assert.ok(pushed.ok);
  assert.deepEqual(
    pushed.records.map((r: SaveRecord) => `${r.layer}:${r.kind}@${r.offset}`),
    [
      "libxl:LIBXL_HEADER@0",
      "libxl:LIBXC_CONTEXT@16",
      "libxc:IMAGE_HEADER@24",
      "libxc:DOMAIN_HEADER@48",
      "libxc:STATIC_DATA_END@64",
      "libxc:PAGE_DATA@72",
      "libxc:HVM_CONTEXT@4192",
      "libxc:END@4208",
      "libxl:END@4216",
    ],
  );
});

Deno.test("bytes after the final END are left for the migration handshake", () => {
  const bytes = cat(libxl(hvmLibxc()), new TextEncoder().encode("domain is yours"));
  const { pushed, finished } = read(bytes);
  assert.ok(pushed.ok && pushed.done);
  assert.equal(bytes.length - pushed.consumed, 15);
  assert.ok(finished.ok && finished.image.bytes === pushed.consumed);
});

Deno.test("optional records (bit 31) are skipped in both layers; their padding is still checked", () => {
  const opt = (layerType: number) => frameRecord(layerType, new Uint8Array([1, 2, 3]));
  const bytes = libxl(hvmLibxc([opt(0x80000042)]), opt(0x80000007));
  const { finished } = read(bytes);
  assert.ok(finished.ok && finished.image.optionalRecordsSkipped === 2);
  const bad = opt(0x80000042);
  bad[12] = 9; // a padding byte
  const { finished: f2 } = read(libxl(hvmLibxc([bad])));
  assert.ok(!f2.ok && f2.error.code === "bad_padding");
});

Deno.test("a record longer than REC_LENGTH_MAX is refused from its header, before any body", () => {
  const hdr = new Uint8Array(8);
  new DataView(hdr.buffer).setUint32(0, LibxlRec.EMULATOR_CONTEXT, true);
  new DataView(hdr.buffer).setUint32(4, REC_LENGTH_MAX + 1, true);
  const bytes = cat(encodeLibxlHeader(), hdr);
  const { pushed } = read(bytes);
  assert.ok(!pushed.ok && pushed.error.code === "limit");
  assert.equal(
    String(pushed.error),
    `SaveImageError: libxl stream: EMULATOR_CONTEXT record at offset 16: length ${
      REC_LENGTH_MAX + 1
    } exceeds REC_LENGTH_MAX ${REC_LENGTH_MAX}`,
  );
});

Deno.test(`more than EMULATORS_MAX (${EMULATORS_MAX}) emulators is over the limit`, () => {
  const emu = (i: number) =>
    frameRecord(
      LibxlRec.EMULATOR_CONTEXT,
      encodeEmulatorContext({ emulatorId: 2, index: i, blob: new Uint8Array(1) }),
    );
  const ok = libxl(hvmLibxc(), ...Array.from({ length: EMULATORS_MAX }, (_, i) => emu(i)));
  assert.ok(read(ok).finished.ok);
  const over = libxl(hvmLibxc(), ...Array.from({ length: EMULATORS_MAX + 1 }, (_, i) => emu(i)));
  const { finished } = read(over);
  assert.ok(!finished.ok && finished.error.code === "limit");
});

Deno.test("a v2 libxc stream is read with STATIC_DATA_END inferred; v3-only records are refused in it", () => {
  const v2 = read(libxl(hvmLibxc([page(1, 0)], 2)));
  assert.ok(
    v2.finished.ok && v2.finished.image.streamVersion === 2 && v2.finished.image.dataPages === 1,
  );
  const cpuid = frameRecord(
    XcRec.X86_CPUID_POLICY,
    encodeCpuidPolicy([{ leaf: 0, subleaf: 0, a: 0, b: 0, c: 0, d: 0 }]),
  );
  const bad = read(libxl(hvmLibxc([cpuid], 2)));
  assert.ok(!bad.finished.ok && bad.finished.error.code === "unexpected_record");
});

Deno.test("pages after VERIFY go to the verify sink, not over guest memory", () => {
  const seen: string[] = [];
  const bytes = libxl(hvmLibxc([page(1, 0), frameRecord(XcRec.VERIFY), page(2, 0)]));
  const { finished } = read(bytes, {
    pageSink: (pfn, _t, p) => seen.push(`page ${pfn} ${p?.[0]}`),
    verifyPageSink: (pfn, _t, p) => seen.push(`verify ${pfn} ${p?.[0]}`),
  });
  assert.ok(finished.ok && finished.image.verify);
  assert.deepEqual(seen, ["page 0 1", "verify 0 2"]);
});

Deno.test("a failed reader stays failed and keeps its first error", () => {
  const r = new SaveImageReader({ format: "libxl" });
  const first = r.push(new Uint8Array(16));
  assert.ok(!first.ok && first.error instanceof SaveImageError && first.error.code === "bad_magic");
  const again = r.push(encodeLibxlHeader());
  assert.ok(!again.ok && again.error === first.error);
  const fin = r.finish();
  assert.ok(!fin.ok && fin.error === first.error);
});

Deno.test("a legacy-converted libxl stream and HVM params are reported in the image", () => {
  const hdr = encodeLibxlHeader();
  hdr[15] = 2;
  const params = frameRecord(XcRec.HVM_PARAMS, encodeHvmParams([{ index: 1, value: 0xfeffn }]));
  const bytes = cat(hdr, libxl(hvmLibxc([params])).subarray(16));
  const { finished } = read(bytes);
  assert.ok(finished.ok);
  assert.deepEqual(finished.image.libxl, { legacy: true });
  assert.deepEqual(finished.image.hvmParams, [{ index: 1, value: 0xfeffn }]);
});
