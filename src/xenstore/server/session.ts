/**
 * @module
 * One client connection as a transport sees it: bytes in (through the
 * incremental parser, into the engine), messages out (batched, with the C
 * daemon's duplicate-event suppression, XSA-326, and a bound). Every
 * transport — Unix socket, WebSocket, in-process — wraps its endpoint in a
 * {@link Session}; only how bytes move differs.
 */
import type { Connection } from "../connection.ts";
import { type Message, XS_HEADER_BYTES } from "../wire/message.ts";
import { MessageParser } from "../wire/parser.ts";
import { Op } from "../wire/op.ts";
import { latin1 } from "../wire/message.ts";

/** Where a session's outgoing messages go. */
export interface Endpoint {
  /** Takes a batch of messages; a promise means "busy until it settles". */
  write(batch: readonly Message[]): Promise<void> | void;
  close(reason: string): void;
}

/** Bytes of output a session may hold unsent before it is cut off. */
export const SESSION_PENDING_BYTES_MAX = 32 * 1024 * 1024;
/**
 * `--timeout watch-event` of the C daemon (xenstore-protocol.md §4.7): an
 * unprivileged watcher's event still unsent after this long is discarded.
 */
export const WATCH_EVENT_TIMEOUT_NS = 20 * 1_000_000_000;

/** What the session needs from the server that owns it. */
export interface SessionHost {
  /** Runs one request through the engine and delivers every outgoing message. */
  request(session: Session, msg: Message): void;
  /** Sends everything that was queued (end of a burst of input). */
  flush(): void;
  /** The session is gone. */
  closed(session: Session): void;
  /** The peer broke the protocol (an over-long header). */
  violation(session: Session): void;
  log(line: string): void;
  /** Current time, for the watch-event timeout. */
  nowNs(): number;
}

export class Session {
  readonly conn: Connection;
  readonly #host: SessionHost;
  readonly #endpoint: Endpoint;
  /** Every message is handled before `receive` returns: payloads may alias the chunk. */
  readonly #parser = new MessageParser({ alias: true });
  #pending: Message[] = [];
  /** When each pending message was queued (same index as #pending). */
  #pendingAt: number[] = [];
  #pendingBytes = 0;
  readonly #pendingEvents = new Set<string>();
  #writing = false;
  #inFlight = 0;
  #closed = false;
  #drained: (() => void) | undefined;

  constructor(host: SessionHost, conn: Connection, endpoint: Endpoint) {
    this.#host = host;
    this.conn = conn;
    this.#endpoint = endpoint;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes from the peer, in any chunking. */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    const { messages, failure } = this.#parser.push(chunk);
    for (const m of messages) {
      if (this.#closed) break;
      this.#host.request(this, m);
    }
    if (failure && !this.#closed) {
      // A header claiming more than 4096 bytes (xenstore-protocol.md §1.6):
      // a socket connection is dropped on the spot, a guest's ring ignored.
      this.#host.log(`connection ${this.conn.id}: header claims ${failure.len} bytes`);
      this.#host.violation(this);
    }
    this.#host.flush();
  }

  /** A whole message from an in-process peer. */
  receiveMessage(m: Message): void {
    if (this.#closed) return;
    this.#host.request(this, m);
    this.#host.flush();
  }

  /** Queues a message for the peer; identical queued events are dropped. */
  enqueue(m: Message): boolean {
    if (this.#closed) return false;
    const size = XS_HEADER_BYTES + m.payload.length;
    if (m.type === Op.WATCH_EVENT) {
      // An event identical to one still unsent is dropped (XSA-326), except
      // for the special `@` watches, which are never merged (outbox.ts).
      const special = m.payload[0] === 0x40; // '@'
      const key = latin1(m.payload);
      if (!special && this.#pendingEvents.has(key)) return false;
      if (this.#pendingBytes + size > SESSION_PENDING_BYTES_MAX) return false;
      if (!special) this.#pendingEvents.add(key);
    } else if (this.#pendingBytes + size > SESSION_PENDING_BYTES_MAX) {
      this.#host.log(`connection ${this.conn.id}: peer is not reading, dropped`);
      this.close("output limit reached");
      return false;
    }
    this.#pending.push(m);
    this.#pendingAt.push(this.conn.privileged ? 0 : this.#host.nowNs());
    this.#pendingBytes += size;
    return true;
  }

  /** Messages queued or being written: the C daemon's "outstanding". */
  get outstanding(): number {
    return this.#pending.length + this.#inFlight;
  }

  /** Resolves once nothing is outstanding (for input back-pressure). */
  drained(): Promise<void> {
    if (this.outstanding === 0 || this.#closed) return Promise.resolve();
    return new Promise((r) => (this.#drained = r));
  }

  /** Hands queued messages to the endpoint unless a write is in progress. */
  flush(): void {
    if (this.#writing || this.#closed || this.#pending.length === 0) return;
    const batch = this.conn.privileged ? this.#pending : this.#withoutStaleEvents();
    this.#pending = [];
    this.#pendingAt = [];
    this.#pendingBytes = 0;
    this.#pendingEvents.clear();
    this.#inFlight = batch.length;
    let r: Promise<void> | void;
    try {
      r = this.#endpoint.write(batch);
    } catch (e) {
      this.close(`write failed: ${e}`);
      return;
    }
    if (r) {
      this.#writing = true;
      r.then(() => this.#written(), (e) => this.close(`write failed: ${e}`));
    } else {
      this.#written();
    }
  }

  /** Pending messages less the events queued more than 20 s ago (§4.7). */
  #withoutStaleEvents(): Message[] {
    const limit = this.#host.nowNs() - WATCH_EVENT_TIMEOUT_NS;
    const kept = this.#pending.filter((m, i) =>
      m.type !== Op.WATCH_EVENT || this.#pendingAt[i] >= limit
    );
    if (kept.length !== this.#pending.length) {
      this.#host.log(
        `connection ${this.conn.id}: ${
          this.#pending.length - kept.length
        } stale watch events dropped`,
      );
    }
    return kept;
  }

  #written(): void {
    this.#writing = false;
    this.#inFlight = 0;
    this.flush();
    if (this.outstanding === 0 && this.#drained) {
      const d = this.#drained;
      this.#drained = undefined;
      d();
    }
  }

  close(reason = "closed"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#pendingAt = [];
    this.#endpoint.close(reason);
    this.#drained?.();
    this.#host.closed(this);
  }
}
