/**
 * @module
 * The hard memory quota through the engine: the byte counters kept
 * incrementally by every operation must equal a full recount (nodes by
 * owner, watches, transaction copies) after any sequence of requests, with
 * refusals, transactions, releases and run-time quota changes mixed in; and
 * the behaviours seen on the real daemon (tests/conformance/FINDINGS.md 22a)
 * at the engine level, including those the conformance suite cannot run
 * against it (its abort after an RM).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFERRED_REQUESTS_MAX, Engine, type Outgoing } from "../engine.ts";
import { StaticDomains } from "../domains.ts";
import type { Connection } from "../connection.ts";
import { fromLatin1, latin1, type Message } from "../wire/message.ts";
import { Op, opName } from "../wire/op.ts";
import { connectGuest } from "../testing.ts";

const SEED = 0x5eed_0022;
const GUESTS = [1, 2];
const home = (d: number) => `/local/domain/${d}`;

function encode(type: number, args: string[]): Uint8Array {
  if (type === Op.WRITE) return fromLatin1(`${args[0]}\0${args[1] ?? ""}`);
  return fromLatin1(args.map((a) => a + "\0").join(""));
}

class Harness {
  readonly domains = new StaticDomains(GUESTS);
  readonly engine: Engine;
  readonly d0: Connection;
  #reqId = 0;

  constructor(memory: number) {
    this.engine = new Engine({ domains: this.domains, quotas: { memory } });
    this.d0 = this.engine.connect(0, "socket");
    for (const d of GUESTS) {
      this.ask(this.d0, Op.MKDIR, [home(d)]);
      this.ask(this.d0, Op.SET_PERMS, [home(d), `n${d}`]);
    }
  }

  guest(domid: number): Connection {
    return connectGuest(this.engine, domid);
  }

  send(c: Connection, type: number, args: string[], txId = 0): Outgoing[] {
    return this.engine.handle(c, { type, reqId: ++this.#reqId, txId, payload: encode(type, args) });
  }

  /** The last reply to `c` as `TYPE text|`, or undefined if none came. */
  ask(c: Connection, type: number, args: string[], txId = 0): string | undefined {
    return replyOf(this.send(c, type, args, txId), c);
  }

  memory(domid: number): number {
    return this.engine.memoryOf(domid);
  }

  /**
   * Brings the guest's memory to exactly `total` with padding nodes `pad<i>`
   * of at most {@link PAD_MAX} value bytes (rewrites, or new pads).
   */
  fillTo(c: Connection, total: number): void {
    const d = c.domid;
    const pads = this.#pads.get(d) ?? { count: 0, len: 0 };
    this.#pads.set(d, pads);
    const set = (len: number) => {
      assert.equal(this.ask(c, Op.WRITE, [`pad${pads.count - 1}`, "p".repeat(len)]), "WRITE OK|");
      pads.len = len;
    };
    for (let i = 0; i < 100 && this.memory(d) !== total; i++) {
      const gap = total - this.memory(d);
      const name = `pad${pads.count}`;
      const overhead = name.length + 1 + 24 + 8 + `${home(d)}/${name}`.length;
      if (pads.count > 0 && pads.len + gap >= 0 && pads.len + gap <= PAD_MAX) set(pads.len + gap);
      else if (pads.count > 0 && pads.len + gap < 0) set(0);
      else if (gap < overhead) set(Math.max(0, pads.len - 1000));
      else {
        pads.count++;
        pads.len = -1;
        set(Math.min(PAD_MAX, gap - overhead));
      }
    }
    assert.equal(this.memory(d), total, `fill domain ${d} to ${total}`);
  }

  readonly #pads = new Map<number, { count: number; len: number }>();
}

/** Value bytes of one padding node: its record stays below the 2048-byte node size. */
const PAD_MAX = 1500;

function show(m: Message): string {
  return `${opName(m.type)} ${latin1(m.payload).replace(/\0/g, "|")}`;
}

function replyOf(out: Outgoing[], c: Connection): string | undefined {
  const mine = out.filter((o) => o.conn === c && o.msg && o.msg.type !== Op.WATCH_EVENT);
  return mine.length ? show(mine[mine.length - 1].msg!) : undefined;
}

function eventsOf(out: Outgoing[], c: Connection): string[] {
  return out.filter((o) => o.conn === c && o.msg?.type === Op.WATCH_EVENT).map((o) => show(o.msg!));
}

