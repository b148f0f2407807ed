/**
 * @module
 * Domain operations: INTRODUCE, RELEASE, RESUME, IS_DOMAIN_INTRODUCED,
 * GET_DOMAIN_PATH with their atoi quirks and privilege rules, and what
 * happens when a domain goes away (xenstore-protocol.md §6).
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  drain,
  expectError,
  expectOk,
  getPerms,
  guestWithHome,
  nextDomid,
  ok,
  own,
  paths,
  read,
  setPerms,
  text,
  txStart,
  uniquePath,
  watch,
  write,
} from "../case.ts";
import type { RawConn } from "../target.ts";

async function introduced(d0: RawConn, domid: number | string): Promise<string> {
  return text(await ok(d0.req(Op.IS_DOMAIN_INTRODUCED, [String(domid)]), Op.IS_DOMAIN_INTRODUCED));
}

export const domainCases: ConformanceCase[] = [
  {
    name: "GET_DOMAIN_PATH is /local/domain/<atoi(domid) as unsigned 32-bit>, for anyone",
    async run(t) {
      const d0 = await t.dom0();
      const g = await t.guest(nextDomid());
      const table: [string, string][] = [
        ["5", "5"],
        ["0", "0"],
        ["abc", "0"],
        ["", "0"],
        ["12abc", "12"],
        [" 7", "7"],
        ["+3", "3"],
        ["010", "10"],
        ["0x10", "0"],
        ["-1", "4294967295"],
        ["4294967295", "4294967295"],
        ["4294967296", "0"],
        ["99999999999", "1215752191"],
        // atoi is strtol: it saturates at the 64-bit limits before the cast.
        ["9223372036854775808", "4294967295"],
        ["99999999999999999999", "4294967295"],
        ["-99999999999999999999", "0"],
      ];
      for (const c of [d0, g]) {
        for (const [arg, n] of table) {
          const r = await ok(c.req(Op.GET_DOMAIN_PATH, [arg]), Op.GET_DOMAIN_PATH);
          assert.equal(text(r), `/local/domain/${n}\0`, JSON.stringify(arg));
        }
      }
    },
  },
  {
    name: "IS_DOMAIN_INTRODUCED: T for dom0, DOMID_SELF and introduced guests, F otherwise",
    async run(t) {
      const d0 = await t.dom0();
      const domid = nextDomid();
      assert.equal(await introduced(d0, domid), "F\0");
      await t.guest(domid);
      assert.equal(await introduced(d0, domid), "T\0");
      for (
        const [arg, want] of [["0", "T"], ["abc", "T"], ["32752", "T"], ["5", "F"], ["-1", "F"], [
          "32767",
          "F",
        ]]
      ) {
        assert.equal(await introduced(d0, arg), `${want}\0`, arg);
      }
      await t.destroyGuest(domid);
      assert.equal(await introduced(d0, domid), "F\0");
    },
  },
  {
    name: "guests get EACCES for INTRODUCE, RELEASE, RESUME, SET_TARGET and IS_DOMAIN_INTRODUCED",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d = String(domid);
      await expectError(g.req(Op.INTRODUCE, [String(nextDomid()), "0", "1"]), "EACCES");
      await expectError(g.req(Op.RELEASE, [d]), "EACCES");
      await expectError(g.req(Op.RESUME, [d]), "EACCES");
      await expectError(g.req(Op.SET_TARGET, [d, d]), "EACCES");
      await expectError(g.req(Op.IS_DOMAIN_INTRODUCED, [d]), "EACCES");
      await expectError(g.req(Op.IS_DOMAIN_INTRODUCED, ["garbage"]), "EACCES");
    },
  },
  {
    name: "INTRODUCE needs three arguments and a non-zero event channel",
    async run(t) {
      const d0 = await t.dom0();
      const domid = String(nextDomid());
      await expectError(d0.req(Op.INTRODUCE, [domid, "0"]), "EINVAL");
      await expectError(d0.req(Op.INTRODUCE, [domid]), "EINVAL");
      await expectError(d0.req(Op.INTRODUCE, [domid, "0", "0"]), "EINVAL");
      await expectError(d0.req(Op.INTRODUCE, [domid, "0", "abc"]), "EINVAL");
      assert.equal(await introduced(d0, domid), "F\0");
    },
  },
  {
    name: "INTRODUCE parses with atoi: a negative event channel and a garbage gfn are accepted",
    async run(t) {
      const d0 = await t.dom0();
      const a = nextDomid();
      const b = nextDomid();
      await expectOk(d0.req(Op.INTRODUCE, [String(a), "0", "-1"]), Op.INTRODUCE);
      await expectOk(d0.req(Op.INTRODUCE, [String(b), "junk", "1"]), Op.INTRODUCE);
      assert.equal(await introduced(d0, a), "T\0");
      assert.equal(await introduced(d0, b), "T\0");
      await expectOk(d0.req(Op.RELEASE, [String(a)]), Op.RELEASE);
      await expectOk(d0.req(Op.RELEASE, [String(b)]), Op.RELEASE);
    },
  },
  {
    name: "INTRODUCE of dom0 succeeds and fires nothing",
    async run(t) {
      const d0 = await t.dom0();
      await watch(d0, "@introduceDomain", "i");
      await expectOk(d0.req(Op.INTRODUCE, ["0", "0", "1"]), Op.INTRODUCE);
      await expectOk(d0.req(Op.INTRODUCE, ["abc", "0", "1"]), Op.INTRODUCE);
      assert.deepEqual(await drain(d0), []);
    },
  },
  {
    name: "INTRODUCE creates no nodes and fires @introduceDomain once",
    async run(t) {
      const d0 = await t.dom0();
      const domid = nextDomid();
      await watch(d0, "@introduceDomain", "i");
      await watch(d0, "/", "all");
      await expectOk(d0.req(Op.INTRODUCE, [String(domid), "0", "1"]), Op.INTRODUCE);
      await expectOk(d0.req(Op.INTRODUCE, [String(domid), "0", "1"]), Op.INTRODUCE);
      assert.deepEqual(await drain(d0), [{ path: "@introduceDomain", token: "i" }]);
      await expectError(d0.req(Op.READ, [`/local/domain/${domid}`]), "ENOENT");
      await expectOk(d0.req(Op.RELEASE, [String(domid)]), Op.RELEASE);
    },
  },
  {
    name: "re-INTRODUCE resets the guest's connection: watches and transactions are gone",
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      await watch(g, "x", "t");
      assert.equal(await txStart(g), 1);
      await expectOk(d0.req(Op.INTRODUCE, [String(domid), "0", "1"]), Op.INTRODUCE);
      await expectError(g.req(Op.READ, ["/tool"], { txId: 1 }), "ENOENT");
      await write(d0, `${home}/x`, "");
      assert.deepEqual(await drain(g), []);
      await expectError(g.req(Op.UNWATCH, ["x", "t"]), "ENOENT");
      // The id counter is not reset with the connection.
      assert.equal(await txStart(g), 2);
    },
  },
  {
    name: "RELEASE of dom0 or of a non-number is EINVAL, of a domain not introduced ENOENT",
    async run(t) {
      const d0 = await t.dom0();
      await expectError(d0.req(Op.RELEASE, ["0"]), "EINVAL");
      await expectError(d0.req(Op.RELEASE, ["abc"]), "EINVAL");
      await expectError(d0.req(Op.RELEASE, [String(nextDomid())]), "ENOENT");
      await expectError(d0.req(Op.RELEASE, ["-1"]), "ENOENT");
      await expectError(d0.req(Op.RELEASE, ["5"]), "ENOENT");
    },
  },
  {
    name: "RESUME: EINVAL for dom0 or a non-number, ENOENT if not introduced, OK otherwise",
    async run(t) {
      const d0 = await t.dom0();
      const domid = nextDomid();
      await expectError(d0.req(Op.RESUME, ["0"]), "EINVAL");
      await expectError(d0.req(Op.RESUME, ["abc"]), "EINVAL");
      await expectError(d0.req(Op.RESUME, [String(domid)]), "ENOENT");
      await t.guest(domid);
      await expectOk(d0.req(Op.RESUME, [String(domid)]), Op.RESUME);
      assert.equal(await introduced(d0, domid), "T\0");
    },
  },
  {
    name: "RELEASE fires @releaseDomain, removes the domain's nodes and stops serving it",
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      await write(g, "data/x", "1");
      await watch(d0, "@releaseDomain", "r");
      await expectOk(d0.req(Op.RELEASE, [String(domid)]), Op.RELEASE);
      assert.equal(await introduced(d0, domid), "F\0");
      assert.deepEqual((await drain(d0)).filter((e) => e.token === "r"), [
        { path: "@releaseDomain", token: "r" },
      ]);
      await expectError(d0.req(Op.READ, [home]), "ENOENT");
      await assert.rejects(g.req(Op.GET_DOMAIN_PATH, ["1"], { timeoutMs: 300 }), /no reply/);
      await expectOk(d0.req(Op.INTRODUCE, [String(domid), "0", "1"]), Op.INTRODUCE);
      await ok(g.req(Op.GET_DOMAIN_PATH, ["1"]));
    },
  },
  {
    name: "a dead guest's nodes are removed wherever they are; nodes owned by others stay",
    async run(t) {
      const domid = nextDomid();
      const d0 = await t.dom0();
      const g = await t.guest(domid);
      const home = `/local/domain/${domid}`;
      const p = uniquePath();
      await write(d0, `${home}/name`, "guest");
      await own(d0, `${home}/data`, domid);
      await own(d0, `${p}/owned`, domid);
      await write(d0, `${p}/acl`, "");
      await setPerms(d0, `${p}/acl`, ["n0", `b${domid}`]);
      await write(g, `${home}/data/sub/x`, "1");
      await write(d0, `${p}/owned/by-dom0`, "");
      await t.destroyGuest(domid);
      assert.equal(await read(d0, `${home}/name`), "guest");
      for (const gone of [`${home}/data`, `${p}/owned`]) {
        await expectError(d0.req(Op.READ, [gone]), "ENOENT", gone);
      }
      assert.deepEqual(await getPerms(d0, `${p}/acl`), ["n0", `b${domid}`]);
    },
  },
  {
    name: "removing a dead guest's nodes fires watch events like RM",
    async run(t) {
      const domid = nextDomid();
      const d0 = await t.dom0();
      await t.guest(domid);
      const p = uniquePath();
      await own(d0, `${p}/owned`, domid);
      await write(d0, `${p}/owned/a/b`, "");
      await watch(d0, p, "anc");
      await watch(d0, `${p}/owned/a/b`, "deep");
      await watch(d0, `${p}/owned/a`, "mid");
      await t.destroyGuest(domid);
      assert.deepEqual(await drain(d0), [
        { path: `${p}/owned/a/b`, token: "deep" },
        { path: `${p}/owned/a`, token: "mid" },
        { path: `${p}/owned`, token: "anc" },
      ]);
    },
  },
  {
    name: "a domid introduced again after death keeps ACL entries that named its predecessor",
    async run(t) {
      // XSA-322's generation check does not apply here: the daemon keeps the
      // domain record while ACL entries name it, with its old generation.
      const domid = nextDomid();
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "secret");
      const g1 = await t.guest(domid);
      await setPerms(d0, p, ["n0", `r${domid}`]);
      assert.equal(await read(g1, p), "secret");
      await t.destroyGuest(domid);
      assert.deepEqual(await getPerms(d0, p), ["n0", `r${domid}`]);
      const g2 = await t.guest(domid);
      assert.equal(await read(g2, p), "secret");
    },
  },
  {
    name:
      "a target domain that dies while its device model lives stays introduced until the model dies",
    async run(t) {
      const target = nextDomid();
      const dm = nextDomid();
      const d0 = await t.dom0();
      await t.guest(target);
      const g = await t.guest(dm);
      const p = uniquePath();
      await own(d0, `${p}/t`, target);
      await expectOk(d0.req(Op.SET_TARGET, [String(dm), String(target)]), Op.SET_TARGET);
      await watch(d0, "@releaseDomain", "r");
      // destroyGuest resolves only once the target is no longer introduced,
      // which here takes the device model's death too.
      const targetGone = t.destroyGuest(target).then(() => null, (e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await introduced(d0, target), "T\0");
      assert.deepEqual(await drain(d0), []);
      assert.equal(await read(g, `${p}/t`), "");
      await expectError(d0.req(Op.RELEASE, [String(target)]), "EINVAL");
      await t.destroyGuest(dm);
      const failure = await targetGone;
      if (failure) throw failure;
      assert.equal(await introduced(d0, target), "F\0");
      await expectError(d0.req(Op.READ, [`${p}/t`]), "ENOENT");
      assert.ok(paths(await drain(d0)).includes("@releaseDomain"));
    },
  },
];
