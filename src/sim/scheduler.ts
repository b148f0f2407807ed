/**
 * @module
 * The simulation's clock and event loop: a priority queue of events ordered
 * by (virtual time, insertion sequence), and a {@link Clock} whose time moves
 * only when an event is popped (STYLE.md "Deterministic simulation"). A
 * 60-second timeout costs one heap operation, not 60 seconds.
 *
 * Every run is bounded. Running out of the event budget is a reported
 * liveness failure (`{ ok: false, reason: "max-events" }`), never a hang.
 *
 * **Async code on virtual time.** Guests and toolstack code are written with
 * `async`/`await` on top of xenstore client promises. When an event resolves
 * a promise, the code awaiting it runs later, as microtasks. The `*Async`
 * runners therefore drain the microtask queue between events: they
 * `await` one already-settled value per turn (one microtask turn), and stop
 * once {@link SchedulerOptions.microtaskQuietTurns} consecutive turns pass
 * without the simulation touching the scheduler (schedule, setTimer, cancel,
 * sleep). A chain of up to that many plain `await`s between two scheduler
 * calls therefore completes at the virtual time of the event that started
 * it; each level of `async` nesting costs about one turn. The drain never
 * yields to the real event loop (no macrotask), so no real timer or I/O can
 * interleave and the run stays deterministic even when a chain is longer
 * than the window (its tail then runs at a later virtual time). A drain that
 * never goes quiet within {@link SCHEDULER_MICROTASK_TURNS_MAX} turns is
 * reported as `reason: "microtasks-unsettled"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertRunOk, Scheduler } from "./scheduler.ts";
 * const sched = new Scheduler();
 * const log: number[] = [];
 * sched.setTimer(5_000, () => log.push(sched.nowNs()));
 * assertRunOk(sched.run({ maxEvents: 100 }));
 * assert.deepEqual(log, [5_000]);
 *
 * // Async code: a 60 s sleep costs one event.
 * let woke = -1;
 * (async () => {
 *   await sched.sleep(60_000_000_000);
 *   woke = sched.nowNs();
 * })();
 * assertRunOk(await sched.runAsync());
 * assert.equal(woke, 60_000_005_000);
 * ```
 */
import { AssertionError } from "node:assert";
import type { Clock, Timer } from "./clock.ts";
import { EventQueue } from "./event_queue.ts";

/** Default event budget of one run call. */
export const SCHEDULER_EVENTS_MAX = 10_000_000;
/** Default bound on live (uncancelled) pending events. */
export const SCHEDULER_PENDING_MAX = 1_000_000;
/** Default quiet window of the microtask drain, in turns (see the module doc). */
export const SCHEDULER_MICROTASK_QUIET_TURNS = 32;
/** Bound on microtask turns in one drain. */
export const SCHEDULER_MICROTASK_TURNS_MAX = 100_000;
/** How many upcoming events a failure message names. */
const FAILURE_NEXT_EVENTS = 5;

function fail(message: string): never {
  throw new AssertionError({ message });
}

/** Options of a {@link Scheduler}. */
export interface SchedulerOptions {
  /** Virtual time at start (ns); default 0. */
  startNs?: number;
  /** Bound on live pending events; default {@link SCHEDULER_PENDING_MAX}. */
  pendingMax?: number;
  /** Quiet window of the microtask drain; default {@link SCHEDULER_MICROTASK_QUIET_TURNS}. */
  microtaskQuietTurns?: number;
  /** Bound on turns of one drain; default {@link SCHEDULER_MICROTASK_TURNS_MAX}. */
  microtaskTurnsMax?: number;
}

/** Bounds of one run call. */
export interface RunBounds {
  /** Events this call may run; default {@link SCHEDULER_EVENTS_MAX}. */
  maxEvents?: number;
  /**
   * Run only events due at or before this virtual time, then set the clock
   * to it (also when the queue runs dry first).
   */
  untilNs?: number;
}

/** A run that ended as asked. */
export interface RunOk {
  readonly ok: true;
  /** `idle`: queue empty; `until`: `untilNs` reached; `predicate`: it held. */
  readonly reason: "idle" | "until" | "predicate";
  readonly nowNs: number;
  /** Events run by this call. */
  readonly eventsRun: number;
  /** Live events still queued. */
  readonly pending: number;
}

/** A liveness failure: a bound was hit, or the predicate could not be reached. */
export interface RunFailure {
  readonly ok: false;
  readonly reason: "max-events" | "predicate-not-reached" | "microtasks-unsettled";
  readonly nowNs: number;
  readonly eventsRun: number;
  readonly pending: number;
  /** What happened, the upcoming events, and the way out. */
  readonly message: string;
}