/** Memory of `domid` counted from scratch: nodes it owns, its watches, its copies. */
function recount(engine: Engine, domid: number): { memory: number; nodes: number } {
  let memory = 0;
  let nodes = 0;
  for (const p of engine.tree.paths()) {
    const n = engine.tree.get(p)!;
    if (n.perms[0].id !== domid) continue;
    nodes++;
    memory += n.recordBytes() + p.length;
  }
  for (const c of engine.connections()) {
    if (c.domid !== domid) continue;
    for (const w of engine.watches.of(c.id)) memory += w.path.length + w.token.length;
    for (const tx of c.transactions.values()) {
      let copies = 0;
      for (const [p, n] of tx.copies()) {
        copies += n.recordBytes() + `${tx.generation}/`.length + p.length;
      }
      assert.equal(tx.copyBytes, copies, `copies of transaction ${tx.id} of domain ${domid}`);
      memory += copies;
    }
  }
  return { memory, nodes };
}

// ---- the property -------------------------------------------------------------

type Step =
  | { k: "write"; who: number; path: string; len: number; tx: boolean }
  | { k: "mkdir" | "rm" | "read"; who: number; path: string; tx: boolean }
  | { k: "perms"; who: number; path: string; owner: number; extra: number; tx: boolean }
  | { k: "watch" | "unwatch"; who: number; path: string; token: string }
  | { k: "txStart"; who: number }
  | { k: "txEnd"; who: number; commit: boolean }
  | { k: "release"; domid: number }
  | { k: "quota"; memory: number };

const who = fc.constantFrom(0, 1, 2);
const tail = fc.constantFrom("a", "a/b", "c", "a/c/d");
const path = fc.oneof(
  { weight: 2, arbitrary: tail }, // relative: under the sender's home
  {
    weight: 3,
    arbitrary: fc.tuple(fc.constantFrom(home(1), home(2), "/b", "/x"), fc.option(tail)).map((
      [p, t],
    ) => t === null ? p : `${p}/${t}`),
  },
);
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant("write" as const),
      who,
      path,
      len: fc.constantFrom(0, 7, 200, 700),
      tx: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constantFrom("mkdir" as const, "rm" as const, "read" as const),
      who,
      path,
      tx: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("perms" as const),
      who,
      path,
      owner: fc.constantFrom(0, 1, 2),
      extra: fc.nat({ max: 3 }),
      tx: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constantFrom("watch" as const, "unwatch" as const),
      who,
      path: fc.oneof(path, fc.constantFrom("rel", "@releaseDomain")),
      token: fc.constantFrom("t", "token-of-some-length"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("txStart" as const), who }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("txEnd" as const), who, commit: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("release" as const), domid: fc.constantFrom(1, 2) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("quota" as const),
      memory: fc.constantFrom(800, 1500, 3000),
    }),
  },
);

class World {
  readonly h = new Harness(3000);
  readonly conns = new Map<number, Connection>([[0, this.h.d0]]);
  readonly tx = new Map<number, number>();

  constructor() {
    this.h.ask(this.h.d0, Op.WRITE, ["/b", ""]);
    this.h.ask(this.h.d0, Op.SET_PERMS, ["/b", "n0", "b1", "r2"]);
    for (const d of GUESTS) this.conns.set(d, this.h.guest(d));
  }

