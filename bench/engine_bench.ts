/**
 * @module
 * Benchmarks of the xenstore engine itself, without a transport: requests go
 * straight into `Engine.handle` and the replies are taken, as a transport
 * would. Measures the per-request cost of the store, permission and quota
 * bookkeeping (node counts, the hard memory quota's byte counters and reply
 * checks) for dom0 and for an unprivileged guest:
 *
 * - **write**: rewrite one of 1,000 existing nodes (value of 32 bytes);
 * - **create+rm**: create a node in a directory and remove it again;
 * - **read**: read one of 1,000 nodes;
 * - **transaction**: start, write 5 nodes, commit.
 *
 * Fixtures are built outside the measured functions. Compare before/after a
 * change with `deno bench -A bench/engine_bench.ts` on a quiet machine.
 */
import { Engine } from "../src/xenstore/engine.ts";
import { StaticDomains } from "../src/xenstore/domains.ts";
import type { Connection } from "../src/xenstore/connection.ts";
import { fromLatin1, type Message } from "../src/xenstore/wire/message.ts";
import { Op } from "../src/xenstore/wire/op.ts";

const NODES = 1000;
const GUEST = 7;

function msg(type: number, payload: string, txId = 0): Message {
  return { type, reqId: 1, txId, payload: fromLatin1(payload) };
}

function setup(domid: number): { engine: Engine; conn: Connection; home: string } {
  const engine = new Engine({ domains: new StaticDomains([GUEST]) });
  const d0 = engine.connect(0, "socket");
  const home = domid === 0 ? "/bench" : `/local/domain/${domid}`;
  engine.handle(d0, msg(Op.MKDIR, `${home}\0`));
  if (domid !== 0) {
    engine.domains.introduce(domid, 0, 1);
    engine.handle(d0, msg(Op.SET_PERMS, `${home}\0n${domid}\0`));
  }
  engine.takeOutput();
  const conn = domid === 0 ? d0 : engine.connect(domid, "guest");
  // The guest's node quota is 1000 with its home: 20 directories, 978 nodes
  // (a directory's record must stay below 2048 bytes for a guest) and room
  // for one more.
  for (let i = 0; i < NODES - 22; i++) {
    const r = engine.handle(conn, msg(Op.WRITE, `${path(home, i)}\0${"v".repeat(32)}`));
    if (r[r.length - 1].msg!.type !== Op.WRITE) throw new Error(`setup: write ${i} failed`);
  }
  return { engine, conn, home };
}

function path(home: string, i: number): string {
  return `${home}/d${i % 20}/n${i}`;
}

for (const [who, domid] of [["dom0", 0], ["guest", GUEST]] as const) {
  const { engine, conn, home } = setup(domid);
  const writes = Array.from(
    { length: NODES - 22 },
    (_, i) => msg(Op.WRITE, `${path(home, i)}\0${"w".repeat(32)}`),
  );
  const reads = Array.from({ length: NODES - 22 }, (_, i) => msg(Op.READ, `${path(home, i)}\0`));
  let i = 0;

  Deno.bench({
    name: `${who}: write an existing node`,
    group: `write ${who}`,
    fn() {
      engine.handle(conn, writes[i++ % writes.length]);
    },
  });

  Deno.bench({
    name: `${who}: read a node`,
    group: `read ${who}`,
    fn() {
      engine.handle(conn, reads[i++ % reads.length]);
    },
  });

  const create = msg(Op.WRITE, `${home}/d0/x\0value`);
  const rm = msg(Op.RM, `${home}/d0/x\0`);
  Deno.bench({
    name: `${who}: create a node and remove it`,
    group: `create ${who}`,
    fn() {
      engine.handle(conn, create);
      engine.handle(conn, rm);
    },
  });

  const start = msg(Op.TRANSACTION_START, "\0");
  Deno.bench({
    name: `${who}: transaction writing 5 nodes`,
    group: `transaction ${who}`,
    fn() {
      const out = engine.handle(conn, start);
      const id = Number(new TextDecoder().decode(out[out.length - 1].msg!.payload).slice(0, -1));
      for (let k = 0; k < 5; k++) {
        engine.handle(conn, { ...writes[(i + k) % writes.length], txId: id });
      }
      i += 5;
      engine.handle(conn, msg(Op.TRANSACTION_END, "T\0", id));
    },
  });
}