/** Result of {@link Scheduler.run} and friends. */
export type RunResult = RunOk | RunFailure;

/** Throws an AssertionError carrying the failure message unless `result.ok`. */
export function assertRunOk(result: RunResult): asserts result is RunOk {
  if (!result.ok) fail(result.message);
}

interface Limits {
  readonly maxEvents: number;
  readonly untilNs: number;
  readonly startEvents: number;
}

/** A deterministic discrete-event scheduler; implements {@link Clock}. */
export class Scheduler implements Clock {
  readonly #queue = new EventQueue();
  readonly #pendingMax: number;
  readonly #quietTurns: number;
  readonly #turnsMax: number;
  #nowNs: number;
  #eventsRun = 0;
  #running = false;

  constructor(options: SchedulerOptions = {}) {
    const {
      startNs = 0,
      pendingMax = SCHEDULER_PENDING_MAX,
      microtaskQuietTurns = SCHEDULER_MICROTASK_QUIET_TURNS,
      microtaskTurnsMax = SCHEDULER_MICROTASK_TURNS_MAX,
    } = options;
    if (!Number.isSafeInteger(startNs) || startNs < 0) fail(`scheduler: bad startNs ${startNs}`);
    if (!Number.isSafeInteger(pendingMax) || pendingMax < 1) {
      fail(`scheduler: bad pendingMax ${pendingMax}`);
    }
    if (
      !Number.isSafeInteger(microtaskQuietTurns) || microtaskQuietTurns < 1 ||
      !Number.isSafeInteger(microtaskTurnsMax) || microtaskTurnsMax < microtaskQuietTurns
    ) {
      fail(`scheduler: bad microtask turns ${microtaskQuietTurns}/${microtaskTurnsMax}`);
    }
    this.#nowNs = startNs;
    this.#pendingMax = pendingMax;
    this.#quietTurns = microtaskQuietTurns;
    this.#turnsMax = microtaskTurnsMax;
  }

  /** Current virtual time in integer nanoseconds. */
  nowNs(): number {
    return this.#nowNs;
  }

  /** Live (uncancelled) events waiting to run. */
  get pending(): number {
    return this.#queue.live;
  }

  /** Events run since construction (cancelled ones never count). */
  get eventsRun(): number {
    return this.#eventsRun;
  }

  /** Heap entries, including cancelled ones awaiting lazy removal (diagnostics). */
  get queuedEntries(): number {
    return this.#queue.size;
  }

  /** Time of the next live event, if any. */
  nextAtNs(): number | undefined {
    return this.#queue.peek()?.atNs;
  }

