/**
 * @module
 * {@link clockedLink}: an {@link XsLink} whose messages cross as clock
 * events (after `latencyNs`, default 0) instead of bare microtasks. On the
 * simulation clock this keeps a guest's long chains of xenstore requests
 * (boot: watches, feature writes, device probing) inside the scheduler's
 * event loop: each hop is an event, so the run never sees a quiet queue
 * while a request is still in flight (`Scheduler`, "Async code on virtual
 * time"). Order is kept: timers with equal due times run in insertion order.
 */
import type { Clock } from "../../sim/clock.ts";
import type { XsLink } from "./link.ts";

/** `inner`, with both directions delivered through `clock` timers. */
export function clockedLink(inner: XsLink, clock: Clock, latencyNs = 0): XsLink {
  if (!Number.isSafeInteger(latencyNs) || latencyNs < 0) {
    throw new RangeError(`clockedLink: latencyNs ${latencyNs} must be whole nanoseconds ≥ 0`);
  }
  let open = true;
  return {
    send(m) {
      if (open) clock.setTimer(latencyNs, () => inner.send(m));
    },
    onMessage(handler) {
      inner.onMessage((m) => clock.setTimer(latencyNs, () => handler(m)));
    },
    closed: inner.closed,
    close() {
      open = false;
      inner.close();
    },
  };
}
