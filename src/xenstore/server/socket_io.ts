/**
 * @module
 * {@link SocketIo}: how the Unix-socket transport moves bytes. The transport
 * (unix_transport.ts) decides which sockets exist and who their connections
 * are; an I/O backend listens on them, accepts, and joins each connection
 * to a {@link Session}. Two backends keep the same semantics: Deno's own
 * socket API (deno_socket_io.ts, anywhere) and an epoll loop through FFI
 * (epoll_socket_io.ts, Linux: lower latency per round trip).
 */
import type { Endpoint, Session } from "./session.ts";

/** A listening socket of a {@link SocketIo}. */
export interface SocketListener {
  /** Stops accepting; connections already made stay. */
  close(): void;
}

export interface SocketIo {
  /**
   * Listens on the Unix socket `path` (created mode 0600, replacing a stale
   * one); every accepted connection gets its session from `open`.
   */
  listen(path: string, open: (endpoint: Endpoint) => Session): SocketListener;
  /** Closes every listener and connection; resolves when all I/O is over. */
  stop(): Promise<void>;
}

/**
 * Back-pressure both backends apply (xenstore-protocol.md §7.1): a guest's
 * connection is not read while `outstandingMax` or more of its replies and
 * events are unsent.
 */
export function mustWaitForDrain(session: Session, outstandingMax: number): boolean {
  return !session.closed && !session.conn.privileged && session.outstanding >= outstandingMax;
}
