/**
 * @module
 * Encodes a batch of messages into one buffer, so a request's events and
 * its reply leave in a single write.
 */
import { type Message, writeHeader, XS_HEADER_BYTES } from "../wire/message.ts";

/** Bytes `batch` takes on the wire. */
export function batchBytes(batch: readonly Message[]): number {
  let n = 0;
  for (const m of batch) n += XS_HEADER_BYTES + m.payload.length;
  return n;
}

/** The batch in a new buffer. */
export function encodeBatch(batch: readonly Message[]): Uint8Array {
  const out = new Uint8Array(batchBytes(batch));
  encodeBatchInto(out, batch);
  return out;
}

/**
 * The batch at the start of `out` (a buffer reused from call to call, so a
 * reply costs no allocation); returns its length. `out` must hold
 * {@link batchBytes} bytes.
 */
export function encodeBatchInto(out: Uint8Array, batch: readonly Message[]): number {
  let at = 0;
  for (const m of batch) {
    writeHeader(out, at, m.type, m.reqId, m.txId, m.payload.length);
    out.set(m.payload, at + XS_HEADER_BYTES);
    at += XS_HEADER_BYTES + m.payload.length;
  }
  return at;
}
