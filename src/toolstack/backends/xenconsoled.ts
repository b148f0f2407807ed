/**
 * @module
 * {@link Xenconsoled}: the console backend daemon (`tools/console/daemon/io.c`;
 * lifecycle-and-migration.md §2.1 step 10, §2.5; xenstore-protocol.md §8.4).
 * For each console 0 under `/local/domain/<self>/backend/console` whose
 * frontend `type` is `xenconsoled` (an `ioemu` console is QEMU's), it maps
 * the ring through the reserved grant entry `GNTTAB_RESERVED_CONSOLE` (the
 * domain builder seeded it), binds the console event channel from the
 * frontend's `port`, allocates a pty and publishes it in `~/console/tty` —
 * what libxl's "console available" wait looks for. Guest output (the ring's
 * `out` half) is read on every event into a bounded per-domain log.
 *
 * xenconsoled does not take part in the XenbusState handshake: it never
 * writes the backend `state`. It lets go of a console when the toolstack
 * removes its entries, and when the domain dies (`@releaseDomain`, then
 * getdomaininfo), as the real daemon does.
 */
import { decodeDominf } from "../../hv/domain_info.ts";
import { GNTTAB_RESERVED_CONSOLE } from "../../hv/xen_abi.ts";
import type { XsWatch } from "../../xenstore/client/watch.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { BackendBus, type BackendBusOptions, type BackendDeviceId } from "./backend_bus.ts";
import { type BackendEnv, backendXs } from "./backend_env.ts";
import { consumeOut } from "./console_ring.ts";
import { RingError, RingMapping } from "./ring_mapping.ts";
import { FrontendError, parseU32, RECONCILE_ROUNDS_MAX } from "./xenbus_backend.ts";

/** Pty numbers handed out (`/dev/pts/<n>`, n below this). */
export const PTYS_MAX = 4096;
/** Bytes of output kept per domain (the tail). */
export const CONSOLE_LOG_BYTES_MAX = 64 * 1024;

type Phase = "new" | "connected" | "ignored" | "failed" | "dead" | "gone";

const latin1 = new TextDecoder("latin1");

/** One domain's console as xenconsoled serves it. */
class ConsoleDevice {
  readonly id: BackendDeviceId;
  readonly rings: RingMapping;
  phase: Phase = "new";
  tty: string | undefined;
  readonly #d: Xenconsoled;
  readonly #gone: () => void;
  #pty = -1;
  #unlisten: (() => void) | undefined;
  #running = false;
  #again = false;

  constructor(d: Xenconsoled, id: BackendDeviceId, gone: () => void) {
    this.#d = d;
    this.id = id;
    this.#gone = gone;
    this.rings = new RingMapping(d.env);
  }

  poke(): void {
    this.#again = true;
    if (this.#running) return;
    this.#running = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    try {
      for (let round = 0; this.#again && round < RECONCILE_ROUNDS_MAX; round++) {
        this.#again = false;
        await this.#reconcile().catch((e) => this.#d.trace({ op: "error", error: String(e) }));
      }
    } finally {
      this.#running = false;
    }
  }

  stop(): Promise<void> {
    this.release("daemon stopping");
    this.phase = "gone";
    return Promise.resolve();
  }

  /** Unmaps, unbinds, frees the pty. */
  release(why: string): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    const n = this.rings.release();
    if (this.#pty >= 0) this.#d.freePty(this.#pty);
    this.#pty = -1;
    if (n.grants + n.ports > 0) this.#d.trace({ op: "disconnect", dom: this.id.domid, why, ...n });
  }

