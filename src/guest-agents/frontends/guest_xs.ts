/**
 * @module
 * {@link GuestXs}: the xenstore operations the frontends use, each followed
 * by a zero-delay turn of the guest's clock (`env.sleep(0)`), so a
 * handshake runs at the virtual time of the event that started it instead
 * of letting the scheduler jump ahead mid-way (see `sim/scheduler.ts`,
 * "Async code on virtual time"; the toolstack's `devices/clocked_xs.ts` is
 * the same helper on its side of the layer line). A missing node reads as
 * undefined.
 */
import type { XsClient } from "../../xenstore/client/client.ts";
import type { XsWatch } from "../../xenstore/client/watch.ts";
import { XsError } from "../../xenstore/wire/errno.ts";

/** Whether `e` is a xenstore `ENOENT`. */
export function isEnoent(e: unknown): boolean {
  return e instanceof XsError && e.errno === "ENOENT";
}

/** A guest's client, paced on its clock. */
export class GuestXs {
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
   * A `state` node as `xenbus_read_driver_state` reads it: any error —
   * missing, or EACCES once the node and the parents the guest could read
   * are gone (xenstore-protocol.md §2.7) — is "no state".
   */
  async readState(path: string): Promise<string | undefined> {
    try {
      return await this.#paced(this.xs.readString(path));
    } catch (e) {
      if (e instanceof XsError) return undefined;
      throw e;
    }
  }

  /** Reads `keys` under `dir` at once; missing ones are undefined. */
  async readAll(dir: string, keys: readonly string[]): Promise<(string | undefined)[]> {
    return await this.#paced(
      Promise.all(keys.map((k) =>
        this.xs.readString(`${dir}/${k}`).catch((e) => {
          if (isEnoent(e)) return undefined;
          throw e;
        })
      )),
    );
  }

  async exists(path: string): Promise<boolean> {
    return await this.#paced(this.xs.exists(path));
  }

  async write(path: string, value: string, tx = 0): Promise<void> {
    await this.#paced(this.xs.write(path, value, tx));
  }

  /** Writes every `[key, value]` under `dir`, all in flight at once. */
  async writeAll(dir: string, entries: readonly (readonly [string, string])[], tx = 0) {
    await this.#paced(Promise.all(entries.map(([k, v]) => this.xs.write(`${dir}/${k}`, v, tx))));
  }

  /** Children of `path`; none if it does not exist. */
  async directory(path: string): Promise<string[]> {
    try {
      return await this.#paced(this.xs.directory(path));
    } catch (e) {
      if (isEnoent(e)) return [];
      throw e;
    }
  }

  async watch(path: string): Promise<XsWatch> {
    return await this.#paced(this.xs.watch(path));
  }

  async transaction<T>(fn: (tx: number) => Promise<T>): Promise<T> {
    return await this.#paced(this.xs.transaction(async (tx) => {
      await this.tick();
      return await fn(tx);
    }));
  }
}
