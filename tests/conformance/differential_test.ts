/**
 * Differential runs: the same seeded random sequences of well-formed
 * requests on two dom0 connections — writes, reads, mkdir, rm, directory,
 * permissions, transactions (interleaved with the other connection's
 * changes) and watches — sent to the real C xenstored and to ours; every
 * reply and every watch event must be identical. Events are collected
 * after a round trip on each connection (an event is queued before the
 * reply to any later request), so timing plays no part.
 *
 * This is how the transaction corner cases of inconsistent views (a child
 * listed twice, EIO from remove_child_entry) were found.
 */
import assert from "node:assert/strict";
import { Rng } from "../../src/sim/rng.ts";
import { Op, opName } from "../../src/xenstore/wire/op.ts";
import { drain } from "./case.ts";
import { startOurTarget } from "./our_target.ts";
import { probeRealDaemon, startRealTarget } from "./real_target.ts";
import type { RawConn, Reply, Target } from "./target.ts";

/**
 * Exploration beyond CI: `DIFF_SEEDS=1-60 DIFF_GUEST_SEEDS=200-260
 * DIFF_STEPS=1500 deno test -A tests/conformance/differential_test.ts`
 * replaces the seed lists (ranges or comma lists) and the step count.
 */
function seedsFromEnv(name: string, fallback: number[]): number[] {
  const v = Deno.env.get(name);
  if (v === undefined) return fallback;
  return v.split(",").flatMap((part) => {
    const m = /^(\d+)-(\d+)$/.exec(part.trim());
    if (!m) return [Number(part)];
    return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) => Number(m[1]) + i);
  }).filter((n) => Number.isInteger(n));
}
const STEPS_OVERRIDE = Number(Deno.env.get("DIFF_STEPS") ?? 0) || undefined;
/**
 * `DIFF_DAEMON_ARGS="-Q memory=700"` runs both daemons with those flags.
 * With a small memory quota a guest can end up over it and is then not
 * answered: a request without a reply within 300 ms is recorded as such
 * and ends the run, since when the held requests run from then on is a
 * matter of timing (the real daemon's queued output counts too). The real
 * daemon also aborts where a refused rewrite finds errno 0 (after an RM or
 * a WATCH; FINDINGS 22a): "no reply" there, `EIO` from ours. Explored with
 * memory=600, 700, 900, 1200 and guest seeds 1-60: no other difference.
 */
const DAEMON_ARGS = (Deno.env.get("DIFF_DAEMON_ARGS") ?? "").split(" ").filter(Boolean);
const REPLY_MS = DAEMON_ARGS.length ? 300 : undefined;

const SEEDS = seedsFromEnv("DIFF_SEEDS", [1, 2, 14, 21]);
/**
 * Guest-vs-dom0 runs. Seed 2 found the ancestor a refused access reads into
 * a transaction; seed 5 that a missing node's parent need grant only part of
 * what is asked for ENOENT; seed 13 that RM in a transaction whose parent
 * is gone outside is EINVAL, checked before the subtree; seeds 24 and 49
 * that commit fires each node's event as that node is applied (a watcher's
 * view of the parent is still the old one); seed 36 that a duplicate child
 * name keeps its place in the list; seed 222 that an RM walk takes each
 * deleted child out of its parent's list as it goes (visible when EIO stops it).
 */
const GUEST_SEEDS = seedsFromEnv("DIFF_GUEST_SEEDS", [2, 5, 13, 24, 36, 49, 222]);
const GUEST_STEPS = STEPS_OVERRIDE ?? 700;
const STEPS = STEPS_OVERRIDE ?? 300;
const NAMES = ["a", "b", "c"];

interface Step {
  conn: number;
  type: number;
  args: string[];
  txOp?: boolean;
}

