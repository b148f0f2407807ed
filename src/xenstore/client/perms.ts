/**
 * @module
 * Permission entries as the client sees them (xenstore-protocol.md §3.1):
 * a letter `n` (none), `r` (read), `w` (write) or `b` (both) followed by a
 * domid. The first entry names the owner and the access of every domain not
 * listed later. Parsing follows libxenstore's `xs_strings_to_perms`: the
 * number is read like C `strtol(s, &end, 0)` — blanks and a sign allowed,
 * `0x` means hex, a leading `0` means octal (`r010` is domid 8) — and must be
 * non-empty and fully consumed. Formatting follows `xs_perm_to_string`:
 * letter + decimal `%i`.
 */
import { XsError } from "../wire/errno.ts";

/** One access letter. */
export type XsPermLetter = "n" | "r" | "w" | "b";

/** One permission entry: a domid and its access. */
export interface XsPerm {
  readonly id: number;
  readonly perm: XsPermLetter;
}

const LETTERS: ReadonlySet<string> = new Set(["n", "r", "w", "b"]);
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * C `strtol(s, &end, base)` on a 64-bit host, for base 0 (auto-detect:
 * `0x` hex, leading `0` octal, else decimal), 8, 10 or 16: returns the
 * value (saturated to the `long` range, as glibc does on overflow) and how
 * many characters were consumed (0 when no number was found).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { strtol } from "./perms.ts";
 * assert.deepEqual(strtol("0x10z"), { value: 16n, end: 4 });
 * assert.deepEqual(strtol("010"), { value: 8n, end: 3 });
 * assert.deepEqual(strtol("010", 10), { value: 10n, end: 3 });
 * ```
 */
export function strtol(s: string, base: 0 | 8 | 10 | 16 = 0): { value: bigint; end: number } {
  let i = 0;
  while (i < s.length && " \t\n\v\f\r".includes(s[i])) i++;
  let negative = false;
  if (s[i] === "+" || s[i] === "-") {
    negative = s[i] === "-";
    i++;
  }
  const hexPrefix = s[i] === "0" && (s[i + 1] === "x" || s[i + 1] === "X") &&
    isDigit(s[i + 2] ?? "", 16);
  if ((base === 0 || base === 16) && hexPrefix) {
    base = 16;
    i += 2;
  } else if (base === 0) {
    base = s[i] === "0" ? 8 : 10;
  }
  const start = i;
  let value = 0n;
  while (i < s.length && isDigit(s[i], base)) {
    value = value * BigInt(base) + BigInt(parseInt(s[i], base));
    i++;
  }
  if (i === start) return { value: 0n, end: 0 };
  if (negative) value = -value;
  if (value > INT64_MAX) value = INT64_MAX;
  if (value < INT64_MIN) value = INT64_MIN;
  return { value, end: i };
}

/** `strtol(s, &end, 0)`. */
export function strtol0(s: string): { value: bigint; end: number } {
  return strtol(s, 0);
}

/**
 * glibc `atoi`: `(int) strtol(s, NULL, 10)`, so out-of-range input
 * saturates first and is then cut to 32 bits (`"99999999999999999999"` is
 * -1). (`wire/args.ts`'s `atoi` cuts without saturating.)
 */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtol(s, 10).value));
}

function isDigit(c: string, base: number): boolean {
  if (c.length !== 1) return false;
  const d = parseInt(c, 36);
  return !Number.isNaN(d) && d < base;
}

/**
 * Parses one entry such as `"r5"`, `"b0x10"`, `"n010"`. The domid is kept as
 * C keeps it in `unsigned int` and prints it with `%i`: a signed 32-bit
 * number (`"n4294967295"` gives -1). Throws `XsError("EINVAL")` otherwise.
 */
export function parsePerm(s: string): XsPerm {
  const letter = s[0];
  if (!LETTERS.has(letter)) {
    throw new XsError("EINVAL", `bad permission ${JSON.stringify(s)}: letter must be n, r, w or b`);
  }
  const rest = s.slice(1);
  const { value, end } = strtol0(rest);
  if (rest.length === 0 || end !== rest.length) {
    throw new XsError("EINVAL", `bad permission ${JSON.stringify(s)}: domid is not a number`);
  }
  return { id: Number(BigInt.asIntN(32, value)), perm: letter as XsPermLetter };
}

/** Formats one entry: letter + decimal domid (`%i` of the 32-bit value). */
export function formatPerm(p: XsPerm): string {
  if (!LETTERS.has(p.perm)) throw new XsError("EINVAL", `bad permission letter ${p.perm}`);
  return `${p.perm}${p.id | 0}`;
}

/** Parses a whole list, e.g. the strings of a `GET_PERMS` reply. */
export function parsePerms(strings: readonly string[]): XsPerm[] {
  return strings.map(parsePerm);
}

/** The comma-separated form `xenstore-ls -p` prints: `n0,r5`. */
export function formatPermList(perms: readonly XsPerm[]): string {
  return perms.map(formatPerm).join(",");
}
