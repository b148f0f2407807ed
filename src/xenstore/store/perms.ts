/**
 * @module
 * Permission lists (xenstore-protocol.md §3). Entry 0 names the owner and
 * the access of every domain not listed later; entries 1.. are an ACL where
 * the first match wins. Parsing follows `xs_strings_to_perms`: a letter
 * `n|r|w|b`, then a number read with `strtol(.., 0)` (so `r0x10` is 16 and
 * `r010` is 8), fully consumed.
 */
import { XsError } from "../wire/errno.ts";

export const XS_PERM_NONE = 0;
export const XS_PERM_READ = 1;
export const XS_PERM_WRITE = 2;
/** Internal: the caller owns the node (never on the wire). */
export const XS_PERM_OWNER = 8;
/**
 * Internal: a stale ACL entry, skipped by access checks (never on the wire).
 * Observed on the real 4.17 daemon (tests/conformance/FINDINGS.md): an entry
 * is marked when its node is written while the named domain is unknown to
 * xenstored; the mark is inherited by children, survives value rewrites, and
 * only a new SET_PERMS clears it. A domain's death marks nothing, so a
 * recycled domid keeps the old entries' access.
 */
export const XS_PERM_IGNORE = 16;
export const XS_PERM_ALL = XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER;

/** One entry: a domain id and its access bits. */
export interface Perm {
  readonly id: number;
  readonly perm: number;
}

export type PermList = readonly Perm[];

const LETTER_BITS: Record<string, number> = {
  n: XS_PERM_NONE,
  r: XS_PERM_READ,
  w: XS_PERM_WRITE,
  b: XS_PERM_READ | XS_PERM_WRITE,
};
const BITS_LETTER = ["n", "r", "w", "b"];

/** C `strtol(s, &end, 0)` that must consume all of `s`; undefined if not. */
export function strtolBase0(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const digits = m[2];
  let v: bigint;
  if (/^0[xX]/.test(digits)) v = BigInt(digits);
  else if (digits.length > 1 && digits[0] === "0") v = BigInt("0o" + digits.slice(1));
  else v = BigInt(digits);
  if (m[1] === "-") v = -v;
  // Stored into a 32-bit unsigned domid field after strtol clamps to long.
  const LONG_MAX = (1n << 63n) - 1n;
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < -LONG_MAX - 1n) v = -LONG_MAX - 1n;
  return Number(BigInt.asUintN(32, v));
}

/** Parses one entry such as `r5`; EINVAL if malformed. */
export function parsePerm(s: string): Perm {
  const bits = LETTER_BITS[s[0]];
  const id = bits === undefined ? undefined : strtolBase0(s.slice(1));
  if (bits === undefined || id === undefined || s.length < 2) {
    throw new XsError("EINVAL", `bad permission ${JSON.stringify(s)}`);
  }
  return { id, perm: bits };
}

/** Formats an entry as the wire and `xenstore-ls -p` show it: letter + `%i`. */
export function formatPerm(p: Perm): string {
  // `snprintf(buf, 11 + 1, "%c%i", ...)`: at most 11 characters, so
  // r-2147483648 comes out as r-214748364 (observed on the real daemon).
  return (BITS_LETTER[p.perm & 3] + String(p.id | 0)).slice(0, PERM_STRING_MAX);
}

/** Characters of one formatted permission (`MAX_STRLEN(unsigned int) + 1`). */
export const PERM_STRING_MAX = 11;

/** The default list of a fresh tree: owner dom0, nobody else (`n0`). */
export const DEFAULT_PERMS: PermList = Object.freeze([{ id: 0, perm: XS_PERM_NONE }]);

/** Who asks: a domain, maybe acting for a target, maybe privileged. */
export interface Accessor {
  readonly domid: number;
  readonly privileged: boolean;
  /** SET_TARGET: the guest this (device-model) domain acts for. */
  readonly target?: number;
}

/**
 * Access bits of `who` on a node with `perms` (cxenstored `perm_for_conn`,
 * §3.2). ACL entries marked {@link XS_PERM_IGNORE} are skipped (§3.6).
 */
export function permFor(who: Accessor, perms: PermList): number {
  if (who.privileged) return XS_PERM_ALL;
  const owner = perms[0].id;
  if (owner === who.domid || (who.target !== undefined && owner === who.target)) return XS_PERM_ALL;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i];
    if (p.perm & XS_PERM_IGNORE) continue;
    if (p.id === who.domid || (who.target !== undefined && p.id === who.target)) {
      return p.perm & (XS_PERM_READ | XS_PERM_WRITE);
    }
  }
  return perms[0].perm & (XS_PERM_READ | XS_PERM_WRITE);
}
