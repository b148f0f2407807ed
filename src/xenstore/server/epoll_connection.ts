/**
 * @module
 * {@link EpollConnection}: one accepted Unix-socket connection on an
 * {@link EpollLoop}, as the {@link Endpoint} of its {@link Session}. Bytes
 * are read when epoll says so and go straight into the session; a batch of
 * replies and events leaves with one non-blocking `send`, and only when the
 * peer's socket buffer is full does the rest wait for `EPOLLOUT` (the
 * session then counts it as outstanding, as with any slow write).
 *
 * Back-pressure as in every backend ({@link mustWaitForDrain}): a guest's
 * connection stops being read while `outstanding` messages are unsent, and
 * is read again once they are.
 */
import type { Message } from "../wire/message.ts";
import { batchBytes, encodeBatchInto } from "./encode_batch.ts";
import type { EpollLoop } from "./epoll_loop.ts";
import {
  EAGAIN,
  EINTR,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  errno,
  libc,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
} from "./libc.ts";
import type { Endpoint, Session } from "./session.ts";
import { mustWaitForDrain } from "./socket_io.ts";

export class EpollConnection implements Endpoint {
  readonly #loop: EpollLoop;
  readonly #fd: number;
  readonly #token: number;
  /** The transport's read buffer, shared by its connections (handlers never overlap). */
  readonly #buf: Uint8Array;
  /** The transport's write buffer, likewise shared (a batch is sent before the next). */
  readonly #out: Uint8Array;
  readonly #outstandingMax: number;
  readonly #onClosed: (c: EpollConnection) => void;
  #session!: Session;
  /** Bytes of the last batch the socket did not take yet. */
  #unsent: Uint8Array | undefined;
  #unsentDone: (() => void) | undefined;
  #paused = false;
  #closed = false;

  /**
   * Takes ownership of the accepted, non-blocking socket `fd`; `open` makes
   * its session (with this as the endpoint).
   */
  constructor(
    loop: EpollLoop,
    fd: number,
    buf: Uint8Array,
    out: Uint8Array,
    outstandingMax: number,
    open: (endpoint: Endpoint) => Session,
    onClosed: (c: EpollConnection) => void,
  ) {
    this.#loop = loop;
    this.#fd = fd;
    this.#buf = buf;
    this.#out = out;
    this.#outstandingMax = outstandingMax;
    this.#onClosed = onClosed;
    this.#token = loop.add(fd, EPOLLIN, (events) => this.#ready(events));
    this.#session = open(this);
  }

  get session(): Session {
    return this.#session;
  }

  #ready(events: number): void {
    if (events & EPOLLOUT) this.#sendUnsent();
    if (this.#closed) return;
    if (this.#paused) {
      // Not reading; a reset or hang-up still ends the connection.
      if (events & (EPOLLHUP | EPOLLERR)) this.#session.close("peer closed");
      return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) this.#read();
  }

  #read(): void {
    const n = libc().read(this.#fd, this.#buf, this.#buf.length);
    if (n > 0) {
      this.#session.receive(this.#buf.subarray(0, n));
      if (mustWaitForDrain(this.#session, this.#outstandingMax)) this.#pause();
      return;
    }
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return;
    }
    this.#session.close("peer closed");
  }

  /** Guests: stop reading until every outstanding message is written (§7.1). */
  #pause(): void {
    this.#paused = true;
    this.#watch();
    this.#session.drained().then(() => {
      if (this.#closed) return;
      this.#paused = false;
      this.#watch();
    });
  }

  #watch(): void {
    if (this.#closed) return;
    const events = (this.#paused ? 0 : EPOLLIN) | (this.#unsent ? EPOLLOUT : 0);
    this.#loop.modify(this.#fd, this.#token, events);
  }

  write(batch: readonly Message[]): Promise<void> | void {
    if (this.#closed) return;
    const size = batchBytes(batch);
    const out = size <= this.#out.length ? this.#out : new Uint8Array(size);
    encodeBatchInto(out, batch);
    const bytes = out.subarray(0, size);
    const n = this.#send(bytes);
    if (n === size) return;
    // The shared buffer is the next write's: keep a copy of the rest.
    this.#unsent = bytes.slice(n);
    this.#watch();
    return new Promise((resolve) => (this.#unsentDone = resolve));
  }

  /** Sends what it can of `bytes`; throws if the socket is broken. */
  #send(bytes: Uint8Array): number {
    const n = libc().send(this.#fd, bytes, bytes.length, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN || e === EINTR) return 0;
    throw new Error(`send: errno ${e}`);
  }

  #sendUnsent(): void {
    const rest = this.#unsent;
    if (!rest || this.#closed) return;
    let n: number;
    try {
      n = this.#send(rest);
    } catch (e) {
      this.#session.close(`write failed: ${e}`);
      return;
    }
    if (n < rest.length) {
      this.#unsent = rest.subarray(n);
      return;
    }
    this.#unsent = undefined;
    const done = this.#unsentDone;
    this.#unsentDone = undefined;
    this.#watch();
    done?.();
  }

  close(_reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#loop.remove(this.#fd, this.#token);
    libc().close(this.#fd);
    this.#unsent = undefined;
    this.#unsentDone?.();
    this.#unsentDone = undefined;
    this.#onClosed(this);
  }
}
