/**
 * @module
 * Message types of the xenstore wire protocol, `enum xsd_sockmsg_type` of
 * Xen 4.17's `xs_wire.h` (xenstore-protocol.md §1.2). The numeric value is
 * the position in the enum; names keep the spec's spelling without `XS_`.
 */

export const Op = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  /** Removed in Xen 4.9; always answered with ENOSYS. */
  RESTRICT: 20,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
  /** Guaranteed never to be a valid type. */
  INVALID: 0xffff,
} as const;

export type OpName = keyof typeof Op;
export type OpCode = (typeof Op)[OpName];

/** `XS_TYPE_COUNT` of 4.17: types at or above it get ENOSYS. */
export const XS_TYPE_COUNT = 23;

const NAMES: readonly string[] = Object.entries(Op)
  .filter(([, v]) => v < XS_TYPE_COUNT)
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k);

/** The spec name of a message type, or its number for unknown types. */
export function opName(type: number): string {
  return NAMES[type] ?? String(type);
}

/** The message type of a spec name (with or without `XS_`), or undefined. */
export function opFromName(name: string): number | undefined {
  const key = name.toUpperCase().replace(/^XS_/, "");
  return key in Op ? Op[key as OpName] : undefined;
}
