/**
 * @module
 * Encodes a batch of messages into one buffer, so a request's events and
 * its reply leave in a single write.
 */
import { type Message, writeHeader, XS_HEADER_BYTES } from "../wire/message.ts";

export function encodeBatch(batch: readonly Message[]): Uint8Array {
  let n = 0;
  for (const m of batch) n += XS_HEADER_BYTES + m.payload.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const m of batch) {
    writeHeader(out, at, m.type, m.reqId, m.txId, m.payload.length);
    out.set(m.payload, at + XS_HEADER_BYTES);
    at += XS_HEADER_BYTES + m.payload.length;
  }
  return out;
}
