import assert from "node:assert/strict";
import fc from "fast-check";
import type { Clock, Timer } from "./clock.ts";
import {
  assertRunOk,
  type RunResult,
  Scheduler,
  SCHEDULER_EVENTS_MAX,
  SCHEDULER_MICROTASK_QUIET_TURNS,
  SCHEDULER_MICROTASK_TURNS_MAX,
  SCHEDULER_PENDING_MAX,
} from "./scheduler.ts";

function expectFailure(result: RunResult, reason: string): string {
  assert.equal(result.ok, false, `expected ${reason}, got ${JSON.stringify(result)}`);
  assert.equal(result.reason, reason);
  return result.ok ? "" : result.message;
}

Deno.test("events run in (time, insertion) order and time moves only when one is popped", () => {
  const sched = new Scheduler();
  const log: string[] = [];
  const at = (name: string) => () => log.push(`${name}@${sched.nowNs()}`);
  sched.schedule(30, at("c"));
  sched.setTimer(10, at("a"));
  sched.schedule(20, at("b1"));
  sched.schedule(20, at("b2"));
  sched.setTimer(0, at("zero"));
  assert.equal(sched.nowNs(), 0);
  assert.equal(sched.pending, 5);
  assertRunOk(sched.run());
  assert.deepEqual(log, ["zero@0", "a@10", "b1@20", "b2@20", "c@30"]);
  assert.equal(sched.nowNs(), 30);
  assert.equal(sched.eventsRun, 5);
  assert.equal(sched.pending, 0);
});

Deno.test("a timer set for now runs after events already queued for now", () => {
  const sched = new Scheduler();
  const log: string[] = [];
  sched.schedule(5, () => {
    log.push("first");
    sched.setTimer(0, () => log.push("spawned"));
  });
  sched.schedule(5, () => log.push("second"));
  assertRunOk(sched.run());
  assert.deepEqual(log, ["first", "second", "spawned"]);
});

Deno.test("the scheduler is a Clock and starts at startNs", () => {
  const clock: Clock = new Scheduler({ startNs: 1_000 });
  assert.equal(clock.nowNs(), 1_000);
  let ran = -1;
  clock.setTimer(5, () => ran = clock.nowNs());
  (clock as Scheduler).run();
  assert.equal(ran, 1_005);
});

Deno.test("delays and times that are not integer ns in the future are assertion failures", () => {
  const sched = new Scheduler({ startNs: 100 });
  for (const bad of [-1, 0.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => sched.setTimer(bad, () => {}), /not an integer number of ns/);
  }
  assert.throws(() => sched.schedule(99, () => {}), /cannot schedule at 99ns \(now 100ns\)/);
  assert.throws(() => sched.schedule(100.5, () => {}), /cannot schedule/);
  assert.throws(() => new Scheduler({ startNs: -1 }), /bad startNs/);
  assert.equal(sched.pending, 0);
});

Deno.test("step runs one event at a time and reports an empty queue", () => {
  const sched = new Scheduler();
  let n = 0;
  sched.schedule(7, () => n++);
  sched.schedule(9, () => n++);
  assert.equal(sched.step(), true);
  assert.equal(sched.nowNs(), 7);
  assert.equal(sched.nextAtNs(), 9);
  assert.equal(sched.step(), true);
  assert.equal(sched.step(), false);
  assert.equal(sched.nowNs(), 9);
  assert.equal(n, 2);
  assert.equal(sched.nextAtNs(), undefined);
});

Deno.test("cancelled timers never run and leave the pending count", () => {
  const sched = new Scheduler();
  const log: string[] = [];
  const a = sched.setTimer(10, () => log.push("a"));
  sched.setTimer(5, () => {
    log.push("canceller");
    b.cancel();
  });
  const b = sched.setTimer(5, () => log.push("b"));
  sched.setTimer(20, () => log.push("c"));
  a.cancel();
  a.cancel();
  assert.equal(sched.pending, 3);
  assertRunOk(sched.run());
  assert.deepEqual(log, ["canceller", "c"]);
  assert.equal(sched.eventsRun, 2);
  assert.equal(sched.nowNs(), 20, "a cancelled event does not move time");
});

Deno.test("cancelling a timer that already ran is a no-op", () => {
  const sched = new Scheduler();
  let runs = 0;
  const self: Timer = sched.setTimer(1, () => {
    runs++;
    self.cancel();
  });
  sched.run();
  self.cancel();
  assert.equal(runs, 1);
  assert.equal(sched.pending, 0);
});

