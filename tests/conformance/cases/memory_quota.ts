/**
 * @module
 * The hard memory quota (`-Q memory=4000` here) as the C daemon 4.17
 * enforces it (FINDINGS.md 22a, `src/xenstore/store/memory_quota.ts`). The
 * cases read the memory charged to a domain from `quota <domid>` and bring
 * it to exact totals with padding nodes, so every boundary is hit to the
 * byte: a domain may come up to quota − 1. What a node costs its payer:
 * its name and NUL in the parent's child list (paid by the parent's owner),
 * its record (24 + 8 per permission + value + child names) and its path.
 *
 * A transaction's copies cost `<gen>/<path>` with the daemon's generation
 * counter, whose digits may differ between daemons; the cases measure that
 * prefix instead of assuming it.
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  drain,
  expectError,
  expectOk,
  guestWithHome,
  mkdir,
  ok,
  read,
  rm,
  setPerms,
  text,
  txEnd,
  txStart,
  uniquePath,
  watch,
  write,
} from "../case.ts";
import type { RawConn, Reply } from "../target.ts";

const QUOTA = 4000;
const MEMORY = { daemonArgs: ["-Q", `memory=${QUOTA}`] };
/** Value bytes of one padding node (its record stays below the node size). */
const PAD_MAX = 1500;
/** How long a request must stay unanswered to count as held back. */
const HELD_MS = 300;

/** Memory charged to `domid`, from `quota <domid>`. */
async function memoryOf(d0: RawConn, domid: number): Promise<number> {
  const r = text(await ok(d0.req(Op.CONTROL, ["quota", String(domid)]), Op.CONTROL));
  return Number(/memory\s*:\s*(\d+)/.exec(r)![1]);
}

/** What a new node costs: its child entry (if the parent is the payer's), record, path. */
function nodeCost(path: string, valueBytes = 0, perms = 1, childEntry = true): number {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return (childEntry ? name.length + 1 : 0) + 24 + 8 * perms + valueBytes + path.length;
}

/** A guest with its home, and the means to bring its memory to exact totals. */
class Guest {
  readonly d0: RawConn;
  readonly g: RawConn;
  readonly domid: number;
  readonly home: string;
  #pads = 0;
  #padLen = 0;

  constructor(x: { d0: RawConn; g: RawConn; domid: number; home: string }) {
    this.d0 = x.d0;
    this.g = x.g;
    this.domid = x.domid;
    this.home = x.home;
  }

  memory(): Promise<number> {
    return memoryOf(this.d0, this.domid);
  }

  async #setPad(len: number): Promise<void> {
    await write(this.g, `pad${this.#pads - 1}`, "p".repeat(len));
    this.#padLen = len;
  }

  /** Rewrites or adds padding nodes `pad<i>` until the memory is `total`. */
  async fillTo(total: number): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const gap = total - await this.memory();
      if (gap === 0) return;
      const next = this.#pads > 0 ? this.#padLen + gap : -1;
      if (next >= 0 && next <= PAD_MAX) await this.#setPad(next);
      else if (this.#pads > 0 && next < 0) await this.#setPad(0);
      else if (gap < nodeCost(`${this.home}/pad${this.#pads}`)) {
        await this.#setPad(Math.max(0, this.#padLen - 1000));
      } else {
        this.#pads++;
        await this.#setPad(Math.min(PAD_MAX, gap - nodeCost(`${this.home}/pad${this.#pads - 1}`)));
      }
    }
    assert.equal(await this.memory(), total, `domain ${this.domid} filled to ${total}`);
  }
}

async function guest(t: Parameters<ConformanceCase["run"]>[0]): Promise<Guest> {
  return new Guest(await guestWithHome(t));
}

/** True if `p` is still pending after `ms`. */
async function pendingAfter(p: Promise<Reply>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = Symbol("late");
  const r = await Promise.race([
    p.then(() => true, () => true),
    new Promise<typeof late>((res) => (timer = setTimeout(() => res(late), ms))),
  ]);
  clearTimeout(timer);
  return r === late;
}

