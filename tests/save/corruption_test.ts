/**
 * Every way an image can be bad gets its own named SaveImageError — layer,
 * header or record, offset, reason — and never an exception of another
 * kind: truncation at every header and record boundary, bad magic, bad
 * versions, wrong endianness, unknown mandatory records and flags, oversize
 * PAGE_DATA, bad lengths and padding, missing END, records out of order,
 * trailing bytes; then seeded random corruption, read whole and at random
 * splits, must fail the same way both times.
 */
import assert from "node:assert/strict";
import { Rng } from "../../src/sim/rng.ts";
import {
  readSaveImage,
  SaveImageError,
  type SaveImageErrorCode,
  SaveImageReader,
  SaveStreamWriter,
} from "../../src/toolstack/save/mod.ts";
import { buildImage, type ImageFormat } from "./images.ts";

interface Rec {
  layer: string;
  kind: string;
  offset: number;
}

type Outcome = { ok: true } | { ok: false; error: SaveImageError };

/** Reads `bytes` in chunks of `step` (whole by default); any non-SaveImageError escapes and fails the test. */
function outcome(
  bytes: Uint8Array,
  format: ImageFormat,
  opts: { checkpointed?: boolean; cut?: () => number } = {},
): Outcome {
  const r = new SaveImageReader({ format, checkpointed: opts.checkpointed, pageSink: () => {} });
  let at = 0;
  while (at < bytes.length) {
    const n = opts.cut ? Math.max(1, opts.cut()) : bytes.length;
    const res = r.push(bytes.subarray(at, at + n));
    if (!res.ok) return { ok: false, error: res.error };
    if (res.done) break;
    at += n;
  }
  const f = r.finish();
  if (!f.ok) {
    assert.ok(f.error instanceof SaveImageError);
    return { ok: false, error: f.error };
  }
  return { ok: true };
}

function records(bytes: Uint8Array, format: ImageFormat): Rec[] {
  const r = new SaveImageReader({ format, checkpointed: true });
  const res = r.push(bytes);
  assert.ok(res.ok && res.done);
  return res.records.map((x) => ({ layer: x.layer, kind: x.kind, offset: x.offset }));
}

function find(recs: Rec[], kind: string, layer?: string): number {
  const r = recs.find((x) => x.kind === kind && (layer === undefined || x.layer === layer));
  assert.ok(r, `no ${kind} record`);
  return r.offset;
}

function u32(bytes: Uint8Array, at: number, v: number): Uint8Array {
  const b = bytes.slice();
  new DataView(b.buffer).setUint32(at, v, true);
  return b;
}

function expectError(
  o: Outcome,
  code: SaveImageErrorCode,
  message?: string | RegExp,
): SaveImageError {
  assert.ok(!o.ok, `expected ${code}, the image was accepted`);
  assert.equal(o.error.code, code, String(o.error));
  if (typeof message === "string") assert.equal(String(o.error), message);
  else if (message) assert.match(String(o.error), message);
  return o.error;
}

const HVM = await buildImage({
  seed: 5,
  domainType: "hvm",
  format: "xl",
  pages: 40,
  xenstoreData: true,
});
const PV = await buildImage({ seed: 6, domainType: "pv", format: "xl", pages: 40 });
const HVM_RECS = records(HVM.bytes, "xl");
const PV_RECS = records(PV.bytes, "xl");
const HEADERS: Record<string, string> = {
  XL_HEADER: "header",
  LIBXL_HEADER: "stream header",
  IMAGE_HEADER: "image header",
  DOMAIN_HEADER: "domain header",
};

Deno.test("the clean images read fine (the baseline for every corruption below)", () => {
  assert.deepEqual(outcome(HVM.bytes, "xl"), { ok: true });
  assert.deepEqual(outcome(PV.bytes, "xl"), { ok: true });
});

Deno.test("truncated at every header and record boundary: missing_end between records, truncated inside", () => {
  for (const [img, recs] of [[HVM, HVM_RECS], [PV, PV_RECS]] as const) {
    for (const r of recs) {
      const o = outcome(img.bytes.subarray(0, r.offset), "xl");
      if (r.kind in HEADERS) {
        const e = expectError(o, "truncated");
        assert.equal(e.what, HEADERS[r.kind], String(e));
      } else {
        const e = expectError(o, "missing_end");
        assert.equal(e.layer, `${r.layer} stream`, String(e));
        assert.equal(e.offset, r.offset);
      }
      for (const d of [1, 3, 7, 8, 9]) {
        const cut = r.offset + d;
        if (cut >= img.bytes.length || recs.some((x) => x.offset === cut)) continue;
        expectError(outcome(img.bytes.subarray(0, cut), "xl"), "truncated");
      }
    }
    expectError(
      outcome(img.bytes.subarray(0, 48 + 3), "xl"),
      "truncated",
      /xl header: optional data at offset 48/,
    );
  }
});

