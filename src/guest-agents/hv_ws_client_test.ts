import assert from "node:assert/strict";
import { SystemClock } from "../sim/system_clock.ts";
import {
  base64ToBytes,
  bytesToBase64,
  connectHvWebSocket,
  HV_WS_CLOSE_UNAUTHORIZED,
  HV_WS_REPLY_BYTES_MAX,
  type HvUpcall,
} from "./hv_ws_client.ts";

/** A scripted `/hv` host: `on(frame, socket)` sees every request after `ok 5`. */
async function fakeHost(
  on: (m: Record<string, any>, socket: WebSocket) => void,
  opts: { secret?: string; silent?: boolean } = {},
) {
  const sockets: WebSocket[] = [];
  const seen: Record<string, any>[] = [];
  let url = "";
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => {
      url = `ws://127.0.0.1:${port}/hv`;
      listening();
    },
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    sockets.push(socket);
    let authed = false;
    socket.onmessage = (ev) => {
      if (!authed) {
        if (opts.silent) return;
        if (ev.data !== (opts.secret ?? "s3cret")) {
          socket.close(HV_WS_CLOSE_UNAUTHORIZED, "a valid credential must come first");
          return;
        }
        authed = true;
        socket.send("ok 5");
        return;
      }
      const m = JSON.parse(String(ev.data));
      seen.push(m);
      on(m, socket);
    };
    return response;
  });
  await ready;
  return {
    url,
    seen,
    sockets,
    async stop() {
      for (const s of sockets) if (s.readyState === WebSocket.OPEN) s.close();
      await server.shutdown();
    },
  };
}

const clock = new SystemClock();
const tick = () => new Promise((r) => setTimeout(r, 20));

