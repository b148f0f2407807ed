/**
 * @module
 * Watches against the rules of xenstore-protocol.md §4: for random WRITE,
 * MKDIR, RM and SET_PERMS by dom0, interleaved with WATCH and UNWATCH from
 * several dom0 and guest connections (absolute and relative paths), every
 * connection receives exactly the events the rules predict, in the order of
 * its watches' registration:
 *
 * * WRITE P, MKDIR P (new), SET_PERMS P: one event P to watches at or above P.
 * * RM P: every removed descendant D, deepest first, to watches exactly on D;
 *   then P to watches at or above P. MKDIR of an existing node, RM of a
 *   missing one: nothing.
 * * A guest gets an event only if it may read the node (old perms for
 *   SET_PERMS, perms before removal for RM) or its parent (§4.6).
 * * Relative watches get paths relative to the connection's home (§4.2).
 * * An event identical to one the same request already queued for the
 *   connection is dropped (XSA-326; FINDINGS 15).
 * * WATCH replies OK, then one event echoing the path as given (§4.1).
 */
import { connectGuest } from "./testing.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Engine } from "./engine.ts";
import { StaticDomains } from "./domains.ts";
import { Op } from "./wire/op.ts";
import { fromLatin1, latin1, type Message, XENSTORE_PAYLOAD_MAX } from "./wire/message.ts";
import { DEFAULT_QUOTAS } from "./store/quota.ts";
import type { Connection } from "./connection.ts";

const SEED = 0x5eed_0008;

// ---- model -------------------------------------------------------------------

interface MNode {
  perms: string[];
  children: string[];
}

const parent = (p: string) => p.slice(0, Math.max(1, p.lastIndexOf("/")));
const base = (p: string) => p.slice(p.lastIndexOf("/") + 1);
const child = (d: string, c: string) => (d === "/" ? `/${c}` : `${d}/${c}`);
const atOrAbove = (w: string, p: string) => w === "/" || w === p || p.startsWith(w + "/");

/** `perm_for_conn` for an unprivileged domain: can it read a node with `perms`? */
function canRead(domid: number, perms: string[] | undefined): boolean {
  if (!perms) return false;
  if (Number(perms[0].slice(1)) === domid) return true;
  const entry = perms.slice(1).find((p) => Number(p.slice(1)) === domid) ?? perms[0];
  return entry[0] === "r" || entry[0] === "b";
}

interface MWatch {
  conn: number;
  abs: string;
  raw: string;
  token: string;
  relative: boolean;
}

interface Change {
  path: string;
  exact: boolean;
  perms: string[];
  oldPerms?: string[];
  parentPerms?: string[];
}

/** Connection layout: index → domid (0 = privileged socket). */
const CONNS = [0, 0, 1, 1, 2];
const home = (domid: number) => `/local/domain/${domid}`;

class Model {
  readonly nodes = new Map<string, MNode>([
    ["/", { perms: ["n0"], children: ["tool"] }],
    ["/tool", { perms: ["n0"], children: ["xenstored"] }],
    ["/tool/xenstored", { perms: ["n0"], children: [] }],
  ]);
  readonly watches: MWatch[] = [];
  /** Coverage counters: guest events delivered, and held back by §4.6. */
  guestEvents = 0;
  blocked = 0;

