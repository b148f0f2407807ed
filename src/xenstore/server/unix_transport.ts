/**
 * @module
 * The Unix-socket transport: `$RUNDIR/socket` for privileged dom0 clients
 * (what libxenstore reaches through `XENSTORED_PATH`), and for every
 * introduced domain `$RUNDIR/domains/<domid>/socket` (mode 0600), whose
 * connections *are* that unprivileged domain — the analogue of its ring
 * page. A guest socket disappears when its domain is released or dies.
 */
import { join } from "node:path";
import type { ConnectionKind } from "../connection.ts";
import type { Message } from "../wire/message.ts";
import { encodeBatch } from "./encode_batch.ts";
import { domainDir } from "./credentials.ts";
import type { DomainListener, Xenstored } from "./xenstored.ts";

/** Read buffer per connection. */
export const UNIX_READ_BYTES = 64 * 1024;

export class UnixTransport implements DomainListener {
  readonly #server: Xenstored;
  readonly #rundir: string;
  readonly #listeners = new Map<number, Deno.UnixListener>();
  readonly #conns = new Set<Deno.UnixConn>();
  readonly #loops = new Set<Promise<void>>();

  constructor(server: Xenstored, rundir: string) {
    this.#server = server;
    this.#rundir = rundir;
    server.addDomainListener(this);
  }

  /** Path of dom0's socket. */
  get socketPath(): string {
    return join(this.#rundir, "socket");
  }

  /** Path of a guest's socket. */
  guestSocketPath(domid: number): string {
    return join(this.#rundir, "domains", String(domid), "socket");
  }

  /** Starts listening on `$RUNDIR/socket`. */
  start(): void {
    Deno.mkdirSync(this.#rundir, { recursive: true });
    this.#listen(0, this.socketPath, "socket");
  }

  introduced(domid: number): void {
    if (domid === 0 || this.#listeners.has(domid)) return;
    domainDir(this.#rundir, domid);
    this.#listen(domid, this.guestSocketPath(domid), "guest");
  }

  released(domid: number): void {
    const l = this.#listeners.get(domid);
    if (!l || domid === 0) return;
    this.#listeners.delete(domid);
    l.close();
    try {
      Deno.removeSync(join(this.#rundir, "domains", String(domid)), { recursive: true });
    } catch { /* already gone */ }
  }

  #listen(domid: number, path: string, kind: ConnectionKind): void {
    try {
      Deno.removeSync(path);
    } catch { /* no stale socket */ }
    const listener = Deno.listen({ transport: "unix", path });
    Deno.chmodSync(path, 0o600);
    this.#listeners.set(domid, listener);
    this.#track(this.#accept(listener, domid, kind));
  }

  #track(p: Promise<void>): void {
    this.#loops.add(p);
    p.finally(() => this.#loops.delete(p));
  }

  async #accept(listener: Deno.UnixListener, domid: number, kind: ConnectionKind): Promise<void> {
    try {
      for await (const conn of listener) this.#track(this.#serve(conn, domid, kind));
    } catch {
      // listener closed
    }
  }

  async #serve(conn: Deno.UnixConn, domid: number, kind: ConnectionKind): Promise<void> {
    this.#conns.add(conn);
    let open = true;
    const session = this.#server.open(domid, kind, {
      write: (batch: readonly Message[]) => writeAll(conn, encodeBatch(batch)),
      close: () => {
        if (!open) return;
        open = false;
        try {
          conn.close();
        } catch { /* closed */ }
      },
    });
    const buf = new Uint8Array(UNIX_READ_BYTES);
    const outstandingMax = this.#server.engine.quotas.outstanding;
    try {
      while (!session.closed) {
        // Guests: stop reading while `outstanding` replies/events are unsent (§7.1).
        if (!session.conn.privileged && session.outstanding >= outstandingMax) {
          await session.drained();
        }
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

  /** Stops listening and closes every connection. */
  async stop(): Promise<void> {
    for (const l of this.#listeners.values()) l.close();
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