Deno.test("truncated at every one of the first 300 bytes: a SaveImageError each time", () => {
  for (let n = 0; n < 300; n++) {
    const o = outcome(HVM.bytes.subarray(0, n), "xl");
    assert.ok(
      !o.ok && (o.error.code === "truncated" || o.error.code === "missing_end"),
      `cut ${n}`,
    );
  }
});

Deno.test("a PAGE_DATA count over MAX_BATCH_SIZE is refused with the record's offset", () => {
  const at = find(HVM_RECS, "PAGE_DATA");
  expectError(
    outcome(u32(HVM.bytes, at + 8, 2000), "xl"),
    "batch_too_large",
    `SaveImageError: libxc stream: PAGE_DATA record at offset ${at}: count 2000 exceeds MAX_BATCH_SIZE 1024`,
  );
  expectError(outcome(u32(HVM.bytes, at + 8, 0), "xl"), "bad_field", /expected at least 1 pfn/);
});

Deno.test("bad magic, ident and marker are refused at their header", () => {
  const b = HVM.bytes.slice();
  b[3] ^= 1;
  expectError(
    outcome(b, "xl"),
    "bad_magic",
    /^SaveImageError: xl header: header at offset 0: wrong magic number at byte 3/,
  );
  const lh = find(HVM_RECS, "LIBXL_HEADER");
  const b2 = HVM.bytes.slice();
  b2[lh] = 0x6c;
  expectError(
    outcome(b2, "xl"),
    "bad_magic",
    new RegExp(`libxl stream: stream header at offset ${lh}: ident`),
  );
  const ih = find(HVM_RECS, "IMAGE_HEADER");
  const b3 = HVM.bytes.slice();
  b3[ih + 2] = 0x7f;
  expectError(
    outcome(b3, "xl"),
    "bad_magic",
    new RegExp(`libxc stream: image header at offset ${ih}: marker`),
  );
});

Deno.test("bad versions: libxl 3, libxc 1 and 4", () => {
  const lh = find(HVM_RECS, "LIBXL_HEADER");
  const b = HVM.bytes.slice();
  b[lh + 11] = 3;
  expectError(outcome(b, "xl"), "bad_version", /version 3, expected 2/);
  const ih = find(HVM_RECS, "IMAGE_HEADER");
  for (const v of [1, 4]) {
    const c = HVM.bytes.slice();
    c[ih + 15] = v;
    expectError(
      outcome(c, "xl"),
      "bad_version",
      new RegExp(`version ${v}, expected 2 <= version <= 3`),
    );
  }
});

Deno.test("wrong endianness in each layer: xl byteorder, libxl and libxc option bit 0", () => {
  expectError(outcome(u32(HVM.bytes, 32, 0x04030201), "xl"), "bad_endianness", /big-endian host/);
  const lh = find(HVM_RECS, "LIBXL_HEADER");
  const b = HVM.bytes.slice();
  b[lh + 15] = 1;
  expectError(outcome(b, "xl"), "bad_endianness", /libxl stream: stream header/);
  const ih = find(HVM_RECS, "IMAGE_HEADER");
  const c = HVM.bytes.slice();
  c[ih + 17] = 1;
  expectError(outcome(c, "xl"), "bad_endianness", /libxc stream: image header/);
});

Deno.test("xl mandatory flags: an unknown bit is refused, a missing STREAMv2 is unsupported", () => {
  expectError(
    outcome(u32(HVM.bytes, 36, 0x13), "xl"),
    "bad_flags",
    /0x10 which are not supported; need newer xl/,
  );
  expectError(outcome(u32(HVM.bytes, 36, 0x1), "xl"), "unsupported", /legacy/);
});

Deno.test("unknown mandatory records are refused in both layers; optional ones are skipped", () => {
  const params = find(HVM_RECS, "HVM_PARAMS");
  expectError(
    outcome(u32(HVM.bytes, params, 0x13), "xl"),
    "unknown_record",
    `SaveImageError: libxc stream: record 0x00000013 at offset ${params}: unknown mandatory record type 0x13`,
  );
  const emu = find(HVM_RECS, "EMULATOR_CONTEXT");
  expectError(
    outcome(u32(HVM.bytes, emu, 6), "xl"),
    "unknown_record",
    /libxl stream: record 0x00000006/,
  );
  const r = new SaveImageReader({ format: "xl" });
  const res = r.push(u32(u32(HVM.bytes, params, 0x8000000a), emu, 0x80000003));
  assert.ok(res.ok && res.done);
  const f = r.finish();
  assert.ok(f.ok && f.image.optionalRecordsSkipped === 2 && f.image.hvmParams.length === 0);
});

