/**
 * @module
 * {@link EpollSocketIo}: the Linux {@link SocketIo}, served from an
 * {@link EpollLoop} through FFI instead of Deno's promise-per-read I/O.
 *
 * Why: every bench.c workload is a chain of sequential round trips, so the
 * latency of one round trip is the whole score. Here a request is read, run
 * through the engine and answered with one `send` in a single synchronous
 * step, and the loop's spin catches a client's next request without a
 * thread wake-up (measurements in epoll_loop.ts).
 */
import { EpollConnection } from "./epoll_connection.ts";
import { EpollLoop, type EpollLoopOptions } from "./epoll_loop.ts";
import {
  AF_UNIX,
  EAGAIN,
  EINTR,
  EPOLLIN,
  errno,
  libc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCKADDR_UN_BYTES,
  sockaddrUn,
} from "./libc.ts";
import type { Endpoint, Session } from "./session.ts";
import type { SocketIo, SocketListener } from "./socket_io.ts";

/** Read buffer shared by the connections (one read at a time). */
export const EPOLL_READ_BYTES = 64 * 1024;
/** Write buffer shared by the connections; a larger batch gets its own. */
export const EPOLL_WRITE_BYTES = 64 * 1024;
/** Pending connections the kernel queues per socket (tokio's default too). */
export const UNIX_LISTEN_BACKLOG = 1024;
/** Connections accepted per readiness event of a listening socket. */
export const ACCEPT_BATCH_MAX = 64;

export class EpollSocketIo implements SocketIo {
  readonly #loop: EpollLoop;
  readonly #outstandingMax: number;
  readonly #log: (line: string) => void;
  readonly #listeners = new Set<() => void>();
  readonly #conns = new Set<EpollConnection>();
  readonly #buf = new Uint8Array(EPOLL_READ_BYTES);
  readonly #out = new Uint8Array(EPOLL_WRITE_BYTES);

  /**
   * `outstandingMax`: the `outstanding` quota (see `mustWaitForDrain`);
   * `log` hears of failed accepts. Throws where libc cannot be opened.
   */
  constructor(
    outstandingMax: number,
    log: (line: string) => void,
    opts: EpollLoopOptions = {},
  ) {
    this.#outstandingMax = outstandingMax;
    this.#log = log;
    this.#loop = new EpollLoop(opts);
    this.#loop.start();
  }

  listen(path: string, open: (endpoint: Endpoint) => Session): SocketListener {
    try {
      Deno.removeSync(path);
    } catch { /* no stale socket */ }
    const c = libc();
    const addr = sockaddrUn(path);
    const fd = c.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket(AF_UNIX) for ${path}: errno ${errno()}`);
    if (c.bind(fd, addr, SOCKADDR_UN_BYTES) !== 0 || c.listen(fd, UNIX_LISTEN_BACKLOG) !== 0) {
      const e = errno();
      c.close(fd);
      throw new Error(`cannot listen on ${path}: errno ${e}`);
    }
    Deno.chmodSync(path, 0o600);
    const token = this.#loop.add(fd, EPOLLIN, () => this.#accept(fd, path, open));
    const close = () => {
      if (!this.#listeners.delete(close)) return;
      this.#loop.remove(fd, token);
      libc().close(fd);
    };
    this.#listeners.add(close);
    return { close };
  }

  #accept(lfd: number, path: string, open: (endpoint: Endpoint) => Session): void {
    const c = libc();
    for (let i = 0; i < ACCEPT_BATCH_MAX; i++) {
      const fd = c.accept4(lfd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== EINTR) this.#log(`accept on ${path} failed: errno ${e}`);
        return;
      }
      this.#conns.add(
        new EpollConnection(
          this.#loop,
          fd,
          this.#buf,
          this.#out,
          this.#outstandingMax,
          open,
          (closed) => this.#conns.delete(closed),
        ),
      );
    }
  }

  async stop(): Promise<void> {
    for (const close of [...this.#listeners]) close();
    for (const c of [...this.#conns]) c.session.close("daemon stopping");
    await this.#loop.stop();
  }
}
