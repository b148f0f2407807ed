/**
 * @module
 * {@link connectUnix}: an {@link XsLink} over a Unix stream socket, the way
 * libxenstore reaches a dom0 xenstored (`$XENSTORED_PATH`,
 * xenstore-protocol.md §1.7). Bytes are reassembled with the incremental
 * {@link MessageParser}; messages sent in the same tick are written with one
 * `write`. A server that drops the connection, or sends a header claiming
 * more than `XENSTORE_PAYLOAD_MAX` bytes, ends the link with an `Error`.
 */
import { encodeMessage, type Message, XENSTORE_PAYLOAD_MAX } from "../wire/message.ts";
import { MessageParser } from "../wire/parser.ts";
import { concatBytes, type XsLink } from "./link.ts";

/**
 * Bytes queued for writing but not yet taken by a `write`. A server that
 * stops reading while the client keeps sending ends the link at this mark
 * rather than growing memory without bound. Room for 4 times a client's
 * full window of maximal requests (256 × 4112 bytes).
 */
export const UNIX_LINK_PENDING_BYTES_MAX = 4 << 20;
/** Size of the buffer each socket `read` fills. */
export const UNIX_LINK_READ_CHUNK_BYTES = 64 * 1024;

/** Connects to the xenstored listening on the Unix socket `path`. */
export async function connectUnix(path: string): Promise<XsLink> {
  const conn = await Deno.connect({ transport: "unix", path });
  return new UnixLink(conn, path);
}

/**
 * Wraps an already connected socket (tests, or a server handing a client a
 * socket pair). Reading starts when {@link XsLink.onMessage} installs a
 * handler, so no message can be lost before there is one.
 */
export class UnixLink implements XsLink {
  readonly closed: Promise<Error | undefined>;
  readonly #conn: Deno.Conn;
  readonly #name: string;
  readonly #parser = new MessageParser();
  #handler: ((m: Message) => void) | undefined;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #writing = false;
  #done = false;
  #resolveClosed!: (e: Error | undefined) => void;

  constructor(conn: Deno.Conn, name = "xenstored") {
    this.#conn = conn;
    this.#name = name;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  send(m: Message): void {
    if (this.#done) return;
    const bytes = encodeMessage(m);
    if (this.#pendingBytes + bytes.length > UNIX_LINK_PENDING_BYTES_MAX) {
      this.#finish(
        new Error(
          `unix link ${this.#name}: ${this.#pendingBytes} bytes waiting to be written ` +
            `(limit ${UNIX_LINK_PENDING_BYTES_MAX}); the server is not reading`,
        ),
      );
      return;
    }
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  onMessage(handler: (m: Message) => void): void {
    const first = this.#handler === undefined;
    this.#handler = handler;
    if (first) this.#readLoop();
  }

  close(): void {
    this.#finish(undefined);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#done) {
        const buf = concatBytes(this.#pending);
        this.#pending = [];
        this.#pendingBytes = 0;
        let at = 0;
        while (at < buf.length) at += await this.#conn.write(buf.subarray(at));
      }
    } catch (e) {
      this.#finish(new Error(`unix link ${this.#name}: write failed: ${errorText(e)}`));
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(UNIX_LINK_READ_CHUNK_BYTES);
    try {
      while (!this.#done) {
        const n = await this.#conn.read(buf);
        if (n === null) {
          this.#finish(new Error(`unix link ${this.#name}: the server closed the connection`));
          return;
        }
        const r = this.#parser.push(buf.subarray(0, n));
        for (const m of r.messages) {
          if (this.#done) return;
          this.#handler!(m);
        }
        if (r.failure) {
          this.#finish(
            new Error(
              `unix link ${this.#name}: the server sent a header claiming a ` +
                `${r.failure.len}-byte payload (limit ${XENSTORE_PAYLOAD_MAX})`,
            ),
          );
          return;
        }
      }
    } catch (e) {
      this.#finish(new Error(`unix link ${this.#name}: ${errorText(e)}`));
    }
  }

  #finish(why: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed by the peer or a failed read
    }
    this.#resolveClosed(why);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
