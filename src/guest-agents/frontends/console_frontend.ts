/**
 * @module
 * {@link ConsoleFrontend}: console 0 as the guest uses it (Linux
 * `drivers/tty/hvc/hvc_xen.c`; xenstore-protocol.md §8.4). It takes no part
 * in the XenbusState handshake: the domain builder gave it a ring page and
 * an event channel (start_info / HVM params, mirrored read-only in
 * `~/console/ring-ref` and `port`), xenconsoled maps and binds them. The
 * guest writes output into the ring's `out` half and notifies the port.
 * On a restore the port is new (`xen_console_resume`); on a cancelled
 * suspend nothing changes.
 *
 * xenlab: `ring-ref` is read as the ring's pfn (xenlab grants name pfns for
 * PV and HVM alike) unless the agent passes the frame it found in
 * start_info.
 */
import type { XsClient } from "../../xenstore/client/client.ts";
import type { GuestEnv } from "../guest_env.ts";
import type { Frontend, FrontendRebind } from "./frontend.ts";
import { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { FrontendError } from "./xenbus_frontend.ts";
import { XenbusState } from "../../platform/xenbus_state.ts";

/** `struct xencons_interface` (`io/console.h`): `out[2048]` at 1024, indexes after. */
export const XENCONS_OUT_OFFSET = 1024;
export const XENCONS_OUT_SIZE = 2048;
export const XENCONS_OUT_CONS = 3080;
export const XENCONS_OUT_PROD = 3084;

/** Where console 0's ring and port are, as the guest learnt them at boot. */
export interface ConsoleLocation {
  readonly pfn: number;
  readonly port: number;
}

/** Console 0. */
export class ConsoleFrontend implements Frontend {
  readonly kind = "console" as const;
  readonly devid = 0;
  #xs: ClockedXs;
  #env: GuestEnv;
  #given: ConsoleLocation | undefined;
  #where: ConsoleLocation | undefined;
  #state: number = XenbusState.Initialising;

  constructor(xs: XsClient, env: GuestEnv, given?: ConsoleLocation) {
    this.#xs = new ClockedXs(xs, () => env.sleep(0));
    this.#env = env;
    this.#given = given;
  }

  get state(): number {
    return this.#state;
  }

  /** The ring pfn and port in use. */
  get location(): ConsoleLocation | undefined {
    return this.#where;
  }

  /** Finds the ring and port; the console is usable from then on. */
  async start(): Promise<void> {
    let where = this.#given;
    if (where === undefined) {
      const [ref, port] = await this.#xs.readAll("console", ["ring-ref", "port"]);
      if (ref === undefined || port === undefined) {
        throw new FrontendError("console: no ~/console/ring-ref or port; is console 0 written?");
      }
      where = { pfn: Number(ref), port: Number(port) };
    }
    this.#where = where;
    this.#state = XenbusState.Connected;
  }

  /**
   * Writes `text` to the console ring and notifies xenconsoled; resolves
   * with the bytes written (0 when the ring's indexes cannot be read).
   */
  async write(text: string): Promise<number> {
    const where = this.#where;
    if (where === undefined || this.#state !== XenbusState.Connected) return 0;
    const env = this.#env;
    const data = new TextEncoder().encode(text);
    const idx = new Uint8Array(8);
    if ((await env.readPage(where.pfn, XENCONS_OUT_CONS, idx)) < 0) return 0;
    const view = new DataView(idx.buffer);
    const cons = view.getUint32(0, true), prod = view.getUint32(4, true);
    const used = Math.min((prod - cons) >>> 0, XENCONS_OUT_SIZE);
    const n = Math.min(XENCONS_OUT_SIZE - used, data.length);
    // Made in order without waiting in between (at most two runs of bytes:
    // the ring may wrap); awaited together.
    const writes: Promise<number>[] = [];
    for (let i = 0; i < n;) {
      const slot = (prod + i) % XENCONS_OUT_SIZE;
      const chunk = Math.min(n - i, XENCONS_OUT_SIZE - slot);
      writes.push(env.writePage(where.pfn, XENCONS_OUT_OFFSET + slot, data.subarray(i, i + chunk)));
      i += chunk;
    }
    view.setUint32(4, (prod + n) >>> 0, true);
    writes.push(env.writePage(where.pfn, XENCONS_OUT_PROD, idx.subarray(4, 8)));
    const send = env.hypercall({ hc: "event_channel_op", op: "send", port: where.port });
    await Promise.all([...writes, send]);
    return n;
  }

  suspend(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * A restore brings a new port, read again from `~/console/port`; the
   * ring keeps its pfn (guest memory moves with the guest). A cancelled
   * suspend changes nothing.
   */
  async resume(newDomain: boolean, rebind?: FrontendRebind): Promise<void> {
    if (!newDomain) return;
    if (rebind !== undefined) {
      this.#env = rebind.env;
      this.#xs = new ClockedXs(rebind.xs, () => rebind.env.sleep(0));
    }
    const port = await this.#xs.read("console/port");
    if (this.#where === undefined || port === undefined) {
      this.#given = undefined;
      return await this.start();
    }
    this.#where = { pfn: this.#where.pfn, port: Number(port) };
  }

  close(): Promise<void> {
    this.#state = XenbusState.Closed;
    return Promise.resolve();
  }
}