  run(s: Step): void {
    const h = this.h;
    if (s.k === "quota") {
      h.ask(h.d0, Op.CONTROL, ["quota", "set", "memory", String(s.memory)]);
      return;
    }
    if (s.k === "release") {
      h.ask(h.d0, Op.RELEASE, [String(s.domid)]);
      h.ask(h.d0, Op.INTRODUCE, [String(s.domid), "0", "1"]);
      this.tx.delete(s.domid);
      return;
    }
    const c = this.conns.get(s.who)!;
    const txId = "tx" in s && s.tx ? this.tx.get(s.who) ?? 0 : 0;
    switch (s.k) {
      case "write":
        h.send(c, Op.WRITE, [s.path, "v".repeat(s.len)], txId);
        break;
      case "mkdir":
        h.send(c, Op.MKDIR, [s.path], txId);
        break;
      case "rm":
        h.send(c, Op.RM, [s.path], txId);
        break;
      case "read":
        h.send(c, Op.READ, [s.path], txId);
        break;
      case "perms": {
        const owner = s.who === 0 ? s.owner : s.who;
        const acl = Array.from({ length: s.extra }, (_, i) => `r${i}`);
        h.send(c, Op.SET_PERMS, [s.path, `n${owner}`, ...acl], txId);
        break;
      }
      case "watch":
        h.send(c, Op.WATCH, [s.path, s.token]);
        break;
      case "unwatch":
        h.send(c, Op.UNWATCH, [s.path, s.token]);
        break;
      case "txStart": {
        if (this.tx.has(s.who)) break;
        const r = h.ask(c, Op.TRANSACTION_START, [""]);
        const m = r && /^TRANSACTION_START (\d+)\|$/.exec(r);
        if (m) this.tx.set(s.who, Number(m[1]));
        break;
      }
      case "txEnd": {
        const id = this.tx.get(s.who);
        if (id === undefined) break;
        // A request held back (domain over its quota) still ends the
        // transaction once it runs; nothing may use the id after this.
        h.send(c, Op.TRANSACTION_END, [s.commit ? "T" : "F"], id);
        this.tx.delete(s.who);
        break;
      }
    }
  }

  check(step: number): void {
    for (const d of [0, ...GUESTS]) {
      const want = recount(this.h.engine, d);
      assert.equal(this.h.memory(d), want.memory, `step ${step}: memory of domain ${d}`);
      assert.equal(this.h.engine.tree.ownedBy(d), want.nodes, `step ${step}: nodes of domain ${d}`);
    }
  }
}

Deno.test("memory quota: the incremental counters equal a full recount after any requests", () => {
  fc.assert(
    fc.property(fc.array(arbStep, { minLength: 1, maxLength: 120, size: "max" }), (steps) => {
      const w = new World();
      w.check(-1);
      steps.forEach((s, i) => {
        w.run(s);
        w.check(i);
      });
    }),
    { seed: SEED, numRuns: 300 },
  );
});

// ---- behaviours -------------------------------------------------------------------

Deno.test("memory quota: a guest's creation that would reach the quota is EIO and changes nothing", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  const cost = 2 + 24 + 8 + `${home(1)}/n`.length; // child name, record, path
  h.fillTo(g, 4000 - cost);
  assert.equal(h.ask(g, Op.WRITE, ["n", ""]), "ERROR EIO|");
  assert.equal(h.ask(g, Op.MKDIR, ["n"]), "ERROR EIO|");
  assert.equal(h.memory(1), 4000 - cost);
  assert.equal(h.ask(g, Op.READ, ["n"]), "ERROR ENOENT|");
  h.fillTo(g, 3999 - cost);
  assert.equal(h.ask(g, Op.MKDIR, ["n"]), "MKDIR OK|");
  assert.equal(h.memory(1), 3999);
});

Deno.test("memory quota: dom0 is refused too when the charge falls on a guest; its own nodes are not limited", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  h.fillTo(g, 3999);
  assert.equal(h.ask(h.d0, Op.WRITE, [`${home(1)}/d0`, ""]), "ERROR EIO|");
  assert.equal(h.ask(h.d0, Op.WRITE, ["/big", "b".repeat(4000)]), "WRITE OK|");
  assert.equal(h.ask(h.d0, Op.SET_PERMS, ["/big", "n1"]), "ERROR ENOENT|", "stale errno");
  assert.equal(h.memory(1), 3999);
});

