/**
 * @module
 * Wire-level behaviour: req_id/tx_id echo (xenstore-protocol.md §1.5),
 * payload argument rules (§1.3), framing and size limits (§1.1, §1.6),
 * unknown message types (§1.2) and CONTROL.
 */
import assert from "node:assert/strict";
import { XS_ERRORS } from "../../../src/xenstore/wire/errno.ts";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  closedWithin,
  type ConformanceCase,
  expectError,
  expectOk,
  list,
  nextDomid,
  ok,
  read,
  text,
  txStart,
  uniquePath,
  waitForMessage,
  write,
} from "../case.ts";
import { frame } from "../raw_conn.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const raw = (s: string) => ({ raw: enc(s) });
const ERRNO_NAMES: readonly string[] = XS_ERRORS.map(([name]) => name);

/** A header claiming `len` payload bytes, with no payload. */
function header(type: number, reqId: number, len: number): Uint8Array {
  const h = frame(type, reqId, 0, new Uint8Array(0));
  new DataView(h.buffer).setUint32(12, len, true);
  return h;
}

/** `help` of the 4.17 C daemon, verbatim. */
const CONTROL_HELP = "check\t\n" +
  "log\ton|off\n" +
  "live-update\t[-c <cmdline>] [-F] [-t <timeout>] <file>\n" +
  "    Default timeout is 60 seconds.\n" +
  "logfile\t<file>\n" +
  "memreport\t[<file>]\n" +
  "print\t<string>\n" +
  "quota\t[set <name> <val>|<domid>]\n" +
  "quota-soft\t[set <name> <val>]\n" +
  "help\t\n\0";

/** `quota` of the 4.17 C daemon with default settings, verbatim. */
const CONTROL_QUOTA = "Quota settings:\n" +
  "nodes            :     1000 Nodes per domain\n" +
  "watches          :      128 Watches per domain\n" +
  "transactions     :       10 Transactions per domain\n" +
  "outstanding      :       20 Outstanding requests per domain\n" +
  "transaction-nodes:     1024 Max. number of accessed nodes per transaction\n" +
  "memory           :  2621440 Total Xenstore memory per domain (error level)\n" +
  "node-size        :     2048 Max. size of a node\n" +
  "path-max         :     2048 Max. length of a node path\n" +
  "permissions      :        5 Max. number of permissions per node\n\0";

