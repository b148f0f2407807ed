import assert from "node:assert/strict";
import {
  decodeXlFixedHeader,
  decodeXlOptionalData,
  encodeXlHeader,
  XL_OPTIONAL_DATA_BYTES_MAX,
} from "./xl_header.ts";

const ascii = (s: string) => Array.from(s, (c) => c.charCodeAt(0));
const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

/** "Xen saved domain, xl format\n \0 \r", byte by byte. */
// deno-fmt-ignore
const MAGIC = [
  0x58, 0x65, 0x6e, 0x20, 0x73, 0x61, 0x76, 0x65,
  0x64, 0x20, 0x64, 0x6f, 0x6d, 0x61, 0x69, 0x6e,
  0x2c, 0x20, 0x78, 0x6c, 0x20, 0x66, 0x6f, 0x72,
  0x6d, 0x61, 0x74, 0x0a, 0x20, 0x00, 0x20, 0x0d,
];

/** xl's header for `{"a":1}`: JSON|STREAMv2, optional data = u32 8 + 7 chars + NUL. */
// deno-fmt-ignore
const GOLDEN_JSON = new Uint8Array([
  ...MAGIC,
  0x04, 0x03, 0x02, 0x01, // byteorder 0x01020304, little-endian
  0x03, 0x00, 0x00, 0x00, // mandatory_flags JSON | STREAMv2
  0x00, 0x00, 0x00, 0x00, // optional_flags
  0x0c, 0x00, 0x00, 0x00, // optional_data_len 12
  0x08, 0x00, 0x00, 0x00, // config_len 8
  ...ascii('{"a":1}'), 0x00,
]);

/** Without a config: STREAMv2 only, and still the 4-byte zero config_len. */
// deno-fmt-ignore
const GOLDEN_EMPTY = new Uint8Array([
  ...MAGIC,
  0x04, 0x03, 0x02, 0x01, // byteorder
  0x02, 0x00, 0x00, 0x00, // mandatory_flags STREAMv2
  0x00, 0x00, 0x00, 0x00, // optional_flags
  0x04, 0x00, 0x00, 0x00, // optional_data_len 4
  0x00, 0x00, 0x00, 0x00, // config_len 0
]);

function fixed(
  over: Partial<{ order: number; mandatory: number; optLen: number }> = {},
): Uint8Array {
  return new Uint8Array([
    ...MAGIC,
    ...u32le(over.order ?? 0x01020304),
    ...u32le(over.mandatory ?? 3),
    ...u32le(0),
    ...u32le(over.optLen ?? 0),
  ]);
}

Deno.test("xl header with a JSON config encodes to xl's golden bytes and decodes back", () => {
  assert.deepEqual(encodeXlHeader('{"a":1}'), GOLDEN_JSON);
  const f = decodeXlFixedHeader(GOLDEN_JSON.subarray(0, 48));
  assert.deepEqual(f, {
    ok: true,
    value: { mandatoryFlags: 3, optionalFlags: 0, optionalDataBytes: 12 },
  });
  const o = decodeXlOptionalData(GOLDEN_JSON.subarray(48), 3);
  assert.deepEqual(o, {
    ok: true,
    value: { config: { format: "json", text: '{"a":1}' }, tailBytes: 0 },
  });
});

Deno.test("xl header without a config sets only STREAMv2 and a zero config_len", () => {
  assert.deepEqual(encodeXlHeader(), GOLDEN_EMPTY);
  const f = decodeXlFixedHeader(GOLDEN_EMPTY.subarray(0, 48));
  assert.ok(f.ok && f.value.mandatoryFlags === 2 && f.value.optionalDataBytes === 4);
  assert.deepEqual(decodeXlOptionalData(GOLDEN_EMPTY.subarray(48), 2), {
    ok: true,
    value: { config: undefined, tailBytes: 0 },
  });
});

Deno.test("xl header refuses a bad magic, naming the byte", () => {
  const b = fixed();
  b[5] ^= 0xff;
  const r = decodeXlFixedHeader(b);
  assert.ok(!r.ok && r.code === "bad_magic" && r.reason.includes("byte 5"));
});

Deno.test("xl header refuses a big-endian byteorder and a garbage one", () => {
  const be = decodeXlFixedHeader(fixed({ order: 0x04030201 }));
  assert.ok(!be.ok && be.code === "bad_endianness" && be.reason.includes("big-endian"));
  const junk = decodeXlFixedHeader(fixed({ order: 0xdeadbeef }));
  assert.ok(!junk.ok && junk.code === "bad_endianness" && junk.reason.includes("0xdeadbeef"));
});

Deno.test("xl header refuses unknown mandatory flags like xl: need newer xl", () => {
  const r = decodeXlFixedHeader(fixed({ mandatory: 0x7 }));
  assert.ok(
    !r.ok && r.code === "bad_flags" && r.reason.includes("0x4") && r.reason.includes("newer xl"),
  );
});

Deno.test("xl header without STREAMv2 is a legacy stream, unsupported", () => {
  const r = decodeXlFixedHeader(fixed({ mandatory: 0x1 }));
  assert.ok(!r.ok && r.code === "unsupported" && r.reason.includes("legacy"));
});

Deno.test("xl optional data over XL_OPTIONAL_DATA_BYTES_MAX is refused before it is read", () => {
  assert.ok(decodeXlFixedHeader(fixed({ optLen: XL_OPTIONAL_DATA_BYTES_MAX })).ok);
  const r = decodeXlFixedHeader(fixed({ optLen: XL_OPTIONAL_DATA_BYTES_MAX + 1 }));
  assert.ok(!r.ok && r.code === "limit" && r.reason.includes("XL_OPTIONAL_DATA_BYTES_MAX"));
});

Deno.test("xl optional data: short, overlong config_len, missing or early NUL, bad UTF-8 are refused", () => {
  const cases: [number[], number, string][] = [
    [[1, 0], 3, "too short"],
    [[...u32le(9), ...ascii("{}"), 0], 3, "exceeds"],
    [[...u32le(2), ...ascii("{}")], 3, "not NUL-terminated"],
    [[...u32le(3), 0x7b, 0, 0x7d], 3, "NUL at byte 1"],
    [[...u32le(3), 0xff, 0xfe, 0], 3, "UTF-8"],
  ];
  for (const [bytes, flags, why] of cases) {
    const r = decodeXlOptionalData(new Uint8Array(bytes), flags);
    assert.ok(!r.ok, why);
    assert.ok(r.reason.includes(why), `${r.reason} / ${why}`);
  }
});

Deno.test("xl optional data: xl-cfg text without JSON, and a skipped tail", () => {
  const cfg = ascii('name="x"\n');
  const r = decodeXlOptionalData(new Uint8Array([...u32le(cfg.length), ...cfg, 9, 9, 9]), 2);
  assert.deepEqual(r, {
    ok: true,
    value: { config: { format: "xl-cfg", text: 'name="x"\n' }, tailBytes: 3 },
  });
});
