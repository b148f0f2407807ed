/**
 * @module
 * The guest's side of the PV console ring (`xen/include/public/io/console.h`,
 * `struct xencons_interface`): the page the toolstack gave in start_info
 * (`console.domU.mfn`, an MFN a PV guest maps back to its pfn) or in
 * `HVM_PARAM_CONSOLE_PFN`. The guest is the producer of `out` and notifies
 * the console event channel; the backend in dom0 (xenconsoled) consumes it.
 * This is where a guest's boot messages become visible to dom0 (`xl
 * console`), as Linux's `hvc_xen` `__write_console` does.
 *
 * Layout: `in[1024]` at 0, `out[2048]` at 1024, then u32 `in_cons`,
 * `in_prod`, `out_cons`, `out_prod` at 3072, 3076, 3080, 3084. Indices are
 * free-running u32s; a slot is `idx & (size - 1)`. What does not fit is
 * dropped and counted (a bounded ring never blocks the guest).
 *
 * A kernel's console write does not wait, but a page read over WebSocket is
 * a round trip. So the guest keeps its producer index privately (as ring
 * frontends keep `req_prod_pvt`) and its last view of `out_cons`, and
 * {@link ConsoleRing.write} only *makes* the page writes and the
 * notification, in order, without waiting for them. After each write it
 * looks at the indexes again ({@link ConsoleRing.refresh}), so room the
 * backend made is seen by a later write. Output a failed page write loses
 * is the backend's loss, as on a real ring.
 */
import type { GuestEnv } from "./guest_env.ts";

export const XENCONS_IN_OFFSET = 0;
export const XENCONS_IN_SIZE = 1024;
export const XENCONS_OUT_OFFSET = 1024;
export const XENCONS_OUT_SIZE = 2048;
export const XENCONS_IN_CONS = 3072;
export const XENCONS_IN_PROD = 3076;
export const XENCONS_OUT_CONS = 3080;
export const XENCONS_OUT_PROD = 3084;

const utf8 = new TextEncoder();
const ignore = () => {};

/** The guest's end of one console page. */
export class ConsoleRing {
  readonly pfn: number;
  readonly evtchn: number;
  readonly #env: GuestEnv;
  #dropped = 0;
  /** The producer index the guest keeps; undefined until the page was read. */
  #prod: number | undefined;
  /** `out_cons` as last read. */
  #cons = 0;
  /** Writes made so far: a refresh that overlapped one keeps the private `#prod`. */
  #writes = 0;

  constructor(env: GuestEnv, pfn: number, evtchn: number) {
    this.#env = env;
    this.pfn = pfn;
    this.evtchn = evtchn;
  }

  /** Bytes that did not fit in the ring so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /**
   * Reads `out_cons` and `out_prod` from the page; resolves false (and the
   * ring stays or becomes unusable) when the page cannot be read.
   */
  async refresh(): Promise<boolean> {
    const b = new Uint8Array(8);
    const writes = this.#writes;
    const r = await this.#env.readPage(this.pfn, XENCONS_OUT_CONS, b);
    if (r < 0) {
      this.#prod = undefined;
      return false;
    }
    const dv = new DataView(b.buffer);
    this.#cons = dv.getUint32(0, true);
    if (this.#prod === undefined || writes === this.#writes) this.#prod = dv.getUint32(4, true);
    return true;
  }

  /**
   * Writes `text` to `out` and notifies the backend; returns the bytes
   * written (fewer when the ring is full, -1 while the page is unreadable:
   * see {@link refresh}).
   */
  write(text: string | Uint8Array): number {
    const prod = this.#prod;
    if (prod === undefined) return -1;
    const data = typeof text === "string" ? utf8.encode(text) : text;
    const used = (prod - this.#cons) >>> 0;
    const room = used > XENCONS_OUT_SIZE ? 0 : XENCONS_OUT_SIZE - used;
    const n = Math.min(room, data.length);
    this.#dropped += data.length - n;
    if (n === 0) {
      this.refresh().catch(ignore);
      return 0;
    }
    this.#writes++;
    const env = this.#env;
    for (let i = 0; i < n;) {
      const slot = ((prod + i) >>> 0) & (XENCONS_OUT_SIZE - 1);
      const chunk = Math.min(n - i, XENCONS_OUT_SIZE - slot);
      env.writePage(this.pfn, XENCONS_OUT_OFFSET + slot, data.slice(i, i + chunk)).catch(ignore);
      i += chunk;
    }
    this.#prod = (prod + n) >>> 0;
    const p = new Uint8Array(4);
    new DataView(p.buffer).setUint32(0, this.#prod, true);
    env.writePage(this.pfn, XENCONS_OUT_PROD, p).catch(ignore);
    env.hypercall({ hc: "event_channel_op", op: "send", port: this.evtchn }).catch(ignore);
    this.refresh().catch(ignore);
    return n;
  }
}

/** Reads what a console page's `out` ring holds between `out_cons` and `out_prod` (a backend's view). */
export function readConsoleOut(page: Uint8Array): string {
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const cons = dv.getUint32(XENCONS_OUT_CONS, true);
  const prod = dv.getUint32(XENCONS_OUT_PROD, true);
  const n = Math.min((prod - cons) >>> 0, XENCONS_OUT_SIZE);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = page[XENCONS_OUT_OFFSET + (((cons + i) >>> 0) & (XENCONS_OUT_SIZE - 1))];
  }
  return new TextDecoder().decode(out);
}
