/**
 * @module
 * A failed hypercall, named: which call, on which domain, and Xen's errno.
 */
import { retName } from "../../hv/errno.ts";

export class HypercallError extends Error {
  readonly ret: number;
  constructor(what: string, domid: number, ret: number) {
    super(`${what} on domain ${domid} failed: ${retName(ret)} (${ret})`);
    this.name = "HypercallError";
    this.ret = ret;
  }
}

/** Throws {@link HypercallError} unless `r.ret` is ≥ 0; returns `r`. */
export function check<R extends { ret: number }>(r: R, what: string, domid: number): R {
  if (r.ret < 0) throw new HypercallError(what, domid, r.ret);
  return r;
}
