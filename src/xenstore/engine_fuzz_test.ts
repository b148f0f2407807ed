/**
 * @module
 * Fuzzing the engine and the parser with random and mutated messages: random
 * types (0..30 and 65535), random tx ids, random payload bytes, and valid
 * requests with a byte flipped, cut short, extended or retyped, sent from
 * several dom0 and guest connections, with domains dying in between.
 *
 * Whatever arrives, the engine never throws; every request gets exactly one
 * reply carrying its req_id and tx_id (a successful WATCH: OK, then one
 * event), typed as the request or as XS_ERROR with a name of the errno table
 * (xenstore-protocol.md §1.4–§1.5); events have req_id = tx_id = 0 and fit
 * the payload limit; the tree stays a tree with correct per-owner counts.
 * The bytes of each batch also travel through the parser in random chunks
 * and must come out as the messages that went in.
 */
import { connectGuest } from "./testing.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CONNECTIONS_MAX, Engine, type Outgoing } from "./engine.ts";
import { StaticDomains } from "./domains.ts";
import { Op } from "./wire/op.ts";
import { XS_ERRORS } from "./wire/errno.ts";
import {
  encodeMessage,
  fromLatin1,
  latin1,
  type Message,
  writeHeader,
  XENSTORE_PAYLOAD_MAX,
  XS_HEADER_BYTES,
} from "./wire/message.ts";
import { MessageParser, type ParseFailure } from "./wire/parser.ts";
import { baseName, childPath, parentOf } from "./store/path.ts";
import type { Connection } from "./connection.ts";

const SEED = 0x5eed_0009;
const ERRNO_NAMES = new Set<string>(XS_ERRORS.map(([n]) => n));
const GUEST_DOMAINS = [1, 2];

// ---- request generators --------------------------------------------------------

const path = fc.constantFrom(
  "/",
  "/a",
  "/a/b",
  "/a/b/c",
  "a",
  "a/b",
  "/local/domain/1",
  "/local/domain/1/x",
  "/local/domain/2/y",
  "/tool",
  "@releaseDomain",
  "@introduceDomain",
  "",
  "/a/",
  "/a.b",
);
const domid = fc.constantFrom("0", "1", "2", "3", "5", "7", "32752", "abc", "-1", "4294967297");
const perm = fc.constantFrom("n0", "r1", "w2", "b5", "n1", "r9", "x1", "r", "b0x2");
const token = fc.constantFrom("t", "tok", "0xFFFF8880", "");

/** Args of a well-formed request of each type (WRITE: path, value). */
const templates: Record<number, fc.Arbitrary<string[]>> = {
  [Op.CONTROL]: fc.constantFrom(
    ["check"],
    ["print", "x"],
    ["quota"],
    ["quota", "1"],
    ["quota", "set", "nodes", "50"],
    ["quota-soft"],
    ["help"],
    ["log", "on"],
    ["logfile", "f"],
    ["memreport"],
    ["live-update"],
    ["frob"],
  ),
  [Op.DIRECTORY]: fc.tuple(path),
  [Op.READ]: fc.tuple(path),
  [Op.GET_PERMS]: fc.tuple(path),
  [Op.WATCH]: fc.tuple(path, token),
  [Op.UNWATCH]: fc.tuple(path, token),
  [Op.TRANSACTION_START]: fc.constant([""]),
  [Op.TRANSACTION_END]: fc.constantFrom(["T"], ["F"], ["T"]),
  [Op.INTRODUCE]: fc.tuple(domid, fc.constantFrom("0", "123"), fc.constantFrom("1", "0", "x")),
  [Op.RELEASE]: fc.tuple(domid),
  [Op.GET_DOMAIN_PATH]: fc.tuple(domid),
  [Op.WRITE]: fc.tuple(path, fc.constantFrom("", "v", "a\0b", "\xff\x80")),
  [Op.MKDIR]: fc.tuple(path),
  [Op.RM]: fc.tuple(path),
  [Op.SET_PERMS]: fc.tuple(path, fc.array(perm, { maxLength: 7 })).map(([p, ps]) => [p, ...ps]),
  [Op.IS_DOMAIN_INTRODUCED]: fc.tuple(domid),
  [Op.RESUME]: fc.tuple(domid),
  [Op.SET_TARGET]: fc.tuple(domid, domid),
  [Op.RESET_WATCHES]: fc.constant([""]),
  [Op.DIRECTORY_PART]: fc.tuple(path, fc.constantFrom("0", "3", "-1", "99999", "x")),
};

