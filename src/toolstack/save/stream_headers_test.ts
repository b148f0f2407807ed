import assert from "node:assert/strict";
import {
  decodeDomainHeader,
  decodeImageHeader,
  decodeLibxlHeader,
  encodeDomainHeader,
  encodeImageHeader,
  encodeLibxlHeader,
} from "./stream_headers.ts";

/** "LibxlFmt", version 2, options 0 — all big-endian. */
const LIBXL = [0x4c, 0x69, 0x62, 0x78, 0x6c, 0x46, 0x6d, 0x74, 0, 0, 0, 2, 0, 0, 0, 0];
/** Marker all ones, "XENF", version 3, options 0, 6 reserved zero bytes — big-endian. */
// deno-fmt-ignore
const IMAGE = [
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
  0x58, 0x45, 0x4e, 0x46, 0, 0, 0, 3,
  0, 0, 0, 0, 0, 0, 0, 0,
];
/** x86 PV (1), page_shift 12, reserved 0, Xen 4.17 — little-endian. */
const DOMAIN_PV = [1, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 17, 0, 0, 0];
const DOMAIN_HVM = [2, 0, 0, 0, 12, 0, 0, 0, 4, 0, 0, 0, 17, 0, 0, 0];

function edit(base: number[], at: number, ...bytes: number[]): Uint8Array {
  const b = new Uint8Array(base);
  b.set(bytes, at);
  return b;
}

Deno.test("libxl header encodes to its golden bytes and decodes back", () => {
  assert.deepEqual(encodeLibxlHeader(), new Uint8Array(LIBXL));
  assert.deepEqual(decodeLibxlHeader(new Uint8Array(LIBXL)), {
    ok: true,
    value: { version: 2, legacy: false },
  });
  assert.deepEqual(decodeLibxlHeader(edit(LIBXL, 15, 2)), {
    ok: true,
    value: { version: 2, legacy: true },
  });
});

Deno.test("libxl header refuses bad ident, version, reserved options and big-endian", () => {
  const cases: [Uint8Array, string][] = [
    [edit(LIBXL, 0, 0x4d), "bad_magic"],
    [edit(LIBXL, 11, 3), "bad_version"],
    [edit(LIBXL, 15, 4), "bad_flags"],
    [edit(LIBXL, 12, 0x80), "bad_flags"],
    [edit(LIBXL, 15, 1), "bad_endianness"],
  ];
  for (const [b, code] of cases) {
    const r = decodeLibxlHeader(b);
    assert.ok(!r.ok && r.code === code, `${code}: ${JSON.stringify(r)}`);
  }
});

Deno.test("libxc image header encodes to its golden bytes and decodes back; v2 is read", () => {
  assert.deepEqual(encodeImageHeader(), new Uint8Array(IMAGE));
  assert.deepEqual(decodeImageHeader(new Uint8Array(IMAGE)), { ok: true, value: { version: 3 } });
  assert.deepEqual(decodeImageHeader(edit(IMAGE, 15, 2)), { ok: true, value: { version: 2 } });
});

Deno.test("libxc image header refuses legacy marker, bad id, versions 1 and 4, options, reserved bytes", () => {
  const cases: [Uint8Array, string, string][] = [
    [edit(IMAGE, 3, 0x7f), "bad_magic", "legacy"],
    [edit(IMAGE, 8, 0x59), "bad_magic", "XENF"],
    [edit(IMAGE, 15, 1), "bad_version", "version 1"],
    [edit(IMAGE, 15, 4), "bad_version", "version 4"],
    [edit(IMAGE, 17, 1), "bad_endianness", "big endian"],
    [edit(IMAGE, 16, 0x80), "bad_flags", "reserved"],
    [edit(IMAGE, 21, 1), "bad_field", "reserved bytes"],
  ];
  for (const [b, code, why] of cases) {
    const r = decodeImageHeader(b);
    assert.ok(!r.ok && r.code === code && r.reason.includes(why), `${code}: ${JSON.stringify(r)}`);
  }
});

Deno.test("libxc domain header encodes PV and HVM to golden bytes and decodes back", () => {
  assert.deepEqual(encodeDomainHeader("pv", { major: 4, minor: 17 }), new Uint8Array(DOMAIN_PV));
  assert.deepEqual(encodeDomainHeader("hvm", { major: 4, minor: 17 }), new Uint8Array(DOMAIN_HVM));
  assert.deepEqual(decodeDomainHeader(new Uint8Array(DOMAIN_HVM)), {
    ok: true,
    value: { domainType: "hvm", pageShift: 12, xenVersion: { major: 4, minor: 17 } },
  });
});

Deno.test("libxc domain header refuses unknown types, other page shifts, reserved bits", () => {
  for (
    const [b, why] of [[edit(DOMAIN_PV, 0, 3), "domain type"], [
      edit(DOMAIN_PV, 4, 13),
      "page_shift",
    ], [
      edit(DOMAIN_PV, 6, 1),
      "reserved",
    ]] as const
  ) {
    const r = decodeDomainHeader(b);
    assert.ok(!r.ok && r.code === "bad_field" && r.reason.includes(why));
  }
});
