/**
 * @module
 * Codec tests for `message.ts`: golden byte vectors both ways (encode to the
 * exact bytes, and those bytes parse back to the message whole, one byte at a
 * time and split at random points), the reply builders of
 * xenstore-protocol.md §1.4–§1.5, and the encode/decode round-trip property.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bytes,
  encodeMessage,
  errorReply,
  fromLatin1,
  latin1,
  type Message,
  nulJoin,
  okReply,
  reply,
  watchEvent,
  writeHeader,
  XENSTORE_PAYLOAD_MAX,
  XS_HEADER_BYTES,
} from "./message.ts";
import { MessageParser } from "./parser.ts";
import { Op } from "./op.ts";
import { XS_ERRORS } from "./errno.ts";

const SEED = 0x5eed_0001;

/** Hex of bytes, e.g. `02000000 07000000`, grouped by 4 for readability. */
function hex(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return h.replace(/(.{8})/g, "$1 ").trim();
}

function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function plain(m: Message) {
  return { type: m.type, reqId: m.reqId, txId: m.txId, payload: [...m.payload] };
}

function parseWhole(b: Uint8Array): Message[] {
  const r = new MessageParser().push(b);
  assert.equal(r.failure, undefined);
  return r.messages;
}

function parseBytewise(b: Uint8Array): Message[] {
  const p = new MessageParser();
  const out: Message[] = [];
  for (let i = 0; i < b.length; i++) {
    const r = p.push(b.subarray(i, i + 1));
    assert.equal(r.failure, undefined);
    out.push(...r.messages);
  }
  assert.ok(p.idle);
  return out;
}

function parseSplit(b: Uint8Array, cuts: number[]): Message[] {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const p = new MessageParser();
  const out: Message[] = [];
  let at = 0;
  for (const c of [...points, b.length]) {
    out.push(...p.push(b.subarray(at, c)).messages);
    at = c;
  }
  return out;
}

/** name, message, wire bytes (hex; header fields little-endian). */
const GOLDEN: [string, Message, string][] = [
  [
    "READ /tool, req_id 7",
    { type: Op.READ, reqId: 7, txId: 0, payload: fromLatin1("/tool\0") },
    "02000000 07000000 00000000 06000000 2f746f6f 6c00",
  ],
  [
    "WRITE with an unterminated value containing a NUL",
    { type: Op.WRITE, reqId: 0x01020304, txId: 5, payload: fromLatin1("/a\0x\0y") },
    "0b000000 04030201 05000000 06000000 2f610078 0079",
  ],
  [
    "XS_ERROR ENOENT",
    { type: Op.ERROR, reqId: 1, txId: 2, payload: fromLatin1("ENOENT\0") },
    "10000000 01000000 02000000 07000000 454e4f45 4e5400",
  ],
  [
    "WATCH_EVENT",
    { type: Op.WATCH_EVENT, reqId: 0, txId: 0, payload: fromLatin1("/a\0tok\0") },
    "0f000000 00000000 00000000 07000000 2f610074 6f6b00",
  ],
  [
    "empty payload (DIRECTORY reply of a leaf)",
    { type: Op.DIRECTORY, reqId: 0xffffffff, txId: 0xfffffffe, payload: new Uint8Array(0) },
    "01000000 ffffffff feffffff 00000000",
  ],
  [
    "XS_INVALID type 65535",
    { type: Op.INVALID, reqId: 0, txId: 0, payload: fromLatin1("\0") },
    "ffff0000 00000000 00000000 01000000 00",
  ],
  [
    "TRANSACTION_START reply carries the id in the payload only",
    { type: Op.TRANSACTION_START, reqId: 9, txId: 0, payload: fromLatin1("1\0") },
    "06000000 09000000 00000000 02000000 3100",
  ],
];

