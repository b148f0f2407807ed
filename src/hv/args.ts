/**
 * @module
 * Checks on hypercall arguments. Requests may arrive as JSON from a guest
 * process, so a handler validates the fields it reads and answers -EINVAL
 * (or -EFAULT for an unreadable array, as a bad guest handle would be)
 * instead of trusting the TypeScript types.
 */

/** An integer in 0..2^32-1. */
export function isU32(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

/** An integer in 0..2^16-1 (a domid). */
export function isU16(x: unknown): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= 0 && x <= 0xffff;
}

/** A non-negative safe integer. */
export function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

/** An array of at most `max` u32 values. */
export function isU32Array(x: unknown, max: number): x is number[] {
  if (!Array.isArray(x) || x.length > max) return false;
  for (const v of x) if (!isU32(v)) return false;
  return true;
}