  /** Runs `fn` at `now + delayNs`; `delayNs` is a finite integer ≥ 0. */
  setTimer(delayNs: number, fn: () => void, label?: string): Timer {
    if (!Number.isSafeInteger(delayNs) || delayNs < 0) {
      fail(`scheduler: timer delay ${delayNs} is not an integer number of ns >= 0`);
    }
    return this.schedule(this.#nowNs + delayNs, fn, label);
  }

  /** Runs `fn` at virtual time `atNs` (≥ now), after events already queued for that time. */
  schedule(atNs: number, fn: () => void, label?: string): Timer {
    if (!Number.isSafeInteger(atNs) || atNs < this.#nowNs) {
      fail(`scheduler: cannot schedule at ${atNs}ns (now ${this.#nowNs}ns)`);
    }
    if (this.#queue.live >= this.#pendingMax) {
      fail(
        `scheduler: ${this.#queue.live} events pending (limit ${this.#pendingMax}); ` +
          "a runaway producer? raise it with new Scheduler({ pendingMax })",
      );
    }
    return this.#queue.add(atNs, fn, label);
  }

  /** A promise resolved by an event `ns` from now. */
  sleep(ns: number): Promise<void> {
    return new Promise((resolve) => this.setTimer(ns, resolve, "sleep"));
  }

  /** Pops and runs the next event; false if there is none. */
  step(): boolean {
    this.#enter();
    try {
      return this.#runOne();
    } finally {
      this.#running = false;
    }
  }

  /** Runs until the queue is empty or a bound is hit. */
  run(bounds: RunBounds = {}): RunResult {
    return this.runUntil(null, bounds);
  }

  /**
   * Runs until `pred()` holds (checked before the first event and after
   * each one). Fails with `predicate-not-reached` if the queue runs dry or
   * `untilNs` passes first; `pred = null` runs until idle.
   */
  runUntil(pred: (() => boolean) | null, bounds: RunBounds = {}): RunResult {
    const limits = this.#limits(bounds);
    this.#enter();
    try {
      for (;;) {
        const done = this.#check(pred, limits);
        if (done !== undefined) return done;
        this.#runOne();
      }
    } finally {
      this.#running = false;
    }
  }

  /** {@link run}, draining microtasks before the first event and after each. */
  runAsync(bounds: RunBounds = {}): Promise<RunResult> {
    return this.runUntilAsync(null, bounds);
  }

  /** {@link runUntil}, draining microtasks before the first event and after each. */
  async runUntilAsync(pred: (() => boolean) | null, bounds: RunBounds = {}): Promise<RunResult> {
    const limits = this.#limits(bounds);
    this.#enter();
    try {
      for (;;) {
        if (!(await this.#drain())) {
          return this.#failure(
            "microtasks-unsettled",
            limits,
            `async code kept scheduling for ${this.#turnsMax} microtask turns without ` +
              "yielding to virtual time (a loop with no sleep?); raise microtaskTurnsMax if it is legit",
          );
        }
        const done = this.#check(pred, limits);
        if (done !== undefined) return done;
        this.#runOne();
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * Drains the microtask queue as the `*Async` runners do between events;
   * false if it did not go quiet within the turn bound.
   */
  async settle(): Promise<boolean> {
    return await this.#drain();
  }

  async #drain(): Promise<boolean> {
    const queue = this.#queue;
    let quiet = 0;
    for (let turn = 0; turn < this.#turnsMax; turn++) {
      const mark = queue.activity;
      await undefined;
      if (queue.activity !== mark) quiet = 0;
      else if (++quiet >= this.#quietTurns) return true;
    }
    return false;
  }

  #enter(): void {
    if (this.#running) fail("scheduler: run/step called from inside an event");
    this.#running = true;
  }

  #runOne(): boolean {
    const e = this.#queue.pop();
    if (e === undefined) return false;
    this.#nowNs = e.atNs;
    this.#eventsRun++;
    e.fire();
    return true;
  }

  #limits(bounds: RunBounds): Limits {
    const { maxEvents = SCHEDULER_EVENTS_MAX, untilNs = Infinity } = bounds;
    if (!Number.isSafeInteger(maxEvents) || maxEvents < 0) {
      fail(`scheduler: bad maxEvents ${maxEvents}`);
    }
    if (untilNs !== Infinity && (!Number.isSafeInteger(untilNs) || untilNs < this.#nowNs)) {
      fail(`scheduler: bad untilNs ${untilNs} (now ${this.#nowNs}ns)`);
    }
    return { maxEvents, untilNs, startEvents: this.#eventsRun };
  }

  /** The result if the run should stop now, else undefined. */
  #check(pred: (() => boolean) | null, limits: Limits): RunResult | undefined {
    if (pred !== null && pred()) return this.#ok("predicate", limits);
    const next = this.#queue.peek();
    if (next === undefined || next.atNs > limits.untilNs) {
      const bounded = limits.untilNs !== Infinity;
      if (bounded) this.#nowNs = limits.untilNs;
      if (pred === null) return this.#ok(bounded ? "until" : "idle", limits);
      const why = next === undefined ? "the event queue ran dry" : "untilNs was reached";
      return this.#failure("predicate-not-reached", limits, `${why} before the predicate held`);
    }
    if (this.#eventsRun - limits.startEvents >= limits.maxEvents) {
      return this.#failure(
        "max-events",
        limits,
        `ran ${limits.maxEvents} events (bound maxEvents) and events remain; ` +
          "a livelock? raise maxEvents if the run is legitimately long",
      );
    }
    return undefined;
  }

  #ok(reason: RunOk["reason"], limits: Limits): RunOk {
    return {
      ok: true,
      reason,
      nowNs: this.#nowNs,
      eventsRun: this.#eventsRun - limits.startEvents,
      pending: this.#queue.live,
    };
  }

  #failure(reason: RunFailure["reason"], limits: Limits, why: string): RunFailure {
    const next = this.#queue.upcoming(FAILURE_NEXT_EVENTS)
      .map((e) => `${e.label ?? "(unlabelled)"}@${e.atNs}ns`).join(", ");
    return {
      ok: false,
      reason,
      nowNs: this.#nowNs,
      eventsRun: this.#eventsRun - limits.startEvents,
      pending: this.#queue.live,
      message: `scheduler: ${reason} at t=${this.#nowNs}ns: ${why}; ` +
        `${this.#queue.live} pending${next ? `, next: ${next}` : ""}`,
    };
  }
}
