/**
 * @module
 * The system clock: the one place outside `cli/` and `server/` that may read
 * real time. Used when xenlab runs as real processes.
 */
import type { Clock, Timer } from "./clock.ts";
import { NS_PER_MS } from "./clock.ts";

/** A {@link Clock} backed by `performance.now()` and `setTimeout`. */
export class SystemClock implements Clock {
  readonly #origin = performance.now();

  nowNs(): number {
    return Math.round((performance.now() - this.#origin) * NS_PER_MS);
  }

  setTimer(delayNs: number, fn: () => void): Timer {
    const id = setTimeout(fn, Math.max(0, delayNs / NS_PER_MS));
    return { cancel: () => clearTimeout(id) };
  }
}