  #create(p: string): void {
    const missing: string[] = [];
    let q = p;
    while (!this.nodes.has(q)) {
      missing.unshift(q);
      q = parent(q);
    }
    const perms = this.nodes.get(q)!.perms;
    for (const m of missing) {
      this.nodes.set(m, { perms, children: [] });
      this.nodes.get(parent(m))!.children.push(base(m));
    }
  }

  #changeAt(path: string, exact: boolean, oldPerms?: string[]): Change {
    return {
      path,
      exact,
      perms: this.nodes.get(path)!.perms,
      oldPerms,
      parentPerms: this.nodes.get(parent(path))?.perms,
    };
  }

  /** The changes a dom0 write op makes, in the order cxenstored fires them. */
  apply(op: WriteOp): Change[] {
    const p = op.path;
    switch (op.kind) {
      case Op.WRITE:
        this.#create(p);
        return [this.#changeAt(p, false)];
      case Op.MKDIR:
        if (this.nodes.has(p)) return [];
        this.#create(p);
        return [this.#changeAt(p, false)];
      case Op.SET_PERMS: {
        const n = this.nodes.get(p);
        if (!n) return [];
        const old = n.perms;
        n.perms = op.perms;
        return [this.#changeAt(p, false, old)];
      }
      case Op.RM: {
        if (!this.nodes.has(p)) return [];
        const out: Change[] = [];
        const walk = (q: string) => {
          for (const c of this.nodes.get(q)!.children) walk(child(q, c));
          out.push(this.#changeAt(q, q !== p));
          this.nodes.delete(q);
        };
        walk(p);
        const pn = this.nodes.get(parent(p))!;
        pn.children = pn.children.filter((c) => c !== base(p));
        return out;
      }
    }
  }

  /** Events per connection for the changes, watches in registration order. */
  deliver(changes: Change[]): string[][] {
    const out: string[][] = CONNS.map(() => []);
    for (const c of changes) {
      for (const w of this.watches) {
        if (c.exact ? w.abs !== c.path : !atOrAbove(w.abs, c.path)) continue;
        const domid = CONNS[w.conn];
        const visible = domid === 0 || canRead(domid, c.oldPerms) ||
          canRead(domid, c.perms) || canRead(domid, c.parentPerms);
        if (!visible) {
          this.blocked++;
          continue;
        }
        if (domid !== 0) this.guestEvents++;
        const epath = w.relative ? c.path.slice(home(domid).length + 1) : c.path;
        const ev = `WATCH_EVENT ${epath}|${w.token}|`;
        // XSA-326: an event identical to one queued for the connection is not queued again.
        if (!out[w.conn].includes(ev)) out[w.conn].push(ev);
      }
    }
    return out;
  }
}

// ---- ops ---------------------------------------------------------------------

type WriteOp =
  | { kind: typeof Op.WRITE | typeof Op.MKDIR | typeof Op.RM; path: string }
  | { kind: typeof Op.SET_PERMS; path: string; perms: string[] };

type WatchOp = {
  kind: typeof Op.WATCH | typeof Op.UNWATCH;
  conn: number;
  raw: string;
  token: string;
};

type Step = WriteOp | WatchOp;

const isWatch = (s: Step): s is WatchOp => s.kind === Op.WATCH || s.kind === Op.UNWATCH;

const seg = fc.constantFrom("a", "b");
const tail = fc.array(seg, { minLength: 1, maxLength: 2 }).map((s) => s.join("/"));
const prefix = fc.constantFrom("/local/domain/0", "/local/domain/1", "/local/domain/2", "/x");
const nodePath = fc.tuple(prefix, tail).map(([p, t]) => `${p}/${t}`);
const anyNodePath = fc.oneof(
  { weight: 6, arbitrary: nodePath },
  { weight: 1, arbitrary: prefix },
);
const arbPerms = fc.constantFrom(
  ["n0"],
  ["r0"],
  ["n1"],
  ["n2"],
  ["n0", "r1"],
  ["n0", "b2"],
  ["n1", "r2"],
  ["n2", "n1", "r1"],
);
const arbWrite: fc.Arbitrary<WriteOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant(Op.WRITE), path: nodePath }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant(Op.MKDIR), path: nodePath }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant(Op.RM), path: anyNodePath }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant(Op.SET_PERMS), path: anyNodePath, perms: arbPerms }),
  },
);
const watchPath = fc.oneof(
  { weight: 4, arbitrary: anyNodePath },
  { weight: 2, arbitrary: tail },
  { weight: 1, arbitrary: fc.constantFrom("/", "/local", "/local/domain", "/x/zz") },
);
const arbWatch: fc.Arbitrary<WatchOp> = fc.record({
  kind: fc.oneof({ weight: 3, arbitrary: fc.constant(Op.WATCH) }, {
    weight: 1,
    arbitrary: fc.constant(Op.UNWATCH),
  }),
  conn: fc.nat({ max: CONNS.length - 1 }),
  raw: watchPath,
  token: fc.constantFrom("t1", "t2"),
});
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: arbWrite },
  { weight: 1, arbitrary: arbWatch },
);

