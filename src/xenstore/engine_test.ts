import assert from "node:assert/strict";
import { Engine, type Outgoing } from "./engine.ts";
import { StaticDomains } from "./domains.ts";
import { Op, opName } from "./wire/op.ts";
import { fromLatin1, latin1, type Message } from "./wire/message.ts";
import type { Connection } from "./connection.ts";

/** Encodes args NUL-terminated, except WRITE's value (raw, last). */
function payload(type: number, args: string[]): Uint8Array {
  if (type === Op.WRITE) return fromLatin1(`${args[0]}\0${args[1] ?? ""}`);
  return fromLatin1(args.map((a) => a + "\0").join(""));
}

function show(m: Message): string {
  const body = latin1(m.payload).replace(/\0/g, "|");
  return `${opName(m.type)} ${body}`;
}

class Harness {
  readonly domains = new StaticDomains([1, 2, 3, 4, 5]);
  readonly engine = new Engine({ domains: this.domains });
  #reqId = 0;

  conn(domid = 0): Connection {
    return this.engine.connect(domid, domid === 0 ? "socket" : "guest");
  }

  /** Sends a request; returns what the caller and others received. */
  req(c: Connection, type: number, args: string[], txId = 0): Outgoing[] {
    return this.engine.handle(c, {
      type,
      reqId: ++this.#reqId,
      txId,
      payload: payload(type, args),
    });
  }

  /** The reply payload as text, `ERROR ENOENT|` for errors. */
  ask(c: Connection, type: number, args: string[], txId = 0): string {
    const out = this.req(c, type, args, txId).filter((o) =>
      o.conn === c && o.msg && o.msg.type !== Op.WATCH_EVENT
    );
    return show(out[out.length - 1].msg!);
  }

  guest(domid: number): Connection {
    const d0 = this.conn(0);
    assert.equal(this.ask(d0, Op.INTRODUCE, [String(domid), "0", "1"]), "INTRODUCE OK|");
    return this.conn(domid);
  }
}

const TABLE: [string, number, string[], string][] = [
  ["initial tree lists tool", Op.DIRECTORY, ["/"], "DIRECTORY tool|"],
  ["read of a missing node", Op.READ, ["/nope"], "ERROR ENOENT|"],
  ["RM / is EINVAL", Op.RM, ["/"], "ERROR EINVAL|"],
  ["trailing slash is EINVAL", Op.READ, ["/tool/"], "ERROR EINVAL|"],
  ["double slash is EINVAL", Op.READ, ["/a//b"], "ERROR EINVAL|"],
  ["dot is EINVAL", Op.READ, ["/a.b"], "ERROR EINVAL|"],
  ["GET_PERMS of root", Op.GET_PERMS, ["/"], "GET_PERMS n0|"],
  [
    "GET_DOMAIN_PATH parses with atoi",
    Op.GET_DOMAIN_PATH,
    ["7x"],
    "GET_DOMAIN_PATH /local/domain/7|",
  ],
  ["IS_DOMAIN_INTRODUCED of dom0", Op.IS_DOMAIN_INTRODUCED, ["0"], "IS_DOMAIN_INTRODUCED T|"],
  ["RELEASE of dom0 is EINVAL", Op.RELEASE, ["0"], "ERROR EINVAL|"],
  ["RELEASE of an unknown domain is ENOENT", Op.RELEASE, ["9"], "ERROR ENOENT|"],
  ["RESTRICT is ENOSYS", Op.RESTRICT, ["1"], "ERROR ENOSYS|"],
  ["type 23 is ENOSYS", 23, [], "ERROR ENOSYS|"],
  ["TRANSACTION_END outside a transaction", Op.TRANSACTION_END, ["T"], "ERROR ENOENT|"],
  ["TRANSACTION_END with a bad argument", Op.TRANSACTION_END, ["X"], "ERROR EINVAL|"],
  ["CONTROL of an unknown command", Op.CONTROL, ["frob"], "ERROR EINVAL|"],
  ["CONTROL print", Op.CONTROL, ["print", "hello"], "CONTROL OK|"],
];

for (const [name, type, args, want] of TABLE) {
  Deno.test(`engine: ${name}`, () => {
    const h = new Harness();
    assert.equal(h.ask(h.conn(), type, args), want);
  });
}

Deno.test("engine: write creates parents that inherit the parent's permissions", () => {
  const h = new Harness();
  const c = h.conn();
  assert.equal(h.ask(c, Op.WRITE, ["/a/b/c", "v"]), "WRITE OK|");
  assert.equal(h.ask(c, Op.READ, ["/a/b/c"]), "READ v");
  assert.equal(h.ask(c, Op.READ, ["/a/b"]), "READ ");
  assert.equal(h.ask(c, Op.DIRECTORY, ["/"]), "DIRECTORY tool|a|");
});

