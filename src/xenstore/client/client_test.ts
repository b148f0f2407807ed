import assert from "node:assert/strict";
import { XsError } from "../wire/errno.ts";
import { fromLatin1, latin1, type Message, nulJoin, watchEvent } from "../wire/message.ts";
import { Op } from "../wire/op.ts";
import { DIRECTORY_PART_REQUESTS_MAX } from "./directory_part.ts";
import {
  OUTSTANDING_REQUESTS_MAX,
  QUEUED_REQUESTS_MAX,
  TRANSACTION_RETRIES_MAX,
  XsClient,
} from "./client.ts";
import { XsConnectionLostError } from "./connection_lost_error.ts";
import { ScriptedLink } from "./scripted_link.ts";

/** Lets every pending microtask run (the scripted server answers in one). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function args(m: Message): string[] {
  const s = latin1(m.payload);
  return s.endsWith("\0") ? s.slice(0, -1).split("\0") : s.split("\0");
}

/** A tiny server: a map of values, OK for writes, ENOENT for missing reads. */
function kvServer(values: Map<string, string>) {
  return (m: Message, link: ScriptedLink) => {
    const [path] = args(m);
    switch (m.type) {
      case Op.READ:
        if (values.has(path)) link.answer(m, fromLatin1(values.get(path)!));
        else link.error(m, "ENOENT");
        return;
      case Op.WRITE: {
        const nul = m.payload.indexOf(0);
        values.set(latin1(m.payload.subarray(0, nul)), latin1(m.payload.subarray(nul + 1)));
        link.ok(m);
        return;
      }
      default:
        link.error(m, "ENOSYS");
    }
  };
}

Deno.test("requests get incrementing req_ids and replies are matched by req_id, in any order", async () => {
  const held: Message[] = [];
  const link = new ScriptedLink((m) => held.push(m));
  const xs = new XsClient(link);
  const a = xs.read("/a");
  const b = xs.read("/b");
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(link.sent.map((m) => m.reqId), [1, 2]);
  // Answer in reverse order.
  link.answer(held[1], fromLatin1("B"));
  link.answer(held[0], fromLatin1("A"));
  assert.equal(latin1(await a), "A");
  assert.equal(latin1(await b), "B");
  assert.equal(xs.outstanding, 0);
});

Deno.test("payloads follow the wire format of each operation", async () => {
  const link = new ScriptedLink((m, l) => {
    if (m.type === Op.TRANSACTION_START) l.answer(m, nulJoin(["7"]));
    else if (m.type === Op.GET_DOMAIN_PATH) l.answer(m, nulJoin(["/local/domain/3"]));
    else if (m.type === Op.IS_DOMAIN_INTRODUCED) l.answer(m, nulJoin(["F"]));
    else if (m.type === Op.CONTROL) l.answer(m, nulJoin(["report"]));
    else l.ok(m);
  });
  const xs = new XsClient(link);
  await xs.write("/w", new Uint8Array([0, 1, 0xff]));
  await xs.write("/s", "é");
  await xs.mkdir("/m");
  await xs.rm("/r");
  await xs.setPerms("/p", [{ id: 0, perm: "n" }, { id: 5, perm: "r" }]);
  assert.equal(await xs.transactionStart(), 7);
  await xs.transactionEnd(7, false);
  await xs.introduce(3, 1234567890123n, 5);
  await xs.release(3);
  await xs.resume(3);
  await xs.setTarget(4, 3);
  assert.equal(await xs.getDomainPath(3), "/local/domain/3");
  assert.equal(await xs.isDomainIntroduced(3), false);
  assert.equal(await xs.control("print", "x"), "report");
  await xs.resetWatches();
  const p = link.sent.map((m) => [m.type, m.txId, latin1(m.payload)]);
  assert.deepEqual(p, [
    [Op.WRITE, 0, "/w\0\0\x01\xff"],
    [Op.WRITE, 0, "/s\0\xc3\xa9"],
    [Op.MKDIR, 0, "/m\0"],
    [Op.RM, 0, "/r\0"],
    [Op.SET_PERMS, 0, "/p\0n0\0r5\0"],
    [Op.TRANSACTION_START, 0, "\0"],
    [Op.TRANSACTION_END, 7, "F\0"],
    [Op.INTRODUCE, 0, "3\x001234567890123\x005\0"],
    [Op.RELEASE, 0, "3\0"],
    [Op.RESUME, 0, "3\0"],
    [Op.SET_TARGET, 0, "4\x003\0"],
    [Op.GET_DOMAIN_PATH, 0, "3\0"],
    [Op.IS_DOMAIN_INTRODUCED, 0, "3\0"],
    [Op.CONTROL, 0, "print\0x\0"],
    [Op.RESET_WATCHES, 0, "\0"],
  ]);
});