  async #reconcile(): Promise<void> {
    const xs = this.#d.xs;
    if (this.phase === "gone") return;
    const [state, frontend] = await xs.readAll(this.id.path, ["state", "frontend"]);
    if (state === undefined) {
      this.release("console removed");
      this.phase = "gone";
      this.#gone();
      return;
    }
    if (this.phase !== "new" || frontend === undefined) return;
    if (this.id.devid !== 0) {
      this.phase = "ignored"; // secondary consoles are QEMU's in 4.17
      return;
    }
    const [type, ringRef, port] = await xs.readAll(frontend, ["type", "ring-ref", "port"]);
    if (type !== "xenconsoled") {
      this.phase = "ignored";
      this.#d.trace({ op: "ignore", dom: this.id.domid, type });
      return;
    }
    if (ringRef === undefined || port === undefined) return;
    try {
      const handle = this.rings.map(this.id.domid, GNTTAB_RESERVED_CONSOLE);
      const local = this.rings.bind(this.id.domid, parseU32("port", port));
      this.#listen(handle, local);
    } catch (e) {
      if (!(e instanceof RingError) && !(e instanceof FrontendError)) throw e;
      this.release("connect failed");
      this.phase = "failed";
      this.#d.trace({ op: "fatal", dom: this.id.domid, error: e.message });
      return;
    }
    this.#pty = this.#d.allocPty();
    this.tty = `/dev/pts/${this.#pty}`;
    this.phase = "connected";
    await xs.write(`${frontend}/tty`, this.tty);
    this.#d.trace({ op: "connect", dom: this.id.domid, tty: this.tty, ringRef: Number(ringRef) });
  }

  #listen(handle: number, localPort: number): void {
    const env = this.#d.env;
    if (env.onPort === undefined || env.grantPage === undefined) return;
    const drain = () => {
      const page = env.grantPage!(handle);
      if (page === undefined) return;
      const bytes = consumeOut(page);
      if (bytes.length === 0) return;
      this.#d.appendLog(this.id.domid, latin1.decode(bytes));
      env.hypercall({ hc: "event_channel_op", op: "send", port: localPort });
    };
    this.#unlisten = env.onPort(localPort, drain);
    drain(); // output written before the daemon connected
  }
}

/** The console daemon of one backend domain. */
export class Xenconsoled {
  readonly env: BackendEnv;
  readonly xs: ClockedXs;
  readonly bus: BackendBus;
  readonly #devices = new Map<number, ConsoleDevice>();
  readonly #ptys = new Set<number>();
  readonly #logs = new Map<number, string>();
  #release: XsWatch | undefined;

  private constructor(env: BackendEnv, opts: BackendBusOptions) {
    this.env = env;
    this.xs = backendXs(env);
    this.bus = new BackendBus(env, "console", (id, gone) => {
      const dev = new ConsoleDevice(this, id, () => {
        if (this.#devices.get(id.domid) === dev) this.#devices.delete(id.domid);
        gone();
      });
      if (id.devid === 0) this.#devices.set(id.domid, dev);
      return dev;
    }, opts);
  }

  /** Starts the daemon: the console bus and a `@releaseDomain` watch. */
  static async start(env: BackendEnv, opts: BackendBusOptions = {}): Promise<Xenconsoled> {
    const d = new Xenconsoled(env, opts);
    await d.bus.start();
    const w = await d.xs.watch("@releaseDomain");
    d.#release = w;
    (async () => {
      for await (const _ of w) d.#checkDomains();
    })().catch(() => {});
    return d;
  }

  /** Stops serving every console. */
  async stop(): Promise<void> {
    await this.#release?.close().catch(() => {});
    await this.bus.stop();
  }

  /** The pty of `domid`'s console, once connected. */
  tty(domid: number): string | undefined {
    return this.#devices.get(domid)?.tty;
  }

  /** What `domid` wrote to its console (the last {@link CONSOLE_LOG_BYTES_MAX} bytes). */
  output(domid: number): string {
    return this.#logs.get(domid) ?? "";
  }

  /** Whether `domid`'s console ring is mapped and its channel bound. */
  connected(domid: number): boolean {
    return this.#devices.get(domid)?.phase === "connected";
  }

  trace(fields: Record<string, unknown>): void {
    this.env.trace.emit({ src: "xenconsoled", dom: this.env.domid ?? 0, ...fields });
  }

  allocPty(): number {
    for (let n = 0; n < PTYS_MAX; n++) {
      if (!this.#ptys.has(n)) {
        this.#ptys.add(n);
        return n;
      }
    }
    throw new RingError(`all ${PTYS_MAX} ptys in use`);
  }

  freePty(n: number): void {
    this.#ptys.delete(n);
  }

  appendLog(domid: number, text: string): void {
    const all = (this.#logs.get(domid) ?? "") + text;
    this.#logs.set(
      domid,
      all.length > CONSOLE_LOG_BYTES_MAX ? all.slice(-CONSOLE_LOG_BYTES_MAX) : all,
    );
  }

  /** `@releaseDomain`: let go of consoles whose domain is dying or gone. */
  #checkDomains(): void {
    for (const dev of this.#devices.values()) {
      if (dev.phase !== "connected") continue;
      const r = this.env.hypercall({ hc: "domctl", op: "getdomaininfo", domid: dev.id.domid });
      if (r.info === undefined || decodeDominf(r.info.flags).dying) {
        dev.release("domain died");
        dev.phase = "dead";
      }
    }
  }
}

/** Starts xenconsoled in the env's domain. */
export function startXenconsoled(
  env: BackendEnv,
  opts: BackendBusOptions = {},
): Promise<Xenconsoled> {
  return Xenconsoled.start(env, opts);
}