Deno.test("engine: a writer's own watch event is queued before its reply", () => {
  const h = new Harness();
  const c = h.conn();
  const w = h.req(c, Op.WATCH, ["/w", "tok"]).map((o) => show(o.msg!));
  assert.deepEqual(w, ["WATCH OK|", "WATCH_EVENT /w|tok|"]);
  const out = h.req(c, Op.WRITE, ["/w/x", "1"]).map((o) => show(o.msg!));
  assert.deepEqual(out, ["WATCH_EVENT /w/x|tok|", "WRITE OK|"]);
});

Deno.test("engine: transaction commit fails with EAGAIN when a read node changed", () => {
  const h = new Harness();
  const a = h.conn(), b = h.conn();
  h.ask(a, Op.WRITE, ["/t/x", "1"]);
  assert.equal(h.ask(a, Op.TRANSACTION_START, [""]), "TRANSACTION_START 1|");
  assert.equal(h.ask(a, Op.READ, ["/t/x"], 1), "READ 1");
  h.ask(b, Op.WRITE, ["/t/x", "2"]);
  assert.equal(h.ask(a, Op.READ, ["/t/x"], 1), "READ 1", "repeatable read");
  assert.equal(h.ask(a, Op.WRITE, ["/t/y", "3"], 1), "WRITE OK|");
  assert.equal(h.ask(a, Op.TRANSACTION_END, ["T"], 1), "ERROR EAGAIN|");
  assert.equal(h.ask(a, Op.READ, ["/t/y"]), "ERROR ENOENT|");
});

Deno.test("engine: transaction writes fire at commit only", () => {
  const h = new Harness();
  const a = h.conn(), w = h.conn();
  h.req(w, Op.WATCH, ["/q", "t"]);
  h.ask(a, Op.TRANSACTION_START, [""]);
  const during = h.req(a, Op.WRITE, ["/q/1", "x"], 1).filter((o) => o.conn === w);
  assert.equal(during.length, 0);
  const at = h.req(a, Op.TRANSACTION_END, ["T"], 1).filter((o) => o.conn === w);
  assert.deepEqual(at.map((o) => show(o.msg!)), ["WATCH_EVENT /q/1|t|"]);
});

Deno.test("engine: a guest creating a node owns it and is refused elsewhere", () => {
  const h = new Harness();
  const d0 = h.conn();
  h.ask(d0, Op.WRITE, ["/local/domain/5", ""]);
  h.ask(d0, Op.SET_PERMS, ["/local/domain/5", "n0", "b5"]);
  const g = h.guest(5);
  assert.equal(h.ask(g, Op.WRITE, ["data/x", "1"]), "WRITE OK|");
  assert.equal(h.ask(g, Op.GET_PERMS, ["data/x"]), "GET_PERMS n5|b5|");
  assert.equal(h.ask(g, Op.WRITE, ["/elsewhere", "1"]), "ERROR EACCES|");
  assert.equal(h.ask(g, Op.READ, ["/tool/nothing/here"]), "ERROR EACCES|");
  assert.equal(h.ask(g, Op.SET_PERMS, ["data/x", "n0"]), "ERROR EPERM|");
  assert.equal(h.ask(g, Op.INTRODUCE, ["6", "0", "1"]), "ERROR EACCES|");
});

Deno.test("engine: destroying a domain removes its nodes and fires @releaseDomain", () => {
  const h = new Harness();
  const d0 = h.conn();
  h.ask(d0, Op.WRITE, ["/local/domain/5", ""]);
  h.ask(d0, Op.SET_PERMS, ["/local/domain/5", "n0", "b5"]);
  const g = h.guest(5);
  h.ask(g, Op.WRITE, ["data/x", "1"]);
  h.req(d0, Op.WATCH, ["@releaseDomain", "r"]);
  h.domains.destroy(5);
  h.engine.domains.check();
  const out = h.engine.takeOutput();
  assert.ok(out.some((o) => o.conn === g && o.close));
  assert.deepEqual(out.filter((o) => o.conn === d0).map((o) => show(o.msg!)), [
    "WATCH_EVENT @releaseDomain|r|",
  ]);
  assert.equal(h.ask(d0, Op.READ, ["/local/domain/5/data"]), "ERROR ENOENT|");
  assert.equal(h.ask(d0, Op.READ, ["/local/domain/5"]), "READ ");
});