Deno.test("memory quota: a refused rewrite answers the daemon's last errno; after an RM, EIO (the real daemon aborts)", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  h.ask(g, Op.WRITE, ["gone", ""]);
  h.ask(g, Op.WRITE, ["r", "r".repeat(100)]);
  h.fillTo(g, 3999);
  const grow = (n: number) => h.ask(g, Op.WRITE, ["r", "r".repeat(n)]);
  assert.equal(grow(101), "ERROR ENOENT|", "after a creation");
  assert.equal(h.ask(g, Op.MKDIR, ["new"]), "ERROR EIO|");
  assert.equal(h.ask(g, Op.SET_PERMS, ["r", "n1", "r2"]), "ERROR EIO|", "after a refused creation");
  assert.equal(h.ask(g, Op.READ, ["/local"]), "ERROR EACCES|");
  assert.equal(grow(101), "ERROR EACCES|", "after a refused access");
  assert.equal(h.ask(g, Op.READ, ["r"]), "ERROR ENOMEM|");
  assert.equal(grow(101), "ERROR EACCES|", "a refused reply leaves errno alone");
  const freed = 5 + 24 + 8 + `${home(1)}/gone`.length;
  assert.equal(h.ask(g, Op.RM, ["gone"]), "RM OK|");
  assert.equal(grow(100 + freed), "WRITE OK|");
  assert.equal(h.memory(1), 3999);
  assert.equal(grow(101 + freed), "ERROR EIO|", "after an RM");
  assert.equal(h.ask(g, Op.WATCH, ["bad//path", "t"]), "ERROR EINVAL|");
  assert.equal(grow(101 + freed), "ERROR EINVAL|", "after an invalid watch path");
  assert.equal(h.ask(h.d0, Op.WATCH, ["/ok", "t"]), "WATCH OK|");
  assert.equal(grow(101 + freed), "ERROR EIO|", "after a WATCH (the real daemon aborts)");
});

Deno.test("memory quota: WATCH is charged and refused with ENOMEM; its first event must fit after the OK", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  const cost = `${home(1)}/w`.length + 1;
  h.fillTo(g, 4000 - cost);
  assert.equal(h.ask(g, Op.WATCH, ["w", "t"]), "ERROR ENOMEM|");
  h.fillTo(g, 3999 - cost);
  const out = h.send(g, Op.WATCH, ["w", "t"]);
  assert.equal(replyOf(out, g), "WATCH OK|");
  assert.deepEqual(eventsOf(out, g), [], "3999 + 19 (OK) + 20 (event) reaches the quota");
  assert.equal(h.memory(1), 3999);
  assert.equal(h.ask(g, Op.UNWATCH, ["w", "t"]), "UNWATCH OK|");
  assert.equal(h.memory(1), 3999 - cost);
});

Deno.test("memory quota: replies over 16 bytes and events that would reach the quota are refused", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  h.ask(g, Op.WRITE, ["s16", "s".repeat(16)]);
  h.ask(g, Op.WRITE, ["s17", "s".repeat(17)]);
  h.ask(h.d0, Op.WRITE, ["/ev", ""]);
  h.ask(h.d0, Op.SET_PERMS, ["/ev", "r0"]);
  h.ask(g, Op.WATCH, ["/ev", "tk"]);
  h.fillTo(g, 4000 - 16 - 17);
  assert.equal(h.ask(g, Op.READ, ["s17"]), "ERROR ENOMEM|");
  assert.equal(h.ask(g, Op.READ, ["s16"]), `READ ${"s".repeat(16)}`);
  assert.equal(h.ask(g, Op.GET_DOMAIN_PATH, ["5"]), "GET_DOMAIN_PATH /local/domain/5|");
  assert.equal(h.ask(g, Op.GET_DOMAIN_PATH, ["10"]), "ERROR ENOMEM|");
  // The event /ev|tk| costs 16 + 7: dropped at 4000 - 23, sent one byte lower.
  h.fillTo(g, 4000 - 23);
  assert.deepEqual(eventsOf(h.send(h.d0, Op.WRITE, ["/ev", "1"]), g), []);
  h.fillTo(g, 3999 - 23);
  assert.deepEqual(eventsOf(h.send(h.d0, Op.WRITE, ["/ev", "2"]), g), ["WATCH_EVENT /ev|tk|"]);
});

Deno.test("memory quota: a guest over its quota is not read from until it drops below; then its requests run in order", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  h.ask(g, Op.WRITE, ["a", "a".repeat(1000)]);
  h.fillTo(g, 3000);
  const tx = Number(/(\d+)/.exec(h.ask(g, Op.TRANSACTION_START, [""])!)![1]);
  // Reading `a` copies it into the transaction (unchecked): over the quota.
  assert.equal(h.ask(g, Op.READ, ["a"], tx), "ERROR ENOMEM|");
  assert.ok(h.memory(1) >= 4000);
  assert.equal(h.ask(g, Op.GET_DOMAIN_PATH, ["1"]), undefined);
  assert.equal(h.ask(g, Op.READ, ["/nope"]), undefined);
  const out = h.send(h.d0, Op.RM, [`${home(1)}/pad0`]);
  assert.deepEqual(
    out.filter((o) => o.conn === g).map((o) => show(o.msg!)),
    ["GET_DOMAIN_PATH /local/domain/1|", "ERROR EACCES|"],
  );
  assert.equal(h.ask(g, Op.TRANSACTION_END, ["F"], tx), "TRANSACTION_END OK|");
});

