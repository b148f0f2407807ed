/**
 * The client library (`src/xenstore/client/`) against a real daemon: the
 * real C xenstored by default, or the one at `XS_TEST_SOCKET`.
 */
import assert from "node:assert/strict";
import { OUTSTANDING_REQUESTS_MAX, XsClient } from "../../src/xenstore/client/client.ts";
import { XsConnectionLostError } from "../../src/xenstore/client/connection_lost_error.ts";
import type { XsLink } from "../../src/xenstore/client/link.ts";
import { connectUnix } from "../../src/xenstore/client/unix_link.ts";
import { connectWebSocket } from "../../src/xenstore/client/websocket_link.ts";
import { type XsErrno, XsError } from "../../src/xenstore/wire/errno.ts";
import { latin1, type Message } from "../../src/xenstore/wire/message.ts";
import { Op } from "../../src/xenstore/wire/op.ts";
import { removeTree } from "./xs_compare.ts";
import { daemonTest } from "./xs_daemon.ts";
import { startWsRelay } from "./ws_relay.ts";

/** A link that records the types of the messages it sends. */
function recording(link: XsLink): XsLink & { types: number[] } {
  const types: number[] = [];
  return {
    types,
    send(m: Message) {
      types.push(m.type);
      link.send(m);
    },
    onMessage: (h) => link.onMessage(h),
    closed: link.closed,
    close: () => link.close(),
  };
}

async function rejectsWith(p: Promise<unknown>, errno: XsErrno): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof XsError, String(e));
    assert.equal(e.errno, errno, e.message);
    return true;
  });
}

const enc = new TextEncoder();