function payload(s: Step): Uint8Array {
  if (isWatch(s)) return fromLatin1(`${s.raw}\0${s.token}\0`);
  if (s.kind === Op.WRITE) return fromLatin1(`${s.path}\0v`);
  if (s.kind === Op.SET_PERMS) return fromLatin1([s.path, ...s.perms].join("\0") + "\0");
  return fromLatin1(`${s.path}\0`);
}

function show(m: Message): string {
  return `${m.type === Op.WATCH_EVENT ? "WATCH_EVENT" : m.type === Op.ERROR ? "ERROR" : "REPLY"} ${
    latin1(m.payload).replace(/\0/g, "|")
  }`;
}

/** dom0 gives domains 1 and 2 their homes, owned by them (as libxl does). */
function setup() {
  const engine = new Engine({ domains: new StaticDomains([1, 2, 3]) });
  const writer = engine.connect(0, "socket");
  let reqId = 0;
  for (const d of [1, 2]) {
    for (
      const [type, text] of [[Op.WRITE, `${home(d)}\0`], [
        Op.SET_PERMS,
        `${home(d)}\0n${d}\0`,
      ]] as const
    ) {
      engine.handle(writer, { type, reqId: ++reqId, txId: 0, payload: fromLatin1(text) });
    }
  }
  const conns = CONNS.map((d) => (d === 0 ? engine.connect(d, "socket") : connectGuest(engine, d)));
  return { engine, writer, conns };
}

function modelAfterSetup(): Model {
  const m = new Model();
  for (const d of [1, 2]) {
    m.apply({ kind: Op.WRITE, path: home(d) });
    m.apply({ kind: Op.SET_PERMS, path: home(d), perms: [`n${d}`] });
  }
  return m;
}

Deno.test("watch model: every connection gets exactly the events the rules predict", () => {
  let guestEvents = 0, blocked = 0;
  fc.assert(
    fc.property(fc.array(arbStep, { minLength: 1, maxLength: 50, size: "max" }), (steps) => {
      const { engine, writer, conns } = setup();
      const model = modelAfterSetup();
      steps.forEach((s, i) => {
        const from = isWatch(s) ? conns[s.conn] : writer;
        const out = engine.handle(from, {
          type: s.kind,
          reqId: i + 1,
          txId: 0,
          payload: payload(s),
        });
        const got = conns.map((c) => out.filter((o) => o.conn === c).map((o) => show(o.msg!)));
        const want: string[][] = CONNS.map(() => []);
        let reply = "REPLY OK|";
        if (isWatch(s)) {
          const domid = CONNS[s.conn];
          const relative = !s.raw.startsWith("/");
          const abs = relative ? `${home(domid)}/${s.raw}` : s.raw;
          const at = model.watches.findIndex((w) =>
            w.conn === s.conn && w.abs === abs && w.token === s.token
          );
          if (s.kind === Op.WATCH && at >= 0) reply = "ERROR EEXIST|";
          else if (s.kind === Op.UNWATCH && at < 0) reply = "ERROR ENOENT|";
          else if (s.kind === Op.UNWATCH) model.watches.splice(at, 1);
          else model.watches.push({ conn: s.conn, abs, raw: s.raw, token: s.token, relative });
          want[s.conn].push(reply);
          if (s.kind === Op.WATCH && at < 0) want[s.conn].push(`WATCH_EVENT ${s.raw}|${s.token}|`);
        } else {
          const changes = model.apply(s);
          if (s.kind === Op.SET_PERMS && changes.length === 0) reply = "ERROR ENOENT|";
          if (s.kind === Op.RM && changes.length === 0 && !model.nodes.has(parent(s.path))) {
            reply = "ERROR ENOENT|";
          }
          model.deliver(changes).forEach((evs, k) => want[k].push(...evs));
          const writerOut = out.filter((o) => o.conn === writer).map((o) => show(o.msg!));
          assert.deepEqual(writerOut, [reply], `writer reply to ${JSON.stringify(s)}`);
        }
        assert.deepEqual(got, want, `step ${i}: ${JSON.stringify(s)}`);
        // Replies come last: events a request causes are queued before it (§4.7).
        assert.equal(out[out.length - 1].conn, from);
      });
      guestEvents += model.guestEvents;
      blocked += model.blocked;
    }),
    { seed: SEED, numRuns: 300 },
  );
  assert.ok(guestEvents > 100 && blocked > 100, `${guestEvents} guest events, ${blocked} blocked`);
});

