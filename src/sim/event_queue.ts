/**
 * @module
 * The scheduler's priority queue: events ordered by (virtual time, insertion
 * sequence), so events due at the same time run in the order they were
 * queued. A binary min-heap with lazy deletion, so cancelling a timer is
 * O(1): a cancelled event stays in the heap until it reaches the top (then
 * it is dropped) or until cancelled events outnumber live ones and there are
 * more than {@link EVENT_QUEUE_COMPACT_MIN} of them (then the heap is rebuilt
 * without them, O(n), so the heap never holds more than about twice the live
 * events).
 *
 * The keys live in two parallel arrays beside the events, so sifting
 * compares numbers without touching the event objects (which are scattered
 * in memory; about a third faster on a 100k-event heap).
 */
import type { Timer } from "./clock.ts";

/** Cancelled events tolerated before a compaction is considered. */
export const EVENT_QUEUE_COMPACT_MIN = 64;

const PENDING = 0;
const CANCELLED = 1;
const DONE = 2;
const noop = () => {};

/** A queued event; also the {@link Timer} handle returned for it. */
export class QueuedEvent implements Timer {
  readonly #queue: EventQueue;
  #state = PENDING;
  #fn: () => void;

  constructor(
    queue: EventQueue,
    readonly atNs: number,
    readonly seq: number,
    fn: () => void,
    readonly label: string | undefined,
  ) {
    this.#queue = queue;
    this.#fn = fn;
  }

  /** Neither run nor cancelled yet. */
  get pending(): boolean {
    return this.#state === PENDING;
  }

  get cancelled(): boolean {
    return this.#state === CANCELLED;
  }

  /** Keeps the event from running; a no-op once it ran or was cancelled. */
  cancel(): void {
    if (this.#state !== PENDING) return;
    this.#state = CANCELLED;
    this.#fn = noop; // drop the closure now; the event leaves the heap lazily
    this.#queue.noteCancelled();
  }

  /** Runs the event (once; called by the scheduler after {@link EventQueue.pop}). */
  fire(): void {
    const fn = this.#fn;
    this.#state = DONE;
    this.#fn = noop;
    fn();
  }
}

/** Binary min-heap of {@link QueuedEvent}s keyed by (atNs, seq). */
export class EventQueue {
  readonly #events: QueuedEvent[] = [];
  readonly #times: number[] = [];
  readonly #seqs: number[] = [];
  #seq = 0;
  #cancelled = 0;
  /** Bumped by every add and cancel; the scheduler's microtask drain watches it. */
  activity = 0;

  /** Events held, cancelled ones awaiting removal included. */
  get size(): number {
    return this.#events.length;
  }

  /** Events that will still run. */
  get live(): number {
    return this.#events.length - this.#cancelled;
  }

  /** Queues `fn` at `atNs`, after everything already queued for that time. */
  add(atNs: number, fn: () => void, label?: string): QueuedEvent {
    const e = new QueuedEvent(this, atNs, this.#seq++, fn, label);
    this.activity++;
    const events = this.#events, times = this.#times, seqs = this.#seqs;
    const t = e.atNs, q = e.seq;
    let i = events.length;
    events.push(e);
    times.push(t);
    seqs.push(q);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent];
      if (pt < t || (pt === t && seqs[parent] < q)) break;
      events[i] = events[parent];
      times[i] = pt;
      seqs[i] = seqs[parent];
      i = parent;
    }
    events[i] = e;
    times[i] = t;
    seqs[i] = q;
    return e;
  }

  /** The earliest live event, dropping cancelled ones found on top. */
  peek(): QueuedEvent | undefined {
    const events = this.#events;
    while (events.length > 0 && events[0].cancelled) {
      this.#removeTop();
      this.#cancelled--;
    }
    return events[0];
  }

  /** Removes and returns the earliest live event. */
  pop(): QueuedEvent | undefined {
    const top = this.peek();
    if (top !== undefined) this.#removeTop();
    return top;
  }

  /** Called by {@link QueuedEvent.cancel}. */
  noteCancelled(): void {
    this.activity++;
    this.#cancelled++;
    if (this.#cancelled > EVENT_QUEUE_COMPACT_MIN && this.#cancelled * 2 > this.#events.length) {
      this.#compact();
    }
  }

  /** The first `n` live events in pop order (a sorted copy; for diagnostics). */
  upcoming(n: number): QueuedEvent[] {
    return this.#events.filter((e) => e.pending)
      .sort((a, b) => a.atNs - b.atNs || a.seq - b.seq).slice(0, n);
  }

  #removeTop(): void {
    const e = this.#events.pop()!;
    const t = this.#times.pop()!;
    const q = this.#seqs.pop()!;
    if (this.#events.length > 0) this.#siftDown(0, e, t, q);
  }

  /** Places (e, t, q) into the hole at `i`, moving smaller children up. */
  #siftDown(i: number, e: QueuedEvent, t: number, q: number): void {
    const events = this.#events, times = this.#times, seqs = this.#seqs;
    const n = events.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let ct = times[c];
      if (c + 1 < n) {
        const rt = times[c + 1];
        if (rt < ct || (rt === ct && seqs[c + 1] < seqs[c])) {
          c++;
          ct = rt;
        }
      }
      if (t < ct || (t === ct && q < seqs[c])) break;
      events[i] = events[c];
      times[i] = ct;
      seqs[i] = seqs[c];
      i = c;
    }
    events[i] = e;
    times[i] = t;
    seqs[i] = q;
  }

  #compact(): void {
    const events = this.#events, times = this.#times, seqs = this.#seqs;
    let n = 0;
    for (let i = 0; i < events.length; i++) {
      if (events[i].cancelled) continue;
      events[n] = events[i];
      times[n] = times[i];
      seqs[n] = seqs[i];
      n++;
    }
    events.length = times.length = seqs.length = n;
    this.#cancelled = 0;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#siftDown(i, events[i], times[i], seqs[i]);
  }
}
