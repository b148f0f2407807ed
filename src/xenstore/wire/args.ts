/**
 * @module
 * Payload argument rules of the C daemon 4.17 (xenstore-protocol.md §1.3).
 * Malformed payloads are `EINVAL`; these helpers throw {@link XsError} so the
 * engine's single catch answers them.
 */
import { XsError } from "./errno.ts";
import { latin1 } from "./message.ts";

/** Number of NUL bytes in `p`. */
export function countNuls(p: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === 0) n++;
  return n;
}

/**
 * The single argument of a "one argument" op: the payload must be non-empty
 * with exactly one NUL, as its last byte.
 */
export function oneArg(p: Uint8Array): string {
  if (p.length === 0 || p[p.length - 1] !== 0 || p.indexOf(0) !== p.length - 1) {
    throw new XsError("EINVAL", "expected exactly one NUL-terminated argument");
  }
  return latin1(p.subarray(0, p.length - 1));
}

/** The NUL-terminated strings of `p`; trailing unterminated bytes are ignored. */
export function terminatedStrings(p: Uint8Array): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) {
      out.push(latin1(p.subarray(start, i)));
      start = i + 1;
    }
  }
  return out;
}

/** WRITE: path before the first NUL, value = every remaining byte. */
export function writeArgs(p: Uint8Array): { path: string; value: Uint8Array } {
  const nul = p.indexOf(0);
  if (nul < 0) throw new XsError("EINVAL", "WRITE payload has no NUL after the path");
  return { path: latin1(p.subarray(0, nul)), value: p.slice(nul + 1) };
}

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);

/**
 * glibc `atoi`: `(int) strtol(s, NULL, 10)`. Optional blanks and sign, then
 * decimal digits; garbage gives 0; strtol saturates at the 64-bit limits
 * before the cast keeps the low 32 bits (observed on the real daemon:
 * "9223372036854775808" → -1, "-99999999999999999999" → 0).
 */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  let v = BigInt(m[1]);
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return Number(BigInt.asIntN(32, v));
}