// ---- examples (checked against the real daemon) ---------------------------------

class Harness {
  readonly domains = new StaticDomains([1, 2, 3, 4, 5]);
  readonly engine = new Engine({ domains: this.domains });
  #reqId = 0;
  send(c: Connection, type: number, text: string, txId = 0): string[] {
    const out = this.engine.handle(c, {
      type,
      reqId: ++this.#reqId,
      txId,
      payload: fromLatin1(text),
    });
    return out.map((o) => `${o.conn.id} ${show(o.msg!)}`);
  }
  eventsFor(c: Connection, type: number, text: string, txId = 0): string[] {
    return this.send(c, type, text, txId).filter((s) => s.includes("WATCH_EVENT")).map((s) =>
      s.replace(/^\d+ /, "")
    );
  }
}

Deno.test("watch: a watch on /a/b/c does not fire for writes to /a/b", () => {
  const h = new Harness();
  const c = h.engine.connect();
  h.send(c, Op.WATCH, "/a/b/c\0t\0");
  assert.deepEqual(h.eventsFor(c, Op.WRITE, "/a/b\0v"), []);
  assert.deepEqual(h.eventsFor(c, Op.WRITE, "/a/b/c/d\0v"), ["WATCH_EVENT /a/b/c/d|t|"]);
  assert.deepEqual(h.eventsFor(c, Op.RM, "/a\0"), ["WATCH_EVENT /a/b/c|t|"]);
});

Deno.test("watch: rewriting the same value fires again; MKDIR of an existing node does not", () => {
  const h = new Harness();
  const c = h.engine.connect();
  h.send(c, Op.WRITE, "/a\0v");
  h.send(c, Op.WATCH, "/a\0t\0");
  assert.deepEqual(h.eventsFor(c, Op.WRITE, "/a\0v"), ["WATCH_EVENT /a|t|"]);
  assert.deepEqual(h.eventsFor(c, Op.MKDIR, "/a\0"), []);
  assert.deepEqual(h.eventsFor(c, Op.RM, "/a/missing\0"), []);
});

Deno.test("watch: WATCH ignores the header tx_id, even an unknown one", () => {
  const h = new Harness();
  const c = h.engine.connect();
  assert.deepEqual(h.send(c, Op.WATCH, "/p\0tok\0", 77), [
    `${c.id} REPLY OK|`,
    `${c.id} WATCH_EVENT /p|tok|`,
  ]);
  assert.deepEqual(h.send(c, Op.UNWATCH, "/p\0tok\0", 77), [`${c.id} REPLY OK|`]);
});

Deno.test("watch: bad WATCH payloads are EINVAL; the same path and token twice is EEXIST", () => {
  const h = new Harness();
  const c = h.engine.connect();
  const err = (t: number, s: string) => h.send(c, t, s).join();
  assert.match(err(Op.WATCH, "/p\0"), /ERROR EINVAL/);
  assert.match(err(Op.WATCH, "/p\0t\0" + "3\0"), /ERROR EINVAL/, "no depth argument in 4.17");
  assert.match(err(Op.WATCH, "/p.q\0t\0"), /ERROR EINVAL/);
  assert.match(err(Op.WATCH, "/p\0t\0trailing"), /REPLY OK/, "unterminated bytes are ignored");
  assert.match(err(Op.WATCH, "/p\0t\0"), /ERROR EEXIST/);
  assert.match(err(Op.WATCH, "/local/domain/0/p\0t\0"), /REPLY OK/);
  assert.match(err(Op.WATCH, "p\0t\0"), /ERROR EEXIST/, "duplicates compare canonical paths");
  assert.match(err(Op.UNWATCH, "/p\0other\0"), /ERROR ENOENT/);
});

