/**
 * @module
 * Client-side watch demultiplexing (xenstore-protocol.md §4). The server
 * sends every `WATCH_EVENT` of a connection on one stream, as
 * `<epath>\0<token>\0` where `epath` is the node that changed, not the
 * watched path. {@link WatchRegistry} hands each event to the handles whose
 * registration has the same token and whose path is `epath` or an ancestor
 * of it (§4.2, §4.3; `@` paths match exactly, as the server matches them).
 * Give watches distinct tokens: an event whose token several matching
 * registrations share goes to each of them.
 *
 * {@link XsWatch} is one handle: an `AsyncIterable` of events with a bounded
 * queue ({@link WATCH_QUEUE_MAX}). A consumer that falls that far behind
 * gets the queued events and then an {@link XsWatchOverflowError}, and the
 * handle unwatches: it has lost events and must rescan what it watches.
 */
import { XsError } from "../wire/errno.ts";
import { XsConnectionLostError } from "./connection_lost_error.ts";

/** Default bound on events queued in one handle and not yet consumed. */
export const WATCH_QUEUE_MAX = 1024;

/** One watch event as the server sent it. */
export interface XsWatchEvent {
  /** The node that changed (the watch path itself for the initial event). */
  readonly path: string;
  readonly token: string;
}

/** A handle's events overflowed {@link XsWatch}'s queue bound. */
export class XsWatchOverflowError extends Error {
  constructor(queueMax: number) {
    super(
      `watch queue full (${queueMax} events not consumed); events were lost, rescan the ` +
        `watched paths and register again, or consume faster`,
    );
    this.name = "XsWatchOverflowError";
  }
}

/** True if an event at `epath` belongs to a watch on `wpath` (§4.3 subtree rule). */
export function watchPathMatches(wpath: string, epath: string): boolean {
  if (wpath === epath) return true;
  if (wpath.startsWith("@")) return false;
  if (wpath === "/") return epath.startsWith("/");
  return epath.length > wpath.length && epath.startsWith(wpath) && epath[wpath.length] === "/";
}

/** What a handle needs from its client: send WATCH / UNWATCH. */
export interface WatchRequester {
  watchRequest(op: "WATCH" | "UNWATCH", path: string, token: string): Promise<void>;
  readonly registry: WatchRegistry;
}

interface Registration {
  readonly path: string;
  readonly token: string;
  readonly handle: XsWatch;
}

/** Registrations of one client, looked up by token. */
export class WatchRegistry {
  readonly #byToken = new Map<string, Registration[]>();

  /** Adds a registration; returns it for {@link remove}. */
  add(path: string, token: string, handle: XsWatch): Registration {
    const reg = { path, token, handle };
    const list = this.#byToken.get(token);
    if (list) list.push(reg);
    else this.#byToken.set(token, [reg]);
    return reg;
  }

  /** Removes one registration (by identity). */
  remove(reg: Registration): void {
    const list = this.#byToken.get(reg.token);
    if (!list) return;
    const i = list.indexOf(reg);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byToken.delete(reg.token);
  }

  /** Removes every registration of (path, token); returns how many. */
  removeKey(path: string, token: string): number {
    const list = this.#byToken.get(token) ?? [];
    const gone = list.filter((r) => r.path === path);
    for (const r of gone) this.remove(r);
    return gone.length;
  }

  /** Delivers an event to every matching registration; returns how many took it. */
  dispatch(ev: XsWatchEvent): number {
    const list = this.#byToken.get(ev.token);
    if (!list) return 0;
    let n = 0;
    for (const r of [...list]) {
      if (watchPathMatches(r.path, ev.path)) {
        r.handle.deliver(ev);
        n++;
      }
    }
    return n;
  }