for (const [name, msg, wire] of GOLDEN) {
  Deno.test(`message golden: ${name} encodes to the exact bytes`, () => {
    assert.equal(hex(encodeMessage(msg)), hex(unhex(wire)));
  });
  Deno.test(`message golden: ${name} decodes whole, bytewise and split`, () => {
    const b = unhex(wire);
    assert.deepEqual(parseWhole(b).map(plain), [plain(msg)]);
    assert.deepEqual(parseBytewise(b).map(plain), [plain(msg)]);
    for (let cut = 0; cut <= b.length; cut++) {
      assert.deepEqual(parseSplit(b, [cut]).map(plain), [plain(msg)], `cut at ${cut}`);
    }
  });
}

Deno.test("message golden: every vector back to back decodes in order, bytewise", () => {
  const all = GOLDEN.map(([, , w]) => unhex(w));
  const stream = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of all) {
    stream.set(b, at);
    at += b.length;
  }
  const want = GOLDEN.map(([, m]) => plain(m));
  assert.deepEqual(parseWhole(stream).map(plain), want);
  assert.deepEqual(parseBytewise(stream).map(plain), want);
});

Deno.test("message: the header is 16 bytes and the payload limit is 4096", () => {
  assert.equal(XS_HEADER_BYTES, 16);
  assert.equal(XENSTORE_PAYLOAD_MAX, 4096);
});

Deno.test("message: writeHeader stores uint32 little-endian, wrapping negatives", () => {
  const buf = new Uint8Array(20).fill(0xaa);
  writeHeader(buf, 2, -1, 0x7fffffff, 0x80000000, 4096);
  assert.equal(hex(buf), "aaaaffff ffffffff ff7f0000 00800010 0000aaaa");
});

Deno.test("message: writeHeader honours the byteOffset of a subarray", () => {
  const backing = new Uint8Array(40);
  const view = backing.subarray(8, 24);
  writeHeader(view, 0, 2, 3, 4, 5);
  assert.equal(hex(backing.subarray(8, 24)), "02000000 03000000 04000000 05000000");
  assert.ok(backing.subarray(0, 8).every((x) => x === 0));
  assert.ok(backing.subarray(24).every((x) => x === 0));
});

Deno.test("message: nulJoin terminates every part, empty ones included", () => {
  assert.equal(latin1(nulJoin(["a", "", "bc"])), "a\0\0bc\0");
  assert.equal(nulJoin([]).length, 0);
  assert.equal(latin1(nulJoin([new Uint8Array([0x41, 0]), "z"])), "A\0\0z\0");
});

Deno.test("message: okReply is OK\\0 with the request's type, req_id and tx_id", () => {
  const req: Message = { type: Op.WRITE, reqId: 42, txId: 3, payload: fromLatin1("/a\0b") };
  const r = okReply(req);
  assert.deepEqual(plain(r), { type: Op.WRITE, reqId: 42, txId: 3, payload: [79, 75, 0] });
  assert.equal(hex(encodeMessage(r)), "0b000000 2a000000 03000000 03000000 4f4b00");
});

Deno.test("message: errorReply carries every errno name of the table, NUL-terminated", () => {
  const req: Message = { type: Op.READ, reqId: 0xdeadbeef, txId: 7, payload: new Uint8Array() };
  for (const [name] of XS_ERRORS) {
    const r = errorReply(req, name);
    assert.equal(r.type, Op.ERROR);
    assert.equal(r.reqId, 0xdeadbeef);
    assert.equal(r.txId, 7);
    assert.equal(latin1(r.payload), `${name}\0`);
  }
});

Deno.test("message: reply echoes req_id and tx_id whatever the new type", () => {
  const req: Message = { type: 99, reqId: 1, txId: 2, payload: new Uint8Array(3) };
  assert.deepEqual(plain(reply(req, Op.READ, fromLatin1("v"))), {
    type: Op.READ,
    reqId: 1,
    txId: 2,
    payload: [118],
  });
});

Deno.test("message: watchEvent has req_id 0, tx_id 0 and path\\0token\\0", () => {
  const ev = watchEvent("data/x", "0xFFFF8880");
  assert.deepEqual(plain(ev), {
    type: Op.WATCH_EVENT,
    reqId: 0,
    txId: 0,
    payload: [...fromLatin1("data/x\0" + "0xFFFF8880\0")],
  });
});