function gen(rng: Rng, prefix: string): Step {
  const depth = 1 + rng.int(3);
  const p = prefix + "/" + Array.from({ length: depth }, () => rng.pick(NAMES)).join("/");
  const k = rng.int(100);
  const conn = rng.int(2);
  if (k < 25) return { conn, type: Op.WRITE, args: [p, rng.pick(["", "v", "xyz"])] };
  if (k < 40) return { conn, type: Op.READ, args: [p] };
  if (k < 48) return { conn, type: Op.MKDIR, args: [p] };
  if (k < 58) return { conn, type: Op.RM, args: [p] };
  if (k < 66) return { conn, type: Op.DIRECTORY, args: [p] };
  if (k < 70) return { conn, type: Op.GET_PERMS, args: [p] };
  if (k < 76) {
    return {
      conn,
      type: Op.SET_PERMS,
      args: [p, ...rng.pick([["n0"], ["r0"], ["n0", "r1"], ["b0", "w2"]])],
    };
  }
  if (k < 82) return { conn, type: Op.TRANSACTION_START, args: [""], txOp: true };
  if (k < 88) return { conn, type: Op.TRANSACTION_END, args: [rng.pick(["T", "F"])], txOp: true };
  if (k < 94) {
    return { conn, type: Op.WATCH, args: [rng.chance(1, 2) ? prefix : p, "t" + rng.int(2)] };
  }
  return { conn, type: Op.UNWATCH, args: [rng.chance(1, 2) ? prefix : p, "t" + rng.int(2)] };
}

/**
 * Dom0 (connection 0) and guest `domid` (connection 1) over a libxl-like
 * home: `~` n0,r<domid>; `~/data` owned by the guest; `~/ro` n0,r<domid>;
 * and `/gd` n0,b<domid>. Guest paths are sometimes relative.
 */
function guestGen(rng: Rng, domid: number): Step {
  const conn = rng.int(2);
  const home = `/local/domain/${domid}`;
  const base = rng.pick([home, `${home}/data`, "/gd", `${home}/ro`]);
  let p = base + Array.from({ length: rng.int(3) }, () => "/" + rng.pick(["a", "b"])).join("");
  if (conn === 1 && p.startsWith(home + "/") && rng.chance(1, 3)) p = p.slice(home.length + 1);
  const k = rng.int(100);
  if (k < 22) return { conn, type: Op.WRITE, args: [p, rng.pick(["", "v"])] };
  if (k < 36) return { conn, type: Op.READ, args: [p] };
  if (k < 44) return { conn, type: Op.MKDIR, args: [p] };
  if (k < 52) return { conn, type: Op.RM, args: [p] };
  if (k < 60) return { conn, type: Op.DIRECTORY, args: [p] };
  if (k < 66) return { conn, type: Op.GET_PERMS, args: [p] };
  if (k < 78) {
    const d = domid;
    const perms = rng.pick([[`n${d}`], ["n0", `r${d}`], ["n0", `b${d}`], [`r${d}`], ["n0"], [
      "w0",
      `r${d}`,
    ], [`n${d}`, "r0"]]);
    return { conn, type: Op.SET_PERMS, args: [p, ...perms] };
  }
  if (k < 83) return { conn, type: Op.TRANSACTION_START, args: [""], txOp: true };
  if (k < 88) return { conn, type: Op.TRANSACTION_END, args: [rng.pick(["T", "F"])], txOp: true };
  if (k < 95) {
    return {
      conn,
      type: Op.WATCH,
      args: [rng.pick([p, "/gd", home, "@releaseDomain"]), "t" + rng.int(2)],
    };
  }
  return { conn, type: Op.UNWATCH, args: [p, "t" + rng.int(2)] };
}

async function dom0Pair(t: Target): Promise<RawConn[]> {
  return [await t.dom0(), await t.dom0()];
}

async function guestPair(t: Target, domid: number): Promise<RawConn[]> {
  const d0 = await t.dom0();
  const home = `/local/domain/${domid}`;
  const layout: [string, string[]][] = [
    [home, ["n0", `r${domid}`]],
    [`${home}/data`, [`n${domid}`]],
    [`${home}/ro`, ["n0", `r${domid}`]],
    ["/gd", ["n0", `b${domid}`]],
  ];
  for (const [p] of layout) assert.equal((await d0.req(Op.MKDIR, [p])).error, undefined, p);
  const guest = await t.guest(domid);
  for (const [p, perms] of layout) {
    assert.equal((await d0.req(Op.SET_PERMS, [p, ...perms])).error, undefined, p);
  }
  return [d0, guest];
}

