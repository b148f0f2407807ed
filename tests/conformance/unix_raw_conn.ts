/**
 * @module
 * A {@link RawConn} over a Unix stream socket (the C daemon's
 * `SOCKDIR/socket`, our Unix transport, or a `guest_bridge.py` listener).
 */
import { StreamRawConn } from "./raw_conn.ts";

/** Largest chunk read from the socket at a time. */
const READ_BYTES_MAX = 65536;

/** A socket connection; {@link finished} settles when its read loop ended. */
export class UnixRawConn extends StreamRawConn {
  /** Resolves once the socket is closed and nothing is left reading it. */
  readonly finished: Promise<void>;

  constructor(conn: Deno.UnixConn) {
    let open = true;
    const shut = () => {
      if (!open) return;
      open = false;
      try {
        conn.close();
      } catch {
        // already closed by the read loop
      }
    };
    // Writes are chained so that concurrent requests never interleave.
    let tail: Promise<void> = Promise.resolve();
    super((bytes) => {
      const next = tail.then(async () => {
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      });
      tail = next.catch(() => {});
      return next;
    }, shut);
    this.finished = this.#readLoop(conn).finally(shut);
  }

  async #readLoop(conn: Deno.UnixConn): Promise<void> {
    const buf = new Uint8Array(READ_BYTES_MAX);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        this.receive(buf.slice(0, n));
      }
    } catch {
      // closed locally, or reset by the server: both end the connection
    }
    this.receiveEnd();
  }
}

/** Most attempts of {@link connectUnix} while the listen backlog is full. */
export const CONNECT_ATTEMPTS_MAX = 200;
/** Pause between those attempts. */
const CONNECT_RETRY_MS = 5;

/**
 * Connects to the Unix socket at `path`. A non-blocking connect fails with
 * EAGAIN while the server's listen backlog is full (the C daemon accepts
 * one connection per main-loop round); a blocking client such as
 * libxenstore would just wait, so this retries.
 */
export async function connectUnix(path: string): Promise<UnixRawConn> {
  for (let attempt = 1;; attempt++) {
    try {
      return new UnixRawConn(await Deno.connect({ transport: "unix", path }));
    } catch (e) {
      if (!(e instanceof Deno.errors.WouldBlock) || attempt >= CONNECT_ATTEMPTS_MAX) throw e;
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
    }
  }
}
