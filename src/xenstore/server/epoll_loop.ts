/**
 * @module
 * {@link EpollLoop}: a Linux epoll event loop driven from JavaScript through
 * FFI, for transports whose every round trip counts. Deno's own socket I/O
 * resolves a promise per read and per write; here a ready descriptor's
 * handler runs synchronously, straight from `epoll_wait`.
 *
 * Why it spins: on a virtual machine a thread that sleeps costs a wake-up
 * (an IPI and a host reschedule) when its next request comes, and that is
 * most of a round trip. Measured on the 2-vCPU development VM, quiet, with
 * a C ping-pong client (40-byte messages; median of 5 runs of 30,000 round
 * trips): a C epoll echo server 57 µs per round trip, Deno's socket API
 * 38 µs, this loop without a spin 52 µs (blocking on the JS thread) or
 * 61 µs (parked on Deno's thread pool: two threads wake in turn); with a
 * 100 µs spin the C server takes 19 µs and this loop 24 µs.
 *
 * The phases, each bounded:
 *
 * 1. **Busy**: while descriptors are ready, it handles them with
 *    `epoll_wait(…, 0)` calls, for at most {@link EPOLL_BURST_MS} in a row.
 * 2. **Spin**: once nothing is ready it keeps polling for `spinUs` more
 *    microseconds. A sequential client (libxenstore waits for each reply
 *    before its next request) sends the next request within tens of
 *    microseconds and is caught without any wake-up on this side. Between
 *    polls it calls `sched_yield`, so a client thread queued on this CPU
 *    runs at once. Spinning pauses (5 ms, doubling up to 1 s while it
 *    keeps failing) when the thread loses its CPU for a time slice (others
 *    want the CPUs: spinning would only slow them) and after
 *    {@link EPOLL_SPIN_MISSES_MAX} spins in a row that caught nothing; on a
 *    one-CPU machine it never spins.
 * 3. **Parked** ({@link EpollPark}): `thread` waits in `epoll_wait(…, -1)`
 *    on Deno's blocking pool (an FFI `nonblocking` call), leaving the JS
 *    thread to Deno; `block` waits on the JS thread itself, one wake-up
 *    like a C daemon, for processes that need their JS thread for nothing
 *    else. {@link EpollLoop.stop} wakes either through an eventfd.
 *
 * Worked example, one client doing write after write: the first request
 * wakes the parked wait; its reply goes out with one `send`; the client's
 * next request arrives ~20 µs later, inside the spin, and is handled at
 * once; and so on until the client stops, when the loop parks again after
 * `spinUs`. Every {@link EPOLL_BURST_MS} it gives Deno's event loop a turn.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import {
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_DATA_OFFSET,
  EPOLL_EVENT_BYTES,
  EPOLLIN,
  errno,
  libc,
} from "./libc.ts";

/** Ready descriptors taken from the kernel per `epoll_wait`. */
export const EPOLL_EVENTS_MAX = 256;
/** Longest stretch of handling without giving the JS thread back. */
export const EPOLL_BURST_MS = 4;
/** Default spin after the last ready descriptor (µs); 0 parks at once. */
export const EPOLL_SPIN_US_DEFAULT = 100;
/** Longest spin allowed: a spin holds the JS thread (bounded by the burst too). */
export const EPOLL_SPIN_US_MAX = 1000;
/** Longest wait of a blocking park before Deno's event loop gets a turn anyway. */
export const EPOLL_BLOCK_MS = 500;
/**
 * A gap this long between two polls of a spin means the thread lost its
 * CPU for a time slice: the CPUs are contended.
 */
export const EPOLL_PREEMPTED_MS = 0.5;
/** Spins in a row that catch nothing before spinning pauses. */
export const EPOLL_SPIN_MISSES_MAX = 4;
/** First pause of spinning after contention or misses; it doubles while they go on. */
export const EPOLL_SPIN_BACKOFF_MIN_MS = 5;
/** Longest pause of spinning. */
export const EPOLL_SPIN_BACKOFF_MAX_MS = 1000;
/** Most registered descriptors (listeners and connections) of one loop. */
export const EPOLL_FDS_MAX = 65_536;

/** Called with the `epoll_event` mask when a registered descriptor is ready. */
export type ReadyHandler = (events: number) => void;

/**
 * How the loop waits once there is nothing to do: `thread` parks the wait
 * on Deno's blocking pool and leaves the JS thread to Deno (a ready socket
 * then wakes two threads in turn); `block` waits on the JS thread itself
 * (one wake-up, as for a C daemon), for processes where nothing else needs
 * that thread promptly — Deno's event loop gets a turn only after each
 * burst and each {@link EPOLL_BLOCK_MS}.
 */