Deno.test("record lengths that do not fit their layout are refused at that record", () => {
  const page = find(HVM_RECS, "PAGE_DATA");
  expectError(
    outcome(u32(HVM.bytes, page + 4, 40 * 4104 + 16), "xl"),
    "bad_length",
    /PAGE_DATA record.*expected 8 \+ 8 \* 40/,
  );
  const p2m = find(PV_RECS, "X86_PV_P2M_FRAMES");
  expectError(
    outcome(u32(PV.bytes, p2m + 4, 12), "xl"),
    "bad_length",
    /X86_PV_P2M_FRAMES record.*not 8 \+ a multiple of 8/,
  );
  const cpuid = find(HVM_RECS, "X86_CPUID_POLICY");
  expectError(
    outcome(u32(HVM.bytes, cpuid + 4, 64), "xl"),
    "bad_length",
    /not a non-zero multiple of 24/,
  );
  const si = find(PV_RECS, "SHARED_INFO");
  expectError(
    outcome(u32(PV.bytes, si + 4, 4095), "xl"),
    "bad_length",
    /SHARED_INFO record.*expected 4096/,
  );
  expectError(
    outcome(u32(HVM.bytes, cpuid + 4, 71), "xl"),
    "bad_padding",
    /padding after 71 body bytes/,
  );
  const end = find(HVM_RECS, "END", "libxc");
  expectError(outcome(u32(HVM.bytes, end + 4, 8), "xl"), "bad_length", /END record.*expected 0/);
});

Deno.test("non-zero padding is refused in the libxl layer and the libxc layer", async () => {
  const xs = find(HVM_RECS, "EMULATOR_XENSTORE_DATA");
  const len = new DataView(HVM.bytes.buffer).getUint32(xs + 4, true);
  assert.notEqual(len % 8, 0, "the fixture's xenstore data record is padded");
  const b = HVM.bytes.slice();
  b[xs + 8 + len] = 0xee;
  expectError(
    outcome(b, "xl"),
    "bad_padding",
    new RegExp(`libxl stream: EMULATOR_XENSTORE_DATA record at offset ${xs}`),
  );
  const chunks: Uint8Array[] = [];
  const w = new SaveStreamWriter((c) => void chunks.push(c.slice()), {
    domainType: "hvm",
    xenVersion: { major: 4, minor: 17 },
  });
  await w.libxcBegin();
  await w.staticDataEnd();
  await w.hvmContext(new Uint8Array(12));
  await w.libxcEnd();
  const s = new Uint8Array(chunks.flatMap((c) => [...c]));
  assert.deepEqual(outcome(s, "libxc"), { ok: true });
  s[40 + 8 + 8 + 12] = 1; // first padding byte after the 12-byte HVM context
  expectError(
    outcome(s, "libxc"),
    "bad_padding",
    /libxc stream: HVM_CONTEXT record at offset 48: padding/,
  );
});

Deno.test("missing END: in the libxl layer and in a bare libxc stream", async () => {
  const lastEnd = HVM.bytes.length - 8;
  expectError(
    outcome(HVM.bytes.subarray(0, lastEnd), "xl"),
    "missing_end",
    `SaveImageError: libxl stream: at offset ${lastEnd}: the stream ends between records, before the END record`,
  );
  const lx = await buildImage({ seed: 7, domainType: "pv", format: "libxc", pages: 40 });
  expectError(
    outcome(lx.bytes.subarray(0, lx.bytes.length - 8), "libxc"),
    "missing_end",
    /libxc stream/,
  );
});