daemonTest("client against a real daemon", async (t, daemon) => {
  const link = recording(await connectUnix(daemon.socketPath));
  const xs = new XsClient(link);
  const other = new XsClient(await connectUnix(daemon.socketPath));
  try {
    await removeTree(xs, "/c");

    await t.step("values round-trip byte for byte, NULs and 0xff included", async () => {
      const v = new Uint8Array([0, 1, 0x7f, 0x80, 0xff, 0]);
      await xs.write("/c/bin", v);
      assert.deepEqual([...await xs.read("/c/bin")], [...v]);
      await xs.write("/c/str", "héllo");
      assert.equal(await xs.readString("/c/str"), "héllo");
      await xs.write("/c/empty", "");
      assert.equal((await xs.read("/c/empty")).length, 0);
      assert.equal(await xs.exists("/c/empty"), true);
      assert.equal(await xs.exists("/c/nope"), false);
    });

    await t.step(
      "the largest value that fits in 4096 bytes is accepted; one more is E2BIG locally",
      async () => {
        const path = "/c/max";
        await xs.write(path, new Uint8Array(4096 - path.length - 1).fill(0x61));
        assert.equal((await xs.read(path)).length, 4096 - path.length - 1);
        await rejectsWith(xs.write(path, new Uint8Array(4096 - path.length)), "E2BIG");
        assert.equal(await xs.readString("/c/str"), "héllo", "the connection is still fine");
      },
    );

    await t.step("mkdir, rm, directory in insertion order, relative paths", async () => {
      await xs.mkdir("/c/d/z");
      await xs.mkdir("/c/d/a");
      await xs.mkdir("/c/d/m");
      assert.deepEqual(await xs.directory("/c/d"), ["z", "a", "m"]);
      await xs.rm("/c/d/a");
      assert.deepEqual(await xs.directory("/c/d"), ["z", "m"]);
      await xs.rm("/c/d/missing"); // parent exists: OK
      await rejectsWith(xs.rm("/c/nothing/missing"), "ENOENT");
      await xs.write("xsclient-rel", "r");
      assert.equal(await xs.readString("/local/domain/0/xsclient-rel"), "r");
      await xs.rm("xsclient-rel");
      assert.equal(await xs.getDomainPath(5), "/local/domain/5");
    });

    await t.step("errors carry the daemon's errno name", async () => {
      await rejectsWith(xs.read("/c/missing"), "ENOENT");
      await rejectsWith(xs.read("bad path"), "EINVAL");
      await rejectsWith(xs.write("/c/trailing/", "x"), "EINVAL");
      await rejectsWith(xs.rm("/"), "EINVAL");
      await rejectsWith(xs.request(99, new Uint8Array([0])), "ENOSYS");
      await rejectsWith(xs.unwatch("/c", "never-registered"), "ENOENT");
      await rejectsWith(xs.transactionEnd(12345, true), "ENOENT");
      await rejectsWith(xs.setPerms("/c/str", []), "EINVAL");
      assert.equal(await xs.readString("/c/str"), "héllo");
    });

    await t.step("permissions: set, get, base-0 numbers, inheritance", async () => {
      await xs.write("/c/p/child-before", "");
      await xs.setPerms("/c/p", [{ id: 0, perm: "n" }, { id: 5, perm: "r" }, {
        id: 0o10,
        perm: "b",
      }]);
      assert.deepEqual(await xs.getPerms("/c/p"), [
        { id: 0, perm: "n" },
        { id: 5, perm: "r" },
        { id: 8, perm: "b" },
      ]);
      await xs.write("/c/p/child-after", "");
      assert.deepEqual((await xs.getPerms("/c/p/child-after")).map((p) => `${p.perm}${p.id}`), [
        "n0",
        "r5",
        "b8",
      ]);
      assert.deepEqual((await xs.getPerms("/c/p/child-before")).map((p) => `${p.perm}${p.id}`), [
        "n0",
      ]);
      await rejectsWith(xs.setPerms("/c/p", [{ id: 99, perm: "n" }]), "ENOENT");
    });

    await t.step(
      "a directory over 4096 bytes comes through DIRECTORY_PART, in and out of transactions",
      async () => {
        const names = Array.from({ length: 300 }, (_, i) => `child-${String(i).padStart(12, "0")}`);
        await Promise.all(names.map((n) => xs.write(`/c/big/${n}`, "")));
        assert.ok(names.join("\0").length > 4096);
        link.types.length = 0;
        assert.deepEqual(await xs.directory("/c/big"), names);
        assert.equal(link.types[0], Op.DIRECTORY);
        assert.ok(
          link.types.filter((x) => x === Op.DIRECTORY_PART).length >= 2,
          `types ${link.types}`,
        );
        const inTx = await xs.transaction((tx) => xs.directory("/c/big", tx));
        assert.deepEqual(inTx, names);
      },
    );

    await t.step(
      "more concurrent requests than OUTSTANDING_REQUESTS_MAX all complete",
      async () => {
        const n = OUTSTANDING_REQUESTS_MAX * 3;
        await Promise.all(
          Array.from({ length: n }, (_, i) => xs.write(`/c/many/k${i}`, String(i))),
        );
        const back = await Promise.all(
          Array.from({ length: n }, (_, i) => xs.readString(`/c/many/k${i}`)),
        );
        assert.deepEqual(back, Array.from({ length: n }, (_, i) => String(i)));
      },
    );

    await t.step("transactions: commit, abort, and EAGAIN re-runs the body", async () => {
      await xs.write("/c/tx/n", "0");
      await xs.transaction(async (tx) => {
        await xs.write("/c/tx/n", "1", tx);
        assert.equal(await other.readString("/c/tx/n"), "0", "not visible before commit");
      });
      assert.equal(await other.readString("/c/tx/n"), "1");

      const tx = await xs.transactionStart();
      await xs.write("/c/tx/n", "aborted", tx);
      await xs.transactionEnd(tx, false);
      assert.equal(await xs.readString("/c/tx/n"), "1");

      let runs = 0;
      const result = await xs.transaction(async (tx) => {
        runs++;
        const n = Number(await xs.readString("/c/tx/n", tx));
        if (runs === 1) await other.write("/c/tx/n", "10"); // a conflicting write outside
        await xs.write("/c/tx/n", String(n + 1), tx);
        return n + 1;
      });
      assert.equal(runs, 2);
      assert.equal(result, 11);
      assert.equal(await xs.readString("/c/tx/n"), "11");

      let attempts = 0;
      await rejectsWith(
        xs.transaction(async (tx) => {
          attempts++;
          await xs.readString("/c/tx/n", tx);
          await other.write("/c/tx/n", `conflict ${attempts}`);
          await xs.write("/c/tx/n", "never", tx);
        }, { retriesMax: 2 }),
        "EAGAIN",
      );
      assert.equal(attempts, 3);
    });

    await t.step(
      "watches are async iterators: initial event, subtree events, removal",
      async () => {
        await xs.mkdir("/c/w");
        const w = await xs.watch("/c/w", "tok");
        const it = w[Symbol.asyncIterator]();
        assert.deepEqual((await it.next()).value, { path: "/c/w", token: "tok" });
        await other.write("/c/w/a", "1");
        await other.write("/c/elsewhere", "1");
        await other.write("/c/w/a/b", "2");
        await other.rm("/c/w");
        const got: string[] = [];
        for await (const ev of w) {
          got.push(ev.path);
          if (got.length === 3) break; // return(): UNWATCH
        }
        assert.deepEqual(got, ["/c/w/a", "/c/w/a/b", "/c/w"]);
        // The server forgot it: the same path and token can be watched again.
        const again = await xs.watch("/c/w", "tok");
        await again.close();
      },
    );

    await t.step(
      "a duplicate watch is EEXIST; relative watches get relative event paths",
      async () => {
        const w = await xs.watch("/c/dup", "same");
        await rejectsWith(xs.watch("/c/dup", "same"), "EEXIST");
        await w.close();
        const rel = await xs.watch("xsclient-w", "r");
        assert.equal((await rel.next()).value.path, "xsclient-w");
        await other.write("/local/domain/0/xsclient-w/x", "1");
        assert.equal((await rel.next()).value.path, "xsclient-w/x");
        await rel.close();
        await xs.rm("xsclient-w");
      },
    );

    await t.step("one handle, several paths: events in arrival order", async () => {
      const h = xs.watchHandle();
      await h.add("/c/h1", "t1");
      await h.add("/c/h2", "t2");
      await other.write("/c/h2", "x");
      await other.write("/c/h1", "y");
      const paths = [];
      for (let i = 0; i < 4; i++) paths.push((await h.next()).value.path);
      assert.deepEqual(paths, ["/c/h1", "/c/h2", "/c/h2", "/c/h1"]);
      await h.close();
    });

    await t.step("resetWatches drops every watch on both sides", async () => {
      const w = await xs.watch("/c/r", "r");
      await w.next();
      await xs.resetWatches();
      assert.equal((await w.next()).done, true);
      await rejectsWith(xs.unwatch("/c/r", "r"), "ENOENT");
    });

    await t.step("domain operations a dom0 socket may use", async () => {
      assert.equal(await xs.isDomainIntroduced(0), true);
      assert.equal(await xs.isDomainIntroduced(60), false);
      await rejectsWith(xs.release(60), "ENOENT");
      await rejectsWith(xs.resume(60), "ENOENT");
      await rejectsWith(xs.setTarget(60, 61), "ENOENT");
      assert.match(await xs.control("help"), /quota/);
      await rejectsWith(xs.control("no-such-command"), "EINVAL");
    });
  } finally {
    await removeTree(xs, "/c").catch(() => {});
    xs.close();
    other.close();
  }
});

