/**
 * @module
 * Transactions: ids, errors, isolation, the C daemon's per-node conflict
 * rules (EAGAIN), closing in every outcome and events at commit
 * (xenstore-protocol.md §5). Worked example of the conflict rule: a node
 * first touched in a transaction records its generation; at commit every
 * recorded generation must still be current, else EAGAIN.
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
  mkdir,
  nextDomid,
  ok,
  paths,
  read,
  rm,
  text,
  txEnd,
  txStart,
  uniquePath,
  watch,
  write,
} from "../case.ts";
import type { RawConn } from "../target.ts";

/** Asserts `txId` is closed: ending it again and using it are ENOENT. */
async function assertClosed(c: RawConn, txId: number): Promise<void> {
  await expectError(c.req(Op.READ, ["/tool"], { txId }), "ENOENT", "READ in closed tx");
  await expectError(txEnd(c, txId, false), "ENOENT", "END of closed tx");
}

/** Runs `prepare` in a new transaction, `meddle` outside it, and commits. */
async function conflict(
  d0: RawConn,
  prepare: (tx: number) => Promise<unknown>,
  meddle: () => Promise<unknown>,
): Promise<string | undefined> {
  const tx = await txStart(d0);
  await prepare(tx);
  await meddle();
  const r = await txEnd(d0, tx);
  await assertClosed(d0, tx);
  return r.error ?? text(r);
}