function encodeArgs(type: number, args: string[]): Uint8Array {
  if (type === Op.WRITE) return fromLatin1(`${args[0]}\0${args[1]}`);
  return fromLatin1(args.map((a) => a + "\0").join(""));
}

type Mutation =
  | { kind: "none" }
  | { kind: "flip"; at: number; value: number }
  | { kind: "cut"; at: number }
  | { kind: "append"; bytes: Uint8Array }
  | { kind: "retype"; type: number };

const arbMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("flip" as const),
      at: fc.nat(),
      value: fc.nat({ max: 255 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("retype" as const),
      type: fc.integer({ min: 0, max: 30 }),
    }),
  },
);

function mutate(
  type: number,
  payload: Uint8Array,
  m: Mutation,
): { type: number; payload: Uint8Array } {
  switch (m.kind) {
    case "none":
      return { type, payload };
    case "flip": {
      if (payload.length === 0) return { type, payload };
      const p = payload.slice();
      p[m.at % p.length] = m.value;
      return { type, payload: p };
    }
    case "cut":
      return { type, payload: payload.slice(0, m.at % (payload.length + 1)) };
    case "append":
      return { type, payload: new Uint8Array([...payload, ...m.bytes]) };
    case "retype":
      return { type: m.type, payload };
  }
}

type TxChoice = "none" | "open" | "random";

interface Req {
  conn: number;
  type: number;
  payload: Uint8Array;
  tx: TxChoice;
  txRandom: number;
}

const arbTemplated: fc.Arbitrary<Req> = fc.integer({ min: 0, max: 22 }).filter((t) =>
  t in templates
)
  .chain((type) =>
    fc.record({
      conn: fc.nat(),
      type: fc.constant(type),
      args: templates[type],
      mutation: arbMutation,
      tx: fc.constantFrom<TxChoice>("none", "open", "open", "random"),
      txRandom: fc.nat({ max: 0xffffffff }),
    })
  ).map(({ conn, type, args, mutation, tx, txRandom }) => ({
    conn,
    tx,
    txRandom,
    ...mutate(type, encodeArgs(type, args), mutation),
  }));

const arbRandom: fc.Arbitrary<Req> = fc.record({
  conn: fc.nat(),
  type: fc.oneof({ weight: 10, arbitrary: fc.integer({ min: 0, max: 30 }) }, {
    weight: 1,
    arbitrary: fc.constant(0xffff),
  }),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 24 }),
    fc.array(fc.constantFrom(0, 0x2f, 0x61, 0x62, 0x31, 0x54, 0x40), { maxLength: 24 }).map((a) =>
      new Uint8Array(a)
    ),
  ),
  tx: fc.constantFrom<TxChoice>("none", "open", "random"),
  txRandom: fc.nat({ max: 0xffffffff }),
});

type Action =
  | { kind: "req"; req: Req }
  | { kind: "die"; domid: number }
  /** Resend a connection's last request (duplicate WATCH, second commit ...). */
  | { kind: "repeat"; conn: number }
  /** UNWATCH the last watch a connection set. */
  | { kind: "unwatch"; conn: number }
  /** End one of a connection's open transactions. */
  | { kind: "end"; conn: number; commit: boolean };

const arbAction: fc.Arbitrary<Action> = fc.oneof(
  { weight: 12, arbitrary: arbTemplated.map((req) => ({ kind: "req" as const, req })) },
  { weight: 4, arbitrary: arbRandom.map((req) => ({ kind: "req" as const, req })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...GUEST_DOMAINS).map((domid) => ({ kind: "die" as const, domid })),
  },
  { weight: 2, arbitrary: fc.nat().map((conn) => ({ kind: "repeat" as const, conn })) },
  { weight: 2, arbitrary: fc.nat().map((conn) => ({ kind: "unwatch" as const, conn })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("end" as const),
      conn: fc.nat(),
      commit: fc.boolean(),
    }),
  },
);