Deno.test("watch: relative watches of guests and sockets get relative paths", () => {
  const h = new Harness();
  const d0 = h.engine.connect();
  h.send(d0, Op.WRITE, "/local/domain/5\0");
  h.send(d0, Op.SET_PERMS, "/local/domain/5\0n5\0");
  const g = connectGuest(h.engine, 5);
  assert.deepEqual(h.send(g, Op.WATCH, "data\0g\0").map((s) => s.replace(/^\d+ /, "")), [
    "REPLY OK|",
    "WATCH_EVENT data|g|",
  ]);
  h.send(d0, Op.WATCH, "x\0s\0");
  assert.deepEqual(h.eventsFor(d0, Op.WRITE, "/local/domain/5/data/k\0v"), [
    "WATCH_EVENT data/k|g|",
  ]);
  assert.deepEqual(h.eventsFor(d0, Op.WRITE, "/local/domain/0/x/y\0v"), ["WATCH_EVENT x/y|s|"]);
});

Deno.test("watch: a guest hears of a node it could read being made unreadable", () => {
  const h = new Harness();
  const d0 = h.engine.connect();
  h.send(d0, Op.WRITE, "/s\0");
  h.send(d0, Op.SET_PERMS, "/s\0n0\0r5\0");
  const g = connectGuest(h.engine, 5);
  h.send(g, Op.WATCH, "/s\0t\0");
  assert.deepEqual(h.eventsFor(d0, Op.SET_PERMS, "/s\0n0\0"), ["WATCH_EVENT /s|t|"], "old perms");
  assert.deepEqual(h.eventsFor(d0, Op.WRITE, "/s\0v"), [], "neither node nor parent readable");
  assert.deepEqual(h.eventsFor(d0, Op.SET_PERMS, "/s\0r0\0"), ["WATCH_EVENT /s|t|"], "new perms");
});

// (Fixed.) A node removed by a committed transaction must not be announced
// to an unprivileged watcher that can read only its parent. cxenstored fires
// commit events without the node (`fire_watches(.., NULL, ..)`), so
// `watch_permitted` can only look at the node's old perms or re-read the node,
// which is gone: no event. Outside a transaction the same RM is announced
// (the parent check applies). Ours announces both. Repro (real daemon):
//   dom0: WRITE /w/a/b 1; SET_PERMS /w/a n0 r1; SET_PERMS /w/a/b n0
//   guest 1: WATCH /w/a T
//   dom0: TRANSACTION_START -> 1; RM /w/a/b (tx 1); TRANSACTION_END T (tx 1)
//   -> real: no event for guest 1; ours: WATCH_EVENT /w/a/b T
Deno.test({
  name: "watch: a transaction's removal of a node is not shown to parent-only readers",
  fn() {
    const h = new Harness();
    const d0 = h.engine.connect();
    h.send(d0, Op.WRITE, "/w/a/b\0" + "1");
    h.send(d0, Op.SET_PERMS, "/w/a\0n0\0r1\0");
    h.send(d0, Op.SET_PERMS, "/w/a/b\0n0\0");
    const g = connectGuest(h.engine, 1);
    h.send(g, Op.WATCH, "/w/a\0T\0");
    h.send(d0, Op.TRANSACTION_START, "\0");
    h.send(d0, Op.RM, "/w/a/b\0", 1);
    assert.deepEqual(h.eventsFor(d0, Op.TRANSACTION_END, "T\0", 1), []);
  },
});

Deno.test("watch: the same RM outside a transaction is shown to parent-only readers", () => {
  const h = new Harness();
  const d0 = h.engine.connect();
  h.send(d0, Op.WRITE, "/w/a/b\0" + "1");
  h.send(d0, Op.SET_PERMS, "/w/a\0n0\0r1\0");
  h.send(d0, Op.SET_PERMS, "/w/a/b\0n0\0");
  const g = connectGuest(h.engine, 1);
  h.send(g, Op.WATCH, "/w/a\0T\0");
  assert.deepEqual(h.eventsFor(d0, Op.RM, "/w/a/b\0"), ["WATCH_EVENT /w/a/b|T|"]);
});

