/**
 * @module
 * Per-domain quotas of the C daemon, with its default values and with
 * reduced values passed as daemon flags (xenstore-protocol.md §7.1).
 * Quotas bind unprivileged guests only; dom0 is exempt. Note the 4.17
 * off-by-ones: W+1 watches and t+1 transactions fit; nodes stop at E and a
 * node record must stay below S bytes (24 + 8 × perms + value + child names).
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  dir,
  drain,
  expectError,
  expectOk,
  guestWithHome,
  ok,
  read,
  rm,
  setPerms,
  text,
  txEnd,
  txStart,
  uniquePath,
  write,
} from "../case.ts";
import type { RawConn } from "../target.ts";

/** One daemon with every per-domain quota reduced. */
const REDUCED = {
  daemonArgs: ["-E", "20", "-W", "5", "-t", "2", "-A", "2", "-S", "300", "-M", "100"],
};
/** A daemon with a small per-transaction node limit and node quota. */
const TX_NODES = { daemonArgs: ["-Q", "transaction-nodes=5", "-E", "10"] };
/** A daemon with a tiny node quota. */
const NODES_5 = { daemonArgs: ["-E", "5"] };

/** Registers watches until one fails; the number that succeeded and the error. */
async function fillWatches(g: RawConn, max: number): Promise<[number, string | undefined]> {
  for (let i = 0; i < max; i++) {
    const r = await g.req(Op.WATCH, [`w${i}`, "t"]);
    if (r.error) return [i, r.error];
  }
  return [max, undefined];
}

/** Starts transactions until one fails; the ids and the error. */
async function fillTransactions(g: RawConn, max: number): Promise<[number[], string | undefined]> {
  const ids: number[] = [];
  for (let i = 0; i < max; i++) {
    const r = await g.req(Op.TRANSACTION_START, [""]);
    if (r.error) return [ids, r.error];
    ids.push(Number(text(r).slice(0, -1)));
  }
  return [ids, undefined];
}

/** The largest value `c` may write at `path`, by bisection below 4000. */
async function maxValue(c: RawConn, path: string): Promise<number> {
  let lo = 0;
  let hi = 4000;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    const r = await c.req(Op.WRITE, [path, "v".repeat(mid)]);
    if (r.error === undefined) lo = mid;
    else {
      assert.equal(r.error, "ENOSPC");
      hi = mid - 1;
    }
  }
  return lo;
}

/**
 * Creates single nodes `q/d<i % dirs>/<i>` under the guest's home until one
 * fails; `dirs` directories are made first. Returns how many leaves fit.
 */
async function fillNodes(g: RawConn, dirs: number, max: number): Promise<[number, string]> {
  for (let i = 0; i < dirs; i++) await write(g, `q/d${i}`, "");
  for (let i = 0; i < max; i++) {
    const r = await g.req(Op.WRITE, [`q/d${i % dirs}/${i}`, ""]);
    if (r.error) return [i, r.error];
  }
  return [max, ""];
}

