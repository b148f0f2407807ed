/**
 * @module
 * {@link BackendBus}: how a backend driver finds its devices, as Linux's
 * xenbus backend bus does (`xenbus_probe_backend.c`): one watch on
 * `/local/domain/<self>/backend/<kind>`; an event inside
 * `<domid>/<devid>` pokes that device (creating it when its directory has
 * a `frontend` key, i.e. the toolstack's transaction is in); an event on the
 * kind or a `<domid>` directory — the initial one, or a removal — rescans.
 * Each device decides what the poke means by re-reading xenstore
 * (level-triggered), and tells the bus when its directory is gone.
 */
import { type XsWatch, XsWatchOverflowError } from "../../xenstore/client/watch.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { domainPath } from "../devices/device_paths.ts";
import { type BackendEnv, backendXs } from "./backend_env.ts";

/** Default bound on devices one bus serves. */
export const BACKEND_DEVICES_MAX = 1024;
/** Times a bus re-registers its watch after falling behind (queue overflow). */
export const BUS_WATCH_RESTARTS_MAX = 16;

/** Identity of one backend device. */
export interface BackendDeviceId {
  readonly domid: number;
  readonly devid: number;
  /** The backend directory. */
  readonly path: string;
}

/** What the bus holds per device. */
export interface BackendDevice {
  /** Something under the device changed (or may have): re-read and act. */
  poke(): void;
  /** The bus is stopping: release what the device holds. */
  stop(): Promise<void>;
}

/** Makes a device; it calls `gone()` once its directory has disappeared. */
export type BackendDeviceFactory = (id: BackendDeviceId, gone: () => void) => BackendDevice;

/** Options of a {@link BackendBus}. */
export interface BackendBusOptions {
  readonly devicesMax?: number;
}

/** The devices of one backend kind in one backend domain. */
export class BackendBus {
  readonly kind: string;
  readonly base: string;
  readonly #env: BackendEnv;
  readonly #xs: ClockedXs;
  readonly #factory: BackendDeviceFactory;
  readonly #devicesMax: number;
  readonly #devices = new Map<string, BackendDevice>();
  #watch: XsWatch | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;

  constructor(
    env: BackendEnv,
    kind: string,
    factory: BackendDeviceFactory,
    opts: BackendBusOptions = {},
  ) {
    this.kind = kind;
    this.base = `${domainPath(env.domid ?? 0)}/backend/${kind}`;
    this.#env = env;
    this.#xs = backendXs(env);
    this.#factory = factory;
    this.#devicesMax = opts.devicesMax ?? BACKEND_DEVICES_MAX;
  }

  /** Devices currently served, as `<domid>/<devid>`. */
  get devices(): string[] {
    return [...this.#devices.keys()];
  }

  /** Registers the watch and starts serving; resolves once the watch is in place. */
  async start(): Promise<void> {
    if (this.#watch !== undefined) return;
    this.#watch = await this.#xs.watch(this.base);
    this.#loop = this.#serve().catch((e) => this.#trace({ op: "bus-ended", error: String(e) }));
  }

  /**
   * Consumes the watch; after an overflow (events lost) registers it again,
   * whose initial event rescans everything.
   */
  async #serve(): Promise<void> {
    for (let restarts = 0; restarts <= BUS_WATCH_RESTARTS_MAX; restarts++) {
      try {
        for await (const ev of this.#watch!) await this.#event(ev.path);
        return;
      } catch (e) {
        if (!(e instanceof XsWatchOverflowError) || this.#stopping) throw e;
        this.#trace({ op: "rewatch", why: e.message });
        this.#watch = await this.#xs.watch(this.base);
      }
    }
    throw new Error(`${this.base}: watch overflowed ${BUS_WATCH_RESTARTS_MAX} times; giving up`);
  }

  /** Stops watching and releases every device. */
  async stop(): Promise<void> {
    const w = this.#watch;
    if (w === undefined || this.#stopping) return;
    this.#stopping = true;
    await w.close().catch(() => {});
    await this.#loop;
    for (const d of [...this.#devices.values()]) await d.stop();
    this.#devices.clear();
  }

  #trace(fields: Record<string, unknown>): void {
    this.#env.trace.emit({ src: "backend", dom: this.#env.domid ?? 0, kind: this.kind, ...fields });
  }

  async #event(path: string): Promise<void> {
    if (path !== this.base && !path.startsWith(`${this.base}/`)) return;
    const parts = path.slice(this.base.length + 1).split("/").filter((p) => p !== "");
    if (parts.length >= 2 && /^\d+$/.test(parts[0]) && /^\d+$/.test(parts[1])) {
      await this.#touch(Number(parts[0]), Number(parts[1]));
      return;
    }
    if (parts.length === 1 && !/^\d+$/.test(parts[0])) return;
    await this.#rescan(parts.length === 1 ? Number(parts[0]) : undefined);
  }

  /** Pokes known devices under the rescanned part and probes new ones. */
  async #rescan(onlyDomid: number | undefined): Promise<void> {
    for (const [key, d] of this.#devices) {
      if (onlyDomid === undefined || key.startsWith(`${onlyDomid}/`)) d.poke();
    }
    const domids = onlyDomid === undefined
      ? (await this.#xs.directory(this.base)).filter((s) => /^\d+$/.test(s)).map(Number)
      : [onlyDomid];
    for (const domid of domids) {
      for (const devid of await this.#xs.directory(`${this.base}/${domid}`)) {
        if (/^\d+$/.test(devid)) await this.#touch(domid, Number(devid));
      }
    }
  }

  async #touch(domid: number, devid: number): Promise<void> {
    const key = `${domid}/${devid}`;
    const known = this.#devices.get(key);
    if (known !== undefined) {
      known.poke();
      return;
    }
    const path = `${this.base}/${key}`;
    if (!(await this.#xs.exists(`${path}/frontend`)) || this.#devices.has(key)) return;
    if (this.#devices.size >= this.#devicesMax) {
      this.#trace({ op: "refused", device: key, why: `over ${this.#devicesMax} devices` });
      return;
    }
    const device = this.#factory({ domid, devid, path }, () => {
      if (this.#devices.get(key) === device) this.#devices.delete(key);
    });
    this.#devices.set(key, device);
    this.#trace({ op: "probe", device: key });
    device.poke();
  }
}
