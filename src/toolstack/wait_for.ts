/**
 * @module
 * Waiting for a xenstore condition with a timeout on the context's clock,
 * the way libxl's `libxl__xswait` does: a watch on the path, a re-read on
 * each event (watches may fire spuriously, §4.1), a timer for the deadline.
 */
import type { ToolstackContext } from "./toolstack_context.ts";

/** A wait that ran out of time: what, where, how long. */
export class WaitTimeout extends Error {
  readonly path: string;
  readonly waitedNs: number;
  constructor(what: string, path: string, waitedNs: number) {
    super(`${what}: timed out after ${waitedNs / 1e9} s waiting on ${path}`);
    this.name = "WaitTimeout";
    this.path = path;
    this.waitedNs = waitedNs;
  }
}

/** Most watch events one wait consumes before giving up (a bound, not a timeout). */
export const WAIT_EVENTS_MAX = 100_000;

/**
 * Resolves with the value at `path` once `ok(value)` holds (value undefined
 * when the node is missing); rejects with {@link WaitTimeout} after
 * `timeoutNs`.
 */
export async function waitFor(
  tc: ToolstackContext,
  path: string,
  ok: (value: string | undefined) => boolean,
  timeoutNs: number,
  what: string,
): Promise<string | undefined> {
  const watch = await tc.xs.watch(path, `wait:${path}`);
  let timedOut = false;
  const timer = tc.clock.setTimer(timeoutNs, () => {
    timedOut = true;
    watch.close();
  });
  try {
    for (let i = 0; i < WAIT_EVENTS_MAX; i++) {
      const value = await tc.xs.readString(path).catch(() => undefined);
      if (ok(value)) return value;
      const ev = await watch.next().catch(() => ({ done: true as const, value: undefined }));
      if (ev.done || timedOut) break;
    }
    throw new WaitTimeout(what, path, timeoutNs);
  } finally {
    timer.cancel();
    watch.close();
  }
}