export const memoryQuotaCases: ConformanceCase[] = [
  {
    name:
      "a guest may fill its memory up to quota − 1; a creation past it is EIO (WRITE and MKDIR) and changes nothing",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      const cost = nodeCost(`${x.home}/n`);
      await x.fillTo(QUOTA - cost);
      await expectError(x.g.req(Op.WRITE, ["n", ""]), "EIO", "WRITE reaching the quota");
      await expectError(x.g.req(Op.MKDIR, ["n"]), "EIO", "MKDIR reaching the quota");
      assert.equal(await x.memory(), QUOTA - cost);
      await expectError(x.g.req(Op.READ, ["n"]), "ENOENT");
      await x.fillTo(QUOTA - 1 - cost);
      await mkdir(x.g, "n");
      assert.equal(await x.memory(), QUOTA - 1);
    },
  },
  {
    name:
      "a rewrite or SET_PERMS refused by the memory quota answers the errno the daemon last set (ENOENT after a creation, EIO after a refused one, EACCES after a refused access, EINVAL after a bad watch path)",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await write(x.g, "r", "r".repeat(100));
      await x.fillTo(QUOTA - 1);
      const grow = () => x.g.req(Op.WRITE, ["r", "r".repeat(101)]);
      await write(x.g, "r", "r".repeat(100)); // fits: unchanged size
      await expectError(x.g.req(Op.READ, ["missing"]), "ENOENT");
      await expectError(grow(), "ENOENT", "after a missing node");
      await expectError(x.g.req(Op.MKDIR, ["new"]), "EIO");
      await expectError(x.g.req(Op.SET_PERMS, ["r", `n${x.domid}`, "r0"]), "EIO", "after EIO");
      await expectError(x.g.req(Op.READ, ["/local"]), "EACCES");
      await expectError(grow(), "EACCES", "after EACCES");
      await expectError(x.g.req(Op.READ, ["r"]), "ENOMEM", "a 116-byte reply");
      await expectError(grow(), "EACCES", "a refused reply leaves errno alone");
      await expectError(x.g.req(Op.WATCH, ["bad//path", "t"]), "EINVAL");
      await expectError(grow(), "EINVAL", "after an invalid watch path");
      assert.equal(await x.memory(), QUOTA - 1);
    },
  },
  {
    name:
      "dom0 is refused too when the charge falls on a full guest: creating in its home is EIO, giving it a node answers the last errno",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await x.fillTo(QUOTA - 1);
      await expectError(x.d0.req(Op.WRITE, [`${x.home}/by-dom0`, ""]), "EIO");
      const p = uniquePath();
      await write(x.d0, `${p}/big`, "b".repeat(QUOTA)); // dom0's own nodes: no limit
      const gift = `${p}/gift`;
      await write(x.d0, gift, "g".repeat(100)); // a creation: errno is ENOENT
      await expectError(x.d0.req(Op.SET_PERMS, [gift, `n${x.domid}`]), "ENOENT");
      const cost = nodeCost(gift, 100, 1, false); // the child entry stays dom0's
      await x.fillTo(QUOTA - 1 - cost);
      await setPerms(x.d0, gift, [`n${x.domid}`]);
      assert.equal(await x.memory(), QUOTA - 1);
    },
  },
  {
    name:
      "a guest's nodes under a dom0-owned b<guest> node cost the guest; the new child name costs dom0",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      const p = uniquePath();
      await mkdir(x.d0, p);
      await setPerms(x.d0, p, ["n0", `b${x.domid}`]);
      const cost = nodeCost(`${p}/x`, 0, 2, false);
      await x.fillTo(QUOTA - 1 - cost);
      const dom0 = await memoryOf(x.d0, 0);
      await write(x.g, `${p}/x`, "");
      assert.equal(await x.memory(), QUOTA - 1);
      assert.equal(await memoryOf(x.d0, 0), dom0 + 2, "x\\0 in the parent's list");
      await expectError(x.g.req(Op.WRITE, [`${p}/y`, ""]), "EIO");
      await rm(x.g, `${p}/x`);
      assert.equal(await x.memory(), QUOTA - 1 - cost);
      assert.equal(await memoryOf(x.d0, 0), dom0);
    },
  },
  {
    name: "a guest creating in another guest's directory: the child name is charged to its owner",
    needs: MEMORY,
    async run(t) {
      const a = await guest(t);
      const b = await guest(t);
      await write(a.g, "shared", "");
      await setPerms(a.g, "shared", [`n${a.domid}`, `b${b.domid}`]);
      await a.fillTo(QUOTA - 2);
      const bBefore = await b.memory();
      await expectError(b.g.req(Op.WRITE, [`${a.home}/shared/z`, ""]), "EIO");
      assert.equal(await b.memory(), bBefore);
      await a.fillTo(QUOTA - 3);
      await write(b.g, `${a.home}/shared/z`, "");
      assert.equal(await a.memory(), QUOTA - 1);
      assert.equal(await b.memory(), bBefore + nodeCost(`${a.home}/shared/z`, 0, 2, false));
    },
  },
  {
    name: "RM gives the memory back: a write refused before then fits",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await x.fillTo(QUOTA - 1);
      await expectError(x.g.req(Op.WRITE, ["n", "v"]), "EIO");
      assert.equal(await x.memory(), QUOTA - 1);
      await rm(x.g, "pad0");
      await write(x.g, "n", "v");
    },
  },
  {
    name:
      "WATCH costs its absolute path and token and is refused with ENOMEM; its first event is dropped unless it fits after the OK",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      const cost = `${x.home}/w`.length + 1;
      await x.fillTo(QUOTA - cost);
      await expectError(x.g.req(Op.WATCH, ["w", "t"]), "ENOMEM");
      await x.fillTo(QUOTA - 1 - cost);
      await expectOk(x.g.req(Op.WATCH, ["w", "t"]), Op.WATCH);
      assert.deepEqual(await drain(x.g), [], "OK (19) + event w|t| (20) do not fit");
      assert.equal(await x.memory(), QUOTA - 1);
      await expectOk(x.g.req(Op.UNWATCH, ["w", "t"]), Op.UNWATCH);
      await x.fillTo(QUOTA - 1 - cost - 19 - 20);
      await watch(x.g, "w", "t");
    },
  },
  {
    name: "a watch event that would bring the guest to its quota is dropped",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      const p = uniquePath();
      await write(x.d0, p, "");
      await setPerms(x.d0, p, ["r0"]);
      await watch(x.g, p, "tk");
      const ev = 16 + p.length + 1 + 3;
      await x.fillTo(QUOTA - ev);
      await write(x.d0, p, "1");
      assert.deepEqual(await drain(x.g), []);
      await x.fillTo(QUOTA - 1 - ev);
      await write(x.d0, p, "2");
      assert.deepEqual(await drain(x.g), [{ path: p, token: "tk" }]);
    },
  },
  {
    name:
      "a reply of more than 16 bytes that would bring the guest to its quota is ENOMEM (READ, GET_DOMAIN_PATH); shorter replies are not checked",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await write(x.g, "s16", "s".repeat(16));
      await write(x.g, "s17", "s".repeat(17));
      await x.fillTo(QUOTA - 16 - 17);
      await expectError(x.g.req(Op.READ, ["s17"]), "ENOMEM");
      await expectError(x.g.req(Op.GET_DOMAIN_PATH, ["10"]), "ENOMEM", "/local/domain/10\\0");
      assert.equal(await read(x.g, "s16"), "s".repeat(16));
      await ok(x.g.req(Op.GET_DOMAIN_PATH, ["5"]), Op.GET_DOMAIN_PATH);
      await x.fillTo(QUOTA - 1 - 16 - 17);
      assert.equal(await read(x.g, "s17"), "s".repeat(17));
    },
  },
  {
    name:
      "a transaction's copies cost the guest record + <gen>/<path> for each node read or written; commit and abort give them back",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await write(x.g, "a", "a".repeat(100));
      const m0 = await x.memory();
      let tx = await txStart(x.g);
      await read(x.g, "a", tx);
      const prefix = (await x.memory()) - m0 - nodeCost(`${x.home}/a`, 100, 1, false);
      assert.ok(prefix >= 2 && prefix <= 21, `"<gen>/" is ${prefix} bytes`);
      const m1 = await x.memory();
      await write(x.g, "b", "yy", tx); // b, and a copy of the home with "b\0" more
      const homeCopy = 24 + 8 + "a\0b\0".length + x.home.length + prefix;
      const bCopy = 24 + 8 + 2 + `${x.home}/b`.length + prefix;
      assert.equal(await x.memory(), m1 + bCopy + homeCopy);
      await expectOk(txEnd(x.g, tx), Op.TRANSACTION_END);
      assert.equal(await x.memory(), m0 + nodeCost(`${x.home}/b`, 2));
      tx = await txStart(x.g);
      await read(x.g, "b", tx);
      assert.ok(await x.memory() > m0 + nodeCost(`${x.home}/b`, 2));
      await expectOk(txEnd(x.g, tx, false), Op.TRANSACTION_END);
      assert.equal(await x.memory(), m0 + nodeCost(`${x.home}/b`, 2));
    },
  },
  {
    name:
      "a creation in a transaction that would reach the quota is EIO and fails the transaction (commit ENOMEM)",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await x.fillTo(2000);
      const tx = await txStart(x.g);
      await read(x.g, x.home, tx);
      const homeCopy = (await x.memory()) - 2000;
      const childBytes = (await ok(x.g.req(Op.DIRECTORY, [x.home]))).payload.length;
      const prefix = homeCopy - nodeCost(x.home, 0, 1, false) - childBytes;
      // The new node's copy, and the home's copy growing by "n\0".
      const cost = 24 + 8 + prefix + `${x.home}/n`.length + 2;
      await x.fillTo(QUOTA - cost);
      await expectError(x.g.req(Op.WRITE, ["n", ""], { txId: tx }), "EIO");
      assert.equal(await x.memory(), QUOTA - cost);
      await expectError(txEnd(x.g, tx), "ENOMEM");
      assert.equal(await x.memory(), QUOTA - cost - homeCopy);
    },
  },
  {
    name:
      "a guest whose transaction copies take it past its quota is not served until dom0 frees memory",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      await write(x.g, "a", "a".repeat(1000));
      await x.fillTo(3000);
      const tx = await txStart(x.g);
      // The copy is made unchecked; the 1016-byte reply then does not fit.
      await expectError(x.g.req(Op.READ, ["a"], { txId: tx }), "ENOMEM");
      assert.ok(await x.memory() >= QUOTA);
      const held = x.g.req(Op.GET_DOMAIN_PATH, [String(x.domid)]);
      assert.ok(await pendingAfter(held, HELD_MS), "no answer while over the quota");
      await rm(x.d0, `${x.home}/pad0`);
      assert.equal(text(await ok(held, Op.GET_DOMAIN_PATH)), `${x.home}\0`);
      await expectOk(txEnd(x.g, tx, false), Op.TRANSACTION_END);
    },
  },
  {
    name: "lowering the memory quota at run time holds a guest back until it is raised again",
    needs: MEMORY,
    async run(t) {
      const x = await guest(t);
      const setQuota = (n: number) =>
        expectOk(x.d0.req(Op.CONTROL, ["quota", "set", "memory", String(n)]), Op.CONTROL);
      await setQuota(10);
      try {
        const held = x.g.req(Op.READ, [x.home]);
        assert.ok(await pendingAfter(held, HELD_MS), "no answer while over the quota");
        await setQuota(QUOTA);
        assert.equal(text(await ok(held, Op.READ)), "");
      } finally {
        await setQuota(QUOTA);
      }
    },
  },
];