Deno.test("an XS_ERROR reply rejects with XsError carrying the errno name", async () => {
  const xs = new XsClient(new ScriptedLink(kvServer(new Map())));
  await assert.rejects(xs.read("/missing"), (e: unknown) => {
    assert.ok(e instanceof XsError);
    assert.equal(e.errno, "ENOENT");
    assert.match(e.message, /READ \/missing/);
    return true;
  });
  assert.equal(await xs.exists("/missing"), false);
});

Deno.test("an error name outside the table (oxenstored's EQUOTA) becomes EINVAL", async () => {
  const xs = new XsClient(new ScriptedLink((m, l) => l.error(m, "EQUOTA")));
  await assert.rejects(xs.write("/a", "1"), (e: unknown) => {
    assert.ok(e instanceof XsError && e.errno === "EINVAL");
    assert.match(e.message, /EQUOTA/);
    return true;
  });
});

Deno.test("exists rethrows errors other than ENOENT", async () => {
  const xs = new XsClient(new ScriptedLink((m, l) => l.error(m, "EACCES")));
  await assert.rejects(
    xs.exists("/x"),
    (e: unknown) => e instanceof XsError && e.errno === "EACCES",
  );
});

Deno.test("connection loss rejects every pending request and every later one", async () => {
  const link = new ScriptedLink(() => {});
  const xs = new XsClient(link);
  const pending = [xs.read("/a"), xs.write("/b", "x")];
  await Promise.resolve();
  link.drop(new Error("server went away"));
  for (const p of pending) {
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof XsConnectionLostError);
      assert.match(e.message, /connection lost: server went away/);
      return true;
    });
  }
  await assert.rejects(xs.read("/c"), XsConnectionLostError);
  assert.equal(await xs.closed instanceof Error, true);
});

Deno.test("a reply with an unknown req_id is a protocol violation that ends the connection", async () => {
  const link = new ScriptedLink((m, l) =>
    l.deliver({ ...m, reqId: m.reqId + 100, payload: nulJoin(["OK"]) })
  );
  const xs = new XsClient(link);
  await assert.rejects(xs.mkdir("/a"), /protocol violation: reply MKDIR with req_id 101/);
  assert.equal(link.isClosed, true);
});

Deno.test("a reply of the wrong type or with another tx_id is a protocol violation", async () => {
  const wrongType = new XsClient(
    new ScriptedLink((m, l) => l.deliver({ ...m, type: Op.RM, payload: nulJoin(["OK"]) })),
  );
  await assert.rejects(wrongType.mkdir("/a"), /reply RM to request MKDIR \/a/);
  const wrongTx = new XsClient(
    new ScriptedLink((m, l) => l.deliver({ ...m, txId: 9, payload: new Uint8Array() })),
  );
  await assert.rejects(wrongTx.read("/a", 3), /tx_id 9, the request had 3/);
});

Deno.test("outstanding requests are bounded: the excess waits and goes out as replies come", async () => {
  const held: Message[] = [];
  const link = new ScriptedLink((m) => held.push(m));
  const xs = new XsClient(link, { outstandingMax: 4, queuedMax: 10 });
  const reads = Array.from({ length: 10 }, (_, i) => xs.read(`/k${i}`));
  await settle();
  assert.equal(link.sent.length, 4);
  assert.equal(xs.outstanding, 4);
  // Each reply lets one more request out.
  for (let i = 0; i < 10; i++) {
    await settle();
    link.answer(held[i], fromLatin1(`v${i}`));
  }
  assert.deepEqual((await Promise.all(reads)).map(latin1), reads.map((_, i) => `v${i}`));
  assert.equal(new Set(link.sent.map((m) => m.reqId)).size, 10);
});

Deno.test("more requests than OUTSTANDING_REQUESTS_MAX + QUEUED_REQUESTS_MAX are refused", async () => {
  const link = new ScriptedLink(() => {});
  const xs = new XsClient(link);
  const all = Array.from(
    { length: OUTSTANDING_REQUESTS_MAX + QUEUED_REQUESTS_MAX + 1 },
    (_, i) => xs.read(`/k${i}`).catch((e) => e),
  );
  const last = await all[all.length - 1];
  assert.ok(last instanceof Error);
  assert.match(last.message, /256 requests in flight and 4096 queued/);
  link.drop();
  const rest = await Promise.all(all.slice(0, -1));
  assert.ok(rest.every((e) => e instanceof XsConnectionLostError));
});

Deno.test("req_ids wrap from 2^32 - 1 to 1, never using 0 (the watch event id)", async () => {
  const link = new ScriptedLink((m, l) => l.answer(m, new Uint8Array()));
  const xs = new XsClient(link, { firstReqId: 0xfffffffe });
  for (const p of ["/a", "/b", "/c", "/d"]) await xs.read(p);
  assert.deepEqual(link.sent.map((m) => m.reqId), [0xfffffffe, 0xffffffff, 1, 2]);
});

