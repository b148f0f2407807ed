/**
 * @module
 * {@link ClockedXs}: the xenstore operations device code (backends, the
 * toolstack's device workflows, guest frontends) uses, each followed by a
 * zero-delay turn of the clock.
 *
 * Why: on the simulation clock a chain of xenstore requests over an
 * in-process link never touches the scheduler (replies cross in
 * microtasks), and the scheduler's async runner stops draining after a
 * short quiet window (`sim/scheduler.ts`, "Async code on virtual time").
 * A long handshake would then let virtual time jump to the next pending
 * event — typically a libxl timeout 10 s away — while it is still running,
 * or a run would see an empty queue and stop. One zero-delay timer per
 * request keeps the work at the virtual time that started it and keeps the
 * queue honest. On a real clock the turn is a 0 ms timer.
 *
 * Also the device code's conventions: a missing node reads as `undefined`,
 * a missing directory lists as empty.
 */
import type { XsClient, XsTransactionOptions } from "./client.ts";
import type { XsPerm } from "./perms.ts";
import type { XsWatch } from "./watch.ts";
import { XsError } from "../wire/errno.ts";

/** Whether `e` is a xenstore `ENOENT`. */
export function isEnoent(e: unknown): boolean {
  return e instanceof XsError && e.errno === "ENOENT";
}

/** A client whose every request is followed by `tick()`. */
export class ClockedXs {
  readonly xs: XsClient;
  readonly tick: () => Promise<void>;

  constructor(xs: XsClient, tick: () => Promise<void>) {
    this.xs = xs;
    this.tick = tick;
  }

  async #paced<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } finally {
      await this.tick();
    }
  }

  /** The node's value, or undefined if it does not exist. */
  async read(path: string, tx = 0): Promise<string | undefined> {
    try {
      return await this.#paced(this.xs.readString(path, tx));
    } catch (e) {
      if (isEnoent(e)) return undefined;
      throw e;
    }
  }

  /**
   * A `state` node as `xenbus_read_driver_state` reads it: any xenstore
   * error — missing, or EACCES once the node and the parents the caller
   * could read are gone (xenstore-protocol.md §2.7) — is "no state".
   */
  async readState(path: string): Promise<string | undefined> {
    try {
      return await this.#paced(this.xs.readString(path));
    } catch (e) {
      if (e instanceof XsError) return undefined;
      throw e;
    }
  }

  /** Whether the node exists. */
  async exists(path: string, tx = 0): Promise<boolean> {
    return await this.#paced(this.xs.exists(path, tx));
  }

  async write(path: string, value: string, tx = 0): Promise<void> {
    await this.#paced(this.xs.write(path, value, tx));
  }

  /** Writes every `[key, value]` under `dir`, all requests in flight at once. */
  async writeAll(dir: string, entries: readonly (readonly [string, string])[], tx = 0) {
    await this.#paced(Promise.all(entries.map(([k, v]) => this.xs.write(`${dir}/${k}`, v, tx))));
  }

  /**
   * Writes every `[key, value]` under `dir` and gives each key `perms`
   * (libxl `libxl__xs_writev_perms`), all keys in flight at once.
   */
  async writeAllWithPerms(
    dir: string,
    entries: readonly (readonly [string, string])[],
    perms: readonly XsPerm[],
    tx = 0,
  ): Promise<void> {
    await this.#paced(Promise.all(entries.map(async ([k, v]) => {
      await this.xs.write(`${dir}/${k}`, v, tx);
      await this.xs.setPerms(`${dir}/${k}`, perms, tx);
    })));
  }

  /** Reads `keys` under `dir` at once; missing ones are undefined. */
  async readAll(dir: string, keys: readonly string[], tx = 0): Promise<(string | undefined)[]> {
    return await this.#paced(
      Promise.all(keys.map((k) =>
        this.xs.readString(`${dir}/${k}`, tx).catch((e) => {
          if (isEnoent(e)) return undefined;
          throw e;
        })
      )),
    );
  }

  async mkdir(path: string, tx = 0): Promise<void> {
    await this.#paced(this.xs.mkdir(path, tx));
  }

  /** RM; a node already gone is not an error. */
  async rm(path: string, tx = 0): Promise<void> {
    try {
      await this.#paced(this.xs.rm(path, tx));
    } catch (e) {
      if (!isEnoent(e)) throw e;
    }
  }

  /** Children of `path`; none if it does not exist. */
  async directory(path: string, tx = 0): Promise<string[]> {
    try {
      return await this.#paced(this.xs.directory(path, tx));
    } catch (e) {
      if (isEnoent(e)) return [];
      throw e;
    }
  }

  async getPerms(path: string, tx = 0): Promise<XsPerm[]> {
    return await this.#paced(this.xs.getPerms(path, tx));
  }

  async setPerms(path: string, perms: readonly XsPerm[], tx = 0): Promise<void> {
    await this.#paced(this.xs.setPerms(path, perms, tx));
  }

  /** A watch on `path` (its first event is the initial one, §4.1). */
  async watch(path: string): Promise<XsWatch> {
    return await this.#paced(this.xs.watch(path));
  }

  /** {@link XsClient.transaction}, paced at start and end. */
  async transaction<T>(fn: (tx: number) => Promise<T>, opts?: XsTransactionOptions): Promise<T> {
    return await this.#paced(this.xs.transaction(async (tx) => {
      await this.tick();
      return await fn(tx);
    }, opts));
  }
}
