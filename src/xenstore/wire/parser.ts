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

/** Reassembles messages from a byte stream. */
export class MessageParser {
  readonly #header = new Uint8Array(XS_HEADER_BYTES);
  readonly #headerView = new DataView(this.#header.buffer);
  #headerFill = 0;
  #payload: Uint8Array | null = null;
  #payloadFill = 0;
  #type = 0;
  #reqId = 0;
  #txId = 0;
  #failure: ParseFailure | undefined;

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
          const v = new DataView(chunk.buffer, chunk.byteOffset + at, XS_HEADER_BYTES);
          at += XS_HEADER_BYTES;
          this.#startPayload(v);
        } else {
          const n = Math.min(XS_HEADER_BYTES - this.#headerFill, chunk.length - at);
          this.#header.set(chunk.subarray(at, at + n), this.#headerFill);
          this.#headerFill += n;
          at += n;
          if (this.#headerFill < XS_HEADER_BYTES) break;
          this.#headerFill = 0;
          this.#startPayload(this.#headerView);
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

  #startPayload(v: DataView): void {
    this.#type = v.getUint32(0, true);
    this.#reqId = v.getUint32(4, true);
    this.#txId = v.getUint32(8, true);
    const len = v.getUint32(12, true);
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
