/**
 * @module
 * {@link XsLink}: the one small interface every client transport implements
 * (Unix socket, WebSocket, in-process). A link moves whole xenstore messages
 * (xenstore-protocol.md §1.1) in both directions and says when it is gone;
 * request/reply matching, watches and transactions live in the client above
 * it (`client.ts`), so a transport never interprets a message.
 */
import type { Message } from "../wire/message.ts";

/** A bidirectional message channel to one xenstore server connection. */
export interface XsLink {
  /** Queues a message to the server. Ignored once the link is closed. */
  send(m: Message): void;
  /**
   * Installs the handler that receives every message from the server, in
   * order. Messages that arrive before a handler is installed are kept (or
   * not yet read) and handed over when it is.
   */
  onMessage(handler: (m: Message) => void): void;
  /**
   * Resolves when the link is gone: `undefined` after {@link close}, an
   * `Error` saying why when the server, the transport or a protocol
   * violation ended it.
   */
  readonly closed: Promise<Error | undefined>;
  /** Closes the link; pending sends may be dropped. Idempotent. */
  close(): void;
}

/** Concatenates byte chunks into one buffer (links batch their writes). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
