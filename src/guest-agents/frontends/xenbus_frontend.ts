/**
 * @module
 * {@link XenbusFrontend}: the frontend half of the XenbusState handshake
 * (xenstore-protocol.md §9.2/§9.3, lifecycle-and-migration.md §2.5/§4.4;
 * Linux `xenbus_probe_frontend.c`, `xenbus_client.c`), shared by netfront
 * and blkfront, which supply {@link FrontendHooks}.
 *
 * Level-triggered on the backend's `state` (watched):
 *
 * | backend   | frontend             | action |
 * |-----------|----------------------|--------|
 * | InitWait  | Initialising         | share ring pages, allocate event channels, publish them and the feature requests in one transaction, switch to 3 (blkfront) or 4 (netfront) |
 * | Connected | Initialised          | read the backend's properties (blkfront), switch to 4 |
 * | Closing   | not Closed           | switch to 6 (`xenbus_frontend_closed`), free the rings |
 * | Closed    | not Closed           | the same |
 * | gone      | own directory gone   | the device was unplugged: free the rings |
 *
 * Every state switch is `xenbus_switch_state`: a transaction that writes
 * `state` only if the node still exists, so an unplugged device's
 * directory is never re-created.
 */
import { NS_PER_S } from "../../sim/clock.ts";
import type { XsWatch } from "../../xenstore/client/watch.ts";
import type { GuestEnv } from "../guest_env.ts";
import type { Frontend, FrontendRebind } from "./frontend.ts";
import { GuestRings, RingSetupError } from "./guest_rings.ts";
import { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { parseXenbusState, XenbusState } from "../../platform/xenbus_state.ts";

/** How long `close()` waits for the backend to close (Linux `xenbus_dev_shutdown`: 5 s). */
export const FRONTEND_CLOSE_TIMEOUT_NS = 5 * NS_PER_S;
/** Most reconcile rounds one burst of events runs. */
export const FRONTEND_ROUNDS_MAX = 64;
/** Most waiters on one frontend's state at once. */
export const FRONTEND_WAITERS_MAX = 64;

/** One key and its value. */
export type Entry = readonly [key: string, value: string];

/** The backend offered something this frontend cannot use. */
export class FrontendError extends Error {
  override name = "FrontendError";
}

/** What a frontend hook sees. */
export interface FrontendContext {
  readonly xs: ClockedXs;
  readonly env: GuestEnv;
  /** Own directory, relative to the guest's home: `device/<kind>/<devid>`. */
  readonly nodename: string;
  readonly backend: string;
  readonly backendId: number;
}

/** What distinguishes netfront from blkfront. */
export interface FrontendHooks {
  readonly kind: "vif" | "vbd";
  /** State after publishing: Initialised (blkfront) or Connected (netfront). */
  readonly publishedState: number;
  /** Mainline blkfront talks to the backend at once after a restore. */
  readonly talkOnResume: boolean;
  /** Shares rings, allocates ports; returns the keys to publish. */
  publish(f: FrontendContext, rings: GuestRings): Promise<readonly Entry[]>;
  /** The backend is Connected while the frontend is Initialised: read its properties. */
  backendConnected?(f: FrontendContext): Promise<void>;
}

interface Waiter {
  readonly ok: (frontend: number, backend: number) => boolean;
  readonly resolve: (ok: boolean) => void;
}

/** One xenbus frontend device. */
export class XenbusFrontend implements Frontend {
  readonly kind: "vif" | "vbd";
  readonly devid: number;
  readonly nodename: string;
  readonly rings: GuestRings;
  readonly #hooks: FrontendHooks;
  #xs: ClockedXs;
  #env: GuestEnv;
  #state: number = XenbusState.Initialising;
  #backendState: number = XenbusState.Unknown;
  #backend = "";
  #backendId = 0;
  #watch: XsWatch | undefined;
  #suspended = false;
  #closing = false;
  #stopped = false;
  #again = false;
  #run: Promise<void> | undefined;
  readonly #waiters: Waiter[] = [];

  constructor(
    xs: ClockedXs,
    env: GuestEnv,
    hooks: FrontendHooks,
    devid: number,
    rings: GuestRings,
  ) {
    this.kind = hooks.kind;
    this.devid = devid;
    this.nodename = `device/${hooks.kind}/${devid}`;
    this.#xs = xs;
    this.#env = env;
    this.#hooks = hooks;
    this.rings = rings;
  }

  get state(): number {
    return this.#state;
  }

  /** The backend directory (from the frontend's `backend` key). */
  get backend(): string {
    return this.#backend;
  }

  get backendId(): number {
    return this.#backendId;
  }

  /** The backend state last seen. */
  get backendState(): number {
    return this.#backendState;
  }

  /** Reads the backend's whereabouts and starts following its state. */
  async start(): Promise<void> {
    await this.#talkToOtherend();
    await this.#watchBackend();
    this.#poke();
  }

  /** Resolves true once the frontend is in `state`, false after `timeoutNs`. */
  waitForState(state: number, timeoutNs: number): Promise<boolean> {
    return this.#wait((fe) => fe === state, timeoutNs);
  }

  async suspend(): Promise<void> {
    this.#suspended = true;
    await this.#run;
  }

  async resume(newDomain: boolean, rebind?: FrontendRebind): Promise<void> {
    if (!newDomain || this.#stopped) {
      this.#suspended = false;
      this.#poke();
      return;
    }
    // Held until the publish below is done, whether or not this object saw
    // the suspend (a kernel restored from an image builds its frontends anew).
    this.#suspended = true;
    await this.#run;
    const old = this.#watch;
    this.#watch = undefined;
    await old?.close().catch(() => {});
    if (rebind !== undefined) {
      this.#env = rebind.env;
      this.#xs = new ClockedXs(rebind.xs, () => rebind.env.sleep(0));
      this.rings.env = rebind.env;
    }
    await this.rings.release({ newDomain: true });
    await this.#talkToOtherend();
    this.#state = XenbusState.Initialising; // local only (xenbus_dev_resume)
    this.#trace({ op: "resume", backend: this.#backend });
    // Still suspended: the watch's first events must not race the publish below.
    await this.#watchBackend();
    if (this.#hooks.talkOnResume) await this.#publish();
    this.#suspended = false;
    this.#poke();
  }

  async close(): Promise<void> {
    if (this.#stopped || this.#closing) return;
    this.#closing = true;
    await this.#run;
    await this.#switch(XenbusState.Closing);
    const closed = await this.#wait(
      (_, be) => be === XenbusState.Closed || be === XenbusState.Unknown,
      FRONTEND_CLOSE_TIMEOUT_NS,
    );
    if (!closed) this.#trace({ op: "close-timeout", backendState: this.#backendState });
    await this.#switch(XenbusState.Closed);
    await this.rings.release();
    await this.#stop();
  }

  // ---------------------------------------------------------------- internals

  #ctx(): FrontendContext {
    return {
      xs: this.#xs,
      env: this.#env,
      nodename: this.nodename,
      backend: this.#backend,
      backendId: this.#backendId,
    };
  }

  #trace(fields: Record<string, unknown>): void {
    this.#env.trace.emit({
      src: "guest",
      dom: this.#env.domid,
      kind: this.kind,
      devid: this.devid,
      ...fields,
    });
  }

  async #talkToOtherend(): Promise<void> {
    const [backend, id] = await this.#xs.readAll(this.nodename, ["backend", "backend-id"]);
    if (backend === undefined || id === undefined || !/^\d+$/.test(id)) {
      throw new FrontendError(`${this.nodename}: no backend/backend-id; is the device written?`);
    }
    this.#backend = backend;
    this.#backendId = Number(id);
  }

  async #watchBackend(): Promise<void> {
    const w = await this.#xs.watch(`${this.#backend}/state`);
    this.#watch = w;
    (async () => {
      for await (const _ of w) {
        if (this.#watch !== w) return;
        this.#poke();
      }
    })().catch(() => {});
  }

  #poke(): void {
    this.#again = true;
    if (this.#run !== undefined) return;
    this.#run = this.#loop();
  }

  /**
   * Reconciles while pokes come in. `#run` is cleared in the same turn as
   * the last check of `#again` (a `.finally()` would leave a gap in which a
   * poke is lost); the first `await` comes before that, so the assignment in
   * `#poke` always happens first.
   */
  async #loop(): Promise<void> {
    try {
      for (let round = 0; this.#again && round < FRONTEND_ROUNDS_MAX; round++) {
        this.#again = false;
        try {
          await this.#reconcile();
        } catch (e) {
          this.#trace({ op: "error", error: String(e) });
        }
      }
    } finally {
      this.#run = undefined;
    }
  }

  #wait(ok: Waiter["ok"], timeoutNs: number): Promise<boolean> {
    if (ok(this.#state, this.#backendState)) return Promise.resolve(true);
    if (this.#waiters.length >= FRONTEND_WAITERS_MAX) {
      throw new Error(`${this.nodename}: over ${FRONTEND_WAITERS_MAX} state waiters`);
    }
    return new Promise((resolve) => {
      const timer = this.#env.clock.setTimer(timeoutNs, () => done(false));
      const waiter: Waiter = { ok, resolve: (v) => done(v) };
      const done = (v: boolean) => {
        const i = this.#waiters.indexOf(waiter);
        if (i < 0) return;
        this.#waiters.splice(i, 1);
        timer.cancel();
        resolve(v);
      };
      this.#waiters.push(waiter);
      this.#poke();
    });
  }

  #notify(): void {
    for (const w of [...this.#waiters]) {
      if (w.ok(this.#state, this.#backendState)) w.resolve(true);
    }
  }

  /** `xenbus_switch_state`: writes `state` only if the node still exists. */
  async #switch(state: number): Promise<void> {
    const path = `${this.nodename}/state`;
    const present = await this.#xs.transaction(async (tx) => {
      if ((await this.#xs.read(path, tx)) === undefined) return false;
      await this.#xs.write(path, String(state), tx);
      return true;
    });
    this.#state = state;
    this.#trace({ op: "state", state, written: present });
    this.#notify();
  }

  async #stop(): Promise<void> {
    this.#stopped = true;
    const w = this.#watch;
    this.#watch = undefined;
    await w?.close().catch(() => {});
    this.#notify();
  }

  async #reconcile(): Promise<void> {
    if (this.#stopped || this.#suspended) return;
    if (this.rings.deferred > 0) await this.rings.retryDeferred();
    const be = parseXenbusState(await this.#xs.readState(`${this.#backend}/state`));
    this.#backendState = be;
    this.#notify();
    if (this.#closing) return;
    if (be === XenbusState.Unknown) {
      if ((await this.#xs.readState(`${this.nodename}/state`)) === undefined) {
        this.#trace({ op: "unplugged" });
        await this.rings.release();
        this.#state = XenbusState.Closed;
        await this.#stop();
      }
      return;
    }
    const fe = this.#state;
    if (be === XenbusState.InitWait && fe === XenbusState.Initialising) {
      await this.#publish();
    } else if (be === XenbusState.Connected && fe === XenbusState.Initialised) {
      try {
        await this.#hooks.backendConnected?.(this.#ctx());
      } catch (e) {
        if (!(e instanceof FrontendError)) throw e;
        return await this.#fatal(e.message);
      }
      await this.#switch(XenbusState.Connected);
    } else if (
      (be === XenbusState.Closing || be === XenbusState.Closed) && fe !== XenbusState.Closed
    ) {
      await this.#switch(XenbusState.Closed);
      await this.rings.release();
    }
  }

  async #publish(): Promise<void> {
    let keys: readonly Entry[];
    try {
      keys = await this.#hooks.publish(this.#ctx(), this.rings);
    } catch (e) {
      if (!(e instanceof RingSetupError) && !(e instanceof FrontendError)) throw e;
      return await this.#fatal(e.message);
    }
    await this.#xs.transaction(async (tx) => await this.#xs.writeAll(this.nodename, keys, tx));
    this.#trace({ op: "publish", keys: Object.fromEntries(keys) });
    await this.#switch(this.#hooks.publishedState);
  }

  /** `xenbus_dev_fatal`: give back what was set up, go Closing. */
  async #fatal(why: string): Promise<void> {
    this.#trace({ op: "fatal", error: why });
    await this.rings.release();
    await this.#switch(XenbusState.Closing);
  }
}
