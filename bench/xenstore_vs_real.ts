/**
 * `deno task bench:xenstore`: our xenstored against the real Xen 4.17 C
 * xenstored, in one run, with the same client (../shared/tools/real-xenstored
 * /bench.c over libxenstore). Prints ops/s per workload and the ratio, then
 * two scaling checks: one directory growing to 50,000 children, and 1,000
 * idle connections open while the workloads run. Goal (issue 2): at least
 * 1.2× the real daemon on every workload, and flat per-operation cost where
 * the C daemon slows several-fold.
 *
 * Options: --quick (smaller counts, for a smoke run), --keys N.
 */
import { buildXsBench, type Daemon, startOurs, startReal } from "./support/daemons.ts";

const quick = Deno.args.includes("--quick");
const keysArg = Deno.args.indexOf("--keys");
const BIG_DIR = keysArg >= 0 ? Number(Deno.args[keysArg + 1]) : quick ? 10_000 : 50_000;
const IDLE = quick ? 200 : 1_000;
const BASE = quick
  ? ["-n", "2000", "-l", "500", "-t", "300", "-w", "1000"]
  : ["-n", "10000", "-t", "2000", "-w", "10000"];

type Rates = Map<string, number>;

async function xsBench(bin: string, d: Daemon, args: string[]): Promise<Rates> {
  const out = await new Deno.Command(bin, {
    args: [...args, "-p", `/bench${crypto.randomUUID().slice(0, 8)}`],
    env: { XENSTORED_PATH: d.socket },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `bench.c against ${d.name} failed:\n${text}${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const rates: Rates = new Map();
  for (const m of text.matchAll(/^(\S+)\s+\d+ ops\s+[\d.]+ s\s+([\d.]+) ops\/s/gm)) {
    rates.set(m[1], Number(m[2]));
  }
  return rates;
}

/** Connects, waiting out a full listen backlog (the C daemon accepts slowly). */
async function connectRetrying(path: string): Promise<Deno.UnixConn> {
  for (let attempt = 0;; attempt++) {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (e) {
      if (!(e instanceof Deno.errors.WouldBlock) || attempt >= 200) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function withIdleConnections<T>(d: Daemon, n: number, f: () => Promise<T>): Promise<T> {
  const conns: Deno.UnixConn[] = [];
  try {
    for (let i = 0; i < n; i++) conns.push(await connectRetrying(d.socket));
    return await f();
  } finally {
    for (const c of conns) c.close();
  }
}

function row(cols: (string | number)[]): string {
  return cols.map((c, i) => (i === 0 ? String(c).padEnd(34) : String(c).padStart(12))).join("");
}

function fmt(n: number | undefined): string {
  return n === undefined ? "-" : n.toFixed(0);
}

/** Rounds of the base workloads, alternating between the daemons (median kept). */
const ROUNDS = quick ? 1 : 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const BIG_ARGS = ["-n", String(BIG_DIR), "-l", "1", "-t", "1", "-w", "1", "-s", "30"];

const bin = await buildXsBench();
const daemons: Daemon[] = [await startReal(), await startOurs()];
const results: Record<string, { base: Rates; big: Rates; idle: Rates }> = {};
try {
  // Warm-up (ours is JIT-compiled), then rounds alternating real, ours,
  // real, ours...: both meet the same machine noise; medians per workload.
  for (const d of daemons) await xsBench(bin, d, BASE);
  const rounds = new Map<string, Map<string, number[]>>(daemons.map((d) => [d.name, new Map()]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const d of daemons) {
      console.error(`round ${r + 1}/${ROUNDS}: ${d.name}`);
      const m = rounds.get(d.name)!;
      for (const [w, v] of await xsBench(bin, d, BASE)) m.set(w, [...(m.get(w) ?? []), v]);
    }
  }
  for (const d of daemons) {
    console.error(`scaling checks: ${d.name}`);
    const base: Rates = new Map([...rounds.get(d.name)!].map(([w, vs]) => [w, median(vs)]));
    // Flat layout: every key in one directory; capped at 30 s for a slow daemon.
    const big = await xsBench(bin, d, BIG_ARGS);
    const idle = await withIdleConnections(d, IDLE, () => xsBench(bin, d, BASE));
    results[d.name] = { base, big, idle };
  }
} finally {
  for (const d of daemons) await d.stop();
}
const [real, ours] = [results["real C xenstored 4.17"], results["xenlab xenstored"]];

console.log(
  `\nbench.c workloads (${BASE.join(" ")}), ops/s, median of ${ROUNDS} alternating rounds`,
);
console.log(row(["workload", "real C", "xenlab", "ratio"]));
let worst = Infinity;
for (const [w, r] of real.base) {
  const o = ours.base.get(w) ?? 0;
  worst = Math.min(worst, o / r);
  console.log(row([w, fmt(r), fmt(o), (o / r).toFixed(2) + "x"]));
}
console.log(`worst ratio ${worst.toFixed(2)}x (goal >= 1.20x)`);

console.log(`\nflatness: write rate with ${BIG_DIR} children in one directory vs the base run`);
console.log(row(["daemon", "base write", `${BIG_DIR} flat`, "kept"]));
for (const [name, r] of Object.entries(results)) {
  const b = r.base.get("write")!, big = r.big.get("write")!;
  console.log(row([name, fmt(b), fmt(big), ((big / b) * 100).toFixed(0) + "%"]));
}

console.log(`\nidle connections: ops/s with ${IDLE} idle connections open vs none`);
console.log(row(["daemon / workload", "none", `${IDLE} idle`, "kept"]));
for (const [name, r] of Object.entries(results)) {
  for (const [w, b] of r.base) {
    const i = r.idle.get(w) ?? 0;
    console.log(
      row([`${name.split(" ")[0]} ${w}`, fmt(b), fmt(i), ((i / b) * 100).toFixed(0) + "%"]),
    );
  }
}