/** The events delivered to `c` so far (see `drain`), or "held" if it is not answered. */
async function eventsOf(c: RawConn): Promise<string> {
  if (REPLY_MS === undefined) return JSON.stringify(await drain(c));
  const r = await c.req(Op.GET_DOMAIN_PATH, ["0"], { timeoutMs: REPLY_MS }).catch(() => null);
  if (r === null) return "held";
  return JSON.stringify(await c.events({ timeoutMs: 0, quietMs: 0 }));
}

/** The transcript of one seeded run: one line per request, replies and events. */
async function transcript(
  t: Target,
  seed: number,
  kind: "dom0" | "guest" = "dom0",
): Promise<string[]> {
  const rng = new Rng(seed);
  const domid = 150 + seed;
  const conns = kind === "dom0" ? await dom0Pair(t) : await guestPair(t, domid);
  const open: number[][] = [[], []];
  const out: string[] = [];
  const prefix = `/diff${seed}`;
  try {
    for (let i = 0; i < (kind === "dom0" ? STEPS : GUEST_STEPS); i++) {
      const s = kind === "dom0" ? gen(rng, prefix) : guestGen(rng, domid);
      const mine = open[s.conn];
      let txId = !s.txOp && mine.length && rng.chance(1, 2) ? mine[mine.length - 1] : 0;
      if (s.type === Op.TRANSACTION_END) txId = mine.length ? mine.pop()! : 0;
      let r: Reply;
      try {
        r = await conns[s.conn].req(s.type, s.args, { txId, timeoutMs: REPLY_MS });
      } catch (e) {
        if (REPLY_MS === undefined) throw e;
        out.push(`${i} c${s.conn} ${opName(s.type)} ${s.args.join(" ")} tx=${txId} -> no reply`);
        break; // what runs when is up to timing from here on
      }
      const body = new TextDecoder().decode(r.payload).replace(/\0/g, "|");
      if (s.type === Op.TRANSACTION_START && !r.error) mine.push(Number(body.slice(0, -1)));
      const events = [await eventsOf(conns[0]), await eventsOf(conns[1])];
      out.push(
        `${i} c${s.conn} ${opName(s.type)} ${s.args.join(" ")} tx=${txId} -> ${
          opName(r.type)
        } ${body} ${events.join(" ")}`,
      );
    }
  } finally {
    for (const c of conns) c.close();
  }
  return out;
}

const unavailable = await probeRealDaemon();
if (unavailable !== null) {
  if (Deno.env.get("CI") === "true") {
    throw new Error(`differential runs need the real daemon: ${unavailable}`);
  }
  console.error(`*** SKIPPING differential runs: ${unavailable}`);
}

const RUNS = [
  ...SEEDS.map((seed) => ({ seed, kind: "dom0" as const })),
  ...GUEST_SEEDS.map((seed) => ({ seed, kind: "guest" as const })),
];

for (const { seed, kind } of RUNS) {
  Deno.test({
    name: kind === "dom0"
      ? `differential: seed ${seed}, ${STEPS} random requests on two connections, real C xenstored vs ours`
      : `differential: seed ${seed}, ${GUEST_STEPS} random requests from dom0 and guest ${
        150 + seed
      } over its home, real C xenstored vs ours`,
    ignore: unavailable !== null,
    async fn() {
      const real = await startRealTarget({ daemonArgs: DAEMON_ARGS });
      let want: string[];
      try {
        want = await transcript(real, seed, kind);
      } finally {
        await real.stop();
      }
      const ours = await startOurTarget("unix", { daemonArgs: DAEMON_ARGS });
      let got: string[];
      try {
        got = await transcript(ours, seed, kind);
      } finally {
        await ours.stop();
      }
      const first = want.findIndex((l, i) => l !== got[i]);
      assert.equal(
        first,
        -1,
        first < 0
          ? ""
          : `first difference at step ${first}:\nreal: ${want[first]}\nours: ${
            got[first]
          }\nthe real daemon's transcript before it:\n${
            want.slice(Math.max(0, first - 40), first).join("\n")
          }`,
      );
    },
  });
}