daemonTest(
  "client as an unprivileged guest: EACCES where dom0 would succeed",
  async (t, daemon) => {
    if (!daemon.guest) {
      console.error(`SKIP guest client cases: ${daemon.name} offers no guest sockets`);
      return;
    }
    const dom0 = new XsClient(await connectUnix(daemon.socketPath));
    const g = await daemon.guest(6);
    const guest = new XsClient(await connectUnix(g.path));
    try {
      await dom0.write("/cg/open", "o");
      await dom0.write("/cg/closed/child", "c");
      await dom0.setPerms("/cg", [{ id: 0, perm: "n" }, { id: 6, perm: "r" }]);
      await dom0.setPerms("/cg/open", [{ id: 0, perm: "n" }, { id: 6, perm: "r" }]);
      await t.step("reads follow the permission lists", async () => {
        assert.equal(await guest.readString("/cg/open"), "o");
        await rejectsWith(guest.read("/cg/closed"), "EACCES");
        await rejectsWith(guest.read("/cg/closed/missing"), "EACCES");
        await rejectsWith(guest.directory("/cg/closed"), "EACCES");
        await rejectsWith(guest.write("/cg/open", "x"), "EACCES");
        await rejectsWith(guest.getDomainPath(6).then(() => guest.introduce(7, 0, 1)), "EACCES");
      });
      await t.step("a guest's relative paths live under its home", async () => {
        await dom0.mkdir("/local/domain/6");
        await dom0.setPerms("/local/domain/6", [{ id: 6, perm: "n" }]);
        await dom0.write("/local/domain/6/data", "");
        await guest.write("data/x", "guest");
        assert.equal(await dom0.readString("/local/domain/6/data/x"), "guest");
        assert.deepEqual(await guest.getPerms("data/x"), [{ id: 6, perm: "n" }]);
        await rejectsWith(guest.setPerms("data/x", [{ id: 0, perm: "n" }]), "EPERM");
      });
    } finally {
      guest.close();
      await g.close();
      await removeTree(dom0, "/cg").catch(() => {});
      dom0.close();
    }
  },
);

daemonTest(
  "client over a WebSocket: same answers; losing the link fails what is pending",
  async (t, daemon) => {
    const relay = startWsRelay(daemon.socketPath, "cred");
    try {
      const xs = new XsClient(await connectWebSocket(relay.url, "cred"));
      await t.step("requests and watches through the relay", async () => {
        await xs.write("/cw/a", enc.encode("über"));
        assert.equal(latin1(await xs.read("/cw/a")), "\xc3\xbcber");
        const names = Array.from({ length: 300 }, (_, i) => `child-${String(i).padStart(12, "0")}`);
        await Promise.all(names.map((n) => xs.write(`/cw/big/${n}`, "")));
        assert.deepEqual(await xs.directory("/cw/big"), names);
        const w = await xs.watch("/cw", "t");
        assert.equal((await w.next()).value.path, "/cw");
        await xs.rm("/cw");
        assert.equal((await w.next()).value.path, "/cw");
        await w.close();
      });
      await t.step("closing the relay rejects pending requests and ends watches", async () => {
        const w = await xs.watch("/cw2", "t");
        await w.next();
        const pending = w.next();
        await relay.close();
        await assert.rejects(pending, XsConnectionLostError);
        await assert.rejects(xs.read("/cw2"), XsConnectionLostError);
        assert.ok(await xs.closed instanceof Error);
      });
    } finally {
      await relay.close();
      const xs = new XsClient(await connectUnix(daemon.socketPath));
      await removeTree(xs, "/cw").catch(() => {});
      xs.close();
    }
  },
);