export const quotaCases: ConformanceCase[] = [
  {
    name:
      "the memory charged to a domain: node record (24 + 8 per perm + value + child names) plus path, watch path plus token, no NULs",
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      const memory = async () =>
        Number(
          /memory\s*:\s*(\d+)/.exec(
            text(await ok(d0.req(Op.CONTROL, ["quota", String(domid)]), Op.CONTROL)),
          )![1],
        );
      let last = await memory();
      const delta = async () => {
        const m = await memory();
        const d = m - last;
        last = m;
        return d;
      };
      await ok(g.req(Op.WATCH, ["a", "tok"])); // stored as the absolute path
      assert.equal(await delta(), `${home}/a`.length + 3, "relative watch");
      await ok(g.req(Op.WATCH, ["@releaseDomain", "t"]));
      assert.equal(await delta(), 15, "special watch");
      await write(g, `${home}/x`, "v");
      // New record (24 + 8 + 1) and path, plus "x\0" in the home's child list.
      assert.equal(await delta(), 24 + 8 + 1 + `${home}/x`.length + 2, "write");
      await setPerms(g, `${home}/x`, [`n${domid}`, "r0", "r5"]);
      assert.equal(await delta(), 16, "two more permission entries");
      await write(d0, `${home}/y`, "0123456789"); // dom0 writes, the owner pays
      assert.equal(await delta(), 24 + 8 + 10 + `${home}/y`.length + 2, "dom0 write");
      await ok(g.req(Op.UNWATCH, ["a", "tok"]));
      assert.equal(await delta(), -(`${home}/a`.length + 3), "unwatch");
    },
  },
  {
    name: "a guest owns at most 1000 nodes, its home included; creating more is ENOSPC",
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      // home + q + 10 dirs = 12 nodes, so 988 leaves fit.
      assert.deepEqual(await fillNodes(g, 10, 1100), [988, "ENOSPC"]);
      await expectError(g.req(Op.MKDIR, ["another"]), "ENOSPC");
      await write(g, "q/d0/0", "rewriting an existing node is fine");
      // dom0 is not refused, and the node is still the guest's (over quota).
      await write(d0, `${home}/by-dom0`, "");
      await expectError(g.req(Op.WRITE, ["q/x", ""]), "ENOSPC");
      await rm(g, "q/d1");
      await write(g, "q/x", "");
    },
  },
  {
    name: "a guest may register 129 watches; the 130th is E2BIG",
    async run(t) {
      const { g } = await guestWithHome(t);
      assert.deepEqual(await fillWatches(g, 200), [129, "E2BIG"]);
      assert.equal((await drain(g)).length, 129);
      await expectOk(g.req(Op.UNWATCH, ["w0", "t"]), Op.UNWATCH);
      await expectOk(g.req(Op.WATCH, ["again", "t"]), Op.WATCH);
      await expectError(g.req(Op.WATCH, ["more", "t"]), "E2BIG");
    },
  },
  {
    name: "a guest may open 11 transactions; the 12th is ENOSPC",
    async run(t) {
      const { g } = await guestWithHome(t);
      const [ids, err] = await fillTransactions(g, 30);
      assert.equal(ids.length, 11);
      assert.equal(err, "ENOSPC");
      await expectOk(txEnd(g, ids[0], false), Op.TRANSACTION_END);
      await txStart(g);
      await expectError(g.req(Op.TRANSACTION_START, [""]), "ENOSPC");
    },
  },
  {
    name:
      "a guest's node record must stay below 2048 bytes: 2015 value bytes with one perm, 2007 with two",
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      assert.equal(await maxValue(g, "one"), 2015);
      await write(g, "two", "");
      await setPerms(g, "two", [`n${domid}`, "r1"]);
      assert.equal(await maxValue(g, "two"), 2007);
      // dom0 is exempt, even on guest-owned nodes.
      await write(d0, `${home}/one`, "v".repeat(4000));
      assert.equal((await read(g, "one")).length, 4000);
    },
  },
  {
    name: "child names count towards a guest's node record size",
    async run(t) {
      const { g } = await guestWithHome(t);
      // A directory with 24 + 8 bytes of header, children named 100 chars + NUL.
      let n = 0;
      for (; n < 30; n++) {
        const r = await g.req(Op.WRITE, [`dir/${String(n).padStart(100, "c")}`, ""]);
        if (r.error) {
          assert.equal(r.error, "ENOSPC");
          break;
        }
      }
      assert.equal(n, Math.floor((2047 - 32) / 101));
      // A 2048-byte relative path is a valid path but its name overflows the parent.
      await expectError(g.req(Op.WRITE, [`pl/${"p".repeat(2045)}`, ""]), "ENOSPC");
      await expectError(g.req(Op.WRITE, [`pl/${"p".repeat(2046)}`, ""]), "EINVAL");
    },
  },
  {
    name: "a guest setting more than 5 permission entries gets ENOSPC",
    async run(t) {
      const { g, domid } = await guestWithHome(t);
      await write(g, "p", "");
      await setPerms(g, "p", [`n${domid}`, "r1", "r2", "r3", "r4"]);
      await expectError(
        g.req(Op.SET_PERMS, ["p", `n${domid}`, "r1", "r2", "r3", "r4", "r5"]),
        "ENOSPC",
      );
    },
  },
  {
    name: "dom0 is exempt from the watch and transaction quotas",
    async run(t) {
      const d0 = await t.dom0();
      assert.deepEqual(await fillWatches(d0, 200), [200, undefined]);
      await expectOk(d0.req(Op.RESET_WATCHES, [""]), Op.RESET_WATCHES);
      await d0.events({ timeoutMs: 0, quietMs: 0 });
      const [ids, err] = await fillTransactions(d0, 30);
      assert.equal(ids.length, 30);
      assert.equal(err, undefined);
      for (const id of ids) await expectOk(txEnd(d0, id, false), Op.TRANSACTION_END);
    },
  },
  {
    name: "with -E 20 a guest owns at most 20 nodes; dom0 is not limited",
    needs: REDUCED,
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      // home + q + 2 dirs = 4 nodes, so 16 leaves fit.
      assert.deepEqual(await fillNodes(g, 2, 100), [16, "ENOSPC"]);
      for (let i = 0; i < 30; i++) await write(d0, `${home}/dom0/${i}`, "");
      assert.equal((await dir(d0, `${home}/dom0`)).length, 30);
    },
  },
  {
    name: "with -W 5 a guest may register 6 watches",
    needs: REDUCED,
    async run(t) {
      const { d0, g } = await guestWithHome(t);
      assert.deepEqual(await fillWatches(g, 20), [6, "E2BIG"]);
      assert.deepEqual(await fillWatches(d0, 20), [20, undefined]);
    },
  },
  {
    name: "with -t 2 a guest may open 3 transactions",
    needs: REDUCED,
    async run(t) {
      const { d0, g } = await guestWithHome(t);
      const [ids, err] = await fillTransactions(g, 10);
      assert.equal(ids.length, 3);
      assert.equal(err, "ENOSPC");
      assert.equal((await fillTransactions(d0, 10))[0].length, 10);
    },
  },
  {
    name: "with -A 2 a guest may set 2 permission entries, dom0 more",
    needs: REDUCED,
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      await write(g, "p", "");
      await setPerms(g, "p", [`n${domid}`, "r1"]);
      await expectError(g.req(Op.SET_PERMS, ["p", `n${domid}`, "r1", "r2"]), "ENOSPC");
      await setPerms(d0, `${home}/p`, [`n${domid}`, "r1", "r2", "r3"]);
    },
  },
  {
    name: "with -S 300 a guest's node record must stay below 300 bytes",
    needs: REDUCED,
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      assert.equal(await maxValue(g, "v"), 300 - 24 - 8 - 1);
      await write(d0, `${home}/v`, "v".repeat(1000));
    },
  },
  {
    name: "with -M 100 the relative part of every path, dom0's too, is limited to 100",
    needs: REDUCED,
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      await write(g, `pl/${"p".repeat(97)}`, "");
      await expectError(g.req(Op.WRITE, [`pl/${"p".repeat(98)}`, ""]), "EINVAL");
      await write(d0, `${home}/${"d".repeat(100)}`, "");
      await expectError(d0.req(Op.WRITE, [`${home}/${"d".repeat(101)}`, ""]), "EINVAL");
      await write(d0, `/${"a".repeat(99)}`, "");
      await expectError(d0.req(Op.WRITE, [`/${"a".repeat(100)}`, ""]), "EINVAL");
    },
  },
  {
    name: "CONTROL quota shows quota values set by daemon flags",
    needs: REDUCED,
    async run(t) {
      const d0 = await t.dom0();
      const s = text(await ok(d0.req(Op.CONTROL, ["quota"]), Op.CONTROL));
      for (
        const line of [
          "nodes            :       20 Nodes per domain",
          "watches          :        5 Watches per domain",
          "transactions     :        2 Transactions per domain",
          "node-size        :      300 Max. size of a node",
          "path-max         :      100 Max. length of a node path",
          "permissions      :        2 Max. number of permissions per node",
        ]
      ) {
        assert.ok(s.includes(`\n${line}\n`), line);
      }
    },
  },
  {
    name:
      "a guest transaction touching more than transaction-nodes nodes fails; its commit is ENOMEM",
    needs: TX_NODES,
    async run(t) {
      const { g } = await guestWithHome(t);
      const tx = await txStart(g);
      // The home (parent) and t0..t3 make 5 nodes.
      for (let i = 0; i < 4; i++) await write(g, `t${i}`, "", tx);
      await expectError(g.req(Op.WRITE, ["t4", ""], { txId: tx }), "ENOSPC");
      await expectError(g.req(Op.READ, ["other"], { txId: tx }), "ENOSPC");
      assert.equal(await read(g, "t0", tx), "");
      await expectError(txEnd(g, tx), "ENOMEM");
      await expectError(txEnd(g, tx), "ENOENT");
      await expectError(g.req(Op.READ, ["t0"]), "ENOENT");
    },
  },
  {
    name: "reads count towards transaction-nodes as well; abort still replies OK",
    needs: TX_NODES,
    async run(t) {
      const { g } = await guestWithHome(t);
      const tx = await txStart(g);
      for (let i = 0; i < 4; i++) {
        await expectError(g.req(Op.READ, [`x${i}`], { txId: tx }), "ENOENT");
      }
      await expectError(g.req(Op.READ, ["x4"], { txId: tx }), "ENOSPC");
      await expectOk(txEnd(g, tx, false), Op.TRANSACTION_END);
    },
  },
  {
    name: "the node quota is checked again at commit: ENOSPC when others filled it meanwhile",
    needs: TX_NODES,
    async run(t) {
      const { g } = await guestWithHome(t);
      await write(g, "a", "");
      await write(g, "b", "");
      const tx = await txStart(g);
      // 3 owned + 3 in the transaction ≤ 10.
      for (let i = 0; i < 3; i++) await write(g, `a/${i}`, "", tx);
      for (let i = 0; i < 5; i++) await write(g, `b/${i}`, "");
      await expectError(txEnd(g, tx), "ENOSPC");
      await expectError(txEnd(g, tx), "ENOENT");
      assert.deepEqual(await dir(g, "a"), []);
    },
  },
  {
    name:
      "inside a transaction the node quota counts live nodes only: a refusal does not fail it, two new levels fit, the commit needs the total below the quota",
    needs: NODES_5,
    async run(t) {
      const { g, home } = await guestWithHome(t);
      for (const n of ["n0", "n1", "n2", "n3"]) await write(g, n, ""); // 5 with the home
      let tx = await txStart(g);
      await expectError(g.req(Op.WRITE, ["x", ""], { txId: tx }), "ENOSPC");
      await expectOk(txEnd(g, tx), Op.TRANSACTION_END);
      await rm(g, "n3");
      await rm(g, "n2");
      tx = await txStart(g);
      await write(g, "x/y", "", tx);
      await expectError(txEnd(g, tx), "ENOSPC", "3 + 2 reaches 5");
      tx = await txStart(g);
      await write(g, "x", "", tx);
      await expectOk(txEnd(g, tx), Op.TRANSACTION_END);
      assert.deepEqual(await dir(g, home), ["n0", "n1", "x"]);
    },
  },
  {
    name: "dom0 transactions are not limited by transaction-nodes",
    needs: TX_NODES,
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const tx = await txStart(d0);
      for (let i = 0; i < 12; i++) await write(d0, `${p}/${i}`, "", tx);
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
    },
  },
];
