/**
 * @module
 * {@link XenbusBackendDevice}: the backend half of the XenbusState
 * handshake (xenstore-protocol.md §9.2, lifecycle-and-migration.md §2.5,
 * Linux `xen-netback/xenbus.c`, `xen-blkback/xenbus.c`), shared by netback
 * and blkback; each supplies {@link BackendHooks}.
 *
 * Level-triggered: every poke (an event in the backend directory, or on the
 * frontend's `state`) re-reads the backend `state`/`online`, the frontend
 * `state`, and acts on what it finds, so skipped or coalesced states do no
 * harm:
 *
 * | phase      | condition                                              | action |
 * |------------|--------------------------------------------------------|--------|
 * | new        | (probe)                                                 | publish features, state 2 (InitWait) |
 * | any live   | `online = 0`, own state 5, frontend 5/6 (or gone once connected) | unmap, unbind, state 6 (Closed) |
 * | initwait   | frontend ready (hook) and hotplug ready (hook)          | read ring-refs/event channels, map + bind, write properties, state 4 |
 * | closed     | `online = 1`, own state 6, frontend back to 1           | state 2 again (Linux "prepare for reconnect") |
 * | any        | backend directory gone                                  | release, leave the bus |
 *
 * A frontend that publishes unusable rings fails the connection: the
 * device releases what it mapped and goes Closing (`xenbus_dev_fatal`).
 *
 * Fault points: `backend.initwait.stall` (the driver never leaves state 1),
 * `backend.close.stall` (it never reaches Closed).
 */
import type { XsWatch } from "../../xenstore/client/watch.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import type { Entry } from "../devices/device_entries.ts";
import { parseXenbusState, XenbusState } from "../../platform/xenbus_state.ts";
import { type BackendEnv, backendXs } from "./backend_env.ts";
import {
  BackendBus,
  type BackendBusOptions,
  type BackendDevice,
  type BackendDeviceId,
} from "./backend_bus.ts";
import { RingError, RingMapping } from "./ring_mapping.ts";

/** Most reconcile rounds one burst of pokes runs before yielding. */
export const RECONCILE_ROUNDS_MAX = 64;

/** What a device hook sees. */
export interface BackendDeviceContext {
  readonly env: BackendEnv;
  readonly xs: ClockedXs;
  readonly id: BackendDeviceId;
  /** The frontend directory (from the backend's `frontend` key). */
  readonly frontend: string;
}

/** What distinguishes netback from blkback. */
export interface BackendHooks {
  readonly kind: string;
  /** Keys published before InitWait. */
  probe(d: BackendDeviceContext): Promise<readonly Entry[]>;
  /** Whether the frontend's state lets the backend connect. */
  frontendReady(frontendState: number): boolean;
  /** Whether dom0's side is ready (hotplug-status, physical-device). */
  hotplugReady(d: BackendDeviceContext): Promise<boolean>;
  /**
   * Reads the frontend's rings, maps and binds them through `rings`, and
   * returns the keys to publish with Connected. Throws {@link RingError} or
   * {@link FrontendError} when the frontend's offer is unusable.
   */
  connect(d: BackendDeviceContext, rings: RingMapping): Promise<readonly Entry[]>;
}

/** The frontend published something the backend cannot use. */
export class FrontendError extends Error {
  override name = "FrontendError";
}

/** A grant ref or port as a frontend wrote it: a decimal u32. */
export function parseU32(what: string, v: string | undefined): number {
  if (v === undefined || !/^\d{1,10}$/.test(v) || Number(v) > 0xffffffff) {
    throw new FrontendError(`frontend ${what} is ${v === undefined ? "missing" : `"${v}"`}`);
  }
  return Number(v);
}

type Phase = "new" | "stalled" | "initwait" | "connected" | "failed" | "closed" | "gone";

/** One xenbus backend device. */
export class XenbusBackendDevice implements BackendDevice {
  readonly id: BackendDeviceId;
  readonly rings: RingMapping;
  readonly #env: BackendEnv;
  readonly #xs: ClockedXs;
  readonly #hooks: BackendHooks;
  readonly #gone: () => void;
  #phase: Phase = "new";
  #frontend: string | undefined;
  #feWatch: XsWatch | undefined;
  #running = false;
  #again = false;

  constructor(env: BackendEnv, hooks: BackendHooks, id: BackendDeviceId, gone: () => void) {
    this.id = id;
    this.#env = env;
    this.#xs = backendXs(env);
    this.#hooks = hooks;
    this.#gone = gone;
    this.rings = new RingMapping(env);
  }

  /** The device's phase (for tests and status displays). */
  get phase(): Phase {
    return this.#phase;
  }

