/**
 * @module
 * The xenstore error names, `xsd_errors[]` of `xs_wire.h` in table order
 * (xenstore-protocol.md §1.4), and {@link XsError}, the one error class that
 * store, permission and transaction code throw. Exactly one `catch` (in the
 * engine) turns it into an `XS_ERROR` reply carrying the name.
 */

/** Error names in `xsd_errors[]` order, with Linux's errno numbers. */
export const XS_ERRORS = [
  ["EINVAL", 22],
  ["EACCES", 13],
  ["EEXIST", 17],
  ["EISDIR", 21],
  ["ENOENT", 2],
  ["ENOMEM", 12],
  ["ENOSPC", 28],
  ["EIO", 5],
  ["ENOTEMPTY", 39],
  ["ENOSYS", 38],
  ["EROFS", 30],
  ["EBUSY", 16],
  ["EAGAIN", 11],
  ["EISCONN", 106],
  ["E2BIG", 7],
  ["EPERM", 1],
] as const;

export type XsErrno = (typeof XS_ERRORS)[number][0];

const NUMBERS: ReadonlyMap<string, number> = new Map(XS_ERRORS);
const MESSAGES: Readonly<Record<XsErrno, string>> = {
  EINVAL: "Invalid argument",
  EACCES: "Permission denied",
  EEXIST: "File exists",
  EISDIR: "Is a directory",
  ENOENT: "No such file or directory",
  ENOMEM: "Cannot allocate memory",
  ENOSPC: "No space left on device",
  EIO: "Input/output error",
  ENOTEMPTY: "Directory not empty",
  ENOSYS: "Function not implemented",
  EROFS: "Read-only file system",
  EBUSY: "Device or resource busy",
  EAGAIN: "Resource temporarily unavailable",
  EISCONN: "Transport endpoint is already connected",
  E2BIG: "Argument list too long",
  EPERM: "Operation not permitted",
};

/** True if `name` is one of the table's error names. */
export function isXsErrno(name: string): name is XsErrno {
  return NUMBERS.has(name);
}

/**
 * The errno a client sees for an error name: names outside the table (e.g.
 * oxenstored's `EQUOTA`) map to EINVAL, as libxenstore and Linux do.
 */
export function errnoFromName(name: string): XsErrno {
  return isXsErrno(name) ? name : "EINVAL";
}

/** Linux errno number of a name (for clients that want numbers). */
export function errnoNumber(name: XsErrno): number {
  return NUMBERS.get(name)!;
}

/** `strerror` text of an errno name, as glibc prints it. */
export function strerror(name: XsErrno): string {
  return MESSAGES[name];
}

/** Options of an {@link XsError}. */
export interface XsErrorOptions {
  /**
   * cxenstored answers this code as a constant, leaving its global `errno`
   * as it was (the engine models that errno: see `CErrno` in
   * `store/ops.ts`).
   */
  readonly keepsErrno?: boolean;
}

/** A protocol error carrying a xenstore errno name. */
export class XsError extends Error {
  readonly errno: XsErrno;
  readonly keepsErrno: boolean;
  constructor(errno: XsErrno, detail?: string, opts: XsErrorOptions = {}) {
    super(detail ? `${errno}: ${detail}` : errno);
    this.name = "XsError";
    this.errno = errno;
    this.keepsErrno = opts.keepsErrno ?? false;
  }
}