Deno.test("mass cancellation compacts the heap", () => {
  const sched = new Scheduler();
  const timers = Array.from({ length: 10_000 }, (_, i) => sched.setTimer(i + 1, () => {}));
  let ran = 0;
  sched.setTimer(50_000, () => ran++);
  for (const t of timers) t.cancel();
  assert.equal(sched.pending, 1);
  assert.ok(sched.queuedEntries <= 2 + 64 + 1, `heap holds ${sched.queuedEntries}`);
  assertRunOk(sched.run());
  assert.equal(ran, 1);
  assert.equal(sched.queuedEntries, 0);
});

Deno.test("run with untilNs runs events due by then and sets the clock to it", () => {
  const sched = new Scheduler();
  const log: number[] = [];
  for (const t of [10, 20, 30, 40]) sched.schedule(t, () => log.push(t));
  const r = sched.run({ untilNs: 30 });
  assert.deepEqual(r, { ok: true, reason: "until", nowNs: 30, eventsRun: 3, pending: 1 });
  assert.deepEqual(log, [10, 20, 30]);
  // An empty stretch still advances the clock.
  const empty = new Scheduler();
  assertRunOk(empty.run({ untilNs: 60_000_000_000 }));
  assert.equal(empty.nowNs(), 60_000_000_000);
  assert.throws(() => sched.run({ untilNs: 29 }), /bad untilNs 29/);
});

Deno.test("run reports idle with the events it ran", () => {
  const sched = new Scheduler();
  sched.setTimer(3, () => {});
  assert.deepEqual(sched.run(), { ok: true, reason: "idle", nowNs: 3, eventsRun: 1, pending: 0 });
  assert.deepEqual(sched.run(), { ok: true, reason: "idle", nowNs: 3, eventsRun: 0, pending: 0 });
});

function ticker(sched: Scheduler, periodNs: number, label: string): void {
  const tick = () => sched.setTimer(periodNs, tick, label);
  tick();
}

Deno.test("hitting maxEvents is a reported liveness failure naming the next events", () => {
  const sched = new Scheduler();
  ticker(sched, 1_000, "guest.heartbeat");
  const r = sched.run({ maxEvents: 100 });
  const message = expectFailure(r, "max-events");
  assert.equal(r.eventsRun, 100);
  assert.equal(r.nowNs, 100_000);
  assert.equal(r.pending, 1);
  assert.match(message, /ran 100 events \(bound maxEvents\)/);
  assert.match(message, /next: guest\.heartbeat@101000ns/);
  assert.match(message, /raise maxEvents/);
});

Deno.test("exactly maxEvents events and then an empty queue is a success", () => {
  const sched = new Scheduler();
  for (let i = 0; i < 10; i++) sched.setTimer(i, () => {});
  assertRunOk(sched.run({ maxEvents: 10 }));
  const more = new Scheduler();
  more.setTimer(1, () => {});
  expectFailure(more.run({ maxEvents: 0 }), "max-events");
});

Deno.test("a run over SCHEDULER_EVENTS_MAX stops with max-events by default", () => {
  const sched = new Scheduler();
  ticker(sched, 1, "spin");
  const r = sched.run();
  expectFailure(r, "max-events");
  assert.equal(r.eventsRun, SCHEDULER_EVENTS_MAX);
});

Deno.test("more than pendingMax live events is an assertion failure; cancelled ones don't count", () => {
  const sched = new Scheduler({ pendingMax: 10 });
  const timers = Array.from({ length: 10 }, () => sched.setTimer(1, () => {}));
  assert.throws(() => sched.setTimer(1, () => {}), /10 events pending \(limit 10\).*pendingMax/);
  timers[0].cancel();
  sched.setTimer(1, () => {});
  assert.equal(sched.pending, 10);
});

Deno.test("more than SCHEDULER_PENDING_MAX live events is an assertion failure by default", () => {
  const sched = new Scheduler();
  const fn = () => {};
  for (let i = 0; i < SCHEDULER_PENDING_MAX; i++) sched.setTimer(i, fn);
  assert.throws(() => sched.setTimer(0, fn), /limit 1000000/);
});

Deno.test("runUntil stops as soon as the predicate holds", () => {
  const sched = new Scheduler();
  let count = 0;
  ticker(sched, 10, "count");
  sched.setTimer(5, () => count++);
  ticker(sched, 7, "other");
  const r = sched.runUntil(() => sched.nowNs() >= 50);
  assert.equal(r.ok, true);
  assert.equal(r.reason, "predicate");
  assert.equal(r.nowNs, 50);
  assert.deepEqual(sched.runUntil(() => true), {
    ok: true,
    reason: "predicate",
    nowNs: 50,
    eventsRun: 0,
    pending: 2,
  });
});

