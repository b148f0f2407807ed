/**
 * @module
 * {@link DenoSocketIo}: the portable {@link SocketIo}, on Deno's socket API
 * (`Deno.listen`, one promise per read and per write). Used where the epoll
 * backend cannot run (not Linux, or no FFI permission) and on request
 * (`--io deno`).
 */
import type { Message } from "../wire/message.ts";
import { encodeBatch } from "./encode_batch.ts";
import type { Endpoint, Session } from "./session.ts";
import { mustWaitForDrain, type SocketIo, type SocketListener } from "./socket_io.ts";

/** Read buffer per connection. */
export const UNIX_READ_BYTES = 64 * 1024;

export class DenoSocketIo implements SocketIo {
  readonly #outstandingMax: number;
  readonly #listeners = new Set<Deno.UnixListener>();
  readonly #conns = new Set<Deno.UnixConn>();
  readonly #loops = new Set<Promise<void>>();

  /** `outstandingMax`: the `outstanding` quota (see {@link mustWaitForDrain}). */
  constructor(outstandingMax: number) {
    this.#outstandingMax = outstandingMax;
  }

  listen(path: string, open: (endpoint: Endpoint) => Session): SocketListener {
    try {
      Deno.removeSync(path);
    } catch { /* no stale socket */ }
    const listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, 0o600);
    this.#listeners.add(listener);
    this.#track(this.#accept(listener, open));
    return {
      close: () => {
        if (!this.#listeners.delete(listener)) return;
        listener.close();
      },
    };
  }

  #track(p: Promise<void>): void {
    this.#loops.add(p);
    p.finally(() => this.#loops.delete(p));
  }

  async #accept(
    listener: Deno.UnixListener,
    open: (endpoint: Endpoint) => Session,
  ): Promise<void> {
    try {
      for await (const conn of listener) this.#track(this.#serve(conn, open));
    } catch {
      // listener closed
    }
  }

  async #serve(conn: Deno.UnixConn, open: (endpoint: Endpoint) => Session): Promise<void> {
    this.#conns.add(conn);
    let isOpen = true;
    const session = open({
      write: (batch: readonly Message[]) => writeAll(conn, encodeBatch(batch)),
      close: () => {
        if (!isOpen) return;
        isOpen = false;
        try {
          conn.close();
        } catch { /* closed */ }
      },
    });
    const buf = new Uint8Array(UNIX_READ_BYTES);
    try {
      while (!session.closed) {
        if (mustWaitForDrain(session, this.#outstandingMax)) await session.drained();
        const n = await conn.read(buf);
        if (n === null) break;
        session.receive(buf.subarray(0, n));
      }
    } catch {
      // peer reset or socket closed under us
    } finally {
      this.#conns.delete(conn);
      session.close("peer closed");
    }
  }

  async stop(): Promise<void> {
    for (const l of this.#listeners) l.close();
    this.#listeners.clear();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.allSettled([...this.#loops]);
  }
}

async function writeAll(conn: Deno.UnixConn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}
