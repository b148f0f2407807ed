/**
 * @module
 * {@link XsClient}: the xenstore client library over any {@link XsLink}.
 *
 * Requests are multiplexed on one connection: each gets the next `req_id`
 * and replies are matched by it (xenstore-protocol.md §1.5), so many may be
 * in flight at once (at most {@link OUTSTANDING_REQUESTS_MAX}; up to
 * {@link QUEUED_REQUESTS_MAX} more wait their turn); a payload over
 * `XENSTORE_PAYLOAD_MAX` is refused with `E2BIG` before it is sent, as
 * libxenstore does. `WATCH_EVENT`s are demultiplexed to {@link XsWatch}
 * handles (§4). An `XS_ERROR` reply rejects with an `XsError` carrying its
 * errno name; a reply that breaks the protocol (unknown `req_id`, wrong
 * type, changed `tx_id`) ends the connection, and a lost connection rejects
 * every pending request with an {@link XsConnectionLostError}.
 *
 * Paths and tokens are strings of bytes (latin1, like the wire codec);
 * string values are written as UTF-8 and `readString` decodes UTF-8.
 *
 * @example
 * ```ts ignore
 * import { XsClient } from "./client.ts";
 * import { connectUnix } from "./unix_link.ts";
 * const xs = new XsClient(await connectUnix("/tmp/xc1/socket"));
 * await xs.write("/data/x", "1");
 * await xs.transaction(async (tx) => {
 *   const n = Number(await xs.readString("/data/x", tx));
 *   await xs.write("/data/x", String(n + 1), tx);
 * });
 * for await (const ev of await xs.watch("/data")) console.log(ev.path);
 * ```
 */
import { errnoFromName, XsError } from "../wire/errno.ts";
import { fromLatin1, latin1, nulJoin, XENSTORE_PAYLOAD_MAX } from "../wire/message.ts";
import { Op, opName } from "../wire/op.ts";
import { XsConnectionLostError } from "./connection_lost_error.ts";
import type { XsLink } from "./link.ts";
import { formatPerm, parsePerms, type XsPerm } from "./perms.ts";
import { DIRECTORY_PART_REQUESTS_MAX, directoryPart } from "./directory_part.ts";
import { replyStrings, replyText } from "./replies.ts";
import { WATCH_QUEUE_MAX, WatchRegistry, XsWatch } from "./watch.ts";

/** Requests sent and not yet answered, per client. */
export const OUTSTANDING_REQUESTS_MAX = 256;
/** Requests waiting for a free slot; beyond this a request is refused. */
export const QUEUED_REQUESTS_MAX = 4096;
/** Default retries of {@link XsClient.transaction} after `EAGAIN` at commit. */
export const TRANSACTION_RETRIES_MAX = 16;

/** Limits of one client; every field defaults to the constant of its name. */
export interface XsClientOptions {
  readonly outstandingMax?: number;
  readonly queuedMax?: number;
  readonly directoryPartRequestsMax?: number;
  readonly watchQueueMax?: number;
  /** The first req_id (default 1); tests use it to reach the wrap-around. */
  readonly firstReqId?: number;
}

/** Options of {@link XsClient.watch}. */
export interface XsWatchOptions {
  /** Bound of this handle's event queue (default {@link WATCH_QUEUE_MAX}). */
  readonly queueMax?: number;
}

/** Options of {@link XsClient.transaction}. */
export interface XsTransactionOptions {
  /** Retries after `EAGAIN` (default {@link TRANSACTION_RETRIES_MAX}). */
  readonly retriesMax?: number;
}

interface Pending {
  readonly type: number;
  readonly txId: number;
  readonly payload: Uint8Array;
  readonly what: string;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (e: Error) => void;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const NUL = nulJoin([""]);

/** A xenstore client over one link. */
export class XsClient {
  /** Resolves when the connection is gone (see {@link XsLink.closed}). */
  readonly closed: Promise<Error | undefined>;
  /** Watch registrations of this client (used by its {@link XsWatch} handles). */
  readonly registry = new WatchRegistry();
  readonly #link: XsLink;
  readonly #outstandingMax: number;
  readonly #queuedMax: number;
  readonly #directoryPartRequestsMax: number;
  readonly #watchQueueMax: number;
  readonly #inflight = new Map<number, Pending>();
  #waiting: Pending[] = [];
  #nextReqId = 1;
  #nextToken = 1;
  #lost: Error | undefined;

