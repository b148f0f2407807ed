/**
 * @module
 * Throughput of the simulation kernel: scheduler events per second (timers
 * scheduled then run, with and without cancellations, sync and async), and
 * the PRNG, each against a plain-loop baseline in its group.
 *
 * Sizes: `SIM_BENCH_EVENTS` (default 100 000; set a small value in CI).
 */
import { Rng } from "../src/sim/rng.ts";
import { Scheduler } from "../src/sim/scheduler.ts";

const EVENTS = Number(Deno.env.get("SIM_BENCH_EVENTS") ?? 100_000);
// Delays built outside the measured functions: spread over 1 s of virtual time.
const delays = (() => {
  const rng = new Rng(1);
  return Array.from({ length: EVENTS }, () => rng.int(1_000_000_000));
})();

let sink = 0;
const bump = () => {
  sink++;
};

Deno.bench({
  name: `baseline: array push + drain of ${EVENTS} closures`,
  group: "scheduler",
  baseline: true,
  fn() {
    const q: (() => void)[] = [];
    for (let i = 0; i < EVENTS; i++) q.push(bump);
    for (let i = 0; i < q.length; i++) q[i]();
  },
});

Deno.bench({
  name: `scheduler: ${EVENTS} timers scheduled then run`,
  group: "scheduler",
  fn() {
    const sched = new Scheduler();
    for (let i = 0; i < EVENTS; i++) sched.setTimer(delays[i], bump);
    sched.run();
  },
});

Deno.bench({
  name: `scheduler: ${EVENTS} timers, half cancelled`,
  group: "scheduler",
  fn() {
    const sched = new Scheduler();
    for (let i = 0; i < EVENTS; i++) {
      const t = sched.setTimer(delays[i], bump);
      if (i & 1) t.cancel();
    }
    sched.run();
  },
});

Deno.bench({
  name: `scheduler: ${EVENTS} self-rescheduling events (queue of 1)`,
  group: "scheduler",
  fn() {
    const sched = new Scheduler();
    let left = EVENTS;
    const tick = () => {
      if (--left > 0) sched.setTimer(1_000, tick);
    };
    sched.setTimer(0, tick);
    sched.run();
  },
});

const ASYNC_EVENTS = Math.max(1, Math.floor(EVENTS / 10));

Deno.bench({
  name: `scheduler: ${ASYNC_EVENTS} sleeps awaited under runAsync`,
  group: "scheduler-async",
  baseline: true,
  async fn() {
    const sched = new Scheduler();
    (async () => {
      for (let i = 0; i < ASYNC_EVENTS; i++) await sched.sleep(1_000);
    })();
    await sched.runAsync();
  },
});

Deno.bench({
  name: `scheduler: ${ASYNC_EVENTS} timers run under runAsync (drain cost)`,
  group: "scheduler-async",
  async fn() {
    const sched = new Scheduler();
    for (let i = 0; i < ASYNC_EVENTS; i++) sched.setTimer(delays[i], bump);
    await sched.runAsync();
  },
});

Deno.bench({
  name: `baseline: ${EVENTS} plain counter increments`,
  group: "rng",
  baseline: true,
  fn() {
    let x = 0;
    for (let i = 0; i < EVENTS; i++) x = (x + i) | 0;
    sink += x;
  },
});

Deno.bench({
  name: `rng: ${EVENTS} u32`,
  group: "rng",
  fn() {
    const rng = new Rng(7);
    let x = 0;
    for (let i = 0; i < EVENTS; i++) x ^= rng.u32();
    sink += x;
  },
});

Deno.bench({
  name: `rng: ${EVENTS} int(1000)`,
  group: "rng",
  fn() {
    const rng = new Rng(7);
    let x = 0;
    for (let i = 0; i < EVENTS; i++) x += rng.int(1000);
    sink += x;
  },
});

Deno.bench({
  name: `rng: ${EVENTS} float`,
  group: "rng",
  fn() {
    const rng = new Rng(7);
    let x = 0;
    for (let i = 0; i < EVENTS; i++) x += rng.float();
    sink += x;
  },
});

Deno.bench({
  name: "rng: fork (bigint splitmix64 seeding)",
  group: "rng-fork",
  fn() {
    sink += new Rng(7).fork("fault:guest.ack.drop").u32();
  },
});
