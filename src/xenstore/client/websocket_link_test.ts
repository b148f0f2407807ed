import assert from "node:assert/strict";
import { encodeMessage, latin1, type Message, nulJoin, watchEvent } from "../wire/message.ts";
import { MessageParser } from "../wire/parser.ts";
import { Op } from "../wire/op.ts";
import {
  connectWebSocket,
  WEBSOCKET_LINK_BUFFERED_BYTES_MAX,
  WEBSOCKET_LINK_EARLY_MESSAGES_MAX,
  WS_CLOSE_UNAUTHORIZED,
} from "./websocket_link.ts";

interface Session {
  readonly socket: WebSocket;
  send(bytes: Uint8Array): void;
}

/**
 * A test server speaking the link's protocol: checks the credential, says
 * `ok <domid>`, then hands every request to `onRequest`.
 */
async function withWsServer(
  opts: {
    credential: string;
    domid?: number;
    greeting?: string;
    onOpen?: (s: Session) => void;
    onRequest?: (m: Message, s: Session) => void;
  },
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const sockets: WebSocket[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    sockets.push(socket);
    socket.binaryType = "arraybuffer";
    const parser = new MessageParser();
    const session: Session = { socket, send: (b) => socket.send(b) };
    let authed = false;
    socket.onmessage = (ev) => {
      if (!authed) {
        if (ev.data !== opts.credential) {
          socket.close(WS_CLOSE_UNAUTHORIZED, "unknown credential");
          return;
        }
        authed = true;
        socket.send(opts.greeting ?? `ok ${opts.domid ?? 0}`);
        opts.onOpen?.(session);
        return;
      }
      for (const m of parser.push(new Uint8Array(ev.data as ArrayBuffer)).messages) {
        opts.onRequest?.(m, session);
      }
    };
    return response;
  });
  try {
    await fn(`ws://127.0.0.1:${server.addr.port}/`);
  } finally {
    for (const s of sockets) {
      if (s.readyState === WebSocket.OPEN) s.close();
    }
    await server.shutdown();
  }
}

Deno.test("websocket: the credential is accepted, replies split over many frames are reassembled", async () => {
  await withWsServer({
    credential: "secret",
    domid: 7,
    onRequest(m, s) {
      const reply = encodeMessage({ ...m, payload: nulJoin(["value-of", latin1(m.payload)]) });
      // One byte per frame, then a frame with two events at once.
      for (const b of reply) s.send(new Uint8Array([b]));
      s.send(
        new Uint8Array([
          ...encodeMessage(watchEvent("/a", "t")),
          ...encodeMessage(watchEvent("/b", "t")),
        ]),
      );
    },
  }, async (url) => {
    const link = await connectWebSocket(url, "secret");
    assert.equal(link.domid, 7);
    const got: Message[] = [];
    const three = new Promise<void>((resolve) =>
      link.onMessage((m) => {
        got.push(m);
        if (got.length === 3) resolve();
      })
    );
    link.send({ type: Op.READ, reqId: 9, txId: 0, payload: nulJoin(["/x"]) });
    await three;
    assert.equal(got[0].reqId, 9);
    assert.equal(latin1(got[0].payload), "value-of\0/x\0\0");
    assert.deepEqual(got.slice(1).map((m) => [m.type, latin1(m.payload)]), [
      [Op.WATCH_EVENT, "/a\0t\0"],
      [Op.WATCH_EVENT, "/b\0t\0"],
    ]);
    link.close();
    assert.equal(await link.closed, undefined);
  });
});

Deno.test("websocket: a refused credential rejects with code 4401 and the reason", async () => {
  await withWsServer({ credential: "secret" }, async (url) => {
    await assert.rejects(
      connectWebSocket(url, "wrong"),
      /credential refused \(4401\): unknown credential/,
    );
  });
});

Deno.test("websocket: a greeting other than 'ok <domid>' rejects", async () => {
  await withWsServer({ credential: "c", greeting: "hello" }, async (url) => {
    await assert.rejects(connectWebSocket(url, "c"), /expected "ok <domid>"/);
  });
});

Deno.test("websocket: nothing listening rejects", async () => {
  await assert.rejects(connectWebSocket("ws://127.0.0.1:9/", "c"), /closed before authentication/);
});

Deno.test("websocket: a text frame after authentication ends the link", async () => {
  await withWsServer(
    { credential: "c", onRequest: (_m, s) => s.socket.send("oops") },
    async (url) => {
      const link = await connectWebSocket(url, "c");
      link.onMessage(() => {});
      link.send({ type: Op.READ, reqId: 1, txId: 0, payload: nulJoin(["/x"]) });
      assert.match(String(await link.closed), /text frame after authentication/);
    },
  );
});

Deno.test("websocket: a server that closes resolves closed with an Error", async () => {
  await withWsServer(
    { credential: "c", onRequest: (_m, s) => s.socket.close(1000, "bye") },
    async (url) => {
      const link = await connectWebSocket(url, "c");
      link.onMessage(() => {});
      link.send({ type: Op.READ, reqId: 1, txId: 0, payload: nulJoin(["/x"]) });
      assert.match(String(await link.closed), /closed by the server \(code 1000\): bye/);
    },
  );
});

Deno.test("websocket: more than WEBSOCKET_LINK_EARLY_MESSAGES_MAX messages before a handler end the link", async () => {
  await withWsServer({
    credential: "c",
    onOpen(s) {
      const one = encodeMessage(watchEvent("/a", "t"));
      const many = new Uint8Array(one.length * (WEBSOCKET_LINK_EARLY_MESSAGES_MAX + 1));
      for (let i = 0; i <= WEBSOCKET_LINK_EARLY_MESSAGES_MAX; i++) many.set(one, i * one.length);
      s.send(many);
    },
  }, async (url) => {
    const link = await connectWebSocket(url, "c");
    assert.match(String(await link.closed), /256 messages arrived before a handler/);
  });
});

Deno.test("websocket: messages that arrive before the handler are handed over in order", async () => {
  await withWsServer({
    credential: "c",
    onOpen(s) {
      s.send(encodeMessage(watchEvent("/1", "t")));
      s.send(encodeMessage(watchEvent("/2", "t")));
    },
  }, async (url) => {
    const link = await connectWebSocket(url, "c");
    await new Promise((r) => setTimeout(r, 50));
    const got: string[] = [];
    link.onMessage((m) => got.push(latin1(m.payload)));
    assert.deepEqual(got, ["/1\0t\0", "/2\0t\0"]);
    link.close();
  });
});

Deno.test("websocket: a burst over WEBSOCKET_LINK_BUFFERED_BYTES_MAX ends the link", async () => {
  await withWsServer({ credential: "c" }, async (url) => {
    const link = await connectWebSocket(url, "c");
    link.onMessage(() => {});
    const big: Message = { type: Op.WRITE, reqId: 1, txId: 0, payload: new Uint8Array(4000) };
    const n = Math.ceil(WEBSOCKET_LINK_BUFFERED_BYTES_MAX / (16 + 4000)) + 1;
    for (let i = 0; i < n; i++) link.send(big);
    assert.match(
      String(await link.closed),
      /bytes unsent \(limit 4194304\); the server is not reading/,
    );
  });
});
