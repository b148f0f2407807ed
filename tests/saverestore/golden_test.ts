/**
 * The suspend, save and restore sequences per guest kind as golden traces
 * (issue 5 "The sequences as golden traces per guest kind"): boot on seed
 * 1, suspend and fast-resume, `xl save`, `xl restore`; the protocol steps
 * — toolstack steps, guest steps, the guest's hypercalls, xenstore traffic
 * on `control/`, `@releaseDomain` and device `state` nodes, XS_INTRODUCE /
 * RESUME / RELEASE — in timeline form, compared line for line with
 * `golden/<kind>.txt`. A change to any step shows up as a diff to review;
 * after a deliberate change: `UPDATE_GOLDEN=1 deno test -A tests/saverestore/golden_test.ts`.
 */
import assert from "node:assert/strict";
import { Host } from "../../src/host/host.ts";
import { parseXlCfg } from "../../src/toolstack/config/xl_cfg.ts";
import { Rng } from "../../src/sim/rng.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import { timelineLine } from "../../src/host/timeline.ts";
import { type GuestKindName, kindConfig, standardFiles } from "../../scenarios/images.ts";

const XS_OPS = new Set(["INTRODUCE", "RELEASE", "RESUME", "TRANSACTION_START", "TRANSACTION_END"]);

/** Whether a trace event is one of the protocol steps the golden files hold. */
function protocolStep(e: Record<string, unknown>): boolean {
  if (e.src === "toolstack") return e.op !== "device-add" && e.op !== "create";
  if (e.src === "qemu") return true;
  if (e.src === "guest") return typeof e.ev === "string" && e.ev !== "console";
  if (e.src === "hv") return typeof e.hc === "string" && e.dom !== 0;
  if (e.src === "xenstored") {
    const path = String(e.path ?? "");
    if (XS_OPS.has(String(e.op))) return e.dom !== 0 || e.op !== "TRANSACTION_START";
    return /control\/shutdown|@releaseDomain|\/state$/.test(path) ||
      (e.op === "WATCH" && e.dom !== 0);
  }
  return false;
}

async function sequence(kind: GuestKindName): Promise<string[]> {
  let trace!: MemoryTrace;
  const h = await Host.start({
    seed: 1,
    files: standardFiles(),
    trace: (c) => (trace = new MemoryTrace(c)),
  });
  try {
    const d = await h.run(
      h.toolstack.create(parseXlCfg(kindConfig(kind, kind), new Rng(1)).config),
    );
    await h.run(h.guests.get(d.domid)!.ready);
    const from = trace.lines.length;
    await h.run(h.toolstack.suspend(d.domid));
    await h.run(h.toolstack.resume(d.domid));
    await h.advance(1e9);
    const chunks: Uint8Array[] = [];
    await h.run(h.toolstack.save(d.domid, (c) => void chunks.push(c.slice())));
    await h.advance(1e9);
    const r = await h.run(h.toolstack.restore((async function* () {
      yield* chunks;
    })()));
    await h.run(h.guests.get(r.domid)!.ready);
    await h.advance(1e9);
    return trace.lines.slice(from)
      .filter((l) => protocolStep(JSON.parse(l)))
      .map((l) => timelineLine(l, true))
      .filter((l): l is string => l !== undefined);
  } finally {
    await h.stop();
  }
}

for (const kind of ["pv", "pvhvm", "hvm"] as const) {
  Deno.test(`golden: suspend, fast resume, save and restore of a ${kind} guest, step by step`, async () => {
    const got = await sequence(kind);
    const file = new URL(`./golden/${kind}.txt`, import.meta.url);
    if (Deno.env.get("UPDATE_GOLDEN") === "1") {
      await Deno.writeTextFile(file, got.join("\n") + "\n");
      return;
    }
    const want = (await Deno.readTextFile(file)).trimEnd().split("\n");
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      assert.equal(got[i], want[i], `step ${i + 1} of golden/${kind}.txt differs`);
    }
  });
}