export const protocolCases: ConformanceCase[] = [
  {
    name: "req_id is echoed in replies and errors, 0 and 0xffffffff included",
    async run(t) {
      const d0 = await t.dom0();
      for (const reqId of [0, 1, 0x7fffffff, 0xdeadbeef, 0xffffffff]) {
        assert.equal((await ok(d0.req(Op.READ, ["/tool"], { reqId }))).reqId, reqId);
        const e = await d0.req(Op.READ, [`${uniquePath()}/missing`], { reqId });
        assert.equal(e.type, Op.ERROR);
        assert.equal(e.reqId, reqId);
      }
    },
  },
  {
    name: "tx_id is echoed in success and error replies",
    async run(t) {
      const d0 = await t.dom0();
      const id = await txStart(d0);
      const r = await ok(d0.req(Op.READ, ["/tool"], { txId: id }));
      assert.equal(r.txId, id);
      const e = await d0.req(Op.READ, [`${uniquePath()}/missing`], { txId: id });
      assert.equal(e.error, "ENOENT");
      assert.equal(e.txId, id);
      const u = await d0.req(Op.READ, ["/tool"], { txId: 0x12345 });
      assert.equal(u.error, "ENOENT");
      assert.equal(u.txId, 0x12345);
    },
  },
  {
    name: "TRANSACTION_START's reply has tx_id 0; the new id is only in the payload",
    async run(t) {
      const d0 = await t.dom0();
      const r = await ok(d0.req(Op.TRANSACTION_START, [""]), Op.TRANSACTION_START);
      assert.equal(r.txId, 0);
      assert.match(text(r), /^[1-9]\d*\0$/);
    },
  },
  {
    name: "watch events carry req_id 0 and tx_id 0",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await ok(d0.req(Op.WATCH, [p, "tok"], { reqId: 42, txId: 7 }));
      const ev = await waitForMessage(d0, (m) => m.type === Op.WATCH_EVENT);
      assert.equal(ev.reqId, 0);
      assert.equal(ev.txId, 0);
      assert.deepEqual(list(ev), [p, "tok"]);
    },
  },
  {
    name: "replies to pipelined requests come back in request order",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "v");
      const ops = Array.from(
        { length: 30 },
        (_, i) =>
          i % 3 === 0
            ? d0.req(Op.READ, [p])
            : i % 3 === 1
            ? d0.req(Op.READ, [`${p}/missing`])
            : d0.req(Op.WRITE, [`${p}/w${i}`, "x"]),
      );
      const replies = await Promise.all(ops);
      const ids = d0.log.filter((m) => m.type !== Op.WATCH_EVENT).slice(-30).map((m) => m.reqId);
      assert.deepEqual(ids, replies.map((r) => r.reqId));
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    },
  },
  {
    name: "several requests in one write are all answered",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const bytes = [
        frame(Op.WRITE, 9001, 0, enc(`${p}\0val`)),
        frame(Op.READ, 9002, 0, enc(`${p}\0`)),
        frame(Op.DIRECTORY, 9003, 0, enc(`/tool\0`)),
      ];
      await d0.sendRaw(new Uint8Array(bytes.flatMap((b) => [...b])));
      const r = await waitForMessage(d0, (m) => m.reqId === 9003);
      assert.equal(r.type, Op.DIRECTORY);
      const got = d0.log.filter((m) => m.reqId >= 9001 && m.reqId <= 9003);
      assert.deepEqual(got.map((m) => [m.reqId, text(m)]), [
        [9001, "OK\0"],
        [9002, "val"],
        [9003, "xenstored\0"],
      ]);
    },
  },
  {
    name: "a request sent one byte at a time is answered",
    async run(t) {
      const d0 = await t.dom0();
      const bytes = frame(Op.DIRECTORY, 7777, 0, enc("/tool\0"));
      for (const b of bytes) {
        await d0.sendRaw(new Uint8Array([b]));
        await new Promise((r) => setTimeout(r, 1));
      }
      const r = await waitForMessage(d0, (m) => m.reqId === 7777);
      assert.equal(r.type, Op.DIRECTORY);
      assert.equal(text(r), "xenstored\0");
    },
  },
  {
    name: "a payload of exactly 4096 bytes is accepted",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const value = "v".repeat(4096 - p.length - 1);
      await write(d0, p, value);
      assert.equal(await read(d0, p), value);
    },
  },
  {
    name: "a header claiming more than 4096 bytes drops a socket connection; others keep working",
    async run(t) {
      const victim = await t.dom0();
      const other = await t.dom0();
      await victim.sendRaw(header(Op.READ, 1, 4097));
      assert.ok(await closedWithin(victim, 2000), "the daemon closes the connection");
      assert.equal(victim.log.length, 0, "no reply before closing");
      assert.equal(await read(other, "/tool"), "");
    },
  },
  {
    name: "a guest sending a header over 4096 bytes is ignored for good, even after re-INTRODUCE",
    async run(t) {
      const domid = nextDomid();
      const d0 = await t.dom0();
      const g = await t.guest(domid);
      await ok(g.req(Op.GET_DOMAIN_PATH, ["1"]));
      await g.sendRaw(header(Op.READ, 1, 5000));
      await assert.rejects(g.req(Op.GET_DOMAIN_PATH, ["1"], { timeoutMs: 300 }), /no reply/);
      // The domain record stays: it is still introduced.
      assert.equal(text(await ok(d0.req(Op.IS_DOMAIN_INTRODUCED, [String(domid)]))), "T\0");
      await expectOk(d0.req(Op.INTRODUCE, [String(domid), "0", "1"]), Op.INTRODUCE);
      await assert.rejects(g.req(Op.GET_DOMAIN_PATH, ["1"], { timeoutMs: 300 }), /no reply/);
      assert.equal(await read(d0, "/tool"), "");
    },
  },
  {
    name: "unknown message types get ENOSYS and the connection stays usable",
    async run(t) {
      const d0 = await t.dom0();
      for (const type of [23, 24, 25, 26, 27, 100, 0xfffe, Op.INVALID, 0xffffffff]) {
        const r = await d0.req(type, ["/tool"], { reqId: 500 + (type & 0xff) });
        assert.equal(r.error, "ENOSYS", `type ${type}`);
        assert.equal(r.reqId, 500 + (type & 0xff));
      }
      assert.equal(await read(d0, "/tool"), "");
    },
  },
  {
    name: "XS_RESTRICT (20) is answered ENOSYS",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.RESTRICT, ["0"]), "ENOSYS");
      await expectError(d0.req(Op.RESTRICT, []), "ENOSYS");
    },
  },
  {
    name: "WATCH_EVENT and ERROR sent by a client are answered ENOSYS",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.WATCH_EVENT, ["/tool", "tok"]), "ENOSYS");
      await expectError(d0.req(Op.ERROR, ["EINVAL"]), "ENOSYS");
      assert.equal(await read(d0, "/tool"), "");
    },
  },
  {
    name: "unknown message types from a guest get ENOSYS too",
    async run(t) {
      const g = await t.guest(nextDomid());
      await expectError(g.req(23, ["x"]), "ENOSYS");
      await expectError(g.req(Op.RESTRICT, ["0"]), "ENOSYS");
      await ok(g.req(Op.GET_DOMAIN_PATH, ["1"]));
    },
  },
  {
    name: "domain one-argument ops and TRANSACTION_END reject a malformed payload with EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const ops = [Op.GET_DOMAIN_PATH, Op.RELEASE, Op.RESUME, Op.IS_DOMAIN_INTRODUCED];
      for (const op of [...ops, Op.TRANSACTION_END]) {
        for (const p of ["", "7", "7\0x", "7\0\0"]) {
          await expectError(d0.req(op, raw(p)), "EINVAL", `${op} ${JSON.stringify(p)}`);
        }
      }
    },
  },
  {
    name:
      "path one-argument ops with a malformed payload fail, create nothing, and the connection stays usable",
    async run(t) {
      // The C daemon answers whatever errno an earlier request left behind
      // (MKDIR and RM turn a stale ENOENT into ENOMEM; see FINDINGS.md), so
      // only "an error from the table" is portable.
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const op of [Op.READ, Op.DIRECTORY, Op.GET_PERMS, Op.MKDIR, Op.RM]) {
        for (const payload of ["", p, `${p}\0x`, `${p}\0\0`]) {
          const r = await d0.req(op, raw(payload));
          assert.ok(
            r.error !== undefined && ERRNO_NAMES.includes(r.error),
            `${op} ${JSON.stringify(payload)}: error, got ${text(r)}`,
          );
        }
      }
      await expectError(d0.req(Op.READ, [p]), "ENOENT");
      assert.equal(await read(d0, "/tool"), "");
    },
  },
  {
    name: "WRITE without a NUL is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await expectError(d0.req(Op.WRITE, raw(p)), "EINVAL");
      await expectError(d0.req(Op.WRITE, raw("")), "EINVAL");
      await expectError(d0.req(Op.READ, [p]), "ENOENT");
    },
  },
  {
    name: "a WRITE value is every byte after the first NUL, NULs included",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await expectOk(d0.req(Op.WRITE, raw(`${p}\0a\0b\0`)), Op.WRITE);
      assert.equal(await read(d0, p), "a\0b\0");
      await expectOk(d0.req(Op.WRITE, raw(`${p}\0`)), Op.WRITE);
      assert.equal(await read(d0, p), "");
    },
  },
  {
    name: "WATCH and UNWATCH need exactly two strings: one or three are EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const op of [Op.WATCH, Op.UNWATCH]) {
        await expectError(d0.req(op, [p]), "EINVAL");
        await expectError(d0.req(op, [p, "tok", "1"]), "EINVAL");
        await expectError(d0.req(op, raw("")), "EINVAL");
      }
      assert.deepEqual(await d0.events({ timeoutMs: 0 }), []);
    },
  },
  {
    name: "WATCH ignores unterminated bytes after its two strings",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await expectOk(d0.req(Op.WATCH, raw(`${p}\0tok\0junk`)), Op.WATCH);
      assert.deepEqual(await d0.events(), [{ path: p, token: "tok" }]);
      await expectOk(d0.req(Op.UNWATCH, raw(`${p}\0tok\0junk`)), Op.UNWATCH);
    },
  },
  {
    name: "SET_PERMS without a permission is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await expectError(d0.req(Op.SET_PERMS, [p]), "EINVAL");
      await expectError(d0.req(Op.SET_PERMS, raw(p)), "EINVAL");
    },
  },
  {
    name: "TRANSACTION_START and RESET_WATCHES ignore their payload",
    async run(t) {
      const d0 = await t.dom0();
      for (const payload of ["", "junk", "a\0b\0", "\0"]) {
        await ok(d0.req(Op.TRANSACTION_START, raw(payload)), Op.TRANSACTION_START);
        await expectOk(d0.req(Op.RESET_WATCHES, raw(payload)), Op.RESET_WATCHES);
      }
    },
  },
  {
    name: "CONTROL help lists the daemon's commands",
    async run(t) {
      const d0 = await t.dom0();
      assert.equal(text(await ok(d0.req(Op.CONTROL, ["help"]), Op.CONTROL)), CONTROL_HELP);
    },
  },
  {
    name: "CONTROL quota prints the quota settings",
    async run(t) {
      const d0 = await t.dom0();
      assert.equal(text(await ok(d0.req(Op.CONTROL, ["quota"]), Op.CONTROL)), CONTROL_QUOTA);
    },
  },
  {
    name: "CONTROL quota <domid> reports an introduced domain's usage, ENOENT otherwise",
    async run(t) {
      const domid = nextDomid();
      const d0 = await t.dom0();
      const g = await t.guest(domid);
      await ok(g.req(Op.WATCH, ["/x", "t"]));
      // Memory accounting is the daemon's own business: only its format counts.
      assert.match(
        text(await ok(d0.req(Op.CONTROL, ["quota", String(domid)]), Op.CONTROL)),
        new RegExp(
          `^Domain ${domid}:\n` +
            "nodes           :        0\n" +
            "watches         :        1\n" +
            "transactions    :        0\n" +
            "outstanding     :        0\n" +
            "memory          : {0,8}\\d+\n\0$",
        ),
      );
      await expectError(d0.req(Op.CONTROL, ["quota", "5"]), "ENOENT");
    },
  },
  {
    name: "CONTROL accepts check, print, 'log on|off' and 'quota set'; bad arguments are EINVAL",
    needs: { fresh: true },
    async run(t) {
      const d0 = await t.dom0();
      for (const cmd of [["check"], ["print", "hello"], ["log", "on"], ["log", "off"]]) {
        await expectOk(d0.req(Op.CONTROL, cmd), Op.CONTROL);
      }
      const bad = [
        [],
        ["bogus"],
        ["HELP"],
        ["help", "x"],
        ["print"],
        ["check", "x"],
        [
          "log",
        ],
        ["log", "x"],
        ["quota", "set", "nodes"],
        ["quota", "set", "bogus", "5"],
        [
          "quota-soft",
          "x",
        ],
      ];
      for (const cmd of bad) await expectError(d0.req(Op.CONTROL, cmd), "EINVAL");
      await expectError(d0.req(Op.CONTROL, raw("help")), "EINVAL");
      await expectOk(d0.req(Op.CONTROL, ["quota", "set", "nodes", "5"]), Op.CONTROL);
      const quota = text(await ok(d0.req(Op.CONTROL, ["quota"])));
      assert.ok(
        quota.startsWith("Quota settings:\nnodes            :        5 Nodes per domain\n"),
        quota,
      );
    },
  },
  {
    name: "CONTROL from a guest is EACCES",
    async run(t) {
      const g = await t.guest(nextDomid());
      await expectError(g.req(Op.CONTROL, ["help"]), "EACCES");
      await expectError(g.req(Op.CONTROL, ["bogus"]), "EACCES");
    },
  },
];