Deno.test("watch: UNWATCH stops events; RESET_WATCHES drops them all", () => {
  const h = new Harness();
  const c = h.engine.connect();
  h.send(c, Op.WATCH, "/a\0t\0");
  h.send(c, Op.WATCH, "/a\0u\0");
  h.send(c, Op.UNWATCH, "/a\0t\0");
  assert.deepEqual(h.eventsFor(c, Op.WRITE, "/a\0"), ["WATCH_EVENT /a|u|"]);
  h.send(c, Op.RESET_WATCHES, "\0");
  assert.deepEqual(h.eventsFor(c, Op.WRITE, "/a\0"), []);
  assert.match(h.send(c, Op.UNWATCH, "/a\0u\0").join(), /ENOENT/);
});

Deno.test("watch: @introduceDomain and @releaseDomain match exactly, for privileged watchers", () => {
  const h = new Harness();
  const d0 = h.engine.connect();
  const g = connectGuest(h.engine, 4);
  h.send(d0, Op.WATCH, "@introduceDomain\0i\0");
  h.send(d0, Op.WATCH, "/\0all\0");
  h.send(g, Op.WATCH, "@introduceDomain\0gi\0");
  const out = h.send(d0, Op.INTRODUCE, "5\0" + "0\0" + "1\0");
  assert.deepEqual(out, [`${d0.id} WATCH_EVENT @introduceDomain|i|`, `${d0.id} REPLY OK|`]);
  assert.deepEqual(h.eventsFor(d0, Op.INTRODUCE, "5\0" + "0\0" + "1\0"), [], "not on re-INTRODUCE");
  h.send(d0, Op.SET_PERMS, "@introduceDomain\0n0\0r4\0");
  assert.deepEqual(h.send(d0, Op.INTRODUCE, "3\0" + "0\0" + "1\0"), [
    `${d0.id} WATCH_EVENT @introduceDomain|i|`,
    `${g.id} WATCH_EVENT @introduceDomain|gi|`,
    `${d0.id} REPLY OK|`,
  ]);
});

// ---- limits --------------------------------------------------------------------

Deno.test("watch limit: a guest domain may hold 129 watches; the 130th is E2BIG", () => {
  assert.equal(DEFAULT_QUOTAS.watches, 128);
  const h = new Harness();
  const g = connectGuest(h.engine, 4);
  const g2 = connectGuest(h.engine, 4);
  for (let i = 0; i < 100; i++) assert.match(h.send(g, Op.WATCH, `w${i}\0t\0`)[0], /REPLY OK/);
  for (let i = 100; i < 129; i++) assert.match(h.send(g2, Op.WATCH, `w${i}\0t\0`)[0], /REPLY OK/);
  assert.match(h.send(g, Op.WATCH, "w129\0t\0").join(), /ERROR E2BIG/, "the quota is per domain");
  assert.match(h.send(g2, Op.WATCH, "w130\0t\0").join(), /ERROR E2BIG/);
  h.send(g, Op.UNWATCH, "w0\0t\0");
  assert.match(h.send(g, Op.WATCH, "w129\0t\0")[0], /REPLY OK/);
  const d0 = h.engine.connect();
  for (let i = 0; i < 300; i++) assert.match(h.send(d0, Op.WATCH, `/w${i}\0t\0`)[0], /REPLY OK/);
});

Deno.test("watch limit: an event over XENSTORE_PAYLOAD_MAX is dropped, one at it is sent", () => {
  const h = new Harness();
  const c = h.engine.connect();
  // "/\0" + token + "\0" is a full 4096-byte WATCH payload.
  const token = "T".repeat(XENSTORE_PAYLOAD_MAX - 4);
  assert.equal(h.send(c, Op.WATCH, `/\0${token}\0`).length, 2);
  // Event "/ab\0<token>\0" is 4097 bytes; "/a\0<token>\0" is exactly 4096.
  assert.deepEqual(h.eventsFor(c, Op.WRITE, "/ab\0"), []);
  const ev = h.eventsFor(c, Op.WRITE, "/a\0");
  assert.equal(ev.length, 1);
  assert.equal(ev[0].length, "WATCH_EVENT ".length + XENSTORE_PAYLOAD_MAX);
});
