/**
 * @module
 * Tests for the incremental parser's state machine (`parser.ts`): header →
 * payload → message, and the terminal `oversize` failure for a header whose
 * `len` exceeds `XENSTORE_PAYLOAD_MAX` (xenstore-protocol.md §1.6). Whatever
 * the chunking, the parser yields the same messages and the same failure.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MessageParser, type ParseFailure } from "./parser.ts";
import {
  encodeMessage,
  fromLatin1,
  type Message,
  writeHeader,
  XENSTORE_PAYLOAD_MAX,
  XS_HEADER_BYTES,
} from "./message.ts";
import { Op } from "./op.ts";

const SEED = 0x5eed_0002;

function plain(m: Message) {
  return { type: m.type, reqId: m.reqId, txId: m.txId, payload: [...m.payload] };
}

function header(type: number, reqId: number, txId: number, len: number): Uint8Array {
  const h = new Uint8Array(XS_HEADER_BYTES);
  writeHeader(h, 0, type, reqId, txId, len);
  return h;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Feeds `b` cut at `cuts`; returns every message and the first failure. */
function feed(b: Uint8Array, cuts: number[]): { messages: Message[]; failure?: ParseFailure } {
  const points = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const p = new MessageParser();
  const messages: Message[] = [];
  let failure: ParseFailure | undefined;
  let at = 0;
  for (const c of [...points, b.length]) {
    const r = p.push(b.subarray(at, c));
    messages.push(...r.messages);
    failure ??= r.failure;
    if (failure) assert.deepEqual(r.failure, failure, "a failure is sticky");
    at = c;
  }
  assert.deepEqual(p.failure, failure);
  return { messages, failure };
}

function bytewise(b: Uint8Array) {
  return feed(b, [...Array(b.length).keys()]);
}

Deno.test("parser: a fresh parser is idle and an empty chunk yields nothing", () => {
  const p = new MessageParser();
  assert.ok(p.idle);
  assert.deepEqual(p.push(new Uint8Array(0)), { messages: [] });
  assert.ok(p.idle);
  assert.equal(p.failure, undefined);
});

Deno.test("parser: a partial header, then a partial payload, is not idle", () => {
  const wire = encodeMessage({ type: Op.READ, reqId: 1, txId: 0, payload: fromLatin1("/a\0") });
  const p = new MessageParser();
  assert.deepEqual(p.push(wire.subarray(0, 5)).messages, []);
  assert.ok(!p.idle);
  assert.deepEqual(p.push(wire.subarray(5, 17)).messages, []);
  assert.ok(!p.idle);
  const r = p.push(wire.subarray(17));
  assert.deepEqual(r.messages.map(plain), [plain({
    type: Op.READ,
    reqId: 1,
    txId: 0,
    payload: fromLatin1("/a\0"),
  })]);
  assert.ok(p.idle);
});

Deno.test("parser: zero-length payloads back to back, including at a chunk's end", () => {
  const h = header(Op.TRANSACTION_START, 3, 0, 0);
  const stream = concat(h, h, h);
  for (const cuts of [[], [16], [32], [16, 32], [8, 24, 40], [...Array(48).keys()]]) {
    const { messages } = feed(stream, cuts);
    assert.equal(messages.length, 3, `cuts ${cuts}`);
    for (const m of messages) assert.equal(m.payload.length, 0);
  }
});

Deno.test("parser: a payload of exactly XENSTORE_PAYLOAD_MAX bytes is accepted", () => {
  const payload = new Uint8Array(XENSTORE_PAYLOAD_MAX).map((_, i) => i & 0xff);
  const wire = encodeMessage({ type: Op.WRITE, reqId: 1, txId: 0, payload });
  for (const r of [feed(wire, []), bytewise(wire)]) {
    assert.equal(r.failure, undefined);
    assert.equal(r.messages.length, 1);
    assert.deepEqual([...r.messages[0].payload], [...payload]);
  }
});