Deno.test("records out of place: PV in HVM, memory before STATIC_DATA_END, vCPU-less END, CHECKPOINT, TOOLSTACK", () => {
  const params = find(HVM_RECS, "HVM_PARAMS");
  expectError(
    outcome(u32(HVM.bytes, params, 2), "xl"),
    "unexpected_record",
    /X86_PV_INFO record in an x86 HVM stream/,
  );
  const pvInfo = find(PV_RECS, "X86_PV_INFO");
  expectError(
    outcome(u32(PV.bytes, pvInfo, 9), "xl"),
    "unexpected_record",
    /HVM_CONTEXT record in an x86 PV stream/,
  );
  const sde = find(HVM_RECS, "STATIC_DATA_END");
  expectError(
    outcome(u32(HVM.bytes, sde, 0x80000010), "xl"),
    "bad_order",
    /PAGE_DATA before STATIC_DATA_END/,
  );
  expectError(
    outcome(u32(HVM.bytes, sde, 14), "xl"),
    "unexpected_record",
    /CHECKPOINT in a non-checkpointed stream/,
  );
  expectError(outcome(u32(HVM.bytes, sde, 15), "xl"), "unexpected_record", /back channel/);
  expectError(outcome(u32(HVM.bytes, params, 11), "xl"), "unsupported", /TOOLSTACK/);
  const vcpu0 = find(PV_RECS, "X86_PV_VCPU_BASIC");
  expectError(
    outcome(u32(PV.bytes, vcpu0, 0x80000004), "xl"),
    "bad_order",
    /END before vcpu0's X86_PV_VCPU_BASIC/,
  );
  const p2m = find(PV_RECS, "X86_PV_P2M_FRAMES");
  expectError(
    outcome(u32(PV.bytes, p2m, 0x80000003), "xl"),
    "bad_order",
    /PAGE_DATA before X86_PV_P2M_FRAMES/,
  );
  const hvmCtx = find(HVM_RECS, "HVM_CONTEXT");
  expectError(
    outcome(u32(HVM.bytes, hvmCtx, 0x80000009), "xl"),
    "bad_order",
    /END before HVM_CONTEXT/,
  );
  const lxc = find(HVM_RECS, "LIBXC_CONTEXT");
  expectError(outcome(u32(HVM.bytes, lxc, 0), "xl"), "bad_order", /END before LIBXC_CONTEXT/);
});

Deno.test("a checkpointed stream read as a plain one is refused at its first CHECKPOINT", async () => {
  const ck = await buildImage({
    seed: 8,
    domainType: "hvm",
    format: "libxl",
    pages: 16,
    checkpoints: 1,
  });
  assert.deepEqual(outcome(ck.bytes, "libxl", { checkpointed: true }), { ok: true });
  expectError(
    outcome(ck.bytes, "libxl"),
    "unexpected_record",
    /CHECKPOINT in a non-checkpointed stream/,
  );
  // cut inside the checkpoint's libxl records: the backup sees a missing CHECKPOINT_END
  const recs = records(ck.bytes, "libxl");
  const cpEnd = find(recs, "CHECKPOINT_END");
  expectError(
    outcome(ck.bytes.subarray(0, cpEnd), "libxl", { checkpointed: true }),
    "missing_end",
    /before the CHECKPOINT_END record/,
  );
});

Deno.test("readSaveImage throws the SaveImageError itself, and refuses trailing bytes unless allowed", async () => {
  await assert.rejects(readSaveImage([HVM.bytes.subarray(0, 100)], { format: "xl" }), (e) => {
    assert.ok(e instanceof SaveImageError && e.code === "truncated");
    return true;
  });
  const extra = new Uint8Array([...HVM.bytes, 1, 2, 3]);
  await assert.rejects(readSaveImage([extra], { format: "xl" }), (e) => {
    assert.ok(
      e instanceof SaveImageError && e.code === "trailing_data" && e.offset === HVM.bytes.length,
    );
    return true;
  });
  await assert.rejects(
    readSaveImage([HVM.bytes, new Uint8Array([0])], { format: "xl" }),
    SaveImageError,
  );
  const img = await readSaveImage([extra], { format: "xl", allowTrailing: true });
  assert.equal(img.bytes, HVM.bytes.length);
});

Deno.test("seeded random corruption: always ok or a SaveImageError, the same whole or split", () => {
  const seed = 20240605;
  const rng = new Rng(seed);
  const codes = new Set<string>();
  for (let i = 0; i < 400; i++) {
    const [img, recs] = rng.chance(1, 2) ? [HVM, HVM_RECS] : [PV, PV_RECS];
    const b = img.bytes.slice();
    const what = rng.int(4);
    let bytes: Uint8Array = b;
    if (what === 0) b[rng.int(b.length)] ^= 1 << rng.int(8);
    else if (what === 1) bytes = b.subarray(0, rng.int(b.length));
    else {
      const r = recs[rng.int(recs.length)];
      const at = r.offset + (what === 2 ? 0 : 4) + (r.kind in HEADERS ? rng.int(8) : 0);
      new DataView(b.buffer).setUint32(
        Math.min(at, b.length - 4),
        rng.chance(1, 2) ? rng.int(2 ** 32) : rng.int(64),
        true,
      );
    }
    const whole = outcome(bytes, "xl");
    const split = outcome(bytes, "xl", { cut: () => rng.range(1, 5000) });
    const tag = `seed ${seed}, case ${i}`;
    assert.equal(whole.ok, split.ok, tag);
    if (!whole.ok && !split.ok) {
      assert.equal(String(split.error), String(whole.error), tag);
      codes.add(whole.error.code);
    }
  }
  assert.ok(codes.size >= 6, `varied failures: ${[...codes].join(", ")}`);
});