  /** Every handle with a registration. */
  handles(): Set<XsWatch> {
    const out = new Set<XsWatch>();
    for (const list of this.#byToken.values()) for (const r of list) out.add(r.handle);
    return out;
  }

  /** Drops every registration (after RESET_WATCHES or connection loss). */
  clear(): void {
    this.#byToken.clear();
  }
}

/**
 * A watch handle: one or more (path, token) registrations whose events are
 * iterated in arrival order. `return()` (a `break` out of `for await`) and
 * {@link close} unwatch them all.
 */
export class XsWatch implements AsyncIterableIterator<XsWatchEvent> {
  readonly queueMax: number;
  readonly #client: WatchRequester;
  readonly #regs: Registration[] = [];
  #queue: XsWatchEvent[] = [];
  #waiter: ((r: IteratorResult<XsWatchEvent>) => void) | undefined;
  #waiterReject: ((e: Error) => void) | undefined;
  #ended = false;
  #endError: Error | undefined;

  constructor(client: WatchRequester, queueMax = WATCH_QUEUE_MAX) {
    this.#client = client;
    this.queueMax = queueMax;
  }

  /** The (path, token) pairs this handle currently watches. */
  get registrations(): { path: string; token: string }[] {
    return this.#regs.map(({ path, token }) => ({ path, token }));
  }

  /**
   * Registers one more (path, token) on this handle. Resolves after the
   * server's OK; the initial event (§4.1) then arrives as the first event.
   * Rejects with the server's `XsError` (e.g. `EEXIST` for a duplicate).
   */
  async add(path: string, token: string): Promise<void> {
    if (this.#ended) throw new Error("XsWatch.add on a closed watch");
    // Registered before sending: the initial event follows the OK reply at
    // once, before the reply's promise callbacks run.
    const reg = this.#client.registry.add(path, token, this);
    this.#regs.push(reg);
    try {
      await this.#client.watchRequest("WATCH", path, token);
    } catch (e) {
      this.#client.registry.remove(reg);
      this.#regs.splice(this.#regs.indexOf(reg), 1);
      throw e;
    }
  }

  next(): Promise<IteratorResult<XsWatchEvent>> {
    if (this.#queue.length > 0) {
      return Promise.resolve({ value: this.#queue.shift()!, done: false });
    }
    if (this.#ended) {
      const e = this.#endError;
      this.#endError = undefined;
      return e ? Promise.reject(e) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter) {
      return Promise.reject(new Error("XsWatch.next() called while another next() is pending"));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#waiterReject = reject;
    });
  }

  async return(): Promise<IteratorResult<XsWatchEvent>> {
    await this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<XsWatchEvent> {
    return this;
  }

  /** Unwatches every registration and ends the iteration. Idempotent. */
  async close(): Promise<void> {
    const regs = this.#regs.splice(0);
    this.#end(undefined);
    await this.#unwatch(regs);
  }

  /** Internal: an event for this handle (called by {@link WatchRegistry}). */
  deliver(ev: XsWatchEvent): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = this.#waiterReject = undefined;
      w({ value: ev, done: false });
      return;
    }
    if (this.#queue.length >= this.queueMax) {
      const regs = this.#regs.splice(0);
      this.#end(new XsWatchOverflowError(this.queueMax));
      this.#unwatch(regs).catch(() => {});
      return;
    }
    this.#queue.push(ev);
  }

  /**
   * Internal: the client ends the handle without unwatching (connection
   * lost: `error` set; RESET_WATCHES: no error).
   */
  end(error: Error | undefined): void {
    for (const r of this.#regs.splice(0)) this.#client.registry.remove(r);
    this.#end(error);
  }

  #end(error: Error | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endError = error;
    if (this.#waiter) {
      const resolve = this.#waiter;
      const reject = this.#waiterReject!;
      this.#waiter = this.#waiterReject = undefined;
      this.#endError = undefined;
      if (error) reject(error);
      else resolve({ value: undefined, done: true });
    }
  }

  async #unwatch(regs: Registration[]): Promise<void> {
    for (const r of regs) this.#client.registry.remove(r);
    await Promise.all(regs.map(async (r) => {
      try {
        await this.#client.watchRequest("UNWATCH", r.path, r.token);
      } catch (e) {
        // Gone already: the connection closed, or the server forgot it.
        if (!(e instanceof XsError) || e.errno !== "ENOENT") {
          if (!(e instanceof XsConnectionLostError)) throw e;
        }
      }
    }));
  }
}