Deno.test("parser: len = XENSTORE_PAYLOAD_MAX + 1 is the typed oversize failure", () => {
  const h = header(Op.WRITE, 0x11223344, 9, XENSTORE_PAYLOAD_MAX + 1);
  const want: ParseFailure = {
    kind: "oversize",
    len: XENSTORE_PAYLOAD_MAX + 1,
    type: Op.WRITE,
    reqId: 0x11223344,
    txId: 9,
  };
  const whole = feed(h, []);
  assert.deepEqual(whole, { messages: [], failure: want });
  assert.deepEqual(bytewise(h), { messages: [], failure: want });
});

Deno.test("parser: len = 0xffffffff fails at once, without waiting for payload", () => {
  const p = new MessageParser();
  const r = p.push(header(Op.READ, 1, 0, 0xffffffff));
  assert.equal(r.failure?.kind, "oversize");
  assert.equal(r.failure?.len, 0xffffffff);
});

Deno.test("parser: messages before an oversize header in the same chunk are returned", () => {
  const a = encodeMessage({ type: Op.READ, reqId: 1, txId: 0, payload: fromLatin1("/a\0") });
  const b = encodeMessage({ type: Op.READ, reqId: 2, txId: 0, payload: fromLatin1("/b\0") });
  const bad = header(Op.WRITE, 3, 0, 5000);
  const r = new MessageParser().push(concat(a, b, bad, a));
  assert.deepEqual(r.messages.map((m) => m.reqId), [1, 2]);
  assert.equal(r.failure?.reqId, 3);
});

Deno.test("parser: after a failure it accepts nothing more, and says so on every push", () => {
  const p = new MessageParser();
  p.push(header(Op.READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1));
  const good = encodeMessage({ type: Op.READ, reqId: 2, txId: 0, payload: fromLatin1("/\0") });
  for (let i = 0; i < 3; i++) {
    const r = p.push(good);
    assert.deepEqual(r.messages, []);
    assert.equal(r.failure?.kind, "oversize");
    assert.equal(r.failure?.reqId, 1);
  }
  assert.equal(p.failure?.len, XENSTORE_PAYLOAD_MAX + 1);
});

Deno.test("parser: a message does not alias the caller's chunk", () => {
  const wire = encodeMessage({ type: Op.READ, reqId: 1, txId: 0, payload: fromLatin1("/ab\0") });
  const r = new MessageParser().push(wire);
  wire.fill(0x58);
  assert.deepEqual([...r.messages[0].payload], [...fromLatin1("/ab\0")]);
});

Deno.test("parser: a chunk may end one message, hold several and start another", () => {
  const ms: Message[] = [1, 2, 3, 4].map((i) => ({
    type: Op.WRITE,
    reqId: i,
    txId: i * 10,
    payload: fromLatin1(`/p${i}\0v`.repeat(i)),
  }));
  const stream = concat(...ms.map(encodeMessage));
  const first = encodeMessage(ms[0]).length;
  const p = new MessageParser();
  const got = [
    ...p.push(stream.subarray(0, first - 2)).messages,
    ...p.push(stream.subarray(first - 2, stream.length - 3)).messages,
    ...p.push(stream.subarray(stream.length - 3)).messages,
  ];
  assert.deepEqual(got.map(plain), ms.map(plain));
});

const arbMessage = fc.record({
  type: fc.oneof(fc.integer({ min: 0, max: 30 }), fc.constant(0xffff), fc.nat()),
  reqId: fc.nat({ max: 0xffffffff }),
  txId: fc.nat({ max: 0xffffffff }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ minLength: XENSTORE_PAYLOAD_MAX - 2, maxLength: XENSTORE_PAYLOAD_MAX }),
  ),
});

