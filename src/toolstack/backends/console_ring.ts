/**
 * @module
 * The PV console ring, `struct xencons_interface` (`xen/include/public/io/console.h`):
 * one page holding `char in[1024]`, `char out[2048]`, then the u32 indexes
 * `in_cons, in_prod, out_cons, out_prod` (free-running, masked by the
 * array size). The guest produces `out`, xenconsoled consumes it.
 */

export const XENCONS_IN_SIZE = 1024;
export const XENCONS_OUT_SIZE = 2048;
export const XENCONS_IN_OFFSET = 0;
export const XENCONS_OUT_OFFSET = 1024;
export const XENCONS_IN_CONS = 3072;
export const XENCONS_IN_PROD = 3076;
export const XENCONS_OUT_CONS = 3080;
export const XENCONS_OUT_PROD = 3084;

/** Byte access to the ring page (a mapped grant, or the guest's own page). */
export interface ConsolePage {
  read(offset: number, out: Uint8Array): number;
  write(offset: number, data: Uint8Array): number;
}

function u32At(page: ConsolePage, offset: number): number {
  const b = new Uint8Array(4);
  page.read(offset, b);
  return new DataView(b.buffer).getUint32(0, true);
}

function setU32(page: ConsolePage, offset: number, v: number): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  page.write(offset, b);
}

/**
 * Consumer side: takes what the guest produced in `out` (at most the ring's
 * size: a producer claiming more is treated as a full ring) and advances
 * `out_cons`.
 */
export function consumeOut(page: ConsolePage): Uint8Array {
  const cons = u32At(page, XENCONS_OUT_CONS), prod = u32At(page, XENCONS_OUT_PROD);
  const n = Math.min((prod - cons) >>> 0, XENCONS_OUT_SIZE);
  const ring = new Uint8Array(XENCONS_OUT_SIZE);
  page.read(XENCONS_OUT_OFFSET, ring);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = ring[(cons + i) % XENCONS_OUT_SIZE];
  setU32(page, XENCONS_OUT_CONS, cons + n);
  return out;
}

/**
 * Producer side: appends as much of `data` as fits in `out` and advances
 * `out_prod`; returns how many bytes went in.
 */
export function produceOut(page: ConsolePage, data: Uint8Array): number {
  const cons = u32At(page, XENCONS_OUT_CONS), prod = u32At(page, XENCONS_OUT_PROD);
  const free = XENCONS_OUT_SIZE - Math.min((prod - cons) >>> 0, XENCONS_OUT_SIZE);
  const n = Math.min(free, data.length);
  for (let i = 0; i < n; i++) {
    page.write(XENCONS_OUT_OFFSET + ((prod + i) % XENCONS_OUT_SIZE), data.subarray(i, i + 1));
  }
  setU32(page, XENCONS_OUT_PROD, prod + n);
  return n;
}