/** A DIRECTORY_PART server over `names`, with chunks of at most `chunkBytes`. */
function partServer(names: string[], chunkBytes: number, gens: () => string) {
  const list = fromLatin1(names.map((n) => n + "\0").join(""));
  return (m: Message, l: ScriptedLink) => {
    if (m.type === Op.DIRECTORY) return l.error(m, "E2BIG");
    const [, offText] = args(m);
    const off = Number(offText);
    const gen = nulJoin([gens()]);
    if (off >= list.length) return l.answer(m, new Uint8Array([...gen, 0]));
    // Whole entries that fit.
    let end = off;
    while (end < list.length) {
      const next = list.indexOf(0, end) + 1;
      if (next - off > chunkBytes) break;
      end = next;
    }
    const chunk = [...list.subarray(off, end)];
    if (end === list.length) chunk.push(0);
    l.answer(m, new Uint8Array([...gen, ...chunk]));
  };
}

Deno.test("directory falls back to DIRECTORY_PART after E2BIG and joins the chunks", async () => {
  const names = Array.from({ length: 50 }, (_, i) => `child-${i}`);
  const link = new ScriptedLink(partServer(names, 64, () => "7"));
  const xs = new XsClient(link);
  assert.deepEqual(await xs.directory("/big"), names);
  assert.equal(link.sent[0].type, Op.DIRECTORY);
  assert.ok(link.sent.slice(1).every((m) => m.type === Op.DIRECTORY_PART));
  assert.equal(args(link.sent[1])[1], "0");
});

Deno.test("DIRECTORY_PART restarts from offset 0 when the generation changes", async () => {
  const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
  let calls = 0;
  const link = new ScriptedLink(partServer(names, 16, () => (++calls <= 2 ? "1" : "2")));
  const xs = new XsClient(link);
  assert.deepEqual(await xs.directory("/d"), names);
  const offsets = link.sent.slice(1).map((m) => Number(args(m)[1]));
  assert.equal(offsets[0], 0);
  assert.equal(offsets[3], 0, `restart expected, offsets ${offsets}`);
});

Deno.test("DIRECTORY_PART gives up with E2BIG after DIRECTORY_PART_REQUESTS_MAX requests", async () => {
  const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
  let gen = 0;
  const link = new ScriptedLink(partServer(names, 16, () => String(gen++)));
  const xs = new XsClient(link);
  await assert.rejects(xs.directory("/d"), (e: unknown) => {
    assert.ok(e instanceof XsError && e.errno === "E2BIG");
    assert.match(e.message, /1024 requests/);
    return true;
  });
  assert.equal(link.sent.length, 1 + DIRECTORY_PART_REQUESTS_MAX);
});

Deno.test("DIRECTORY_PART answered with ENOSYS (oxenstored) reports E2BIG", async () => {
  const xs = new XsClient(
    new ScriptedLink((m, l) => l.error(m, m.type === Op.DIRECTORY ? "E2BIG" : "ENOSYS")),
  );
  await assert.rejects(
    xs.directory("/d"),
    (e: unknown) => e instanceof XsError && e.errno === "E2BIG",
  );
});

Deno.test("an empty directory and a single-entry DIRECTORY_PART listing", async () => {
  const empty = new XsClient(new ScriptedLink((m, l) => l.answer(m, new Uint8Array())));
  assert.deepEqual(await empty.directory("/e"), []);
  const one = new XsClient(new ScriptedLink(partServer(["x"], 100, () => "3")));
  assert.deepEqual(await one.directory("/o"), ["x"]);
  const none = new XsClient(new ScriptedLink(partServer([], 100, () => "3")));
  assert.deepEqual(await none.directory("/o"), []);
});

/** A transaction server whose commit fails with EAGAIN `eagains` times. */
function txServer(eagains: number) {
  let next = 1;
  let left = eagains;
  return (m: Message, l: ScriptedLink) => {
    if (m.type === Op.TRANSACTION_START) return l.answer(m, nulJoin([String(next++)]));
    if (m.type === Op.TRANSACTION_END && args(m)[0] === "T" && left > 0) {
      left--;
      return l.error(m, "EAGAIN");
    }
    l.ok(m);
  };
}

Deno.test("transaction re-runs the body on EAGAIN and returns its result", async () => {
  const link = new ScriptedLink(txServer(2));
  const xs = new XsClient(link);
  const seen: number[] = [];
  const r = await xs.transaction(async (tx) => {
    seen.push(tx);
    await xs.write("/a", "1", tx);
    return "done";
  });
  assert.equal(r, "done");
  assert.deepEqual(seen, [1, 2, 3]);
});