Deno.test("message: latin1 and fromLatin1 are inverse outside 0x80-0x9f", () => {
  const all = new Uint8Array(256).map((_, i) => i).filter((b) => b < 0x80 || b > 0x9f);
  assert.deepEqual([...fromLatin1(latin1(all))], [...all]);
  assert.equal(latin1(fromLatin1("\u00ff\u0000A")), "\u00ff\u0000A");
});

// (Fixed.) `latin1()` used `new TextDecoder("latin1")`, which the Encoding
// standard maps to windows-1252: bytes 0x80-0x9f decode to chars such as
// U+20AC, and `fromLatin1` then keeps only their low byte (0x80 -> 0xac,
// 0x9f -> 0x78). Watch tokens and `@` paths are raw bytes to the C daemon and
// come back unchanged in WATCH_EVENTs; ours come back altered. Repro: socket
// WATCH payload `/a\0\x80\x9f\xff\0` -> real daemon's event
// `/a\0\x80\x9f\xff\0`, ours `/a\0\xac\x78\xff\0`. Fix: decode byte by
// byte (String.fromCharCode) instead of TextDecoder("latin1").
Deno.test({
  name: "message: latin1 and fromLatin1 are inverse on all 256 byte values",
  fn() {
    const all = new Uint8Array(256).map((_, i) => i);
    assert.deepEqual([...fromLatin1(latin1(all))], [...all]);
  },
});

Deno.test("message: fromLatin1 keeps the low byte of wider chars, bytes() is UTF-8", () => {
  assert.deepEqual([...fromLatin1("\u0141")], [0x41]);
  assert.deepEqual([...bytes("\u00e9")], [0xc3, 0xa9]);
});

const arbMessage = fc.record({
  type: fc.nat({ max: 0xffffffff }),
  reqId: fc.nat({ max: 0xffffffff }),
  txId: fc.nat({ max: 0xffffffff }),
  payload: fc.uint8Array({ maxLength: XENSTORE_PAYLOAD_MAX }),
});

Deno.test("message property: encode then decode is the identity, whole and bytewise", () => {
  fc.assert(
    fc.property(arbMessage, (m) => {
      const wire = encodeMessage(m);
      assert.equal(wire.length, XS_HEADER_BYTES + m.payload.length);
      assert.deepEqual(parseWhole(wire).map(plain), [plain(m)]);
      assert.deepEqual(parseBytewise(wire).map(plain), [plain(m)]);
    }),
    { seed: SEED, numRuns: 60 },
  );
});

Deno.test("message property: a stream of messages decodes the same at any split points", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          type: fc.nat({ max: 0xffffffff }),
          reqId: fc.nat({ max: 0xffffffff }),
          txId: fc.nat({ max: 0xffffffff }),
          payload: fc.uint8Array({ maxLength: 64 }),
        }),
        { maxLength: 12 },
      ),
      fc.array(fc.nat(), { maxLength: 30 }),
      (msgs, cuts) => {
        const parts = msgs.map(encodeMessage);
        const stream = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          stream.set(p, at);
          at += p.length;
        }
        const want = msgs.map(plain);
        assert.deepEqual(parseWhole(stream).map(plain), want);
        assert.deepEqual(parseSplit(stream, cuts).map(plain), want);
      },
    ),
    { seed: SEED + 1, numRuns: 200 },
  );
});

Deno.test("message property: nulJoin of NUL-free strings splits back into them", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: "binary-ascii" }).filter((s) => !s.includes("\0"))), (
      parts,
    ) => {
      const joined = latin1(nulJoin(parts));
      assert.equal(joined.length, parts.reduce((n, p) => n + p.length + 1, 0));
      assert.deepEqual(parts.length ? joined.slice(0, -1).split("\0") : [], parts);
    }),
    { seed: SEED + 2, numRuns: 200 },
  );
});