/** Waits (bounded) until `pred` holds. */
async function until(what: string, pred: () => boolean): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (pred()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("hv websocket client: replies are matched by id, whatever their order; upcalls go to the handler", async () => {
  const held: Record<string, any>[] = [];
  const host = await fakeHost((m, s) => {
    if (m.op === "attach") {
      s.send(JSON.stringify({ id: m.id, result: true }));
      s.send(JSON.stringify({ upcall: "event", port: 3 }));
      return;
    }
    held.push(m);
    if (held.length === 2) {
      // Answer the second first.
      s.send(JSON.stringify({ id: held[1].id, result: { ret: 2 } }));
      s.send(JSON.stringify({ id: held[0].id, result: { ret: 1 } }));
    }
  });
  try {
    const c = await connectHvWebSocket({ url: host.url, secret: "s3cret", clock });
    assert.equal(c.domid, 5);
    const upcalls: HvUpcall[] = [];
    c.onUpcall((u) => upcalls.push(u));
    assert.equal(await c.request({ op: "attach" }), true);
    const [a, b] = await Promise.all([
      c.hypercall({ hc: "sched_op", op: "yield" }),
      c.hypercall({ hc: "sched_op", op: "block" }),
    ]);
    assert.deepEqual([a.ret, b.ret], [1, 2]);
    assert.deepEqual(upcalls, [{ upcall: "event", port: 3 }]);
    assert.deepEqual(host.seen.map((m) => m.call?.op ?? m.op), ["attach", "yield", "block"]);
    c.close();
  } finally {
    await host.stop();
  }
});

Deno.test("hv websocket client: page reads and writes travel as base64; a host error rejects that request only", async () => {
  const page = new Uint8Array(64);
  const host = await fakeHost((m, s) => {
    const reply = (r: unknown) => s.send(JSON.stringify({ id: m.id, ...(r as object) }));
    if (m.op === "write") {
      page.set(base64ToBytes(m.bytes), m.offset);
      reply({ result: 0 });
    } else if (m.op === "read") {
      reply({
        result: m.pfn === 1 ? bytesToBase64(page.subarray(m.offset, m.offset + m.length)) : -14,
      });
    } else reply({ error: `unknown op "${m.op}"` });
  });
  try {
    const c = await connectHvWebSocket({ url: host.url, secret: "s3cret", clock });
    assert.equal(await c.writePage(1, 8, new Uint8Array([1, 2, 3, 250])), 0);
    const out = new Uint8Array(4);
    assert.equal(await c.readPage(1, 8, out), 0);
    assert.deepEqual([...out], [1, 2, 3, 250]);
    assert.equal(await c.readPage(2, 0, out), -14);
    await assert.rejects(c.request({ op: "attach" }), /attach: unknown op "attach"/);
    assert.equal(await c.readPage(1, 9, new Uint8Array(1)), 0);
    c.close();
  } finally {
    await host.stop();
  }
});

Deno.test("hv websocket client: at most outstandingMax on the wire, queuedMax waiting, then refused", async () => {
  const host = await fakeHost(() => {}); // never answers by itself
  try {
    const c = await connectHvWebSocket({
      url: host.url,
      secret: "s3cret",
      clock,
      outstandingMax: 2,
      queuedMax: 1,
    });
    const calls = [0, 1, 2].map(() => c.hypercall({ hc: "sched_op", op: "yield" }));
    await assert.rejects(
      c.hypercall({ hc: "sched_op", op: "yield" }),
      /2 requests outstanding and 1 queued \(limits 2\/1\)/,
    );
    await until("two requests at the host", () => host.seen.length >= 2);
    await tick();
    assert.equal(host.seen.length, 2, "the third waits for a slot");
    assert.deepEqual([c.outstanding, c.queued], [2, 1]);
    const s = host.sockets[0];
    s.send(JSON.stringify({ id: host.seen[0].id, result: { ret: 0 } }));
    assert.equal((await calls[0]).ret, 0);
    await until("a reply frees a slot: the queued request goes out", () => host.seen.length === 3);
    assert.deepEqual(host.seen.map((m) => m.id), [1, 2, 3]);
    for (const m of host.seen.slice(1)) s.send(JSON.stringify({ id: m.id, result: { ret: m.id } }));
    assert.deepEqual((await Promise.all(calls.slice(1))).map((r) => r.ret), [2, 3]);
    c.close();
  } finally {
    await host.stop();
  }
});

Deno.test("hv websocket client: when the host closes, pending and later requests reject saying so", async () => {
  const host = await fakeHost(() => {});
  try {
    const c = await connectHvWebSocket({ url: host.url, secret: "s3cret", clock });
    const pending = c.hypercall({ hc: "sched_op", op: "yield" });
    await until("the request at the host", () => host.seen.length === 1);
    host.sockets[0].close(1001, "daemon stopping");
    await assert.rejects(
      pending,
      /hypercall sched_op yield: no hypervisor connection \(.*closed by the host \(code 1001\): daemon stopping\)/,
    );
    const why = await c.closed;
    assert.match(String(why), /closed by the host/);
    await assert.rejects(
      c.readPage(1, 0, new Uint8Array(1)),
      /read pfn 1: no hypervisor connection/,
    );
  } finally {
    await host.stop();
  }
});

Deno.test("hv websocket client: a reply to no request is a protocol error that ends the link", async () => {
  const host = await fakeHost((m, s) => s.send(JSON.stringify({ id: m.id + 100, result: 0 })));
  try {
    const c = await connectHvWebSocket({ url: host.url, secret: "s3cret", clock });
    await assert.rejects(c.hypercall({ hc: "sched_op", op: "yield" }), /broke the protocol/);
    assert.match(String(await c.closed), /a reply to no request \(id 101\)/);
  } finally {
    await host.stop();
  }
});

Deno.test("hv websocket client: a frame over HV_WS_REPLY_BYTES_MAX ends the link", async () => {
  const host = await fakeHost((m, s) =>
    s.send(JSON.stringify({ id: m.id, result: "A".repeat(HV_WS_REPLY_BYTES_MAX) }))
  );
  try {
    const c = await connectHvWebSocket({ url: host.url, secret: "s3cret", clock });
    await assert.rejects(c.readPage(1, 0, new Uint8Array(4)), /broke the protocol/);
    assert.match(String(await c.closed), /at most HV_WS_REPLY_BYTES_MAX bytes/);
  } finally {
    await host.stop();
  }
});

Deno.test("hv websocket client: refused connection, refused secret and a silent host fail clearly", async () => {
  const host = await fakeHost(() => {});
  const silent = await fakeHost(() => {}, { silent: true });
  const port = Number(new URL(host.url).port);
  try {
    await assert.rejects(
      connectHvWebSocket({ url: host.url, secret: "wrong", clock }),
      /hv websocket ws:.*\/hv: credential refused \(4401\): a valid credential must come first/,
    );
    await assert.rejects(
      connectHvWebSocket({ url: silent.url, secret: "s3cret", clock, connectTimeoutNs: 100e6 }),
      /no answer within 0.1 s \(connectTimeoutNs\)/,
    );
    await host.stop();
    await assert.rejects(
      connectHvWebSocket({ url: `ws://127.0.0.1:${port}/hv`, secret: "s3cret", clock }),
      /cannot connect .*is the host running\?/,
    );
  } finally {
    await host.stop().catch(() => {});
    await silent.stop();
  }
});
