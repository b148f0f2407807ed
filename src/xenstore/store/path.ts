/**
 * @module
 * Node paths: relative-path expansion, validation and the C daemon's length
 * rule (xenstore-protocol.md §1.6). Every failure is `EINVAL`.
 *
 * Worked example, connection of domain 7:
 *   "data/x"                 → "/local/domain/7/data/x"
 *   ""                       → "/local/domain/7/"   → EINVAL (trailing slash)
 *   "/local/domain/7/" + 2048 chars → OK (the rule counts only the part
 *                                      after a `/local/domain/<N>/` prefix)
 */
import { XsError } from "../wire/errno.ts";

/** `XENSTORE_REL_PATH_MAX`, the default `path-max` quota of cxenstored. */
export const XENSTORE_REL_PATH_MAX = 2048;
/** `XENSTORE_ABS_PATH_MAX` of xs_wire.h (documented, never enforced as such). */
export const XENSTORE_ABS_PATH_MAX = 3072;

/** Home directory of a domain: `/local/domain/<domid>`. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid >>> 0}`;
}

const VALID = /^[A-Za-z0-9/_@-]*$/;
const DOMAIN_PREFIX = /^\/local\/domain\/\d{1,5}\//;

/** True for watch-only names such as `@releaseDomain` (§4.5). */
export function isSpecialPath(path: string): boolean {
  return path.startsWith("@");
}

/**
 * Makes `path` absolute for a connection of `domid` and validates it.
 * `pathMax` is the `path-max` quota (bytes after a domain prefix).
 */
export function canonicalize(path: string, domid: number, pathMax = XENSTORE_REL_PATH_MAX): string {
  // `@` names are not expanded: they fail validation here (§1.6).
  const abs = path.startsWith("/") || path.startsWith("@") ? path : `${domainPath(domid)}/${path}`;
  if (!isValidPath(abs, pathMax)) {
    throw new XsError("EINVAL", `invalid path ${JSON.stringify(path)}`);
  }
  return abs;
}

/** Validation of an absolute path, per §1.6. */
export function isValidPath(abs: string, pathMax = XENSTORE_REL_PATH_MAX): boolean {
  if (!abs.startsWith("/")) return false;
  if (abs.length > 1 && abs.endsWith("/")) return false;
  if (abs.includes("//")) return false;
  if (!VALID.test(abs)) return false;
  const m = DOMAIN_PREFIX.exec(abs);
  const counted = m ? abs.length - m[0].length : abs.length;
  return counted <= pathMax;
}

/**
 * Validates a watch path (§4.1): special `@` names up to 2048 bytes with any
 * characters, otherwise like a node path. Returns the absolute form.
 */
export function canonicalizeWatch(
  path: string,
  domid: number,
  pathMax = XENSTORE_REL_PATH_MAX,
): string {
  if (isSpecialPath(path)) {
    if (path.length > XENSTORE_REL_PATH_MAX) {
      throw new XsError("EINVAL", "special watch path too long");
    }
    return path;
  }
  return canonicalize(path, domid, pathMax);
}

/** Parent of an absolute path (`/` for top-level nodes); `/` has none. */
export function parentOf(abs: string): string {
  const i = abs.lastIndexOf("/");
  return i <= 0 ? "/" : abs.slice(0, i);
}

/** Last component of an absolute path. */
export function baseName(abs: string): string {
  return abs.slice(abs.lastIndexOf("/") + 1);
}

/** Joins a directory path and a child name. */
export function childPath(dir: string, name: string): string {
  return dir === "/" ? `/${name}` : `${dir}/${name}`;
}

/** True if `w` is `p` or an ancestor of `p` (watch "subtree match", §4.3). */
export function isAtOrAbove(w: string, p: string): boolean {
  if (w === p || w === "/") return true;
  return p.length > w.length && p.startsWith(w) && p.charCodeAt(w.length) === 47;
}
