/**
 * @module
 * Waiting for a xenstore node to reach a value, libxl's `libxl__xswait` /
 * `libxl__ev_devstate_wait`: a watch on the node, a re-read on every event
 * (events may be spurious, and a watch only says "something changed",
 * xenstore-protocol.md §4), and one timer on the context's clock for the
 * deadline — never a polling loop.
 */
import type { Clock } from "../../sim/clock.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";

/** Most watch events one wait consumes (a bound on the loop, not a timeout). */
export const WAIT_EVENTS_MAX = 10_000;

/** How a wait ended. */
export type WaitOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly waitedNs: number }
  | {
    readonly ok: false;
    readonly why: "timeout" | "events";
    readonly waitedNs: number;
    /** The node's value when the wait gave up (undefined: missing). */
    readonly last: string | undefined;
  };

/**
 * Waits until `accept(value)` returns something other than undefined
 * (value is undefined while the node is missing), at most `timeoutNs` of
 * `clock` time.
 *
 * @example
 * ```ts ignore
 * const r = await waitForNode(xs, clock, `${be}/state`, (v) => v === "2" ? 2 : undefined, 10e9);
 * if (!r.ok) throw new Error(`backend stuck after ${r.waitedNs} ns`);
 * ```
 */
export async function waitForNode<T>(
  xs: ClockedXs,
  clock: Clock,
  path: string,
  accept: (value: string | undefined) => T | undefined,
  timeoutNs: number,
): Promise<WaitOutcome<T>> {
  const start = clock.nowNs();
  let fire!: () => void;
  const deadline = new Promise<"timeout">((r) => (fire = () => r("timeout")));
  const timer = clock.setTimer(timeoutNs, fire);
  const watch = await xs.watch(path);
  const waited = () => clock.nowNs() - start;
  let last: string | undefined;
  try {
    let next = watch.next();
    for (let i = 0; i < WAIT_EVENTS_MAX; i++) {
      last = await xs.read(path);
      const value = accept(last);
      if (value !== undefined) return { ok: true, value, waitedNs: waited() };
      const what = await Promise.race([next.then((r) => (r.done ? "ended" : "event")), deadline]);
      if (what === "timeout") return { ok: false, why: "timeout", waitedNs: waited(), last };
      if (what === "ended") {
        // The connection went away; nothing more will come.
        throw new Error(`waiting on ${path}: the xenstore watch ended`);
      }
      next = watch.next();
    }
    return { ok: false, why: "events", waitedNs: waited(), last };
  } finally {
    timer.cancel();
    await watch.close().catch(() => {});
  }
}