export type EpollPark = "thread" | "block";

export interface EpollLoopOptions {
  /** Spin after the last ready descriptor, in µs (default {@link EPOLL_SPIN_US_DEFAULT}). */
  readonly spinUs?: number;
  /** Default `thread`. */
  readonly park?: EpollPark;
  /** Most registered descriptors (default {@link EPOLL_FDS_MAX}). */
  readonly fdsMax?: number;
  /** `block` only: longest wait before a turn of Deno's event loop (default {@link EPOLL_BLOCK_MS}). */
  readonly blockMs?: number;
}

export class EpollLoop {
  readonly #ep: number;
  readonly #wake: number;
  readonly #handlers = new Map<number, ReadyHandler>();
  #nextToken = 1;
  readonly #events = new Uint8Array(EPOLL_EVENTS_MAX * EPOLL_EVENT_BYTES);
  readonly #eventsView = new DataView(this.#events.buffer);
  /** Written by the parked call's thread; read only after it returns. */
  readonly #parked = new Uint8Array(EPOLL_EVENTS_MAX * EPOLL_EVENT_BYTES);
  readonly #parkedView = new DataView(this.#parked.buffer);
  readonly #ctl = new Uint8Array(EPOLL_EVENT_BYTES);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  readonly #spinMs: number;
  readonly #park: EpollPark;
  readonly #fdsMax: number;
  readonly #blockMs: number;
  /** Spinning is off until then (ms, `performance.now()`): contention seen. */
  #spinOffUntil = 0;
  /** Spins in a row that caught nothing. */
  #misses = 0;
  #spinPauses = 0;
  /** Length of the next pause of spinning. */
  #backoffMs = EPOLL_SPIN_BACKOFF_MIN_MS;
  #stopping = false;
  #done: Promise<void> | undefined;

