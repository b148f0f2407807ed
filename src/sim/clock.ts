/**
 * @module
 * Time, injected. Everything outside `cli/`, `server/` and the system clock
 * reads time through a {@link Clock}, so the same code runs on the system
 * clock (real processes) or on the simulation's virtual clock, where time
 * only moves when the scheduler pops an event (ARCHITECTURE.md "Two ways to
 * run, one code path").
 *
 * Times are integer nanoseconds held in a `number` (exact up to 2^53 ns,
 * about 104 days of virtual time).
 */

/** A cancellable timer returned by {@link Clock.setTimer}. */
export interface Timer {
  cancel(): void;
}

/** A source of time and timers. */
export interface Clock {
  /** Nanoseconds since the clock's epoch (monotonic). */
  nowNs(): number;
  /** Runs `fn` once, `delayNs` from now. */
  setTimer(delayNs: number, fn: () => void): Timer;
}

export const NS_PER_US = 1_000;
export const NS_PER_MS = 1_000_000;
export const NS_PER_S = 1_000_000_000;