Deno.test("runUntil fails when the queue runs dry or untilNs passes first", () => {
  const sched = new Scheduler();
  sched.setTimer(10, () => {}, "only");
  let message = expectFailure(sched.runUntil(() => false), "predicate-not-reached");
  assert.match(message, /queue ran dry/);
  ticker(sched, 10, "tick");
  message = expectFailure(sched.runUntil(() => false, { untilNs: 95 }), "predicate-not-reached");
  assert.match(message, /untilNs was reached/);
  assert.equal(sched.nowNs(), 95);
  expectFailure(sched.runUntil(() => false, { maxEvents: 3 }), "max-events");
});

Deno.test("run and step from inside an event are assertion failures", () => {
  const sched = new Scheduler();
  let caught: unknown;
  sched.setTimer(1, () => {
    try {
      sched.step();
    } catch (e) {
      caught = e;
    }
  });
  sched.run();
  assert.match(String(caught), /from inside an event/);
});

Deno.test("an event that throws propagates and leaves the scheduler usable", () => {
  const sched = new Scheduler();
  sched.setTimer(1, () => {
    throw new Error("boom");
  });
  let ok = false;
  sched.setTimer(2, () => ok = true);
  assert.throws(() => sched.run(), /boom/);
  assertRunOk(sched.run());
  assert.equal(ok, true);
});

Deno.test("assertRunOk throws the failure message", () => {
  const sched = new Scheduler();
  ticker(sched, 1, "loop");
  assert.throws(() => assertRunOk(sched.run({ maxEvents: 5 })), /max-events at t=5ns/);
});

/** A naive reference: linear scan for the least (time, seq) each step. */
class ModelScheduler {
  now = 0;
  #seq = 0;
  readonly #events: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  setTimer(delay: number, fn: () => void): { cancel(): void } {
    const e = { at: this.now + delay, seq: this.#seq++, fn, live: true };
    this.#events.push(e);
    return { cancel: () => e.live = false };
  }
  run(): void {
    for (;;) {
      const live = this.#events.filter((e) => e.live);
      if (live.length === 0) return;
      const next = live.reduce((a, b) => (b.at < a.at || (b.at === a.at && b.seq < a.seq) ? b : a));
      next.live = false;
      this.now = next.at;
      next.fn();
    }
  }
}

type Op =
  | { kind: "schedule"; delay: number; children: number[] }
  | { kind: "cancel"; index: number };

function replay(
  ops: Op[],
  setTimer: (delay: number, fn: () => void) => { cancel(): void },
  now: () => number,
  run: () => void,
): string[] {
  const log: string[] = [];
  const timers: { cancel(): void }[] = [];
  ops.forEach((o, i) => {
    if (o.kind === "cancel") {
      if (timers.length > 0) timers[o.index % timers.length].cancel();
      return;
    }
    timers.push(setTimer(o.delay, () => {
      log.push(`e${i}@${now()}`);
      o.children.forEach((d, k) => {
        const child = setTimer(d, () => log.push(`e${i}.${k}@${now()}`));
        if (d === 5) child.cancel();
      });
    }));
  });
  run();
  return log;
}

Deno.test("execution order agrees with a naive model over random schedules and cancels", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      kind: fc.constant("schedule" as const),
      delay: fc.integer({ min: 0, max: 20 }),
      children: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
    }),
    fc.record({ kind: fc.constant("cancel" as const), index: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const sched = new Scheduler();
      const model = new ModelScheduler();
      const got = replay(ops, (d, fn) => sched.setTimer(d, fn), () => sched.nowNs(), () => {
        assertRunOk(sched.run());
      });
      const want = replay(ops, (d, fn) => model.setTimer(d, fn), () => model.now, () => {
        model.run();
      });
      assert.deepEqual(got, want);
      assert.equal(sched.pending, 0);
    }),
    { numRuns: 300 },
  );
});

Deno.test("async code awaiting sleeps runs entirely on virtual time", async () => {
  const sched = new Scheduler();
  const log: string[] = [];
  async function guest(name: string, periodNs: number, rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await sched.sleep(periodNs);
      log.push(`${name}${i}@${sched.nowNs()}`);
    }
  }
  const done = Promise.all([guest("a", 1_000_000_000, 3), guest("b", 1_500_000_000, 2)]);
  const r = await sched.runAsync();
  await done;
  assert.equal(r.ok, true);
  assert.equal(r.nowNs, 3_000_000_000);
  assert.deepEqual(log, [
    "a0@1000000000",
    "b0@1500000000",
    "a1@2000000000",
    "b1@3000000000", // its sleep was queued at 1.5 s, before a2's at 2 s
    "a2@3000000000",
  ]);
});