// ---- the world -------------------------------------------------------------------

class World {
  readonly domains = new StaticDomains([1, 2, 3, 4, 5]);
  readonly engine = new Engine({ domains: this.domains });
  readonly conns: Connection[];
  readonly #openTx = new Map<Connection, number[]>();
  readonly last = new Map<Connection, Message>();
  readonly lastWatch = new Map<Connection, Uint8Array>();
  #reqId = 0;

  constructor() {
    const d0 = this.engine.connect(0, "socket");
    for (const d of GUEST_DOMAINS) {
      for (
        const [type, args] of [[Op.WRITE, [`/local/domain/${d}`, ""]], [Op.SET_PERMS, [
          `/local/domain/${d}`,
          `n${d}`,
        ]], [Op.INTRODUCE, [String(d), "0", "1"]]] as const
      ) {
        this.engine.handle(d0, { type, reqId: 0, txId: 0, payload: encodeArgs(type, [...args]) });
      }
    }
    this.conns = [
      d0,
      this.engine.connect(0, "socket"),
      connectGuest(this.engine, 0),
      ...GUEST_DOMAINS.map((d) => connectGuest(this.engine, d)),
      connectGuest(this.engine, 1),
    ];
  }

  message(r: Req, c: Connection): Message {
    const open = this.#openTx.get(c) ?? [];
    const txId = r.tx === "none"
      ? 0
      : r.tx === "open" && open.length
      ? open[r.txRandom % open.length]
      : r.tx === "open"
      ? 0
      : r.txRandom;
    return { type: r.type, reqId: ++this.#reqId & 0xffffffff, txId, payload: r.payload };
  }

  /** Replaces closed connections so every slot keeps talking. */
  reopen(out: Outgoing[]): void {
    for (const o of out) {
      if (!o.close) continue;
      const i = this.conns.indexOf(o.conn);
      assert.ok(i >= 0, "only our connections are closed");
      assert.ok(o.conn.kind === "guest" && o.conn.domid !== 0, "only guest connections close");
      this.conns[i] = connectGuest(this.engine, o.conn.domid);
      this.#openTx.delete(o.conn);
    }
  }

  /** Tracks open transaction ids from the replies (ended or dropped ones go). */
  track(c: Connection, req: Message, reply: Message): void {
    const open = this.#openTx.get(c) ?? [];
    if (req.type === Op.TRANSACTION_START && reply.type === Op.TRANSACTION_START) {
      open.push(Number(latin1(reply.payload).replace(/\0$/, "")));
    }
    this.#openTx.set(c, open.filter((id) => c.transactions.has(id)));
  }
}

/** Every byte survives latin1 decoding (message_test.ts: byte for byte). */
function latin1Safe(_b: Uint8Array): boolean {
  return true;
}

function checkEvent(m: Message): void {
  assert.equal(m.type, Op.WATCH_EVENT);
  assert.equal(m.reqId, 0);
  assert.equal(m.txId, 0);
  assert.ok(m.payload.length <= XENSTORE_PAYLOAD_MAX);
  assert.equal(m.payload.filter((b) => b === 0).length, 2, "path\\0token\\0");
  assert.equal(m.payload[m.payload.length - 1], 0);
}

function checkReply(req: Message, out: Outgoing[], conn: Connection): Message {
  const mine = out.filter((o) => o.conn === conn && o.msg).map((o) => o.msg!);
  const replies = mine.filter((m) => m.type !== Op.WATCH_EVENT || req.type === Op.WATCH_EVENT);
  assert.equal(replies.length, 1, "exactly one reply");
  const reply = replies[0];
  assert.equal(reply.reqId, req.reqId, "req_id echoed");
  assert.equal(reply.txId, req.txId, "tx_id echoed");
  assert.ok(reply.payload.length <= XENSTORE_PAYLOAD_MAX);
  if (reply.type === Op.ERROR) {
    const name = latin1(reply.payload);
    assert.ok(name.endsWith("\0") && ERRNO_NAMES.has(name.slice(0, -1)), `errno ${name}`);
  } else {
    assert.equal(reply.type, req.type, "a success reply has the request's type");
  }
  const at = mine.indexOf(reply);
  if (req.type === Op.WATCH && reply.type === Op.WATCH) {
    assert.equal(mine.length, at + 2, "WATCH: OK then exactly one event");
    const ev = mine[at + 1];
    const nul2 = req.payload.indexOf(0, req.payload.indexOf(0) + 1);
    const echo = req.payload.subarray(0, nul2 + 1);
    if (latin1Safe(echo)) {
      assert.deepEqual([...ev.payload], [...echo], "initial event echoes path and token");
    }
  } else {
    assert.equal(at, mine.length - 1, "the reply comes after the events it caused");
  }
  for (const m of mine) if (m !== reply) checkEvent(m);
  return reply;
}

function checkTree(engine: Engine): void {
  const owners = new Map<number, number>();
  for (const p of engine.tree.paths()) {
    const n = engine.tree.get(p)!;
    assert.ok(n.perms.length >= 1);
    owners.set(n.perms[0].id, (owners.get(n.perms[0].id) ?? 0) + 1);
    if (p !== "/") {
      assert.ok(
        engine.tree.get(parentOf(p))?.hasChild(baseName(p)),
        `${p} is listed by its parent`,
      );
    }
    for (const c of n.children()) assert.ok(engine.tree.get(childPath(p, c)), `${p}/${c} exists`);
  }
  assert.ok(engine.tree.get("/"));
  for (const [d, n] of owners) assert.equal(engine.tree.ownedBy(d), n, `nodes owned by ${d}`);
}

function chunked(stream: Uint8Array, cuts: number[]): Message[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const p = new MessageParser();
  const out: Message[] = [];
  let at = 0;
  for (const c of [...points, stream.length]) {
    const r = p.push(stream.subarray(at, c));
    assert.equal(r.failure, undefined);
    out.push(...r.messages);
    at = c;
  }
  return out;
}

const plain = (m: Message) => ({
  type: m.type,
  reqId: m.reqId,
  txId: m.txId,
  payload: [...m.payload],
});

// ---- properties --------------------------------------------------------------------

Deno.test("engine fuzz: random and mutated requests always get one well-formed reply", () => {
  const seen = new Map<string, number>();
  let unserved = 0;
  fc.assert(
    fc.property(
      fc.array(arbAction, { minLength: 1, maxLength: 80, size: "max" }),
      fc.array(fc.nat(), { maxLength: 30 }),
      (actions, cuts) => {
        const w = new World();
        // The requests travel through the parser first, in random chunks.
        const wire: Message[] = [];
        for (const a of actions) {
          if (a.kind === "req") wire.push(w.message(a.req, w.conns[0]));
        }
        const stream = new Uint8Array(wire.flatMap((m) => [...encodeMessage(m)]));
        assert.deepEqual(chunked(stream, cuts).map(plain), wire.map(plain));

        for (const a of actions) {
          if (a.kind === "die") {
            w.domains.destroy(a.domid);
            w.engine.domains.check();
            const out = w.engine.takeOutput();
            for (const o of out) if (o.msg) checkEvent(o.msg);
            w.reopen(out);
            w.domains.create(a.domid);
            continue;
          }
          const conn = w.conns[(a.kind === "req" ? a.req.conn : a.conn) % w.conns.length];
          let msg: Message;
          if (a.kind === "req") msg = w.message(a.req, conn);
          else if (a.kind === "repeat" && w.last.has(conn)) msg = w.last.get(conn)!;
          else if (a.kind === "unwatch" && w.lastWatch.has(conn)) {
            msg = { type: Op.UNWATCH, reqId: 7, txId: 0, payload: w.lastWatch.get(conn)! };
          } else if (a.kind === "end" && conn.transactions.size) {
            const txId = [...conn.transactions.keys()][0];
            msg = {
              type: Op.TRANSACTION_END,
              reqId: 8,
              txId,
              payload: fromLatin1(a.commit ? "T\0" : "F\0"),
            };
          } else continue;
          let out: Outgoing[];
          try {
            out = w.engine.handle(conn, msg);
          } catch (e) {
            throw new Error(`engine threw on ${JSON.stringify(plain(msg))}: ${e}`);
          }
          if (conn.kind === "guest" && !w.engine.domains.serves(conn.domid)) {
            // A released or ignored guest is not served: no reply at all,
            // as on a ring xenstored no longer reads. Re-introduce it.
            assert.equal(
              out.filter((o) => o.conn === conn).length,
              0,
              "an unserved guest gets nothing",
            );
            unserved++;
            w.engine.domains.introduce(conn.domid, 0, 1);
            w.engine.takeOutput();
            continue;
          }
          const reply = checkReply(msg, out, conn);
          const key = `${msg.type}:${reply.type === Op.ERROR ? latin1(reply.payload) : "ok"}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
          for (const o of out) if (o.conn !== conn && o.msg) checkEvent(o.msg);
          w.track(conn, msg, reply);
          w.last.set(conn, msg);
          if (msg.type === Op.WATCH && reply.type === Op.WATCH) w.lastWatch.set(conn, msg.payload);
          w.reopen(out);
          checkTree(w.engine);
        }
      },
    ),
    { seed: SEED, numRuns: 250 },
  );
  // Coverage: most types succeed sometimes and fail sometimes.
  const ok = [...seen.keys()].filter((k) => k.endsWith(":ok")).length;
  const errs = [...seen.keys()].filter((k) => !k.endsWith(":ok")).length;
  assert.ok(
    ok >= 20 && errs >= 50,
    `${ok} success kinds, ${errs} error kinds, ${unserved} requests to released guests`,
  );
});

/** Segments of a byte stream: whole messages, short headers, garbage. */
const arbSegment = fc.oneof(
  fc.record({
    type: fc.nat({ max: 30 }),
    reqId: fc.nat({ max: 0xffffffff }),
    txId: fc.nat({ max: 3 }),
    payload: fc.uint8Array({ maxLength: 30 }),
  }).map(encodeMessage),
  fc.uint8Array({ minLength: 1, maxLength: 20 }),
  fc.tuple(fc.nat({ max: 30 }), fc.nat({ max: XENSTORE_PAYLOAD_MAX + 8 })).map(([t, len]) => {
    const h = new Uint8Array(XS_HEADER_BYTES);
    writeHeader(h, 0, t, 1, 0, len);
    return h;
  }),
);

function parseAll(
  stream: Uint8Array,
  cuts: number[],
): { messages: Message[]; failure?: ParseFailure } {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const p = new MessageParser();
  const messages: Message[] = [];
  let failure: ParseFailure | undefined;
  let at = 0;
  for (const c of [...points, stream.length]) {
    const r = p.push(stream.subarray(at, c));
    messages.push(...r.messages);
    failure ??= r.failure;
    at = c;
  }
  return { messages: messages.map(plain) as unknown as Message[], failure };
}

Deno.test("parser fuzz: arbitrary byte streams parse the same whole, chunked and bytewise", () => {
  let failures = 0;
  fc.assert(
    fc.property(
      fc.array(arbSegment, { maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (segs, cuts) => {
        const stream = new Uint8Array(segs.flatMap((s) => [...s]));
        const whole = parseAll(stream, []);
        assert.deepEqual(parseAll(stream, cuts), whole);
        assert.deepEqual(parseAll(stream, [...Array(stream.length).keys()]), whole);
        if (whole.failure) {
          failures++;
          assert.equal(whole.failure.kind, "oversize");
          assert.ok(whole.failure.len > XENSTORE_PAYLOAD_MAX);
        }
        for (const m of whole.messages) assert.ok(m.payload.length <= XENSTORE_PAYLOAD_MAX);
      },
    ),
    { seed: SEED + 1, numRuns: 300 },
  );
  assert.ok(failures > 30, `${failures} oversize failures`);
});

// ---- targeted cases ---------------------------------------------------------------

function oneReply(e: Engine, c: Connection, type: number, payload: Uint8Array, txId = 0): string {
  const out = e.handle(c, { type, reqId: 5, txId, payload });
  const r = out.filter((o) => o.conn === c && o.msg!.type !== Op.WATCH_EVENT);
  assert.equal(r.length, 1);
  return `${r[0].msg!.type === Op.ERROR ? "ERROR" : r[0].msg!.type} ${latin1(r[0].msg!.payload)}`;
}

const TYPES: [number, string][] = [
  [Op.WATCH_EVENT, "ERROR ENOSYS\0"],
  [Op.ERROR, "ERROR ENOSYS\0"],
  [Op.RESTRICT, "ERROR ENOSYS\0"],
  [23, "ERROR ENOSYS\0"],
  [30, "ERROR ENOSYS\0"],
  [Op.INVALID, "ERROR ENOSYS\0"],
  [0xffffffff, "ERROR ENOSYS\0"],
];
for (const [type, want] of TYPES) {
  Deno.test(`engine fuzz: type ${type} is ENOSYS and the connection stays usable`, () => {
    const e = new Engine({ domains: new StaticDomains() });
    const c = e.connect();
    assert.equal(oneReply(e, c, type, fromLatin1("/\0")), want);
    assert.equal(oneReply(e, c, Op.READ, fromLatin1("/tool\0")), `${Op.READ} `);
  });
}

Deno.test("engine fuzz: privileged-only types are EACCES for guests, before tx_id lookup", () => {
  const e = new Engine({ domains: new StaticDomains([1]) });
  const g = connectGuest(e, 1);
  for (
    const t of [
      Op.CONTROL,
      Op.INTRODUCE,
      Op.RELEASE,
      Op.IS_DOMAIN_INTRODUCED,
      Op.RESUME,
      Op.SET_TARGET,
    ]
  ) {
    assert.equal(oneReply(e, g, t, fromLatin1("1\0"), 99), "ERROR EACCES\0", `type ${t}`);
  }
  assert.equal(oneReply(e, g, Op.READ, fromLatin1("/\0"), 99), "ERROR ENOENT\0");
  assert.equal(oneReply(e, g, 23, fromLatin1("/\0"), 99), "ERROR ENOSYS\0");
});

Deno.test("engine fuzz: GET_DOMAIN_PATH parses its domid like the real daemon", () => {
  const e = new Engine({ domains: new StaticDomains() });
  const c = e.connect();
  for (
    const [arg, want] of [["4294967297", "1"], ["-1", "4294967295"], ["abc", "0"], ["7x", "7"]]
  ) {
    assert.equal(
      oneReply(e, c, Op.GET_DOMAIN_PATH, fromLatin1(`${arg}\0`)),
      `${Op.GET_DOMAIN_PATH} /local/domain/${want}\0`,
    );
  }
});

Deno.test("engine fuzz: a WATCH token with high bytes outside 0x80-0x9f is echoed exactly", () => {
  const e = new Engine({ domains: new StaticDomains() });
  const c = e.connect();
  const payload = new Uint8Array([0x2f, 0x61, 0, 0xa0, 0xff, 0x7f, 0]);
  const out = e.handle(c, { type: Op.WATCH, reqId: 1, txId: 0, payload });
  assert.deepEqual([...out[1].msg!.payload], [...payload]);
});

// (Fixed.) Watch tokens (and `@` watch paths) with bytes 0x80-0x9f used to
// come back altered in WATCH_EVENTs (latin1() was windows-1252). Repro: socket WATCH payload `/a\0\x80\x9f\xff\0`; the real
// daemon's initial event is `/a\0\x80\x9f\xff\0`, ours `/a\0\xac\x78\xff\0`.
Deno.test({
  name: "engine fuzz: a WATCH token is echoed byte for byte",
  fn() {
    const e = new Engine({ domains: new StaticDomains() });
    const c = e.connect();
    const payload = new Uint8Array([0x2f, 0x61, 0, 0x80, 0x9f, 0xff, 0]);
    const out = e.handle(c, { type: Op.WATCH, reqId: 1, txId: 0, payload });
    assert.deepEqual([...out[1].msg!.payload], [...payload]);
    const special = new Uint8Array([0x40, 0x80, 0, 0x74, 0]);
    const out2 = e.handle(c, { type: Op.WATCH, reqId: 2, txId: 0, payload: special });
    assert.deepEqual([...out2[1].msg!.payload], [...special]);
  },
});

Deno.test("engine limit: CONNECTIONS_MAX connections fit, one more throws", () => {
  const e = new Engine({ domains: new StaticDomains() });
  for (let i = 0; i < CONNECTIONS_MAX; i++) e.connect();
  assert.throws(() => e.connect(), /too many connections/);
  const [first] = e.connections();
  e.disconnect(first);
  e.connect();
});
