/**
 * @module
 * Permissions: encoding, meaning, inheritance, SET_PERMS rules, SET_TARGET,
 * stale entries and the EACCES-vs-ENOENT disclosure rule
 * (xenstore-protocol.md §2.7, §3).
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  ABSENT_DOMID,
  type ConformanceCase,
  dir,
  expectError,
  expectOk,
  getPerms,
  guestWithHome,
  mkdir,
  nextDomid,
  ok,
  own,
  read,
  rm,
  setPerms,
  txEnd,
  txStart,
  uniquePath,
  write,
} from "../case.ts";
import type { RawConn } from "../target.ts";

/** Whether `c` may read and write `path`: "rw", "r-", "-w" or "--". */
async function access(c: RawConn, path: string): Promise<string> {
  const r = await c.req(Op.READ, [path]);
  const w = await c.req(Op.WRITE, [path, "probe"]);
  for (const e of [r.error, w.error]) {
    if (e !== undefined && e !== "EACCES") assert.fail(`unexpected ${e} on ${path}`);
  }
  return (r.error ? "-" : "r") + (w.error ? "-" : "w");
}

export const permissionCases: ConformanceCase[] = [
  {
    name: "GET_PERMS lists the owner entry first, then the ACL, each NUL-terminated",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      assert.deepEqual(await getPerms(d0, p), ["n0"]);
      await setPerms(d0, p, ["b5", "r7", "w9", "n11", "r7"]);
      assert.deepEqual(await getPerms(d0, p), ["b5", "r7", "w9", "n11", "r7"]);
    },
  },
  {
    name:
      "permission domids are parsed by strtol base 0: r0x10 is 16, r010 is 8, 'r 5' and r+5 are 5",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["n0", "r0x10", "r010", "r 5", "r+5"]);
      assert.deepEqual(await getPerms(d0, p), ["n0", "r16", "r8", "r5", "r5"]);
      await setPerms(d0, p, ["n010"]);
      assert.deepEqual(await getPerms(d0, p), ["n8"]);
    },
  },
  {
    name: "permission domids are strtol'd to 32 bits and printed signed, at most 11 characters",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      const table: [string, string][] = [
        ["r-1", "r-1"],
        ["b4294967295", "b-1"],
        ["r99999999999", "r1215752191"],
        ["r65535", "r65535"],
        // strtol saturates at the 64-bit limits before the cast.
        ["r99999999999999999999", "r-1"],
        ["r-99999999999999999999", "r0"],
        // INT_MIN does not fit the daemon's print buffer and is cut short.
        ["r2147483648", "r-214748364"],
      ];
      await setPerms(d0, p, ["n0", ...table.map(([set]) => set)]);
      assert.deepEqual(await getPerms(d0, p), ["n0", ...table.map(([, got]) => got)]);
    },
  },
  {
    name: "a permission with a bad letter, no number, junk after it or a bad octal digit is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["n0", "r1"]);
      for (const bad of ["x5", "R5", "r", "rx", "r5x", "r08", "", " r5", "n0 ", "rw5"]) {
        await expectError(d0.req(Op.SET_PERMS, [p, "n0", bad]), "EINVAL", JSON.stringify(bad));
        await expectError(d0.req(Op.SET_PERMS, [p, bad]), "EINVAL", `owner ${JSON.stringify(bad)}`);
      }
      assert.deepEqual(await getPerms(d0, p), ["n0", "r1"]);
    },
  },
  {
    name: "SET_PERMS with an owner domain that does not exist is ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      for (const owner of [`n${ABSENT_DOMID}`, "n64", "n-1", "b32752"]) {
        await expectError(d0.req(Op.SET_PERMS, [p, owner]), "ENOENT", owner);
      }
      await setPerms(d0, p, ["b63"]);
      assert.deepEqual(await getPerms(d0, p), ["b63"]);
    },
  },
  {
    name: "ACL entries naming domains that do not exist are accepted and listed",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["n0", `r${ABSENT_DOMID}`]);
      assert.deepEqual(await getPerms(d0, p), ["n0", `r${ABSENT_DOMID}`]);
    },
  },
  {
    name: "SET_PERMS of a missing node is ENOENT for dom0",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.SET_PERMS, [`${uniquePath()}/x`, "n0"]), "ENOENT");
    },
  },
  {
    name: "nodes created by dom0 copy their parent's whole permission list, implicit parents too",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["r3", "w5", "b7"]);
      await write(d0, `${p}/a/b`, "x");
      await mkdir(d0, `${p}/c`);
      for (const q of [`${p}/a`, `${p}/a/b`, `${p}/c`]) {
        assert.deepEqual(await getPerms(d0, q), ["r3", "w5", "b7"], q);
      }
    },
  },
  {
    name: "dom0 creating below a guest-owned node creates guest-owned nodes",
    async run(t) {
      const { d0, domid, home } = await guestWithHome(t);
      await write(d0, `${home}/by-dom0/x`, "");
      assert.deepEqual(await getPerms(d0, `${home}/by-dom0`), [`n${domid}`]);
      assert.deepEqual(await getPerms(d0, `${home}/by-dom0/x`), [`n${domid}`]);
    },
  },
  {
    name: "a guest creating nodes becomes their owner and keeps the parent's other entries",
    async run(t) {
      const domid = nextDomid();
      const d0 = await t.dom0();
      const g = await t.guest(domid);
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["r0", `w${domid}`, "r5"]);
      await write(g, `${p}/a/b`, "x");
      await mkdir(g, `${p}/c`);
      for (const q of [`${p}/a`, `${p}/a/b`, `${p}/c`]) {
        assert.deepEqual(await getPerms(d0, q), [`r${domid}`, `w${domid}`, "r5"], q);
      }
    },
  },
  {
    name: "a guest cannot touch nodes owned by dom0 with 'n' for others",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/kid`, "secret");
      assert.equal(await access(g, p), "--");
      await expectError(g.req(Op.DIRECTORY, [p]), "EACCES");
      await expectError(g.req(Op.GET_PERMS, [p]), "EACCES");
      await expectError(g.req(Op.RM, [p]), "EACCES");
      await expectError(g.req(Op.MKDIR, [p]), "EACCES");
      await expectError(g.req(Op.SET_PERMS, [p, "n0"]), "EACCES");
      assert.equal(await read(d0, `${p}/kid`), "secret");
    },
  },
  {
    name:
      "ENOENT for a missing node needs its nearest parent to grant any of the access asked: SET_PERMS under a b-parent",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["n0", `b${domid}`]);
      // SET_PERMS asks for write and owner; the parent grants write only.
      await expectError(g.req(Op.SET_PERMS, [`${p}/gone`, "n0"]), "ENOENT");
      await setPerms(d0, p, ["n0", `r${domid}`]);
      await expectError(g.req(Op.SET_PERMS, [`${p}/gone`, "n0"]), "EACCES");
    },
  },
  {
    name:
      "a refused access inside a transaction reads the node's parent into it: a later lookup under it sees that copy",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/ro/kid`, "");
      await setPerms(d0, p, ["n0"]);
      await setPerms(d0, `${p}/ro`, ["n0", `r${domid}`]);
      await setPerms(d0, `${p}/ro/kid`, ["n0"]);
      const txId = await txStart(g);
      // Refused (no write), but the daemon asks ro for the errno.
      await expectError(g.req(Op.WRITE, [`${p}/ro/kid`, "x"], { txId }), "EACCES");
      await rm(d0, `${p}/ro`);
      // ro is gone outside; inside the transaction its readable copy answers.
      await expectError(g.req(Op.READ, [`${p}/ro/other`], { txId }), "ENOENT");
      await expectError(g.req(Op.READ, [`${p}/ro/other`]), "EACCES");
      await ok(txEnd(g, txId, false));
    },
  },
  {
    name: "the others letter r, w, b grants read, write, both to every non-listed domain",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      for (const [letter, expected] of [["n", "--"], ["r", "r-"], ["w", "-w"], ["b", "rw"]]) {
        await write(d0, `${p}/${letter}`, "");
        await setPerms(d0, `${p}/${letter}`, [`${letter}0`]);
        assert.equal(await access(g, `${p}/${letter}`), expected, letter);
      }
    },
  },
  {
    name: "an ACL entry for the guest overrides the others letter, and the first match wins",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      const cases: [string[], string][] = [
        [["b0", `n${domid}`], "--"],
        [["n0", `r${domid}`, `w${domid}`], "r-"],
        [["n0", `w${domid}`, `b${domid}`], "-w"],
        [["r0", "w5", `b${domid}`], "rw"],
        [["b0", "n5"], "rw"],
      ];
      for (const [i, [perms, expected]] of cases.entries()) {
        await write(d0, `${p}/${i}`, "");
        await setPerms(d0, `${p}/${i}`, perms);
        assert.equal(await access(g, `${p}/${i}`), expected, perms.join(","));
      }
    },
  },
  {
    name: "the owner has full access whatever its letter or ACL entries say",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, [`n${domid}`, `n${domid}`]);
      assert.equal(await access(g, p), "rw");
      await setPerms(g, p, [`n${domid}`, "r5"]);
      assert.deepEqual(await getPerms(g, p), [`n${domid}`, "r5"]);
    },
  },
  {
    name: "permissions are checked on the node only, not on its ancestors",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/open`, "visible");
      await setPerms(d0, `${p}/open`, ["b0"]);
      assert.equal(await read(g, `${p}/open`), "visible");
      await write(g, `${p}/open`, "changed");
      await expectError(g.req(Op.READ, [p]), "EACCES");
    },
  },
  {
    name: "RM needs write on the node itself, not on its parent",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/w/locked`, "");
      await setPerms(d0, `${p}/w`, ["b0"]);
      await setPerms(d0, `${p}/w/locked`, ["r0"]);
      await expectError(g.req(Op.RM, [`${p}/w/locked`]), "EACCES");
      await write(d0, `${p}/n/free/deep`, "");
      await setPerms(d0, `${p}/n/free`, ["w0"]);
      await setPerms(d0, `${p}/n/free/deep`, ["n0"]);
      await rm(g, `${p}/n/free`);
      assert.deepEqual(await dir(d0, `${p}/n`), []);
    },
  },
  {
    name: "MKDIR of an existing node the guest cannot write is EACCES, even when readable",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["r0"]);
      await expectError(g.req(Op.MKDIR, [p]), "EACCES");
      await setPerms(d0, p, ["w0"]);
      await expectOk(g.req(Op.MKDIR, [p]), Op.MKDIR);
    },
  },
  {
    name: "creating a node needs write on the nearest existing ancestor",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await setPerms(d0, p, ["r0"]);
      await expectError(g.req(Op.WRITE, [`${p}/a/b`, "x"]), "EACCES");
      await expectError(g.req(Op.MKDIR, [`${p}/a`]), "EACCES");
      await setPerms(d0, p, ["w0"]);
      await write(g, `${p}/a/b`, "x");
      assert.equal(await read(d0, `${p}/a/b`), "x");
    },
  },
  {
    name:
      "a guest may change the ACL of a node it owns but SET_PERMS needs ownership, not just write",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/shared`, "");
      await setPerms(d0, `${p}/shared`, ["b0"]);
      await expectError(g.req(Op.SET_PERMS, [`${p}/shared`, "b0"]), "EACCES");
      await write(d0, `${p}/mine`, "");
      await setPerms(d0, `${p}/mine`, [`n${domid}`]);
      await setPerms(g, `${p}/mine`, [`r${domid}`, "b5", "w7"]);
      assert.deepEqual(await getPerms(d0, `${p}/mine`), [`r${domid}`, "b5", "w7"]);
    },
  },
  {
    name: "a guest giving its node to another owner gets EPERM",
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      await write(g, "mine", "");
      await expectError(g.req(Op.SET_PERMS, ["mine", "n0"]), "EPERM");
      await expectError(g.req(Op.SET_PERMS, ["mine", "n5", "r0"]), "EPERM");
      await setPerms(d0, `${home}/mine`, ["n5"]);
      assert.deepEqual(await getPerms(d0, `${home}/mine`), ["n5"]);
    },
  },
  {
    name: "a guest setting 6 permission entries gets ENOSPC; 5 are fine and dom0 may set more",
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      await write(g, "p", "");
      const five = [`n${domid}`, "r1", "r2", "r3", "r4"];
      await setPerms(g, "p", five);
      await expectError(g.req(Op.SET_PERMS, ["p", ...five, "r5"]), "ENOSPC");
      assert.deepEqual(await getPerms(g, "p"), five);
      const many = [`n${domid}`, ...Array.from({ length: 20 }, (_, i) => `r${i + 1}`)];
      await setPerms(d0, `${home}/p`, many);
      assert.deepEqual(await getPerms(d0, `${home}/p`), many);
    },
  },
  {
    name: "a guest reading a missing node below an unreadable ancestor gets EACCES, else ENOENT",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/hidden`, "");
      await write(d0, `${p}/open`, "");
      await setPerms(d0, `${p}/open`, ["r0"]);
      for (const q of [`${p}/hidden/x`, `${p}/hidden/x/y`, `${p}/x`, `${uniquePath()}/x`]) {
        await expectError(g.req(Op.READ, [q]), "EACCES", q);
        await expectError(g.req(Op.DIRECTORY, [q]), "EACCES", q);
      }
      for (const q of [`${p}/open/x`, `${p}/open/x/y`]) {
        await expectError(g.req(Op.READ, [q]), "ENOENT", q);
        await expectError(g.req(Op.GET_PERMS, [q]), "ENOENT", q);
      }
    },
  },
  {
    name: "a guest removing a missing node below an unwritable parent gets EACCES",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/ro`, "");
      await setPerms(d0, `${p}/ro`, ["r0"]);
      await expectError(g.req(Op.RM, [`${p}/ro/missing`]), "EACCES");
      await expectError(g.req(Op.RM, [`${p}/ro/missing/x`]), "EACCES");
      await write(d0, `${p}/rw`, "");
      await setPerms(d0, `${p}/rw`, ["b0"]);
      await expectOk(g.req(Op.RM, [`${p}/rw/missing`]), Op.RM);
      await expectError(g.req(Op.RM, [`${p}/rw/missing/x`]), "ENOENT");
    },
  },
  {
    name: "a guest's SET_PERMS on a missing node below an unwritable ancestor is EACCES",
    async run(t) {
      const g = await t.guest(nextDomid());
      await expectError(g.req(Op.SET_PERMS, [`${uniquePath()}/x`, "n0"]), "EACCES");
    },
  },
  {
    name: "an ACL entry set before its domain existed is ignored once the domain appears",
    async run(t) {
      const domid = nextDomid();
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "secret");
      await setPerms(d0, p, ["n0", `r${domid}`]);
      const g = await t.guest(domid);
      await expectError(g.req(Op.READ, [p]), "EACCES");
      assert.deepEqual(await getPerms(d0, p), ["n0", `r${domid}`]);
      await setPerms(d0, p, ["n0", `r${domid}`]);
      assert.equal(await read(g, p), "secret");
    },
  },
  {
    name: "SET_TARGET gives a device-model domain its target's access",
    async run(t) {
      const target = nextDomid();
      const dm = nextDomid();
      const d0 = await t.dom0();
      await t.guest(target);
      const g = await t.guest(dm);
      const p = uniquePath();
      await write(d0, `${p}/owned`, "o");
      await setPerms(d0, `${p}/owned`, [`n${target}`]);
      await write(d0, `${p}/acl`, "a");
      await setPerms(d0, `${p}/acl`, ["n0", `r${target}`]);
      assert.equal(await access(g, `${p}/owned`), "--");
      assert.equal(await access(g, `${p}/acl`), "--");
      await expectOk(d0.req(Op.SET_TARGET, [String(dm), String(target)]), Op.SET_TARGET);
      assert.equal(await access(g, `${p}/owned`), "rw");
      assert.equal(await access(g, `${p}/acl`), "r-");
      await setPerms(g, `${p}/owned`, [`n${target}`, "r5"]);
    },
  },
  {
    name: "SET_TARGET is privileged and needs two introduced domains",
    async run(t) {
      const a = nextDomid();
      const d0 = await t.dom0();
      const g = await t.guest(a);
      await expectError(g.req(Op.SET_TARGET, [String(a), String(a)]), "EACCES");
      await expectError(d0.req(Op.SET_TARGET, [String(a), String(ABSENT_DOMID)]), "ENOENT");
      await expectError(d0.req(Op.SET_TARGET, [String(ABSENT_DOMID), String(a)]), "ENOENT");
      await expectError(d0.req(Op.SET_TARGET, [String(a)]), "EINVAL");
    },
  },
  {
    name: "a guest-owned home is fully usable by the guest through relative paths",
    async run(t) {
      const { g, domid } = await guestWithHome(t);
      await write(g, "data/x", "1");
      assert.deepEqual(await dir(g, "data"), ["x"]);
      assert.deepEqual(await getPerms(g, "data/x"), [`n${domid}`]);
      await rm(g, "data");
      await own(await t.dom0(), `${uniquePath()}/elsewhere`, domid);
    },
  },
];
