import assert from "node:assert/strict";
import { Session, type SessionHost, WATCH_EVENT_TIMEOUT_NS } from "./session.ts";
import { Connection } from "../connection.ts";
import { type Message, watchEvent } from "../wire/message.ts";
import { Op } from "../wire/op.ts";

/** A host with a settable clock and an endpoint whose writes we release by hand. */
function harness(privileged: boolean) {
  let now = 0;
  const written: Message[][] = [];
  let release: (() => void) | undefined;
  const host: SessionHost = {
    request() {},
    flush() {},
    closed() {},
    violation() {},
    log() {},
    nowNs: () => now,
  };
  const conn = new Connection(1, privileged ? 0 : 5, privileged, privileged ? "socket" : "guest");
  const s = new Session(host, conn, {
    write(batch) {
      written.push([...batch]);
      return new Promise<void>((r) => (release = r));
    },
    close() {},
  });
  return {
    s,
    written,
    advance: (ns: number) => (now += ns),
    release: async () => {
      release!();
      await Promise.resolve();
      await Promise.resolve();
    },
  };
}

const reply: Message = { type: Op.READ, reqId: 1, txId: 0, payload: new Uint8Array() };

Deno.test("session: an identical event still queued is dropped (XSA-326)", () => {
  const h = harness(true);
  h.s.enqueue(reply);
  h.s.flush(); // the write is now in flight; later messages wait
  assert.equal(h.s.enqueue(watchEvent("/a", "t")), true);
  assert.equal(h.s.enqueue(watchEvent("/a", "t")), false);
  assert.equal(h.s.enqueue(watchEvent("/a", "u")), true);
  assert.equal(h.s.outstanding, 3);
});

Deno.test("session: special @ events are never merged, even when identical", () => {
  const h = harness(true);
  h.s.enqueue(reply);
  h.s.flush();
  assert.equal(h.s.enqueue(watchEvent("@releaseDomain", "t")), true);
  assert.equal(h.s.enqueue(watchEvent("@releaseDomain", "t")), true);
  assert.equal(h.s.outstanding, 3);
});

Deno.test("session: a guest's event unsent for 20 s is discarded, replies are not", async () => {
  const h = harness(false);
  h.s.enqueue(reply);
  h.s.flush();
  h.s.enqueue(watchEvent("/old", "t"));
  h.advance(WATCH_EVENT_TIMEOUT_NS - 1);
  h.s.enqueue(watchEvent("/new", "t"));
  h.s.enqueue(reply);
  h.advance(2);
  await h.release();
  const second = h.written[1].map((m) =>
    m.type === Op.WATCH_EVENT ? new TextDecoder().decode(m.payload) : "reply"
  );
  assert.deepEqual(second, ["/new\0t\0", "reply"]);
});

Deno.test("session: dom0's events are never timed out", async () => {
  const h = harness(true);
  h.s.enqueue(reply);
  h.s.flush();
  h.s.enqueue(watchEvent("/old", "t"));
  h.advance(10 * WATCH_EVENT_TIMEOUT_NS);
  await h.release();
  assert.equal(h.written[1].length, 1);
});