Deno.test("memory quota: lowering the quota at run time holds a guest back until it is raised", () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  h.ask(h.d0, Op.CONTROL, ["quota", "set", "memory", "10"]);
  assert.equal(h.ask(g, Op.READ, [home(1)]), undefined);
  const out = h.send(h.d0, Op.CONTROL, ["quota", "set", "memory", "4000"]);
  assert.equal(replyOf(out, g), "READ ");
});

Deno.test(`memory quota: a held-back connection that sends more than ${DEFERRED_REQUESTS_MAX} requests is closed`, () => {
  const h = new Harness(4000);
  const g = h.guest(1);
  h.ask(h.d0, Op.CONTROL, ["quota", "set", "memory", "10"]);
  for (let i = 0; i < DEFERRED_REQUESTS_MAX; i++) {
    assert.deepEqual(h.send(g, Op.READ, [home(1)]), []);
  }
  const out = h.send(g, Op.READ, [home(1)]);
  assert.deepEqual(out.map((o) => [o.conn, o.close]), [[g, true]]);
  assert.ok(g.closed);
  assert.equal(h.ask(h.d0, Op.CONTROL, ["quota", "set", "memory", "4000"]), "CONTROL OK|");
});

Deno.test("memory quota: a transaction's copies cost its domain record + <gen>/<path>; commit moves them to the owners", () => {
  const h = new Harness(0);
  const g = h.guest(1);
  h.ask(g, Op.WRITE, ["a", "x".repeat(100)]);
  const before = h.memory(1);
  const tx = Number(/(\d+)/.exec(h.ask(g, Op.TRANSACTION_START, [""])!)![1]);
  const gen = g.transactions.get(tx)!.generation;
  const key = (p: string) => `${gen}/`.length + p.length;
  h.ask(g, Op.READ, ["a"], tx);
  assert.equal(h.memory(1), before + 24 + 8 + 100 + key(`${home(1)}/a`));
  h.ask(g, Op.WRITE, ["b", "yy"], tx); // new b, and a copy of the home with "b\0" more
  const homeCopy = 24 + 8 + 4 + key(home(1));
  assert.equal(
    h.memory(1),
    before + 132 + key(`${home(1)}/a`) + 34 + key(`${home(1)}/b`) + homeCopy,
  );
  assert.equal(h.ask(g, Op.TRANSACTION_END, ["T"], tx), "TRANSACTION_END OK|");
  assert.equal(h.memory(1), before + 2 + 34 + `${home(1)}/b`.length);
});

Deno.test("memory quota: in a transaction the node quota counts live nodes; the commit needs the total below it", () => {
  const engine = new Engine({ domains: new StaticDomains([1]), quotas: { nodes: 5 } });
  let reqId = 0;
  const ask = (c: Connection, type: number, args: string[], txId = 0) =>
    replyOf(engine.handle(c, { type, reqId: ++reqId, txId, payload: encode(type, args) }), c);
  const d0 = engine.connect(0, "socket");
  ask(d0, Op.MKDIR, [home(1)]);
  ask(d0, Op.SET_PERMS, [home(1), "n1"]);
  const g = connectGuest(engine, 1);
  for (const n of ["n0", "n1", "n2", "n3"]) ask(g, Op.WRITE, [n, ""]);
  let tx = Number(/(\d+)/.exec(ask(g, Op.TRANSACTION_START, [""])!)![1]);
  assert.equal(ask(g, Op.WRITE, ["x", ""], tx), "ERROR ENOSPC|");
  assert.equal(ask(g, Op.TRANSACTION_END, ["T"], tx), "TRANSACTION_END OK|", "not failed");
  ask(g, Op.RM, ["n3"]);
  ask(g, Op.RM, ["n2"]);
  tx = Number(/(\d+)/.exec(ask(g, Op.TRANSACTION_START, [""])!)![1]);
  assert.equal(ask(g, Op.WRITE, ["x/y", ""], tx), "WRITE OK|");
  assert.equal(ask(g, Op.TRANSACTION_END, ["T"], tx), "ERROR ENOSPC|", "3 + 2 reaches 5");
});
