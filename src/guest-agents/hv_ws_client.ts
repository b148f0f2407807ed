/**
 * @module
 * {@link HvWebSocketClient}: the guest process's end of the host's `/hv`
 * WebSocket route (`src/host/hv_websocket.ts`), the hypervisor as a guest in
 * another process reaches it. The first text frame is the domain's secret,
 * answered `ok <domid>`; then JSON text frames:
 *
 *   → {"id":1,"op":"hypercall","call":{...}}   ← {"id":1,"result":{...}}
 *   → {"id":2,"op":"attach"}                   ← {"id":2,"result":true}
 *       then upcalls ← {"upcall":"event","port":5} | {"upcall":"vcpuRun",...}
 *   → {"id":3,"op":"read","pfn":9,"offset":0,"length":16} ← {"id":3,"result":"<base64>"}
 *   → {"id":4,"op":"write","pfn":9,"offset":0,"bytes":"<base64>"} ← {"id":4,"result":0}
 *   ← {"id":..,"error":".."} for a request the host could not carry out
 *
 * Replies are matched to requests by id. At most
 * {@link HV_WS_OUTSTANDING_MAX} requests are on the wire; later ones wait
 * in order (at most {@link HV_WS_QUEUED_MAX}, then they are refused), so
 * the host sees every request in the order it was made. When the socket
 * closes, every request still waiting rejects with an error that names the
 * socket and the close code, and so does every later one.
 */
import type { Clock } from "../sim/clock.ts";
import type { GuestKernel } from "../hv/domain.ts";
import type { Hypercall, HypercallResult } from "../hv/hypercall.ts";
import { PAGE_SIZE } from "../hv/xen_abi.ts";

/** Requests sent and not yet answered, at most. */
export const HV_WS_OUTSTANDING_MAX = 256;
/** Requests waiting for a free slot, at most (then refused). */
export const HV_WS_QUEUED_MAX = 4096;
/** Longest reply frame accepted (the host's own frame bound). */
export const HV_WS_REPLY_BYTES_MAX = 1 << 20;
/** Default bound on connecting and authenticating. */
export const HV_WS_CONNECT_TIMEOUT_NS = 10_000_000_000;
/** Close code of a refused credential (the transport's). */
export const HV_WS_CLOSE_UNAUTHORIZED = 4401;
/** Close code this client uses when the host breaks the protocol. */
export const HV_WS_CLOSE_PROTOCOL_ERROR = 4002;

/** A request of the `/hv` protocol, without its id. */
export type HvRequest =
  | { op: "hypercall"; call: Hypercall }
  | { op: "attach" }
  | { op: "read"; pfn: number; offset: number; length: number }
  | { op: "write"; pfn: number; offset: number; bytes: string };

/** An upcall from the host (`GuestKernel` hooks as JSON). */
export type HvUpcall =
  | { upcall: "event"; port: number }
  | { upcall: "vcpuRun"; vcpu: number; ctx: Parameters<NonNullable<GuestKernel["vcpuRun"]>>[1] }
  | { upcall: "wake"; vcpu: number }
  | { upcall: "trigger"; trigger: number; vcpu: number };

/** How to connect. */
export interface HvWebSocketOptions {
  /** The host's `/hv` route, e.g. `ws://127.0.0.1:8080/hv`. */
  readonly url: string;
  /** The domain's secret (`$RUNDIR/domains/<id>/secret`). */
  readonly secret: string;
  /** Bounds the connect and the credential check (system time). */
  readonly clock: Clock;
  /** Default {@link HV_WS_CONNECT_TIMEOUT_NS}. */
  readonly connectTimeoutNs?: number;
  /** Default {@link HV_WS_OUTSTANDING_MAX}. */
  readonly outstandingMax?: number;
  /** Default {@link HV_WS_QUEUED_MAX}. */
  readonly queuedMax?: number;
}

interface Pending {
  readonly id: number;
  readonly frame: string;
  readonly what: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (e: Error) => void;
}

/** Base64 of `b` (page bytes in JSON). */
export function bytesToBase64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return btoa(s);
}

