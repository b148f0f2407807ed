/**
 * @module
 * Incremental message parser: push bytes in as they arrive, in any chunking
 * (one byte at a time included), and take whole messages out. It never throws
 * on bad bytes; a header claiming more than {@link XENSTORE_PAYLOAD_MAX}
 * bytes is a typed failure, after which the parser accepts nothing more —
 * the connection decides what to do (the C daemon drops a socket
 * connection, xenstore-protocol.md §1.6).
 *
 * State machine: `header` (collecting 16 bytes) → `payload` (collecting
 * `len` bytes) → message out → `header`; or → `failed` (terminal).
 *
 * With `{ alias: true }`, a message that arrives whole within one chunk
 * gets a payload that is a view of that chunk, not a copy: for a server
 * that handles every message before it reuses its read buffer, this saves
 * an allocation per request (a typed array in Deno costs a malloc).
 */
import { type Message, XENSTORE_PAYLOAD_MAX, XS_HEADER_BYTES } from "./message.ts";

/** Why parsing stopped for good. */
export interface ParseFailure {
  readonly kind: "oversize";
  /** The `len` the header claimed. */
  readonly len: number;
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
}

/** Result of {@link MessageParser.push}. */
export interface ParseResult {
  readonly messages: Message[];
  readonly failure?: ParseFailure;
}

export interface MessageParserOptions {
  /**
   * Payloads of messages found whole in a chunk are views of the chunk,
   * valid only until the caller changes those bytes (default: copies).
   */
  readonly alias?: boolean;
}

/** Reassembles messages from a byte stream. */
export class MessageParser {
  readonly #header = new Uint8Array(XS_HEADER_BYTES);
  readonly #alias: boolean;
  #headerFill = 0;
  #payload: Uint8Array | null = null;
  #payloadFill = 0;
  #type = 0;
  #reqId = 0;
  #txId = 0;
  #failure: ParseFailure | undefined;

  constructor(opts: MessageParserOptions = {}) {
    this.#alias = opts.alias ?? false;
  }

  /** The failure that stopped the parser, if any. */
  get failure(): ParseFailure | undefined {
    return this.#failure;
  }

  /** True when no partial message is buffered. */
  get idle(): boolean {
    return this.#headerFill === 0 && this.#payload === null;
  }

  /** Feeds bytes; returns every message they complete. */
  push(chunk: Uint8Array): ParseResult {
    const messages: Message[] = [];
    let at = 0;
    while (at < chunk.length && !this.#failure) {
      if (this.#payload === null) {
        // Fast path: a whole header (and maybe payload) in the chunk.
        if (this.#headerFill === 0 && chunk.length - at >= XS_HEADER_BYTES) {
          const len = u32(chunk, at + 12);
          if (
            this.#alias && len <= XENSTORE_PAYLOAD_MAX && chunk.length - at >= XS_HEADER_BYTES + len
          ) {
            const start = at + XS_HEADER_BYTES;
            messages.push({
              type: u32(chunk, at),
              reqId: u32(chunk, at + 4),
              txId: u32(chunk, at + 8),
              payload: chunk.subarray(start, start + len),
            });
            at = start + len;
            continue;
          }
          this.#startPayload(chunk, at);
          at += XS_HEADER_BYTES;
        } else {
          const n = Math.min(XS_HEADER_BYTES - this.#headerFill, chunk.length - at);
          this.#header.set(chunk.subarray(at, at + n), this.#headerFill);
          this.#headerFill += n;
          at += n;
          if (this.#headerFill < XS_HEADER_BYTES) break;
          this.#headerFill = 0;
          this.#startPayload(this.#header, 0);
        }
        if (this.#failure) break;
      }
      const payload = this.#payload!;
      const n = Math.min(payload.length - this.#payloadFill, chunk.length - at);
      if (n > 0) {
        payload.set(chunk.subarray(at, at + n), this.#payloadFill);
        this.#payloadFill += n;
        at += n;
      }
      if (this.#payloadFill === payload.length) {
        messages.push({ type: this.#type, reqId: this.#reqId, txId: this.#txId, payload });
        this.#payload = null;
      }
    }
    return this.#failure ? { messages, failure: this.#failure } : { messages };
  }

  /** Takes the header at `at` of `b`. */
  #startPayload(b: Uint8Array, at: number): void {
    this.#type = u32(b, at);
    this.#reqId = u32(b, at + 4);
    this.#txId = u32(b, at + 8);
    const len = u32(b, at + 12);
    if (len > XENSTORE_PAYLOAD_MAX) {
      this.#failure = {
        kind: "oversize",
        len,
        type: this.#type,
        reqId: this.#reqId,
        txId: this.#txId,
      };
      return;
    }
    this.#payload = new Uint8Array(len);
    this.#payloadFill = 0;
  }
}

/** Little-endian `uint32` at `at` (no DataView: see `writeHeader`). */
function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
