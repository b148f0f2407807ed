// The simulation kernel end to end: one seed drives the scheduler, the RNG,
// the faults and the trace of a small request/response system written with
// async/await; the same seed must give a byte-identical trace.
import assert from "node:assert/strict";
import { NS_PER_MS } from "./clock.ts";
import { Faults, parseFaultSpec } from "./faults.ts";
import { Rng } from "./rng.ts";
import { type RunResult, Scheduler } from "./scheduler.ts";
import { MemoryTrace } from "./trace.ts";

const GUESTS = 3;
const REQUESTS_PER_GUEST = 8;
/** A guest gives up on a request after this many timeouts. */
const RETRIES_MAX = 50;
const TIMEOUT_NS = 20 * NS_PER_MS;
const FAULT_PHASE_NS = 100 * NS_PER_MS;
const FAULT_SPEC = "msg.drop=1/4,msg.dup=1/8";

interface Outcome {
  text: string;
  counts: Record<string, number>;
  faultPhase: RunResult;
  liveness: RunResult;
}

async function simulate(seed: number): Promise<Outcome> {
  const rng = new Rng(seed);
  const net = rng.fork("net");
  const faults = new Faults(rng, parseFaultSpec(FAULT_SPEC));
  const sched = new Scheduler();
  const trace = new MemoryTrace(sched);

  /** Unreliable delivery: maybe dropped, maybe duplicated, random latency. */
  const send = (from: string, dom: number, deliver: () => void) => {
    if (faults.hit("msg.drop")) return trace.emit({ src: "net", dom, from, fault: "drop" });
    const copies = faults.hit("msg.dup") ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      sched.setTimer(net.range(1 * NS_PER_MS, 5 * NS_PER_MS), deliver, "net.deliver");
    }
  };

  const waiting = new Map<string, () => void>();
  const server = (dom: number, id: string, value: Uint8Array) => {
    trace.emit({ src: "server", dom, id, value });
    send("server", dom, () => waiting.get(id)?.());
  };

  let finished = 0;
  async function guest(dom: number): Promise<void> {
    for (let i = 0; i < REQUESTS_PER_GUEST; i++) {
      const id = `${dom}.${i}`;
      for (let attempt = 0;; attempt++) {
        assert.ok(attempt < RETRIES_MAX, `dom ${dom} request ${id} never answered`);
        trace.emit({ src: "guest", dom, id, attempt });
        const replied = await new Promise<boolean>((resolve) => {
          const timer = sched.setTimer(TIMEOUT_NS, () => resolve(false), "guest.timeout");
          waiting.set(id, () => {
            timer.cancel();
            resolve(true);
          });
          send("guest", dom, () => server(dom, id, rng.bytes(3)));
        });
        waiting.delete(id);
        if (replied) break;
        trace.emit({ src: "guest", dom, id, timeout: true });
      }
      await sched.sleep(net.range(0, 10 * NS_PER_MS));
    }
    trace.emit({ src: "guest", dom, done: true });
    finished++;
  }

  for (let dom = 1; dom <= GUESTS; dom++) guest(dom);
  const faultPhase = await sched.runAsync({ untilNs: FAULT_PHASE_NS, maxEvents: 100_000 });
  faults.disableAll();
  trace.emit({ src: "sim", phase: "liveness", faults: faults.counts() });
  const liveness = await sched.runUntilAsync(() => finished === GUESTS, { maxEvents: 100_000 });
  return { text: trace.text(), counts: faults.counts(), faultPhase, liveness };
}

function reproduce(seed: number): string {
  return `seed ${seed}; reproduce: deno test -A src/sim/sim_determinism_test.ts ` +
    `(simulate(${seed}), faults ${FAULT_SPEC})`;
}

Deno.test("the same seed gives a byte-identical trace", async () => {
  const a = await simulate(1);
  const b = await simulate(1);
  assert.equal(a.faultPhase.ok, true, reproduce(1));
  assert.equal(a.liveness.ok, true, reproduce(1));
  assert.ok(a.counts["msg.drop"] > 0 && a.counts["msg.dup"] > 0, "faults fired");
  assert.ok(a.text.split("\n").length > 50);
  assert.equal(a.text, b.text);
});

Deno.test("a different seed gives a different trace", async () => {
  const a = await simulate(1);
  const c = await simulate(2);
  assert.notEqual(a.text, c.text);
});

Deno.test("with faults off the system converges for a sweep of seeds", async () => {
  for (let seed = 1; seed <= 20; seed++) {
    const { faultPhase, liveness } = await simulate(seed);
    assert.ok(faultPhase.ok, `${reproduce(seed)}: ${JSON.stringify(faultPhase)}`);
    assert.ok(liveness.ok, `${reproduce(seed)}: ${liveness.ok ? "" : liveness.message}`);
    assert.equal(liveness.reason, "predicate");
  }
});