Deno.test("parser property: any chunking gives the same messages as the whole buffer", () => {
  fc.assert(
    fc.property(
      fc.array(arbMessage, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (msgs, cuts) => {
        const stream = concat(...msgs.map(encodeMessage));
        const whole = feed(stream, []);
        assert.equal(whole.failure, undefined);
        assert.deepEqual(whole.messages.map(plain), msgs.map(plain));
        assert.deepEqual(feed(stream, cuts).messages.map(plain), msgs.map(plain));
      },
    ),
    { seed: SEED, numRuns: 150 },
  );
});

Deno.test("parser property: an oversize header anywhere ends the stream the same way", () => {
  fc.assert(
    fc.property(
      fc.array(arbMessage, { maxLength: 6 }),
      fc.nat(),
      fc.integer({ min: XENSTORE_PAYLOAD_MAX + 1, max: 0xffffffff }),
      fc.array(arbMessage, { maxLength: 3 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (before, at, len, after, cuts) => {
        const k = at % (before.length + 1);
        const bad = header(Op.WRITE, 77, 88, len);
        const stream = concat(
          ...before.slice(0, k).map(encodeMessage),
          bad,
          ...before.slice(k).map(encodeMessage),
          ...after.map(encodeMessage),
        );
        const want: ParseFailure = { kind: "oversize", len, type: Op.WRITE, reqId: 77, txId: 88 };
        for (const r of [feed(stream, []), feed(stream, cuts)]) {
          assert.deepEqual(r.messages.map(plain), before.slice(0, k).map(plain));
          assert.deepEqual(r.failure, want);
        }
      },
    ),
    { seed: SEED + 1, numRuns: 150 },
  );
});

Deno.test("parser property: one byte at a time equals whole-buffer parsing", () => {
  fc.assert(
    fc.property(fc.array(arbMessage, { maxLength: 3 }), (msgs) => {
      const stream = concat(...msgs.map(encodeMessage));
      assert.deepEqual(bytewise(stream).messages.map(plain), msgs.map(plain));
    }),
    { seed: SEED + 2, numRuns: 30 },
  );
});

Deno.test("parser with alias: a message whole in its chunk has a view of it; a split one is copied", () => {
  const a = encodeMessage({ type: Op.READ, reqId: 1, txId: 0, payload: fromLatin1("/a\0") });
  const b = encodeMessage({ type: Op.WRITE, reqId: 2, txId: 3, payload: fromLatin1("/b\0value") });
  const chunk = concat(a, b.subarray(0, 20));
  const p = new MessageParser({ alias: true });
  const first = p.push(chunk).messages;
  assert.equal(first.length, 1);
  assert.equal(first[0].payload.buffer, chunk.buffer, "whole: a view of the chunk");
  chunk.fill(0); // the caller reuses its buffer
  const second = p.push(b.subarray(20)).messages;
  assert.deepEqual(second.map(plain), [
    plain({ type: Op.WRITE, reqId: 2, txId: 3, payload: fromLatin1("/b\0value") }),
  ]);
  const copied = new MessageParser().push(concat(a)).messages[0];
  assert.notEqual(copied.payload.buffer.byteLength, a.length, "default: a copy of its own");
});

Deno.test("parser with alias: the same messages and failure whatever the chunking", () => {
  fc.assert(
    fc.property(
      fc.array(arbMessage, { maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (msgs, cuts) => {
        const stream = concat(
          ...msgs.map(encodeMessage),
          header(Op.READ, 5, 6, XENSTORE_PAYLOAD_MAX + 1),
        );
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((x, y) => x - y);
        const p = new MessageParser({ alias: true });
        const got: ReturnType<typeof plain>[] = [];
        let failure: ParseFailure | undefined;
        let at = 0;
        for (const c of [...points, stream.length]) {
          const r = p.push(stream.subarray(at, c));
          got.push(...r.messages.map(plain)); // copied out before the next push
          failure ??= r.failure;
          at = c;
        }
        assert.deepEqual(got, msgs.map(plain));
        assert.deepEqual(failure, {
          kind: "oversize",
          len: XENSTORE_PAYLOAD_MAX + 1,
          type: Op.READ,
          reqId: 5,
          txId: 6,
        });
      },
    ),
    { seed: SEED + 3, numRuns: 100 },
  );
});
