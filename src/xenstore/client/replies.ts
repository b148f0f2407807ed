/**
 * @module
 * Decoding of reply payloads on the client side (xenstore-protocol.md §1.2,
 * §2.6), kept pure so the request logic in `client.ts` stays about
 * requests. Strings are latin1 (one char per byte), like the wire codec.
 */
import { latin1 } from "../wire/message.ts";

/**
 * The NUL-terminated strings of a reply (`DIRECTORY`, `GET_PERMS`): `a\0b\0`
 * gives `["a", "b"]`, an empty payload `[]`. A final unterminated string is
 * kept, as libxenstore's `xs_directory_common` keeps it.
 */
export function replyStrings(p: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      out.push(latin1(p.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start < p.length) out.push(latin1(p.subarray(start)));
  return out;
}

/** The text of a one-string reply (`"1\0"`, `"/local/domain/5\0"`): up to the first NUL. */
export function replyText(p: Uint8Array): string {
  const nul = p.indexOf(0);
  return latin1(nul < 0 ? p : p.subarray(0, nul));
}

/** A `DIRECTORY_PART` reply: `<gen>\0` and then a chunk of the child list. */
export interface DirectoryPartReply {
  readonly gen: string;
  readonly chunk: Uint8Array;
}

/** Splits a `DIRECTORY_PART` reply (§2.6). */
export function parseDirectoryPart(p: Uint8Array): DirectoryPartReply {
  const nul = p.indexOf(0);
  if (nul < 0) return { gen: latin1(p), chunk: new Uint8Array(0) };
  return { gen: latin1(p.subarray(0, nul)), chunk: p.subarray(nul + 1) };
}
