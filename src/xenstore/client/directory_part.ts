/**
 * @module
 * {@link directoryPart}: libxenstore's `xs_directory_part` loop, which
 * lists a directory whose child list is over 4096 bytes with
 * `DIRECTORY_PART` requests (xenstore-protocol.md §2.6) after `DIRECTORY`
 * said `E2BIG`. Ask from byte offset 0, append each chunk, stop at the
 * chunk that ends in the extra NUL, restart from 0 whenever the generation
 * changed between chunks. Worked example, children `aa` and `b` in two
 * chunks: offset 0 → `7\0aa\0`; offset 3 → `7\0b\0\0`; joined `aa\0b\0\0`,
 * minus the extra NUL → `["aa", "b"]`.
 */
import { XsError } from "../wire/errno.ts";
import { parseDirectoryPart, replyStrings } from "./replies.ts";

/** `DIRECTORY_PART` requests one listing may take, restarts included. */
export const DIRECTORY_PART_REQUESTS_MAX = 1024;

/**
 * Lists `path` with `request(offset)`, which sends one `DIRECTORY_PART`
 * and resolves with its reply payload. `ENOSYS` (a daemon without
 * `DIRECTORY_PART`, e.g. oxenstored) becomes `E2BIG`, as in libxenstore;
 * no complete listing within `requestsMax` requests is `E2BIG` too.
 */
export async function directoryPart(
  request: (offset: string) => Promise<Uint8Array>,
  path: string,
  requestsMax = DIRECTORY_PART_REQUESTS_MAX,
): Promise<string[]> {
  let gen = "";
  let chunks: Uint8Array[] = [];
  let off = 0;
  let last2 = [-1, -1];
  for (let round = 0; round < requestsMax; round++) {
    let reply: Uint8Array;
    try {
      reply = await request(String(off));
    } catch (e) {
      if (e instanceof XsError && e.errno === "ENOSYS") {
        throw new XsError("E2BIG", `DIRECTORY ${path}: too big, and no DIRECTORY_PART`);
      }
      throw e;
    }
    const part = parseDirectoryPart(reply);
    if (off > 0 && part.gen !== gen) {
      chunks = [];
      off = 0;
      last2 = [-1, -1];
      continue;
    }
    gen = part.gen;
    chunks.push(part.chunk);
    off += part.chunk.length;
    for (const b of part.chunk.subarray(-2)) last2 = [last2[1], b];
    if (off <= 1 || last2[0] === 0) {
      const all = new Uint8Array(off);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      // Drop the extra NUL that marks the last chunk (libxenstore would
      // turn a lone one into a name "", which cannot be meant).
      return replyStrings(all.subarray(0, Math.max(0, off - 1)));
    }
  }
  throw new XsError(
    "E2BIG",
    `DIRECTORY_PART ${path}: no complete listing after ${requestsMax} requests ` +
      `(the directory keeps changing, or the server makes no progress)`,
  );
}