  poke(): void {
    this.#again = true;
    if (this.#running || this.#phase === "gone") return;
    this.#running = true;
    void this.#run();
  }

  async stop(): Promise<void> {
    this.#release("bus stopping");
    this.#phase = "gone";
    await this.#feWatch?.close().catch(() => {});
  }

  /** Reconciles while pokes come in; `#running` drops in the same turn as the last check. */
  async #run(): Promise<void> {
    try {
      for (let round = 0; this.#again && round < RECONCILE_ROUNDS_MAX; round++) {
        this.#again = false;
        try {
          await this.#reconcile();
        } catch (e) {
          this.#trace({ op: "error", error: String(e) });
        }
      }
      if (this.#again) this.#trace({ op: "busy", rounds: RECONCILE_ROUNDS_MAX });
    } finally {
      this.#running = false;
    }
  }

  #trace(fields: Record<string, unknown>): void {
    this.#env.trace.emit({
      src: "backend",
      dom: this.#env.domid ?? 0,
      kind: this.#hooks.kind,
      device: `${this.id.domid}/${this.id.devid}`,
      ...fields,
    });
  }

  #release(why: string): void {
    const n = this.rings.release();
    if (n.grants + n.ports > 0) this.#trace({ op: "disconnect", why, ...n });
  }

  async #setState(state: number): Promise<void> {
    await this.#xs.write(`${this.id.path}/state`, String(state));
    this.#trace({ op: "state", state });
  }

  async #watchFrontend(frontend: string): Promise<void> {
    this.#frontend = frontend;
    const w = await this.#xs.watch(`${frontend}/state`);
    this.#feWatch = w;
    (async () => {
      for await (const _ of w) this.poke();
    })().catch(() => {});
  }

  async #reconcile(): Promise<void> {
    if (this.#phase === "gone") return;
    const path = this.id.path;
    const [state, online, frontend] = await this.#xs.readAll(path, ["state", "online", "frontend"]);
    if (state === undefined) {
      this.#release("backend directory removed");
      this.#phase = "gone";
      this.#gone();
      await this.#feWatch?.close().catch(() => {});
      return;
    }
    if (this.#phase === "stalled") return;
    if (this.#frontend === undefined) {
      if (frontend === undefined) return;
      await this.#watchFrontend(frontend);
    }
    const d: BackendDeviceContext = {
      env: this.#env,
      xs: this.#xs,
      id: this.id,
      frontend: this.#frontend!,
    };
    const be = parseXenbusState(state);
    const fe = parseXenbusState(await this.#xs.read(`${d.frontend}/state`));
    if (this.#phase === "new") return await this.#probe(d);
    const closeRequested = online === "0" || be === XenbusState.Closing;
    const frontendClosing = fe === XenbusState.Closing || fe === XenbusState.Closed ||
      (fe === XenbusState.Unknown && this.#phase === "connected");
    if (this.#phase !== "closed" && (closeRequested || frontendClosing)) {
      this.#release(closeRequested ? "close requested" : "frontend closing");
      if (this.#env.faults?.hit("backend.close.stall")) {
        this.#phase = "stalled";
        this.#trace({ op: "stall", fault: "backend.close.stall" });
        return;
      }
      this.#phase = "closed";
      if (be !== XenbusState.Closed) await this.#setState(XenbusState.Closed);
      return;
    }
    if (this.#phase === "closed") {
      if (online === "1" && be === XenbusState.Closed && fe === XenbusState.Initialising) {
        this.#phase = "initwait"; // Linux: "prepare for reconnect"
        await this.#setState(XenbusState.InitWait);
      }
      return;
    }
    if (this.#phase !== "initwait" || !this.#hooks.frontendReady(fe)) return;
    if (!(await this.#hooks.hotplugReady(d))) return;
    await this.#connect(d);
  }

  async #probe(d: BackendDeviceContext): Promise<void> {
    if (this.#env.faults?.hit("backend.initwait.stall")) {
      this.#phase = "stalled";
      this.#trace({ op: "stall", fault: "backend.initwait.stall" });
      return;
    }
    const features = await this.#hooks.probe(d);
    await this.#xs.transaction(async (tx) => await this.#xs.writeAll(this.id.path, features, tx));
    this.#phase = "initwait";
    await this.#setState(XenbusState.InitWait);
    this.#again = true;
  }

  async #connect(d: BackendDeviceContext): Promise<void> {
    let keys: readonly Entry[];
    try {
      keys = await this.#hooks.connect(d, this.rings);
    } catch (e) {
      if (!(e instanceof RingError) && !(e instanceof FrontendError)) throw e;
      this.#release("connect failed");
      this.#phase = "failed";
      this.#trace({ op: "fatal", error: e.message });
      await this.#setState(XenbusState.Closing);
      return;
    }
    if (keys.length > 0) {
      await this.#xs.transaction(async (tx) => await this.#xs.writeAll(this.id.path, keys, tx));
    }
    this.#phase = "connected";
    this.#trace({
      op: "connect",
      grants: this.rings.grants.map((g) => g.ref),
      ports: this.rings.ports.map((p) => p.remotePort),
    });
    await this.#setState(XenbusState.Connected);
  }
}

/**
 * Starts a xenbus backend driver (blkback, netback) for `hooks.kind` in the
 * env's domain; stop it with `bus.stop()`.
 */
export async function startXenbusBackend(
  env: BackendEnv,
  hooks: BackendHooks,
  opts: BackendBusOptions = {},
): Promise<BackendBus> {
  const bus = new BackendBus(
    env,
    hooks.kind,
    (id, gone) => new XenbusBackendDevice(env, hooks, id, gone),
    opts,
  );
  await bus.start();
  return bus;
}
