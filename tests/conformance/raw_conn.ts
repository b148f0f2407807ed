/**
 * @module
 * {@link StreamRawConn}: the transport-independent half of a {@link RawConn}.
 * It is given a function that writes bytes and is fed the bytes that arrive
 * (`receive`, `receiveEnd`); it frames requests, reassembles messages with
 * the wire codec's {@link MessageParser}, matches replies to requests by
 * req_id and queues watch events. A Unix socket, a WebSocket or an
 * in-process pipe only have to move bytes (see `unix_raw_conn.ts`).
 */
import { type Message, writeHeader, XS_HEADER_BYTES } from "../../src/xenstore/wire/message.ts";
import { MessageParser } from "../../src/xenstore/wire/parser.ts";
import { Op, opName } from "../../src/xenstore/wire/op.ts";
import type { EventsOptions, RawConn, Reply, ReqArgs, ReqOptions, WatchEvent } from "./target.ts";

/** Default wait for a reply. */
export const REPLY_TIMEOUT_MS = 5000;
/** Most messages a connection keeps in {@link StreamRawConn.log}. */
export const LOG_MESSAGES_MAX = 100_000;

const utf8 = new TextEncoder();

/** Bytes of a string argument: UTF-8, as a C client passes its `char *`. */
export function argBytes(a: string | Uint8Array): Uint8Array {
  return typeof a === "string" ? utf8.encode(a) : a;
}

/**
 * The payload libxenstore (and `xsproto.py`'s `encode`) would send: every
 * argument NUL-terminated, except a WRITE with two arguments, whose value
 * goes raw without a terminator.
 */
export function encodeArgs(type: number, args: ReqArgs): Uint8Array {
  if (!Array.isArray(args)) return (args as { raw: Uint8Array }).raw;
  const parts = (args as readonly (string | Uint8Array)[]).map(argBytes);
  const rawLast = type === Op.WRITE && parts.length === 2;
  const size = parts.reduce((n, p) => n + p.length + 1, 0) - (rawLast ? 1 : 0);
  const out = new Uint8Array(size);
  let at = 0;
  parts.forEach((p, i) => {
    out.set(p, at);
    at += p.length + (rawLast && i === 1 ? 0 : 1);
  });
  return out;
}

/** One whole message: header then payload. */
export function frame(type: number, reqId: number, txId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(XS_HEADER_BYTES + payload.length);
  writeHeader(out, 0, type, reqId, txId, payload.length);
  out.set(payload, XS_HEADER_BYTES);
  return out;
}

/** Bytes as a string, one char per byte (true ISO-8859-1, round-trippable). */
export function byteString(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode(...b.subarray(i, i + 8192));
  }
  return s;
}

/** The NUL-terminated strings of a payload (an unterminated tail is kept too). */
export function splitNul(b: Uint8Array): string[] {
  const s = byteString(b);
  if (s === "") return [];
  const parts = s.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}

function toReply(m: Message): Reply {
  if (m.type !== Op.ERROR) return m;
  return { ...m, error: splitNul(m.payload)[0] ?? "" };
}

interface Pending {
  readonly type: number;
  readonly reqId: number;
  readonly resolve: (r: Reply) => void;
  readonly reject: (e: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** A {@link RawConn} over any byte stream. */
export class StreamRawConn implements RawConn {
  readonly log: Message[] = [];
  readonly closed: Promise<void>;
  readonly #write: (b: Uint8Array) => Promise<void>;
  readonly #onClose: () => void;
  readonly #parser = new MessageParser();
  readonly #pending: Pending[] = [];
  readonly #events: WatchEvent[] = [];
  #eventWaiter: (() => void) | null = null;
  #nextReqId = 1;
  #isClosed = false;
  #resolveClosed!: () => void;
  /** Replies that matched no request (kept for diagnostics). */
  readonly unmatched: Message[] = [];

  /**
   * @param write sends bytes to the server
   * @param onClose releases the transport when {@link close} is called
   */
  constructor(write: (b: Uint8Array) => Promise<void>, onClose: () => void) {
    this.#write = write;
    this.#onClose = onClose;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
  }

  /** Feeds bytes received from the server. */
  receive(chunk: Uint8Array): void {
    const { messages, failure } = this.#parser.push(chunk);
    for (const m of messages) this.#dispatch(m);
    if (failure) {
      this.#fail(new Error(`server sent a message of ${failure.len} bytes (> 4096)`));
    }
  }

  /** The server closed its side (or the transport failed). */
  receiveEnd(): void {
    this.#fail(new Error("connection closed by the server"));
  }

  #dispatch(m: Message): void {
    if (this.log.length < LOG_MESSAGES_MAX) this.log.push(m);
    if (m.type === Op.WATCH_EVENT) {
      const [path = "", token = ""] = splitNul(m.payload);
      this.#events.push({ path, token });
      this.#eventWaiter?.();
      return;
    }
    const i = this.#pending.findIndex((p) => p.reqId === m.reqId);
    if (i < 0) {
      this.unmatched.push(m);
      return;
    }
    const [p] = this.#pending.splice(i, 1);
    clearTimeout(p.timer);
    p.resolve(toReply(m));
  }

  #fail(e: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.#eventWaiter?.();
    this.#resolveClosed();
  }

  req(type: number, args: ReqArgs, opts: ReqOptions = {}): Promise<Reply> {
    if (this.#isClosed) {
      return Promise.reject(new Error(`${opName(type)}: connection is closed`));
    }
    const reqId = opts.reqId ?? this.#nextReqId++;
    const payload = encodeArgs(type, args);
    const timeoutMs = opts.timeoutMs ?? REPLY_TIMEOUT_MS;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#pending.findIndex((p) => p.timer === timer);
        if (i >= 0) this.#pending.splice(i, 1);
        reject(new Error(`${opName(type)} req_id ${reqId}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.push({ type, reqId, resolve, reject, timer });
      this.#write(frame(type, reqId, opts.txId ?? 0, payload)).catch((e) => {
        const i = this.#pending.findIndex((p) => p.timer === timer);
        if (i >= 0) this.#pending.splice(i, 1);
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  async events(opts: EventsOptions = {}): Promise<WatchEvent[]> {
    const timeoutMs = opts.timeoutMs ?? 1000;
    const quietMs = opts.quietMs ?? 30;
    if (this.#events.length === 0) await this.#arrival(timeoutMs);
    if (this.#events.length === 0) return [];
    // Keep collecting until a quiet period passes with nothing new.
    for (let seen = -1; seen !== this.#events.length && !this.#isClosed;) {
      seen = this.#events.length;
      await this.#arrival(quietMs);
    }
    return this.#events.splice(0);
  }

  /** Resolves on the next event, on close, or after `ms`. */
  #arrival(ms: number): Promise<void> {
    if (this.#isClosed || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#eventWaiter = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#eventWaiter = done;
    });
  }

  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#write(bytes);
  }

  close(): void {
    if (!this.#isClosed) this.#fail(new Error("connection closed by the client"));
    this.#onClose();
  }
}
