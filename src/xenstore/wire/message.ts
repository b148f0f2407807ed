/**
 * @module
 * One xenstore message: a 16-byte header (`type`, `req_id`, `tx_id`, `len`,
 * each a little-endian `uint32`) and `len` payload bytes
 * (xenstore-protocol.md §1.1), plus the helpers that build the payloads
 * every reply uses (§1.4, §1.5).
 */
import { Op } from "./op.ts";
import type { XsErrno } from "./errno.ts";

/** `XENSTORE_PAYLOAD_MAX`: largest payload in either direction (§1.6). */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** Size of the message header in bytes. */
export const XS_HEADER_BYTES = 16;

/** A decoded message. `payload` may alias the buffer it was parsed from. */
export interface Message {
  readonly type: number;
  readonly reqId: number;
  readonly txId: number;
  readonly payload: Uint8Array;
}

const encoder = new TextEncoder();
/** Bytes per `String.fromCharCode` call in {@link latin1}. */
const LATIN1_CHUNK = 8192;

/** Bytes of a string (UTF-8). */
export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * A string of bytes, one char per byte (latin1). Paths and tokens are ASCII
 * in practice; latin1 keeps any other byte round-trippable.
 */
export function latin1(b: Uint8Array): string {
  // Not TextDecoder("latin1"): that is windows-1252 and rewrites 0x80–0x9f.
  let s = "";
  for (let i = 0; i < b.length; i += LATIN1_CHUNK) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + LATIN1_CHUNK) as unknown as number[]);
  }
  return s;
}

/** Bytes of a latin1 string (inverse of {@link latin1}). */
export function fromLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Writes the header and payload of `m` into a new buffer. */
export function encodeMessage(m: Message): Uint8Array {
  const out = new Uint8Array(XS_HEADER_BYTES + m.payload.length);
  writeHeader(out, 0, m.type, m.reqId, m.txId, m.payload.length);
  out.set(m.payload, XS_HEADER_BYTES);
  return out;
}

/**
 * Writes a header at `offset` of `buf`. Byte by byte, not through a
 * DataView: `buf.buffer` would move a small on-heap typed array's bytes to
 * a malloc'd backing store, which costs more than the encoding itself.
 */
export function writeHeader(
  buf: Uint8Array,
  offset: number,
  type: number,
  reqId: number,
  txId: number,
  len: number,
): void {
  putUint32(buf, offset, type);
  putUint32(buf, offset + 4, reqId);
  putUint32(buf, offset + 8, txId);
  putUint32(buf, offset + 12, len);
}

function putUint32(buf: Uint8Array, at: number, v: number): void {
  buf[at] = v;
  buf[at + 1] = v >>> 8;
  buf[at + 2] = v >>> 16;
  buf[at + 3] = v >>> 24;
}

/** Payload of NUL-terminated strings: `a\0b\0`. */
export function nulJoin(parts: readonly (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === "string" ? fromLatin1(p) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length + 1, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length + 1;
  }
  return out;
}

/** A reply to `req`: same `req_id` and `tx_id`, new type and payload (§1.5). */
export function reply(req: Message, type: number, payload: Uint8Array): Message {
  return { type, reqId: req.reqId, txId: req.txId, payload };
}

const OK = nulJoin(["OK"]);

/** The generic success reply `"OK\0"` with the request's type. */
export function okReply(req: Message): Message {
  return reply(req, req.type, OK);
}

/** An `XS_ERROR` reply carrying the errno name. */
export function errorReply(req: Message, errno: XsErrno): Message {
  return reply(req, Op.ERROR, nulJoin([errno]));
}

/** A `XS_WATCH_EVENT`: `req_id` and `tx_id` are always 0 (§4.2). */
export function watchEvent(path: string, token: string): Message {
  return { type: Op.WATCH_EVENT, reqId: 0, txId: 0, payload: nulJoin([path, token]) };
}