/** A toy request/response service: replies `latencyNs` after each request. */
function service(sched: Scheduler, latencyNs: number) {
  return (x: number) =>
    new Promise<number>((resolve) => sched.setTimer(latencyNs, () => resolve(x * 2), "reply"));
}

Deno.test("a deeply nested await chain finishes at the virtual time of the reply", async () => {
  const sched = new Scheduler();
  const request = service(sched, 100);
  let depth10: (n: number) => Promise<number> = request;
  for (let i = 0; i < 10; i++) {
    const inner = depth10;
    depth10 = async (n) => await inner(n);
  }
  const seen: number[] = [];
  (async () => {
    for (let i = 0; i < 3; i++) {
      await depth10(i);
      seen.push(sched.nowNs());
    }
  })();
  // A competing event far in the future must not run before the chain finishes.
  sched.setTimer(1_000_000, () => seen.push(-1));
  assertRunOk(await sched.runAsync());
  assert.deepEqual(seen, [100, 200, 300, -1]);
});

Deno.test("plain awaits shorter than the quiet window keep their virtual time", async () => {
  const sched = new Scheduler();
  const turns = SCHEDULER_MICROTASK_QUIET_TURNS - 2;
  let at = -1;
  sched.setTimer(10, () => {
    (async () => {
      for (let i = 0; i < turns; i++) await null;
      sched.setTimer(0, () => at = sched.nowNs());
    })();
  });
  sched.setTimer(20, () => {});
  assertRunOk(await sched.runAsync());
  assert.equal(at, 10);
});

Deno.test("runUntilAsync sees state set by async continuations", async () => {
  const sched = new Scheduler();
  const request = service(sched, 250);
  let acked = false;
  (async () => {
    await request(1);
    await request(2);
    acked = true;
  })();
  ticker(sched, 100, "background");
  const r = await sched.runUntilAsync(() => acked, { maxEvents: 1_000 });
  assert.equal(r.ok, true);
  assert.equal(r.nowNs, 500);
  const never = await sched.runUntilAsync(() => false, { maxEvents: 10 });
  expectFailure(never, "max-events");
});

Deno.test("runUntilAsync reports predicate-not-reached when async work dries up", async () => {
  const sched = new Scheduler();
  const request = service(sched, 5);
  (async () => {
    await request(1);
  })();
  const r = await sched.runUntilAsync(() => false);
  assert.match(expectFailure(r, "predicate-not-reached"), /ran dry/);
  assert.equal(r.nowNs, 5);
});

async function livelock(sched: Scheduler, turnsMax?: number): Promise<RunResult> {
  let stop = false;
  const fn = () => {};
  const spinner = (async () => {
    while (!stop) {
      sched.setTimer(1, fn);
      await null;
    }
  })();
  const r = await sched.runAsync(turnsMax === undefined ? {} : { maxEvents: 10 });
  stop = true;
  await spinner;
  return r;
}

Deno.test("a drain that never goes quiet is reported as microtasks-unsettled", async () => {
  const sched = new Scheduler({ microtaskTurnsMax: 1_000 });
  const r = await livelock(sched, 1_000);
  assert.match(expectFailure(r, "microtasks-unsettled"), /1000 microtask turns/);
  assert.ok(sched.pending >= 900);
});

Deno.test("the default SCHEDULER_MICROTASK_TURNS_MAX bounds a drain", async () => {
  const sched = new Scheduler();
  const r = await livelock(sched);
  expectFailure(r, "microtasks-unsettled");
  assert.ok(sched.pending >= SCHEDULER_MICROTASK_TURNS_MAX - 1);
});

Deno.test("settle drains pending continuations without running events", async () => {
  const sched = new Scheduler();
  let x = 0;
  (async () => {
    await null;
    await null;
    x = 1;
    sched.setTimer(5, () => x = 2);
  })();
  assert.equal(await sched.settle(), true);
  assert.equal(x, 1);
  assert.equal(sched.pending, 1);
  assert.equal(sched.eventsRun, 0);
});

Deno.test("runAsync cannot overlap another run", async () => {
  const sched = new Scheduler();
  sched.setTimer(1, () => {});
  const first = sched.runAsync();
  assert.throws(() => sched.run(), /from inside an event/);
  assertRunOk(await first);
});

Deno.test("bad options and bounds are assertion failures", () => {
  assert.throws(() => new Scheduler({ pendingMax: 0 }), /bad pendingMax/);
  assert.throws(() => new Scheduler({ microtaskQuietTurns: 0 }), /bad microtask turns/);
  assert.throws(
    () => new Scheduler({ microtaskQuietTurns: 10, microtaskTurnsMax: 5 }),
    /bad microtask turns/,
  );
  assert.throws(() => new Scheduler().run({ maxEvents: -1 }), /bad maxEvents/);
});
