import assert from "node:assert/strict";
import { encodeMessage, latin1, type Message, nulJoin } from "../wire/message.ts";
import { Op } from "../wire/op.ts";
import { connectUnix, UNIX_LINK_PENDING_BYTES_MAX, UnixLink } from "./unix_link.ts";

async function withServer(
  serve: (conn: Deno.UnixConn) => Promise<void>,
  fn: (path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "xsl" });
  const path = `${dir}/s`;
  const listener = Deno.listen({ transport: "unix", path });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      await serve(conn);
    } finally {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  })();
  try {
    await fn(path);
  } finally {
    await served;
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function collect(link: UnixLink | Awaited<ReturnType<typeof connectUnix>>, n: number) {
  return new Promise<Message[]>((resolve) => {
    const got: Message[] = [];
    link.onMessage((m) => {
      got.push(m);
      if (got.length === n) resolve(got);
    });
  });
}

const read = (reqId: number, path: string): Message => ({
  type: Op.READ,
  reqId,
  txId: 0,
  payload: nulJoin([path]),
});

Deno.test("messages sent one byte at a time arrive whole and in order", async () => {
  const msgs = [read(1, "/a"), read(2, "/bb"), { ...read(3, ""), payload: new Uint8Array() }];
  await withServer(async (conn) => {
    for (const m of msgs) {
      for (const b of encodeMessage(m)) await conn.write(new Uint8Array([b]));
    }
  }, async (path) => {
    const link = await connectUnix(path);
    const got = await collect(link, 3);
    assert.deepEqual(got.map((m) => [m.reqId, latin1(m.payload)]), [[1, "/a\0"], [2, "/bb\0"], [
      3,
      "",
    ]]);
    link.close();
    assert.equal(await link.closed, undefined);
  });
});

Deno.test("a server that drops the connection resolves closed with an Error", async () => {
  await withServer(async () => {}, async (path) => {
    const link = await connectUnix(path);
    link.onMessage(() => {});
    const why = await link.closed;
    assert.ok(why instanceof Error);
    assert.match(why.message, /the server closed the connection/);
    link.send(read(1, "/a")); // ignored once closed
  });
});

Deno.test("a header claiming more than 4096 payload bytes ends the link", async () => {
  const bad = new Uint8Array(16);
  new DataView(bad.buffer).setUint32(12, 4097, true);
  await withServer(async (conn) => {
    await conn.write(bad);
    // keep the socket open until the client hangs up
    await conn.read(new Uint8Array(1)).catch(() => null);
  }, async (path) => {
    const link = await connectUnix(path);
    link.onMessage(() => assert.fail("no message expected"));
    const why = await link.closed;
    assert.match(String(why), /4097-byte payload \(limit 4096\)/);
  });
});

/** A fake connection recording writes; reads never complete. */
function fakeConn() {
  const writes: Uint8Array[] = [];
  const conn = {
    writes,
    write(p: Uint8Array) {
      writes.push(p.slice());
      return Promise.resolve(p.length);
    },
    read(_p: Uint8Array) {
      return new Promise<number | null>(() => {});
    },
    close() {},
  };
  return conn;
}

Deno.test("messages sent in the same tick go out in one write", async () => {
  const conn = fakeConn();
  const link = new UnixLink(conn as unknown as Deno.Conn, "fake");
  for (let i = 1; i <= 5; i++) link.send(read(i, "/x"));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  assert.equal(conn.writes.length, 1);
  assert.equal(conn.writes[0].length, 5 * (16 + 3));
  link.close();
});

Deno.test("more than UNIX_LINK_PENDING_BYTES_MAX unwritten bytes ends the link", async () => {
  const conn = fakeConn();
  const link = new UnixLink(conn as unknown as Deno.Conn, "fake");
  const big = { ...read(1, ""), payload: new Uint8Array(4000) };
  const n = Math.ceil(UNIX_LINK_PENDING_BYTES_MAX / (16 + 4000)) + 1;
  for (let i = 0; i < n; i++) link.send(big);
  const why = await link.closed;
  assert.match(
    String(why),
    /bytes waiting to be written \(limit 4194304\); the server is not reading/,
  );
  assert.equal(conn.writes.length, 0);
});
