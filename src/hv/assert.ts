/**
 * @module
 * Programmer-error checks for the hypervisor (STYLE.md "Errors"): operating
 * errors are answered with `-errno`; a broken internal invariant is an
 * assertion that crashes the test or simulation run.
 */
import { AssertionError } from "node:assert";

/** Throws an AssertionError with `message` unless `cond` holds. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond) throw new AssertionError({ message: `hv: ${message}` });
}

/** Throws an AssertionError with `message`. */
export function fail(message: string): never {
  throw new AssertionError({ message: `hv: ${message}` });
}