  constructor(link: XsLink, options: XsClientOptions = {}) {
    this.#link = link;
    this.#outstandingMax = options.outstandingMax ?? OUTSTANDING_REQUESTS_MAX;
    this.#queuedMax = options.queuedMax ?? QUEUED_REQUESTS_MAX;
    this.#directoryPartRequestsMax = options.directoryPartRequestsMax ??
      DIRECTORY_PART_REQUESTS_MAX;
    this.#watchQueueMax = options.watchQueueMax ?? WATCH_QUEUE_MAX;
    this.#nextReqId = options.firstReqId ?? 1;
    this.closed = link.closed;
    link.onMessage((m) => this.#receive(m.type, m.reqId, m.txId, m.payload));
    link.closed.then((why) => this.#shutdown(why ?? new Error("closed by this client")));
  }

  /** Requests sent and not answered yet. */
  get outstanding(): number {
    return this.#inflight.size;
  }

  /** Closes the connection; pending requests reject. */
  close(): void {
    this.#link.close();
  }

  /**
   * Sends one request and resolves with the reply payload; the building
   * block of every typed method. Rejects with `XsError` on `XS_ERROR`.
   */
  request(type: number, payload: Uint8Array, tx = 0, what = opName(type)): Promise<Uint8Array> {
    if (this.#lost) {
      return Promise.reject(
        new XsConnectionLostError(`${what}: xenstore connection is closed`, this.#lost),
      );
    }
    if (payload.length > XENSTORE_PAYLOAD_MAX) {
      // As libxenstore: never send it, the server would drop the connection (§1.6).
      return Promise.reject(
        new XsError(
          "E2BIG",
          `${what}: payload of ${payload.length} bytes (limit ${XENSTORE_PAYLOAD_MAX})`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const p: Pending = { type, txId: tx, payload, what, resolve, reject };
      if (this.#inflight.size < this.#outstandingMax) {
        this.#dispatch(p);
      } else if (this.#waiting.length < this.#queuedMax) {
        this.#waiting.push(p);
      } else {
        reject(
          new Error(
            `${what}: ${this.#inflight.size} requests in flight and ${this.#waiting.length} ` +
              `queued (limits ${this.#outstandingMax} and ${this.#queuedMax}); ` +
              `await some replies before sending more`,
          ),
        );
      }
    });
  }

  // --- nodes ----------------------------------------------------------------

  /** READ: the node's raw value. */
  read(path: string, tx = 0): Promise<Uint8Array> {
    return this.request(Op.READ, nulJoin([path]), tx, `READ ${path}`);
  }

  /** READ, decoded as UTF-8. */
  async readString(path: string, tx = 0): Promise<string> {
    return utf8Decoder.decode(await this.read(path, tx));
  }

  /** WRITE: creates the node (and missing parents) or replaces its value. */
  async write(path: string, value: string | Uint8Array, tx = 0): Promise<void> {
    const v = typeof value === "string" ? utf8.encode(value) : value;
    const p = fromLatin1(path);
    const payload = new Uint8Array(p.length + 1 + v.length);
    payload.set(p);
    payload.set(v, p.length + 1);
    await this.request(Op.WRITE, payload, tx, `WRITE ${path}`);
  }

  /** MKDIR: creates the node with an empty value; OK if it exists. */
  async mkdir(path: string, tx = 0): Promise<void> {
    await this.request(Op.MKDIR, nulJoin([path]), tx, `MKDIR ${path}`);
  }

  /** RM: removes the node and its subtree. */
  async rm(path: string, tx = 0): Promise<void> {
    await this.request(Op.RM, nulJoin([path]), tx, `RM ${path}`);
  }

  /**
   * True if READ succeeds, false on `ENOENT`. Other errors (e.g. `EACCES`
   * for a node below an unreadable parent, §2.7) are thrown.
   */
  async exists(path: string, tx = 0): Promise<boolean> {
    try {
      await this.read(path, tx);
      return true;
    } catch (e) {
      if (e instanceof XsError && e.errno === "ENOENT") return false;
      throw e;
    }
  }

  /**
   * DIRECTORY: child names in server order. A list over 4096 bytes makes
   * the server answer `E2BIG`; then, as libxenstore does, it is fetched with
   * `DIRECTORY_PART` (§2.6), and `ENOSYS` there becomes `E2BIG`.
   */
  async directory(path: string, tx = 0): Promise<string[]> {
    try {
      return replyStrings(
        await this.request(Op.DIRECTORY, nulJoin([path]), tx, `DIRECTORY ${path}`),
      );
    } catch (e) {
      if (!(e instanceof XsError) || e.errno !== "E2BIG") throw e;
    }
    return await directoryPart(
      (off) =>
        this.request(Op.DIRECTORY_PART, nulJoin([path, off]), tx, `DIRECTORY_PART ${path} ${off}`),
      path,
      this.#directoryPartRequestsMax,
    );
  }

  /** GET_PERMS: owner entry first (§3). */
  async getPerms(path: string, tx = 0): Promise<XsPerm[]> {
    const reply = await this.request(Op.GET_PERMS, nulJoin([path]), tx, `GET_PERMS ${path}`);
    return parsePerms(replyStrings(reply));
  }

  /** SET_PERMS: replaces the node's permission list. */
  async setPerms(path: string, perms: readonly XsPerm[], tx = 0): Promise<void> {
    const payload = nulJoin([path, ...perms.map(formatPerm)]);
    await this.request(Op.SET_PERMS, payload, tx, `SET_PERMS ${path}`);
  }

  // --- watches ----------------------------------------------------------------

  /**
   * WATCH: resolves with a handle once the server said OK. Iterate it for
   * events; the first is the initial event for `path` itself (§4.1).
   * `token` defaults to a token unique in this client.
   */
  async watch(path: string, token?: string, options: XsWatchOptions = {}): Promise<XsWatch> {
    const handle = this.watchHandle(options);
    await handle.add(path, token ?? `xsclient-${this.#nextToken++}`);
    return handle;
  }

  /**
   * An empty handle; {@link XsWatch.add} registers paths on it, and its
   * iterator yields all their events in arrival order.
   */
  watchHandle(options: XsWatchOptions = {}): XsWatch {
    return new XsWatch(this, options.queueMax ?? this.#watchQueueMax);
  }

  /** UNWATCH one (path, token); local handles stop receiving its events. */
  async unwatch(path: string, token: string): Promise<void> {
    this.registry.removeKey(path, token);
    await this.watchRequest("UNWATCH", path, token);
  }

  /** Internal: sends WATCH or UNWATCH (used by {@link XsWatch}). */
  async watchRequest(op: "WATCH" | "UNWATCH", path: string, token: string): Promise<void> {
    await this.request(Op[op], nulJoin([path, token]), 0, `${op} ${path} ${token}`);
  }

  /**
   * RESET_WATCHES: the server drops every watch and transaction of this
   * connection (§4.4); every local handle ends.
   */
  async resetWatches(): Promise<void> {
    await this.request(Op.RESET_WATCHES, NUL, 0, "RESET_WATCHES");
    for (const h of this.registry.handles()) h.end(undefined);
    this.registry.clear();
  }

  // --- transactions -----------------------------------------------------------

  /** TRANSACTION_START: the new transaction id (§5.1). */
  async transactionStart(): Promise<number> {
    const text = replyText(await this.request(Op.TRANSACTION_START, NUL, 0, "TRANSACTION_START"));
    if (!/^\d+$/.test(text)) throw new XsError("EINVAL", `TRANSACTION_START reply "${text}"`);
    return Number(text);
  }

  /** TRANSACTION_END: commit (default) or abort (§5.3). */
  async transactionEnd(tx: number, commit = true): Promise<void> {
    const payload = nulJoin([commit ? "T" : "F"]);
    await this.request(Op.TRANSACTION_END, payload, tx, `TRANSACTION_END ${commit ? "T" : "F"}`);
  }

  /**
   * Runs `fn` in a transaction and commits. If `fn` throws, the transaction
   * is aborted and the error rethrown. `EAGAIN` at commit re-runs `fn` in a
   * new transaction, at most `retriesMax` times; then the `EAGAIN` is thrown.
   */
  async transaction<T>(
    fn: (tx: number) => Promise<T>,
    options: XsTransactionOptions = {},
  ): Promise<T> {
    const retriesMax = options.retriesMax ?? TRANSACTION_RETRIES_MAX;
    for (let attempt = 0;; attempt++) {
      const tx = await this.transactionStart();
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        await this.transactionEnd(tx, false).catch(() => {});
        throw e;
      }
      try {
        await this.transactionEnd(tx, true);
        return result;
      } catch (e) {
        if (!(e instanceof XsError) || e.errno !== "EAGAIN") throw e;
        if (attempt >= retriesMax) {
          throw new XsError(
            "EAGAIN",
            `transaction still conflicting after ${attempt + 1} attempts`,
          );
        }
      }
    }
  }

  // --- domains and control ----------------------------------------------------

  /** INTRODUCE a domain's ring (gfn) and event channel (§6.1). */
  async introduce(domid: number, gfn: number | bigint, evtchn: number): Promise<void> {
    const payload = nulJoin([u32(domid), String(gfn), u32(evtchn)]);
    await this.request(Op.INTRODUCE, payload, 0, `INTRODUCE ${domid}`);
  }

  /** RELEASE a domain (§6.2). */
  async release(domid: number): Promise<void> {
    await this.request(Op.RELEASE, nulJoin([u32(domid)]), 0, `RELEASE ${domid}`);
  }

  /** RESUME: clears a domain's shutdown flag (§6.3). */
  async resume(domid: number): Promise<void> {
    await this.request(Op.RESUME, nulJoin([u32(domid)]), 0, `RESUME ${domid}`);
  }

  /** IS_DOMAIN_INTRODUCED (§6.4). */
  async isDomainIntroduced(domid: number): Promise<boolean> {
    const what = `IS_DOMAIN_INTRODUCED ${domid}`;
    const reply = await this.request(Op.IS_DOMAIN_INTRODUCED, nulJoin([u32(domid)]), 0, what);
    return replyText(reply) !== "F";
  }

  /** GET_DOMAIN_PATH: `/local/domain/<domid>` (§6.5). */
  async getDomainPath(domid: number): Promise<string> {
    const what = `GET_DOMAIN_PATH ${domid}`;
    return replyText(await this.request(Op.GET_DOMAIN_PATH, nulJoin([u32(domid)]), 0, what));
  }

  /** SET_TARGET: `domid` acts for `target` in permission checks (§3.7). */
  async setTarget(domid: number, target: number): Promise<void> {
    const payload = nulJoin([u32(domid), u32(target)]);
    await this.request(Op.SET_TARGET, payload, 0, `SET_TARGET ${domid} ${target}`);
  }

  /**
   * CONTROL with NUL-terminated arguments (as `xenstore-control` sends
   * them); resolves with the reply text without its trailing NUL.
   */
  async control(...args: (string | Uint8Array)[]): Promise<string> {
    const what = `CONTROL ${args.map((a) => typeof a === "string" ? a : latin1(a)).join(" ")}`;
    const reply = await this.request(Op.CONTROL, nulJoin(args), 0, what);
    const end = reply.length > 0 && reply[reply.length - 1] === 0 ? reply.length - 1 : reply.length;
    return latin1(reply.subarray(0, end));
  }

  // --- the connection -----------------------------------------------------------

  #dispatch(p: Pending): void {
    const reqId = this.#allocReqId();
    this.#inflight.set(reqId, p);
    this.#link.send({ type: p.type, reqId, txId: p.txId, payload: p.payload });
  }

  /** Next free req_id: 1, 2, … wrapping at 2^32, skipping 0 and ids in flight. */
  #allocReqId(): number {
    for (let i = 0; i <= this.#outstandingMax; i++) {
      const id = this.#nextReqId;
      this.#nextReqId = id >= 0xffffffff ? 1 : id + 1;
      if (!this.#inflight.has(id)) return id;
    }
    throw new Error("no free req_id (cannot happen: fewer requests in flight than ids tried)");
  }

  #receive(type: number, reqId: number, txId: number, payload: Uint8Array): void {
    if (this.#lost) return;
    if (type === Op.WATCH_EVENT) {
      const [path, token] = replyStrings(payload);
      if (path !== undefined && token !== undefined) this.registry.dispatch({ path, token });
      return;
    }
    const p = this.#inflight.get(reqId);
    if (!p) {
      this.#protocolError(`reply ${opName(type)} with req_id ${reqId}, which no request has`);
      return;
    }
    if (type !== p.type && type !== Op.ERROR) {
      this.#protocolError(`reply ${opName(type)} to request ${p.what} (req_id ${reqId})`);
      return;
    }
    if (txId !== p.txId) {
      this.#protocolError(`reply to ${p.what} has tx_id ${txId}, the request had ${p.txId}`);
      return;
    }
    this.#inflight.delete(reqId);
    if (type === Op.ERROR) {
      const name = replyText(payload);
      const errno = errnoFromName(name);
      p.reject(new XsError(errno, name === errno ? p.what : `${p.what} (server said ${name})`));
    } else {
      p.resolve(payload);
    }
    while (this.#waiting.length > 0 && this.#inflight.size < this.#outstandingMax) {
      this.#dispatch(this.#waiting.shift()!);
    }
  }

  #protocolError(what: string): void {
    this.#shutdown(new Error(`xenstore protocol violation: ${what}`));
    this.#link.close();
  }

  #shutdown(cause: Error): void {
    if (this.#lost) return;
    this.#lost = cause;
    const pending = [...this.#inflight.values(), ...this.#waiting];
    this.#inflight.clear();
    this.#waiting = [];
    for (const p of pending) {
      p.reject(
        new XsConnectionLostError(`${p.what}: xenstore connection lost: ${cause.message}`, cause),
      );
    }
    const lost = new XsConnectionLostError(`xenstore connection lost: ${cause.message}`, cause);
    for (const h of this.registry.handles()) h.end(lost);
    this.registry.clear();
  }
}

/** C `%u` of an int: the unsigned 32-bit value. */
function u32(n: number): string {
  return String(n >>> 0);
}
