/**
 * @module
 * Watches: registration, which operations fire which watches, relative
 * paths, special watches, permission filtering and ordering
 * (xenstore-protocol.md §4). "No event" is checked exactly with `drain`:
 * anything a finished request caused is queued before the reply to a later
 * request on the watching connection.
 */
import assert from "node:assert/strict";
import { Op } from "../../../src/xenstore/wire/op.ts";
import {
  type ConformanceCase,
  drain,
  expectError,
  expectOk,
  guestWithHome,
  list,
  mkdir,
  nextDomid,
  ok,
  paths,
  rm,
  setPerms,
  uniquePath,
  watch,
  write,
} from "../case.ts";

export const watchCases: ConformanceCase[] = [
  {
    name: "WATCH replies OK, then sends one initial event with the path and token",
    async run(t) {
      const d0 = await t.dom0();
      const p = `${uniquePath()}/not/there`;
      const r = await ok(d0.req(Op.WATCH, [p, "tok"]), Op.WATCH);
      const at = d0.log.indexOf(r);
      await drain(d0);
      const ev = d0.log[at + 1];
      assert.equal(ev?.type, Op.WATCH_EVENT, "the event follows the OK");
      assert.deepEqual(list(ev), [p, "tok"]);
    },
  },
  {
    name: "the same path and token again is EEXIST; another token or path is a new watch",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await watch(d0, p, "a");
      await expectError(d0.req(Op.WATCH, [p, "a"]), "EEXIST");
      await watch(d0, p, "b");
      await watch(d0, `${p}/x`, "a");
      await write(d0, p, "");
      assert.deepEqual(await drain(d0), [{ path: p, token: "a" }, { path: p, token: "b" }]);
      await expectOk(d0.req(Op.UNWATCH, [p, "a"]), Op.UNWATCH);
      await write(d0, `${p}/x`, "");
      assert.deepEqual(await drain(d0), [
        { path: `${p}/x`, token: "b" },
        { path: `${p}/x`, token: "a" },
      ]);
    },
  },
  {
    name: "two watches yielding the same path and token for one change deliver one event",
    async run(t) {
      // XSA-326: an event identical to one still queued is dropped.
      const d0 = await t.dom0();
      const p = uniquePath();
      await watch(d0, p, "same");
      await watch(d0, `${p}/x`, "same");
      await watch(d0, `${p}/x`, "other");
      await write(d0, `${p}/x`, "");
      assert.deepEqual(await drain(d0), [
        { path: `${p}/x`, token: "same" },
        { path: `${p}/x`, token: "other" },
      ]);
    },
  },
  {
    name: "a relative and an absolute spelling of one path are the same watch",
    async run(t) {
      const d0 = await t.dom0();
      const rel = uniquePath().slice(1);
      await watch(d0, rel, "t");
      await expectError(d0.req(Op.WATCH, [`/local/domain/0/${rel}`, "t"]), "EEXIST");
      await expectOk(d0.req(Op.UNWATCH, [`/local/domain/0/${rel}`, "t"]), Op.UNWATCH);
      await expectError(d0.req(Op.UNWATCH, [rel, "t"]), "ENOENT");
    },
  },
  {
    name: "UNWATCH of an unknown watch is ENOENT; after UNWATCH no more events",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await expectError(d0.req(Op.UNWATCH, [p, "t"]), "ENOENT");
      await watch(d0, p, "t");
      await expectError(d0.req(Op.UNWATCH, [p, "other"]), "ENOENT");
      await expectError(d0.req(Op.UNWATCH, [`${p}/x`, "t"]), "ENOENT");
      await expectOk(d0.req(Op.UNWATCH, [p, "t"]), Op.UNWATCH);
      await write(d0, p, "");
      assert.deepEqual(await drain(d0), []);
      await expectError(d0.req(Op.UNWATCH, [p, "t"]), "ENOENT");
    },
  },
  {
    name: "watch paths are validated like node paths; '@' paths may hold anything",
    async run(t) {
      const d0 = await t.dom0();
      for (const bad of ["/a b", "/a/", "//a", "", "/a.b", "rel.x"]) {
        await expectError(d0.req(Op.WATCH, [bad, "t"]), "EINVAL", JSON.stringify(bad));
      }
      await watch(d0, "@", "t");
      await watch(d0, "@any thing.at:all", "t");
      await watch(d0, uniquePath(), "");
    },
  },
  {
    name: "a change fires watches on the node and its ancestors, not on descendants or siblings",
    async run(t) {
      const d0 = await t.dom0();
      const w = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a/b/c`, "");
      for (const q of ["/", p, `${p}/a`, `${p}/a/b`, `${p}/a/b/c`, `${p}/a/bb`, `${p}/x`]) {
        await watch(w, q, q);
      }
      await write(d0, `${p}/a/b`, "v");
      assert.deepEqual(await drain(w), [
        { path: `${p}/a/b`, token: "/" },
        { path: `${p}/a/b`, token: p },
        { path: `${p}/a/b`, token: `${p}/a` },
        { path: `${p}/a/b`, token: `${p}/a/b` },
      ]);
    },
  },
  {
    name: "a WRITE creating parents fires once, for the target path only",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await watch(d0, p, "t");
      await watch(d0, `${p}/a`, "a");
      await write(d0, `${p}/a/b/c`, "");
      assert.deepEqual(await drain(d0), [
        { path: `${p}/a/b/c`, token: "t" },
        { path: `${p}/a/b/c`, token: "a" },
      ]);
    },
  },
  {
    name: "matching watches fire in registration order, across paths",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await watch(d0, `${p}/x`, "1");
      await watch(d0, p, "2");
      await watch(d0, `${p}/x`, "3");
      await write(d0, `${p}/x`, "");
      assert.deepEqual((await drain(d0)).map((e) => e.token), ["1", "2", "3"]);
    },
  },
  {
    name: "every connection watching a path gets the event",
    async run(t) {
      const d0 = await t.dom0();
      const w1 = await t.dom0();
      const w2 = await t.dom0();
      const p = uniquePath();
      await watch(w1, p, "one");
      await watch(w2, p, "two");
      await write(d0, p, "");
      assert.deepEqual(await drain(w1), [{ path: p, token: "one" }]);
      assert.deepEqual(await drain(w2), [{ path: p, token: "two" }]);
      assert.deepEqual(await drain(d0), []);
    },
  },
  {
    name: "the token is echoed verbatim",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const token = "Tok en/with:odd.chars@#\u00e9\x01";
      await expectOk(
        d0.req(Op.WATCH, [p, new Uint8Array([...token].map((c) => c.charCodeAt(0)))]),
        Op.WATCH,
      );
      assert.deepEqual(await drain(d0), [{ path: p, token }]);
    },
  },
  {
    name: "a relative watch gets relative event paths",
    async run(t) {
      const d0 = await t.dom0();
      const rel = uniquePath().slice(1);
      await watch(d0, rel, "t");
      await write(d0, `/local/domain/0/${rel}/x`, "");
      await write(d0, `${rel}/y`, "");
      assert.deepEqual(paths(await drain(d0)), [`${rel}/x`, `${rel}/y`]);
    },
  },
  {
    name: "a guest's relative watch gets paths relative to its home",
    async run(t) {
      const { d0, g, home } = await guestWithHome(t);
      await watch(g, "dev", "t");
      await write(d0, `${home}/dev/vif`, "");
      await write(g, "dev/vbd", "");
      assert.deepEqual(paths(await drain(g)), ["dev/vif", "dev/vbd"]);
    },
  },
  {
    name:
      "RM fires exact watches of removed descendants deepest first, then the removed node's subtree watches",
    async run(t) {
      const d0 = await t.dom0();
      const w = await t.dom0();
      const p = uniquePath();
      for (const q of [`${p}/a/b/c/d`, `${p}/a/b2`, `${p}/x`]) await write(d0, q, "");
      const watches = [
        [p, "P"],
        [`${p}/a/b/c`, "abc"],
        [`${p}/a`, "a"],
        [`${p}/a/zz`, "zz"],
        [`${p}/a/b`, "ab"],
        [`${p}/a/b/c/d`, "abcd"],
        [`${p}/a/b2`, "ab2"],
        [`${p}/x`, "x"],
      ];
      for (const [q, tok] of watches) await watch(w, q, tok);
      await rm(d0, `${p}/a`);
      assert.deepEqual(await drain(w), [
        { path: `${p}/a/b/c/d`, token: "abcd" },
        { path: `${p}/a/b/c`, token: "abc" },
        { path: `${p}/a/b`, token: "ab" },
        { path: `${p}/a/b2`, token: "ab2" },
        { path: `${p}/a`, token: "P" },
        { path: `${p}/a`, token: "a" },
      ]);
    },
  },
  {
    name: "a watch on an ancestor gets a single event for a removed subtree",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a/b/c`, "");
      await write(d0, `${p}/a/d`, "");
      await watch(d0, p, "t");
      await rm(d0, `${p}/a`);
      assert.deepEqual(await drain(d0), [{ path: `${p}/a`, token: "t" }]);
    },
  },
  {
    name: "MKDIR of an existing node and RM of a missing node fire nothing; a new MKDIR fires",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "");
      await watch(d0, p, "t");
      await mkdir(d0, p);
      await rm(d0, `${p}/missing`);
      assert.deepEqual(await drain(d0), []);
      await mkdir(d0, `${p}/new`);
      assert.deepEqual(paths(await drain(d0)), [`${p}/new`]);
    },
  },
  {
    name: "rewriting an identical value fires again",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, p, "same");
      await watch(d0, p, "t");
      await write(d0, p, "same");
      await write(d0, p, "same");
      assert.deepEqual(paths(await drain(d0)), [p, p]);
    },
  },
  {
    name: "SET_PERMS fires watches on the node and its ancestors",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/n`, "");
      await watch(d0, p, "anc");
      await watch(d0, `${p}/n`, "node");
      await watch(d0, `${p}/n/below`, "desc");
      await setPerms(d0, `${p}/n`, ["n0", "r1"]);
      assert.deepEqual(await drain(d0), [
        { path: `${p}/n`, token: "anc" },
        { path: `${p}/n`, token: "node" },
      ]);
    },
  },
  {
    name: "reads fire nothing",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/x`, "");
      await watch(d0, p, "t");
      for (const op of [Op.READ, Op.DIRECTORY, Op.GET_PERMS]) await ok(d0.req(op, [`${p}/x`]));
      await ok(d0.req(Op.DIRECTORY_PART, [p, "0"]));
      assert.deepEqual(await drain(d0), []);
    },
  },
  {
    name: "the writer's own event arrives before the reply to its write",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await watch(d0, p, "t");
      for (
        const [op, args] of [[Op.WRITE, [p, "v"]], [Op.MKDIR, [`${p}/m`]], [Op.SET_PERMS, [
          p,
          "n0",
        ]], [Op.RM, [`${p}/m`]]] as const
      ) {
        const from = d0.log.length;
        const r = await ok(d0.req(op, [...args]), op);
        const got = d0.log.slice(from).map((m) => m.type);
        assert.deepEqual(got, [Op.WATCH_EVENT, op], `op ${op}`);
        assert.equal(d0.log[d0.log.length - 1], r);
      }
      await d0.events({ timeoutMs: 0, quietMs: 0 });
    },
  },
  {
    name: "WATCH and UNWATCH ignore tx_id, even an unknown one",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const r = await ok(d0.req(Op.WATCH, [p, "t"], { txId: 4242 }), Op.WATCH);
      assert.equal(r.txId, 4242);
      assert.deepEqual(await drain(d0), [{ path: p, token: "t" }]);
      await write(d0, p, "");
      assert.deepEqual(paths(await drain(d0)), [p]);
      await expectOk(d0.req(Op.UNWATCH, [p, "t"], { txId: 99 }), Op.UNWATCH);
    },
  },
  {
    name: "RESET_WATCHES removes every watch of the connection",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      await watch(d0, p, "a");
      await watch(d0, `${p}/x`, "b");
      await expectOk(d0.req(Op.RESET_WATCHES, [""]), Op.RESET_WATCHES);
      await write(d0, `${p}/x`, "");
      assert.deepEqual(await drain(d0), []);
      await expectError(d0.req(Op.UNWATCH, [p, "a"]), "ENOENT");
      await watch(d0, p, "a");
    },
  },
  {
    name: "an event that would exceed 4096 bytes is dropped; smaller ones still arrive",
    async run(t) {
      const d0 = await t.dom0();
      const p = uniquePath();
      const token = "T".repeat(4000);
      await expectOk(d0.req(Op.WATCH, [p, token]), Op.WATCH);
      assert.deepEqual((await drain(d0)).map((e) => e.token.length), [4000]);
      await watch(d0, p, "small");
      const long = `${p}/${"l".repeat(200)}`;
      await write(d0, long, "");
      await write(d0, p, "");
      assert.deepEqual((await drain(d0)).map((e) => [e.path, e.token.length]), [
        [long, 5],
        [p, 4000],
        [p, 5],
      ]);
    },
  },
  {
    name: "@introduceDomain fires when a new domain is introduced, not when it is re-introduced",
    async run(t) {
      const d0 = await t.dom0();
      await watch(d0, "@introduceDomain", "i");
      await watch(d0, "@introduceDomain/x", "sub");
      await watch(d0, "@introduce", "prefix");
      const domid = nextDomid();
      await t.guest(domid);
      assert.deepEqual(await drain(d0), [{ path: "@introduceDomain", token: "i" }]);
      await expectOk(d0.req(Op.INTRODUCE, [String(domid), "0", "1"]), Op.INTRODUCE);
      assert.deepEqual(await drain(d0), []);
    },
  },
  {
    name: "@releaseDomain fires when a guest dies, with the bare name as path",
    async run(t) {
      const d0 = await t.dom0();
      const domid = nextDomid();
      await t.guest(domid);
      await watch(d0, "@releaseDomain", "r");
      await watch(d0, "@releaseDomain/x", "sub");
      await t.destroyGuest(domid);
      assert.deepEqual(await drain(d0), [{ path: "@releaseDomain", token: "r" }]);
    },
  },
  {
    name: "a guest gets @introduceDomain and @releaseDomain only after dom0 grants it read",
    async run(t) {
      const d0 = await t.dom0();
      const watcher = nextDomid();
      const g = await t.guest(watcher);
      await watch(g, "@introduceDomain", "i");
      await watch(g, "@releaseDomain", "r");
      const a = nextDomid();
      await t.guest(a);
      await t.destroyGuest(a);
      assert.deepEqual(await drain(g), []);
      try {
        await setPerms(d0, "@introduceDomain", ["n0", `r${watcher}`]);
        await setPerms(d0, "@releaseDomain", ["n0", `r${watcher}`]);
        const b = nextDomid();
        await t.guest(b);
        assert.deepEqual(await drain(g), [{ path: "@introduceDomain", token: "i" }]);
        await t.destroyGuest(b);
        assert.deepEqual(await drain(g), [{ path: "@releaseDomain", token: "r" }]);
      } finally {
        await setPerms(d0, "@introduceDomain", ["n0"]);
        await setPerms(d0, "@releaseDomain", ["n0"]);
      }
    },
  },
  {
    name:
      "SET_PERMS works on @introduceDomain and @releaseDomain only; GET_PERMS on them is EINVAL",
    async run(t) {
      const d0 = await t.dom0();
      await setPerms(d0, "@introduceDomain", ["n0"]);
      await setPerms(d0, "@releaseDomain", ["n0"]);
      // Other '@' names fail with a stale errno in the C daemon (FINDINGS.md).
      for (const other of ["@other", "@"]) {
        const r = await d0.req(Op.SET_PERMS, [other, "n0"]);
        assert.equal(r.type, Op.ERROR, other);
      }
      await expectError(d0.req(Op.SET_PERMS, ["@introduceDomain", "n5000"]), "ENOENT");
      await expectError(d0.req(Op.GET_PERMS, ["@introduceDomain"]), "EINVAL");
      await expectError(d0.req(Op.GET_PERMS, ["@releaseDomain"]), "EINVAL");
    },
  },
  {
    name: "a guest is told of changes to nodes it can read, or whose parent it can read",
    async run(t) {
      const { d0, g, domid, home } = await guestWithHome(t);
      const p = uniquePath();
      await write(d0, `${p}/open/x`, "");
      await write(d0, `${p}/closed/x/y`, "");
      await setPerms(d0, `${p}/open`, ["r0"]);
      await setPerms(d0, `${p}/closed/x`, [`r${domid}`]);
      await watch(g, p, "t");
      await write(d0, `${p}/open/x`, "parent readable");
      await write(d0, `${p}/closed/x`, "node readable");
      await write(d0, `${p}/closed/x/y`, "parent readable");
      await write(d0, `${p}/closed`, "neither node nor parent readable");
      await write(d0, `${p}/closed/z`, "neither");
      await write(d0, `${home}/mine`, "other path");
      assert.deepEqual(paths(await drain(g)), [`${p}/open/x`, `${p}/closed/x`, `${p}/closed/x/y`]);
    },
  },
  {
    name: "a guest watching a node it cannot read still gets the initial event",
    async run(t) {
      const g = await t.guest(nextDomid());
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/secret`, "");
      await watch(g, `${p}/secret`, "t");
      await write(d0, `${p}/secret`, "changed");
      assert.deepEqual(await drain(g), []);
    },
  },
  {
    name: "a guest is told when a node it could read is removed or made unreadable",
    async run(t) {
      const domid = nextDomid();
      const g = await t.guest(domid);
      const d0 = await t.dom0();
      const p = uniquePath();
      await write(d0, `${p}/a`, "");
      await write(d0, `${p}/b`, "");
      await setPerms(d0, `${p}/a`, ["r0"]);
      await setPerms(d0, `${p}/b`, ["r0"]);
      await watch(g, `${p}/a`, "a");
      await watch(g, `${p}/b`, "b");
      await rm(d0, `${p}/a`);
      await setPerms(d0, `${p}/b`, ["n0"]);
      assert.deepEqual(await drain(g), [{ path: `${p}/a`, token: "a" }, {
        path: `${p}/b`,
        token: "b",
      }]);
      await write(d0, `${p}/b`, "now hidden");
      assert.deepEqual(await drain(g), []);
    },
  },
  {
    name: "a guest's own writes fire its watches",
    async run(t) {
      const { g, home } = await guestWithHome(t);
      await watch(g, home, "t");
      await write(g, "x", "");
      assert.deepEqual(paths(await drain(g)), [`${home}/x`]);
    },
  },
];