/** The bytes of base64 text `t`. */
export function base64ToBytes(t: string): Uint8Array {
  const s = atob(t);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Opens `opts.url`, presents the secret and resolves once the host said
 * `ok <domid>`. Rejects with an error naming the URL when the connection
 * is refused, the credential is refused (4401), or the timeout passes.
 */
export function connectHvWebSocket(opts: HvWebSocketOptions): Promise<HvWebSocketClient> {
  const { url, clock } = opts;
  const timeoutNs = opts.connectTimeoutNs ?? HV_WS_CONNECT_TIMEOUT_NS;
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      reject(new Error(`hv websocket ${url}: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      ws.onopen =
        ws.onmessage =
        ws.onclose =
        ws.onerror =
          null;
      try {
        ws.close();
      } catch { /* not open yet */ }
      reject(new Error(`hv websocket ${url}: ${why}`));
    };
    const timer = clock.setTimer(
      timeoutNs,
      () => fail(`no answer within ${timeoutNs / 1e9} s (connectTimeoutNs)`),
    );
    let opened = false;
    let error = "";
    ws.onopen = () => {
      opened = true;
      ws.send(opts.secret.trim());
    };
    // The close event that follows says what happened; this says how.
    ws.onerror = (ev) => (error = ev instanceof ErrorEvent ? ev.message : "");
    ws.onclose = (ev) => {
      const reason = ev.reason ? `: ${ev.reason}` : "";
      if (ev.code === HV_WS_CLOSE_UNAUTHORIZED) fail(`credential refused (${ev.code})${reason}`);
      else if (!opened) {
        fail(`cannot connect (${error || `code ${ev.code}`}); is the host running?`);
      } else fail(`closed before authentication (code ${ev.code})${reason}`);
    };
    ws.onmessage = (ev) => {
      const m = typeof ev.data === "string" ? /^ok (\d+)$/.exec(ev.data) : null;
      if (!m) {
        fail(`expected "ok <domid>" after the credential`);
        return;
      }
      settled = true;
      timer.cancel();
      resolve(new HvWebSocketClient(ws, url, Number(m[1]), opts));
    };
  });
}

/** An authenticated `/hv` connection of domain {@link domid}. */
export class HvWebSocketClient {
  readonly domid: number;
  readonly url: string;
  /** Resolves when the socket is gone: undefined after {@link close}, else why. */
  readonly closed: Promise<Error | undefined>;
  readonly #ws: WebSocket;
  readonly #outstandingMax: number;
  readonly #queuedMax: number;
  readonly #inflight = new Map<number, Pending>();
  readonly #waiting: Pending[] = [];
  #nextId = 1;
  #lost: Error | undefined;
  #done = false;
  #resolveClosed!: (e: Error | undefined) => void;
  #upcall: ((u: HvUpcall) => void) | undefined;

  constructor(ws: WebSocket, url: string, domid: number, opts: HvWebSocketOptions) {
    this.#ws = ws;
    this.url = url;
    this.domid = domid;
    this.#outstandingMax = opts.outstandingMax ?? HV_WS_OUTSTANDING_MAX;
    this.#queuedMax = opts.queuedMax ?? HV_WS_QUEUED_MAX;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    ws.onmessage = (ev) => this.#receive(ev.data);
    ws.onclose = (ev) => {
      const reason = ev.reason ? `: ${ev.reason}` : "";
      this.#finish(new Error(`hv websocket ${url}: closed by the host (code ${ev.code})${reason}`));
    };
  }

  /** Requests sent and not answered yet. */
  get outstanding(): number {
    return this.#inflight.size;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Where upcalls go (one handler; replaces any earlier one). */
  onUpcall(handler: ((u: HvUpcall) => void) | undefined): void {
    this.#upcall = handler;
  }

  /** A hypercall of this domain. */
  hypercall<C extends Hypercall>(call: C): Promise<HypercallResult<C>> {
    return this.request({ op: "hypercall", call }, `hypercall ${call.hc} ${call.op}`) as Promise<
      HypercallResult<C>
    >;
  }

  /** Reads `out.length` bytes of page `pfn` at `offset`; resolves 0 or -errno. */
  async readPage(pfn: number, offset: number, out: Uint8Array): Promise<number> {
    if (out.length > PAGE_SIZE) throw new RangeError(`read of ${out.length} bytes: over a page`);
    const r = await this.request(
      { op: "read", pfn, offset, length: out.length },
      `read pfn ${pfn}`,
    );
    if (typeof r === "number") return r;
    if (typeof r !== "string") throw new Error(`hv websocket ${this.url}: read: bad reply`);
    const bytes = base64ToBytes(r);
    out.set(bytes.subarray(0, out.length));
    return 0;
  }

  /** Writes `data` into page `pfn` at `offset`; resolves 0 or -errno. */
  async writePage(pfn: number, offset: number, data: Uint8Array): Promise<number> {
    const r = await this.request(
      { op: "write", pfn, offset, bytes: bytesToBase64(data) },
      `write pfn ${pfn}`,
    );
    if (typeof r !== "number") throw new Error(`hv websocket ${this.url}: write: bad reply`);
    return r;
  }

  /**
   * Sends one request (in order with every other) and resolves with the
   * host's `result`; rejects with the host's `error`, or when the socket is
   * gone or the queue is full.
   */
  request(req: HvRequest, what: string = req.op): Promise<unknown> {
    if (this.#lost) return Promise.reject(this.#lostError(what));
    if (this.#inflight.size >= this.#outstandingMax && this.#waiting.length >= this.#queuedMax) {
      return Promise.reject(
        new Error(
          `hv websocket ${this.url}: ${what}: ${this.#inflight.size} requests outstanding and ` +
            `${this.#waiting.length} queued (limits ${this.#outstandingMax}/${this.#queuedMax}); ` +
            "the host is not answering",
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const p: Pending = { id, frame: JSON.stringify({ id, ...req }), what, resolve, reject };
      if (this.#inflight.size < this.#outstandingMax) this.#send(p);
      else this.#waiting.push(p);
    });
  }

  /** Closes the socket; requests still pending reject. Idempotent. */
  close(): void {
    this.#finish(undefined, 1000, "guest closed");
  }

  #send(p: Pending): void {
    this.#inflight.set(p.id, p);
    this.#ws.send(p.frame);
  }

  #receive(data: unknown): void {
    if (this.#done) return;
    if (typeof data !== "string" || data.length > HV_WS_REPLY_BYTES_MAX) {
      this.#fail("expected JSON text frames of at most HV_WS_REPLY_BYTES_MAX bytes");
      return;
    }
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(data);
    } catch {
      this.#fail("a frame that is not JSON");
      return;
    }
    if (typeof m !== "object" || m === null) {
      this.#fail("a frame that is not a JSON object");
      return;
    }
    if (typeof m.upcall === "string") {
      this.#upcall?.(m as unknown as HvUpcall);
      return;
    }
    const p = typeof m.id === "number" ? this.#inflight.get(m.id) : undefined;
    if (p === undefined) {
      this.#fail(`a reply to no request (id ${JSON.stringify(m.id)})`);
      return;
    }
    this.#inflight.delete(p.id);
    if ("error" in m) p.reject(new Error(`hv websocket ${this.url}: ${p.what}: ${m.error}`));
    else p.resolve(m.result);
    const next = this.#waiting.shift();
    if (next !== undefined) this.#send(next);
  }

  #lostError(what: string): Error {
    const why = this.#lost?.message ?? "closed";
    return new Error(`${what}: no hypervisor connection (${why})`, { cause: this.#lost });
  }

  #fail(why: string): void {
    this.#finish(
      new Error(`hv websocket ${this.url}: the host broke the protocol: ${why}`),
      HV_WS_CLOSE_PROTOCOL_ERROR,
      why,
    );
  }

  #finish(why: Error | undefined, code?: number, reason?: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#lost = why ?? new Error(`hv websocket ${this.url}: closed by this guest`);
    this.#ws.onmessage = null;
    this.#ws.onclose = null;
    if (code !== undefined) {
      try {
        this.#ws.close(code, reason?.slice(0, 120));
      } catch { /* already closing */ }
    }
    const pending = [...this.#inflight.values(), ...this.#waiting.splice(0)];
    this.#inflight.clear();
    for (const p of pending) p.reject(this.#lostError(p.what));
    this.#resolveClosed(why);
  }
}
