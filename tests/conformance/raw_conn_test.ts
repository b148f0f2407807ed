/**
 * @module
 * Unit tests of the suite's own client half: argument encoding and the
 * req_id matching / event queueing of {@link StreamRawConn}, without a daemon.
 */
import assert from "node:assert/strict";
import { Op } from "../../src/xenstore/wire/op.ts";
import { MessageParser } from "../../src/xenstore/wire/parser.ts";
import { byteString, encodeArgs, frame, splitNul, StreamRawConn } from "./raw_conn.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("encodeArgs NUL-terminates every argument except WRITE's value", () => {
  assert.equal(byteString(encodeArgs(Op.READ, ["/a"])), "/a\0");
  assert.equal(byteString(encodeArgs(Op.WATCH, ["/a", "tok"])), "/a\0tok\0");
  assert.equal(byteString(encodeArgs(Op.WRITE, ["/a", "v\0w"])), "/a\0v\0w");
  assert.equal(byteString(encodeArgs(Op.WRITE, ["/a", ""])), "/a\0");
  assert.equal(byteString(encodeArgs(Op.WRITE, ["/a"])), "/a\0");
  assert.equal(byteString(encodeArgs(Op.SET_PERMS, ["/a", "n0", "r1"])), "/a\0n0\0r1\0");
  assert.equal(byteString(encodeArgs(Op.READ, { raw: enc("x") })), "x");
  assert.equal(byteString(encodeArgs(Op.TRANSACTION_START, [])), "");
});

Deno.test("splitNul keeps an unterminated tail", () => {
  assert.deepEqual(splitNul(enc("a\0b\0")), ["a", "b"]);
  assert.deepEqual(splitNul(enc("a\0b")), ["a", "b"]);
  assert.deepEqual(splitNul(enc("")), []);
  assert.deepEqual(splitNul(enc("\0")), [""]);
});

/** A connection whose "server" is the test: it sees frames and feeds bytes. */
function fake() {
  const sent: { type: number; reqId: number; txId: number; payload: string }[] = [];
  const parser = new MessageParser();
  let closed = false;
  const conn = new StreamRawConn((b) => {
    for (const m of parser.push(b).messages) sent.push({ ...m, payload: byteString(m.payload) });
    return Promise.resolve();
  }, () => (closed = true));
  return { conn, sent, isClosed: () => closed };
}

Deno.test("replies are matched by req_id, whatever their order; events are queued and logged", async () => {
  const { conn, sent } = fake();
  const a = conn.req(Op.READ, ["/a"]);
  const b = conn.req(Op.READ, ["/b"], { txId: 3 });
  assert.deepEqual(sent.map((m) => [m.reqId, m.txId, m.payload]), [[1, 0, "/a\0"], [2, 3, "/b\0"]]);
  conn.receive(frame(Op.WATCH_EVENT, 0, 0, enc("/w\0tok\0")));
  conn.receive(frame(Op.ERROR, 2, 3, enc("ENOENT\0")));
  // One reply split across two chunks.
  const ra = frame(Op.READ, 1, 0, enc("va"));
  conn.receive(ra.subarray(0, 5));
  conn.receive(ra.subarray(5));
  const [rb, rA] = [await b, await a];
  assert.equal(rb.error, "ENOENT");
  assert.equal(rb.txId, 3);
  assert.equal(rA.error, undefined);
  assert.equal(byteString(rA.payload), "va");
  assert.deepEqual(conn.log.map((m) => m.type), [Op.WATCH_EVENT, Op.ERROR, Op.READ]);
  assert.deepEqual(await conn.events({ timeoutMs: 0, quietMs: 0 }), [{ path: "/w", token: "tok" }]);
  assert.deepEqual(await conn.events({ timeoutMs: 0 }), []);
  conn.close();
});

Deno.test("events() waits for a first event, then for quiet", async () => {
  const { conn } = fake();
  setTimeout(() => conn.receive(frame(Op.WATCH_EVENT, 0, 0, enc("/1\0t\0"))), 10);
  setTimeout(() => conn.receive(frame(Op.WATCH_EVENT, 0, 0, enc("/2\0t\0"))), 20);
  const evs = await conn.events({ timeoutMs: 1000, quietMs: 50 });
  assert.deepEqual(evs.map((e) => e.path), ["/1", "/2"]);
  conn.close();
});

Deno.test("pending requests reject when the server closes, and requests time out", async () => {
  const { conn, isClosed } = fake();
  await assert.rejects(conn.req(Op.READ, ["/a"], { timeoutMs: 10 }), /no reply within 10 ms/);
  const p = conn.req(Op.READ, ["/a"]);
  conn.receiveEnd();
  await assert.rejects(p, /closed by the server/);
  await conn.closed;
  await assert.rejects(conn.req(Op.READ, ["/a"]), /closed/);
  conn.close();
  assert.ok(isClosed());
});