  constructor(opts: EpollLoopOptions = {}) {
    const spinUs = opts.spinUs ?? EPOLL_SPIN_US_DEFAULT;
    assert(spinUs >= 0 && spinUs <= EPOLL_SPIN_US_MAX, `spin ${spinUs} µs out of range`);
    // On one CPU a spin only keeps the client from running.
    this.#spinMs = navigator.hardwareConcurrency > 1 ? spinUs / 1000 : 0;
    this.#park = opts.park ?? "thread";
    this.#fdsMax = opts.fdsMax ?? EPOLL_FDS_MAX;
    this.#blockMs = opts.blockMs ?? EPOLL_BLOCK_MS;
    const c = libc();
    this.#ep = c.epoll_create1(EPOLL_CLOEXEC);
    if (this.#ep < 0) throw new Error(`epoll_create1 failed: errno ${errno()}`);
    this.#wake = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#wake < 0) throw new Error(`eventfd failed: errno ${errno()}`);
    this.#ctlAt(EPOLL_CTL_ADD, this.#wake, EPOLLIN, 0);
  }

  /** How many times spinning was paused so far (contention, or spins catching nothing). */
  get spinPauses(): number {
    return this.#spinPauses;
  }

  /** False while spinning is paused (contention, or spins catching nothing). */
  get spinning(): boolean {
    return this.#spinMs > 0 && performance.now() >= this.#spinOffUntil;
  }

  /** Number of registered descriptors. */
  get size(): number {
    return this.#handlers.size;
  }

  /** Registers `fd` for `events`; returns the token that names it here. */
  add(fd: number, events: number, handler: ReadyHandler): number {
    if (this.#handlers.size >= this.#fdsMax) {
      throw new Error(`epoll loop: ${this.#fdsMax} descriptors registered (limit)`);
    }
    let token = this.#nextToken;
    while (token === 0 || this.#handlers.has(token)) token = (token + 1) >>> 0;
    this.#nextToken = (token + 1) >>> 0;
    this.#ctlAt(EPOLL_CTL_ADD, fd, events, token);
    this.#handlers.set(token, handler);
    return token;
  }

  /** Changes the events `fd` (registered as `token`) is watched for. */
  modify(fd: number, token: number, events: number): void {
    this.#ctlAt(EPOLL_CTL_MOD, fd, events, token);
  }

  /** Unregisters `fd`; a ready event already taken for it is dropped. */
  remove(fd: number, token: number): void {
    if (!this.#handlers.delete(token)) return;
    libc().epoll_ctl(this.#ep, EPOLL_CTL_DEL, fd, this.#ctl);
  }

  #ctlAt(op: number, fd: number, events: number, token: number): void {
    this.#ctlView.setUint32(0, events, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET, token, true);
    this.#ctlView.setUint32(EPOLL_DATA_OFFSET + 4, 0, true);
    if (libc().epoll_ctl(this.#ep, op, fd, this.#ctl) !== 0) {
      throw new Error(`epoll_ctl(${op}, fd ${fd}) failed: errno ${errno()}`);
    }
  }

  /** Starts the loop; it runs until {@link stop}. */
  start(): void {
    this.#done ??= this.#run();
  }

  async #run(): Promise<void> {
    const c = libc();
    await Promise.resolve(); // start() returns before the loop first blocks
    let lastYield = performance.now();
    while (!this.#stopping) {
      this.#busy();
      if (this.#stopping) break;
      if (this.#park === "thread") {
        const n = await c.epoll_wait_parked(this.#ep, this.#parked, EPOLL_EVENTS_MAX, -1);
        if (n > 0) this.#dispatch(this.#parkedView, n);
        continue;
      }
      // Blocking on the JS thread itself: give Deno's event loop a turn
      // after every burst, and after every timeout or signal.
      if (performance.now() - lastYield >= EPOLL_BURST_MS) {
        await new Promise((r) => setImmediate(r));
        lastYield = performance.now();
      }
      const n = c.epoll_wait(this.#ep, this.#events, EPOLL_EVENTS_MAX, this.#blockMs);
      if (n > 0) {
        this.#dispatch(this.#eventsView, n);
      } else {
        await new Promise((r) => setTimeout(r, 0));
        lastYield = performance.now();
      }
    }
  }

  /** Phases 1 and 2: handle what is ready, then spin for more. */
  #busy(): void {
    const c = libc();
    const start = performance.now();
    const spinMs = start < this.#spinOffUntil ? 0 : this.#spinMs;
    let last = start;
    let prev = start;
    let polledEmpty = false;
    let caught = false;
    for (;;) {
      const n = c.epoll_wait(this.#ep, this.#events, EPOLL_EVENTS_MAX, 0);
      const now = performance.now();
      if (n > 0) {
        caught ||= polledEmpty;
        polledEmpty = false;
        this.#dispatch(this.#eventsView, n);
        last = prev = performance.now();
        if (this.#stopping || last - start >= EPOLL_BURST_MS) break;
        continue;
      }
      if (n < 0 && errno() !== EINTR) throw new Error(`epoll_wait failed: errno ${errno()}`);
      polledEmpty = true;
      if (now - last >= spinMs || now - start >= EPOLL_BURST_MS) break;
      if (now - prev >= EPOLL_PREEMPTED_MS) {
        // Off the CPU for a whole time slice between two polls: another
        // task wants this CPU, and spinning would keep it from it. (A
        // client thread taking the CPU for a few microseconds is fine.)
        this.#spinOff();
        return;
      }
      // A thread of the client woken by the reply may be queued on this
      // CPU: let it run now rather than when the scheduler preempts us.
      c.sched_yield();
      prev = now;
    }
    if (spinMs === 0) return;
    if (caught) {
      this.#misses = 0;
      this.#backoffMs = EPOLL_SPIN_BACKOFF_MIN_MS;
    } else if (++this.#misses >= EPOLL_SPIN_MISSES_MAX) {
      // Spins that catch nothing cost CPU for nothing (a client pausing
      // just longer than the spin, or none at all).
      this.#spinOff();
    }
  }

  /** Pauses spinning, for longer each time it is paused again without a catch. */
  #spinOff(): void {
    this.#spinPauses++;
    this.#spinOffUntil = performance.now() + this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, EPOLL_SPIN_BACKOFF_MAX_MS);
    this.#misses = 0;
  }

  #dispatch(view: DataView, n: number): void {
    for (let i = 0; i < n; i++) {
      const at = i * EPOLL_EVENT_BYTES;
      const token = view.getUint32(at + EPOLL_DATA_OFFSET, true);
      if (token === 0) {
        libc().read(this.#wake, this.#ctl, 8);
        continue;
      }
      this.#handlers.get(token)?.(view.getUint32(at, true));
    }
  }

  /**
   * Ends the loop (waking it if parked) and closes its descriptors. Handlers
   * are not called again; their descriptors are their owners' to close.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return await this.#done;
    this.#stopping = true;
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this.#wake, one, 8);
    await this.#done;
    this.#handlers.clear();
    libc().close(this.#wake);
    libc().close(this.#ep);
  }
}