export const transactionCases: ConformanceCase[] = [
  {
    name: "transaction ids count 1, 2, 3 per connection",
    async run(t) {
      const a = await t.dom0();
      assert.equal(await txStart(a), 1);
      await expectOk(txEnd(a, 1), Op.TRANSACTION_END);
      assert.equal(await txStart(a), 2);
      assert.equal(await txStart(a), 3);
      const b = await t.dom0();
      assert.equal(await txStart(b), 1);
      const g = await t.guest(nextDomid());
      assert.equal(await txStart(g), 1);
      assert.equal(await txStart(g), 2);
    },
  },
  {
    name: "TRANSACTION_START inside an open transaction is EBUSY, with an unknown id ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      const tx = await txStart(d0);
      await expectError(d0.req(Op.TRANSACTION_START, [""], { txId: tx }), "EBUSY");
      await expectError(d0.req(Op.TRANSACTION_START, [""], { txId: tx + 100 }), "ENOENT");
      assert.equal(await read(d0, "/tool", tx), "");
    },
  },
  {
    name: "every op but WATCH and UNWATCH naming an unknown transaction is ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      const reqs: [number, string[]][] = [
        [Op.READ, [p]],
        [Op.DIRECTORY, [p]],
        [Op.GET_PERMS, [p]],
        [Op.WRITE, [p, "x"]],
        [Op.MKDIR, [p]],
        [Op.RM, [p]],
        [Op.SET_PERMS, [p, "n0"]],
        [Op.DIRECTORY_PART, [p, "0"]],
        [Op.GET_DOMAIN_PATH, ["1"]],
        [Op.IS_DOMAIN_INTRODUCED, ["1"]],
        [Op.RESET_WATCHES, [""]],
        [Op.CONTROL, ["help"]],
        [Op.TRANSACTION_END, ["T"]],
      ];
      for (const [op, args] of reqs) {
        await expectError(d0.req(op, args, { txId: 77 }), "ENOENT", `op ${op}`);
      }
      assert.equal(await read(d0, p), "");
    },
  },
  {
    name:
      "unknown types are ENOSYS and guests' privileged ops EACCES before the tx_id is looked at",
    async run(t) {
      const d0 = await t.dom0();
      const g = await t.guest(nextDomid());
      await expectError(d0.req(23, [""], { txId: 77 }), "ENOSYS");
      await expectError(d0.req(Op.RESTRICT, [""], { txId: 77 }), "ENOSYS");
      await expectError(g.req(Op.CONTROL, ["help"], { txId: 77 }), "EACCES");
      await expectError(g.req(Op.INTRODUCE, ["1", "0", "1"], { txId: 77 }), "EACCES");
      await expectError(g.req(Op.GET_DOMAIN_PATH, ["1"], { txId: 77 }), "ENOENT");
    },
  },
  {
    name: "another connection's transaction id is ENOENT",
    async run(t) {
      const a = await t.dom0();
      const b = await t.dom0();
      const tx = await txStart(a);
      await expectError(b.req(Op.READ, ["/tool"], { txId: tx }), "ENOENT");
      await expectError(txEnd(b, tx), "ENOENT");
      assert.equal(await read(a, "/tool", tx), "");
    },
  },
  {
    name: "TRANSACTION_END with a payload other than T or F is EINVAL and keeps the transaction",
    async run(t) {
      const d0 = await t.dom0();
      const tx = await txStart(d0);
      for (const bad of [["X"], ["t"], ["TRUE"], [""], ["T", "T"]]) {
        await expectError(d0.req(Op.TRANSACTION_END, bad, { txId: tx }), "EINVAL", bad.join(","));
      }
      await expectError(
        d0.req(Op.TRANSACTION_END, { raw: new TextEncoder().encode("T") }, { txId: tx }),
        "EINVAL",
      );
      assert.equal(await read(d0, "/tool", tx), "");
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
    },
  },
  {
    name: "TRANSACTION_END outside a transaction is ENOENT, or EINVAL for a bad payload",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(txEnd(d0, 0), "ENOENT");
      await expectError(txEnd(d0, 0, false), "ENOENT");
      await expectError(d0.req(Op.TRANSACTION_END, ["X"]), "EINVAL");
    },
  },
  {
    name: "writes in a transaction are invisible outside, even to its own connection, until commit",
    async run(t) {
      const d0 = await t.dom0();
      const other = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/old`, "1");
      const tx = await txStart(d0);
      await write(d0, `${p}/old`, "2", tx);
      await write(d0, `${p}/new/deep`, "3", tx);
      await rm(d0, `${p}/old`, tx);
      for (const c of [d0, other]) {
        assert.equal(await read(c, `${p}/old`), "1");
        await expectError(c.req(Op.READ, [`${p}/new`]), "ENOENT");
      }
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
      await expectError(other.req(Op.READ, [`${p}/old`]), "ENOENT");
      assert.equal(await read(other, `${p}/new/deep`), "3");
      assert.deepEqual(await dir(other, p), ["new"]);
    },
  },
  {
    name: "a transaction sees its own writes, creations and removals",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "1");
      const tx = await txStart(d0);
      await write(d0, `${p}/a`, "2", tx);
      await mkdir(d0, `${p}/b`, tx);
      await write(d0, `${p}/c/d`, "4", tx);
      assert.equal(await read(d0, `${p}/a`, tx), "2");
      assert.deepEqual(await dir(d0, p, tx), ["a", "b", "c"]);
      await rm(d0, `${p}/a`, tx);
      await expectError(d0.req(Op.READ, [`${p}/a`], { txId: tx }), "ENOENT");
      assert.deepEqual(await dir(d0, p, tx), ["b", "c"]);
      await expectOk(txEnd(d0, tx, false), Op.TRANSACTION_END);
      assert.deepEqual(await dir(d0, p), ["a"]);
      assert.equal(await read(d0, `${p}/a`), "1");
    },
  },
  {
    name: "abort discards everything and replies OK",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "keep");
      const tx = await txStart(d0);
      await write(d0, p, "lost", tx);
      await write(d0, `${p}/kid`, "lost", tx);
      await expectOk(txEnd(d0, tx, false), Op.TRANSACTION_END);
      assert.equal(await read(d0, p), "keep");
      assert.deepEqual(await dir(d0, p), []);
      await assertClosed(d0, tx);
    },
  },
  {
    name: "a node read in a transaction keeps its value there after it changes outside",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "before");
      const tx = await txStart(d0);
      assert.equal(await read(d0, p, tx), "before");
      await write(d0, p, "after");
      assert.equal(await read(d0, p, tx), "before");
      await expectError(txEnd(d0, tx), "EAGAIN");
    },
  },
  {
    name: "a node first touched after an outside change shows the new value, and commit succeeds",
    async run(t) {
      // No snapshot at start: nodes are copied on first access.
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "a0");
      await write(d0, `${p}/b`, "b0");
      const tx = await txStart(d0);
      assert.equal(await read(d0, `${p}/a`, tx), "a0");
      await write(d0, `${p}/b`, "b1");
      assert.equal(await read(d0, `${p}/b`, tx), "b1");
      await write(d0, `${p}/a2`, "x", tx);
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
    },
  },
  {
    name: "commit fails with EAGAIN when a read node changed",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "v");
      assert.equal(
        await conflict(d0, (tx) => read(d0, p, tx), () => write(d0, p, "w")),
        "EAGAIN",
      );
      assert.equal(await read(d0, p), "w");
    },
  },
  {
    name: "commit fails with EAGAIN when a read node's permissions changed",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "v");
      assert.equal(
        await conflict(d0, (tx) => read(d0, p, tx), () => d0.req(Op.SET_PERMS, [p, "r0"])),
        "EAGAIN",
      );
    },
  },
  {
    name: "commit fails with EAGAIN when a sibling was created in a listed directory",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "");
      assert.equal(
        await conflict(d0, (tx) => dir(d0, p, tx), () => write(d0, `${p}/b`, "")),
        "EAGAIN",
      );
    },
  },
  {
    name:
      "commit fails with EAGAIN when a sibling was created in a directory it created a child in",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      assert.equal(
        await conflict(
          d0,
          (tx) => write(d0, `${p}/mine`, "", tx),
          () => write(d0, `${p}/theirs`, ""),
        ),
        "EAGAIN",
      );
      await expectError(d0.req(Op.READ, [`${p}/mine`]), "ENOENT");
    },
  },
  {
    name: "commit fails with EAGAIN when a node read as missing was created",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      assert.equal(
        await conflict(
          d0,
          (tx) => expectError(d0.req(Op.READ, [`${p}/x`], { txId: tx }), "ENOENT"),
          () => write(d0, `${p}/x`, "now"),
        ),
        "EAGAIN",
      );
    },
  },
  {
    name: "commit fails with EAGAIN when a read node was removed",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/x`, "");
      assert.equal(
        await conflict(d0, (tx) => read(d0, `${p}/x`, tx), () => rm(d0, `${p}/x`)),
        "EAGAIN",
      );
    },
  },
  {
    name: "commit fails with EAGAIN when a node it only wrote was changed meanwhile",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "v0");
      assert.equal(
        await conflict(d0, (tx) => write(d0, p, "mine", tx), () => write(d0, p, "theirs")),
        "EAGAIN",
      );
      assert.equal(await read(d0, p), "theirs");
    },
  },
  {
    name: "commit fails with EAGAIN when another transaction committed a read node first",
    async run(t) {
      const a = await t.dom0();
      const b = await t.dom0();
      const p = uniquePath();
      await write(a, p, "0");
      const ta = await txStart(a);
      const tb = await txStart(b);
      assert.equal(await read(a, p, ta), "0");
      assert.equal(await read(b, p, tb), "0");
      await write(a, p, "a", ta);
      await write(b, p, "b", tb);
      await expectOk(txEnd(a, ta), Op.TRANSACTION_END);
      await expectError(txEnd(b, tb), "EAGAIN");
      assert.equal(await read(a, p), "a");
    },
  },
  {
    name: "changes to nodes the transaction never touched cause no conflict",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/mine`, "");
      await write(d0, `${p}/other`, "");
      assert.equal(
        await conflict(
          d0,
          (tx) => write(d0, `${p}/mine`, "x", tx),
          async () => {
            await write(d0, `${p}/other`, "changed");
            await write(d0, `${p}/other/kid`, "");
            await write(d0, `${uniquePath()}/elsewhere`, "");
          },
        ),
        "OK\0",
      );
      assert.equal(await read(d0, `${p}/mine`), "x");
    },
  },
  {
    name: "a transaction that touched nothing commits OK",
    async run(t) {
      const d0 = await t.dom0();
      const tx = await txStart(d0);
      await write(d0, `${uniquePath()}/x`, "");
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
      await assertClosed(d0, tx);
    },
  },
  {
    name: "a transaction is closed after commit, abort and EAGAIN alike",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      const ok1 = await txStart(d0);
      await expectOk(txEnd(d0, ok1), Op.TRANSACTION_END);
      await assertClosed(d0, ok1);
      const ab = await txStart(d0);
      await expectOk(txEnd(d0, ab, false), Op.TRANSACTION_END);
      await assertClosed(d0, ab);
      assert.equal(await conflict(d0, (tx) => read(d0, p, tx), () => write(d0, p, "x")), "EAGAIN");
    },
  },
  {
    name: "aborting a transaction that would conflict replies OK",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      const tx = await txStart(d0);
      await read(d0, p, tx);
      await write(d0, p, "changed");
      await expectOk(txEnd(d0, tx, false), Op.TRANSACTION_END);
    },
  },
  {
    name: "RESET_WATCHES aborts the connection's transactions",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const tx = await txStart(d0);
      await write(d0, p, "lost", tx);
      await expectOk(d0.req(Op.RESET_WATCHES, [""]), Op.RESET_WATCHES);
      await assertClosed(d0, tx);
      await expectError(d0.req(Op.READ, [p]), "ENOENT");
    },
  },
  {
    name: "transaction changes fire watches at commit only, before the commit's OK",
    async run(t) {
      const d0 = await t.dom0();
      const w = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await watch(w, p, "w");
      await watch(d0, p, "self");
      const tx = await txStart(d0);
      await write(d0, `${p}/a`, "1", tx);
      assert.deepEqual(await drain(w), []);
      assert.deepEqual(await drain(d0), []);
      const from = d0.log.length;
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
      assert.deepEqual(d0.log.slice(from).map((m) => m.type), [
        Op.WATCH_EVENT,
        Op.TRANSACTION_END,
      ]);
      assert.deepEqual(paths(await drain(w)), [`${p}/a`]);
      assert.deepEqual(paths(await drain(d0)), [`${p}/a`]);
    },
  },
  {
    name: "an aborted or failed transaction fires nothing",
    async run(t) {
      const d0 = await t.dom0();
      const w = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await watch(w, p, "w");
      const tx = await txStart(d0);
      await write(d0, `${p}/a`, "1", tx);
      await expectOk(txEnd(d0, tx, false), Op.TRANSACTION_END);
      assert.deepEqual(await drain(w), []);
      const tx2 = await txStart(d0);
      await read(d0, p, tx2);
      await write(d0, `${p}/b`, "1", tx2);
      await write(d0, p, "outside");
      assert.deepEqual(paths(await drain(w)), [p]);
      await expectError(txEnd(d0, tx2), "EAGAIN");
      assert.deepEqual(await drain(w), []);
    },
  },
  {
    name:
      "commit fires one event per modified node, in order of first access, none for implicit parents",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/b`, "");
      await write(d0, `${p}/c`, "");
      await write(d0, `${p}/r/x`, "");
      await watch(d0, p, "t");
      const tx = await txStart(d0);
      await write(d0, `${p}/b`, "1", tx);
      await read(d0, `${p}/c`, tx);
      await write(d0, `${p}/new/deep/leaf`, "2", tx);
      await write(d0, `${p}/b`, "3", tx);
      await rm(d0, `${p}/r`, tx);
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
      assert.deepEqual(paths(await drain(d0)), [`${p}/b`, `${p}/new/deep/leaf`, `${p}/r`]);
    },
  },
  {
    name:
      "a removal committed by a transaction fires the removed node first, then descendants top-down",
    async run(t) {
      // Unlike a plain RM (deepest first): commit fires in order of first
      // access, and RM touches the node before walking its subtree.
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/r/x/y`, "");
      await write(d0, `${p}/r/z`, "");
      for (
        const [q, tok] of [[`${p}/r/x/y`, "y"], [`${p}/r/x`, "x"], [p, "anc"], [`${p}/r/z`, "z"], [
          `${p}/r`,
          "r",
        ]]
      ) {
        await watch(d0, q, tok);
      }
      const tx = await txStart(d0);
      await rm(d0, `${p}/r`, tx);
      await expectOk(txEnd(d0, tx), Op.TRANSACTION_END);
      assert.deepEqual(await drain(d0), [
        { path: `${p}/r`, token: "anc" },
        { path: `${p}/r`, token: "r" },
        { path: `${p}/r/x`, token: "x" },
        { path: `${p}/r/x/y`, token: "y" },
        { path: `${p}/r/z`, token: "z" },
      ]);
    },
  },
  {
    name: "a guest's transaction commits its writes under its home",
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      const tx = await txStart(g);
      await write(g, "t/a", "1", tx);
      await write(g, `${home}/t/b`, "2", tx);
      await expectError(d0.req(Op.READ, [`${home}/t`]), "ENOENT");
      await expectOk(txEnd(g, tx), Op.TRANSACTION_END);
      assert.deepEqual(await dir(d0, `${home}/t`), ["a", "b"]);
      await ok(d0.req(Op.GET_PERMS, [`${home}/t`]));
    },
  },
];
