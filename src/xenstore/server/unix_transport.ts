/**
 * @module
 * The Unix-socket transport: `$RUNDIR/socket` for privileged dom0 clients
 * (what libxenstore reaches through `XENSTORED_PATH`), and for every
 * introduced domain `$RUNDIR/domains/<domid>/socket` (mode 0600), whose
 * connections *are* that unprivileged domain — the analogue of its ring
 * page. A guest socket disappears when its domain is released or dies.
 *
 * The bytes move through a {@link SocketIo}: on Linux an epoll loop through
 * FFI (epoll_socket_io.ts), elsewhere Deno's socket API
 * (deno_socket_io.ts). Both give the same behaviour.
 */
import { join } from "node:path";
import type { ConnectionKind } from "../connection.ts";
import { domainDir } from "./credentials.ts";
import { DenoSocketIo } from "./deno_socket_io.ts";
import type { EpollPark } from "./epoll_loop.ts";
import { EpollSocketIo } from "./epoll_socket_io.ts";
import { libcAvailable } from "./libc.ts";
import type { SocketIo, SocketListener } from "./socket_io.ts";
import type { DomainListener, Xenstored } from "./xenstored.ts";

/** Which {@link SocketIo}: `epoll` (Linux, FFI) or `deno` (anywhere). */
export type UnixIo = "epoll" | "deno";

export interface UnixTransportOptions {
  /** Default: `epoll` where libc can be opened through FFI, else `deno`. */
  readonly io?: UnixIo;
  /** epoll only: µs to keep polling after the last request (see epoll_loop.ts). */
  readonly spinUs?: number;
  /**
   * epoll only: `block` when nothing else in this process needs the JS
   * thread promptly (see {@link EpollPark}); default `thread`.
   */
  readonly park?: EpollPark;
}

/** The default I/O backend here: epoll on Linux with FFI allowed. */
export function defaultUnixIo(): UnixIo {
  return libcAvailable() ? "epoll" : "deno";
}

export class UnixTransport implements DomainListener {
  readonly #server: Xenstored;
  readonly #rundir: string;
  readonly #opts: UnixTransportOptions;
  #io: SocketIo | undefined;
  readonly #listeners = new Map<number, SocketListener>();

  constructor(server: Xenstored, rundir: string, opts: UnixTransportOptions = {}) {
    this.#server = server;
    this.#rundir = rundir;
    this.#opts = opts;
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
    const outstanding = this.#server.engine.quotas.outstanding;
    this.#io = (this.#opts.io ?? defaultUnixIo()) === "epoll"
      ? new EpollSocketIo(outstanding, (l) => this.#server.log(l), {
        spinUs: this.#opts.spinUs,
        park: this.#opts.park,
      })
      : new DenoSocketIo(outstanding);
    Deno.mkdirSync(this.#rundir, { recursive: true });
    this.#listen(0, this.socketPath, "socket");
  }

  introduced(domid: number): void {
    if (domid === 0 || this.#listeners.has(domid) || !this.#io) return;
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
    const l = this.#io!.listen(path, (endpoint) => this.#server.open(domid, kind, endpoint));
    this.#listeners.set(domid, l);
  }

  /** Stops listening and closes every connection. */
  async stop(): Promise<void> {
    this.#listeners.clear();
    await this.#io?.stop();
  }
}