Deno.test("transaction gives up after retriesMax EAGAINs (default TRANSACTION_RETRIES_MAX)", async () => {
  const xs = new XsClient(new ScriptedLink(txServer(1000)));
  let runs = 0;
  await assert.rejects(
    xs.transaction(() => {
      runs++;
      return Promise.resolve();
    }),
    (e: unknown) => e instanceof XsError && e.errno === "EAGAIN",
  );
  assert.equal(runs, TRANSACTION_RETRIES_MAX + 1);
  runs = 0;
  await assert.rejects(
    xs.transaction(() => Promise.resolve(void runs++), { retriesMax: 2 }),
    /3 attempts/,
  );
  assert.equal(runs, 3);
});

Deno.test("a body that throws aborts the transaction and the error comes out", async () => {
  const link = new ScriptedLink(txServer(0));
  const xs = new XsClient(link);
  await assert.rejects(
    xs.transaction(() => Promise.reject(new Error("body failed"))),
    /body failed/,
  );
  const end = link.sent.find((m) => m.type === Op.TRANSACTION_END)!;
  assert.equal(latin1(end.payload), "F\0");
  assert.equal(end.txId, 1);
});

Deno.test("watch events are demultiplexed by token and path, before and after the OK", async () => {
  const link = new ScriptedLink((m, l) => {
    if (m.type === Op.WATCH) {
      const [path, token] = args(m);
      l.ok(m);
      l.deliver(watchEvent(path, token)); // initial event right after the OK
    } else l.ok(m);
  });
  const xs = new XsClient(link);
  const a = await xs.watch("/a", "ta");
  const b = await xs.watch("/b");
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  assert.deepEqual((await ia.next()).value, { path: "/a", token: "ta" });
  assert.deepEqual((await ib.next()).value, { path: "/b", token: "xsclient-1" });
  link.deliver(watchEvent("/b/x", "xsclient-1"));
  link.deliver(watchEvent("/a/deep/er", "ta"));
  link.deliver(watchEvent("/ab", "ta")); // not below /a: dropped
  link.deliver(watchEvent("/a", "other")); // unknown token: dropped
  assert.deepEqual((await ia.next()).value, { path: "/a/deep/er", token: "ta" });
  assert.deepEqual((await ib.next()).value, { path: "/b/x", token: "xsclient-1" });
  await a.close();
  assert.ok(link.sent.some((m) => m.type === Op.UNWATCH && latin1(m.payload) === "/a\0ta\0"));
  assert.equal((await ia.next()).done, true);
});

Deno.test("a failed WATCH rejects and leaves no registration behind", async () => {
  const link = new ScriptedLink((m, l) => l.error(m, "EINVAL"));
  const xs = new XsClient(link);
  await assert.rejects(
    xs.watch("bad path", "t"),
    (e: unknown) => e instanceof XsError && e.errno === "EINVAL",
  );
  assert.equal(xs.registry.handles().size, 0);
});

Deno.test("connection loss ends watch iterators with XsConnectionLostError", async () => {
  const link = new ScriptedLink((m, l) => l.ok(m));
  const xs = new XsClient(link);
  const w = await xs.watch("/a", "t");
  const it = w[Symbol.asyncIterator]();
  const next = it.next();
  link.drop(new Error("gone"));
  await assert.rejects(next, XsConnectionLostError);
  assert.equal((await it.next()).done, true);
});

Deno.test("resetWatches ends every handle", async () => {
  const link = new ScriptedLink((m, l) => l.ok(m));
  const xs = new XsClient(link);
  const w = await xs.watch("/a", "t");
  await xs.resetWatches();
  assert.equal((await w.next()).done, true);
  assert.equal(xs.registry.handles().size, 0);
});

Deno.test("unwatch by path and token stops local delivery", async () => {
  const link = new ScriptedLink((m, l) => l.ok(m));
  const xs = new XsClient(link);
  const w = await xs.watch("/a", "t");
  await xs.unwatch("/a", "t");
  link.deliver(watchEvent("/a", "t"));
  assert.equal(xs.registry.dispatch({ path: "/a", token: "t" }), 0);
  await w.close();
});

Deno.test("a payload over XENSTORE_PAYLOAD_MAX is refused with E2BIG and never sent", async () => {
  const link = new ScriptedLink((m, l) => l.ok(m));
  const xs = new XsClient(link);
  await xs.write("/a", new Uint8Array(4096 - 3)); // "/a\0" + value = 4096 exactly
  await assert.rejects(xs.write("/a", new Uint8Array(4096 - 2)), (e: unknown) => {
    assert.ok(e instanceof XsError && e.errno === "E2BIG");
    assert.match(e.message, /4097 bytes \(limit 4096\)/);
    return true;
  });
  assert.equal(link.sent.length, 1);
});
