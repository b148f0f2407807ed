/**
 * @module
 * A {@link GuestEnv} for a guest agent in its own process, talking to the
 * host over two WebSockets of the host's endpoint (ARCHITECTURE.md "guest
 * agents — in-process, or separate processes over WebSocket"), both
 * authenticated with the domain's secret:
 *
 * * `<url>hv` — the hypervisor (`hv_ws_client.ts`): hypercalls, page reads
 *   and writes, and the kernel's upcalls once attached;
 * * `<url>` — xenstore (`connectWebSocket`), opened by `openXenstore`.
 *
 * The host binds both to the domain the secret belongs to and refuses
 * nothing more, so `openXenstore` does the check the in-process host does:
 * the store frame and event channel the guest found must be the ones its
 * home records (`~/store/ring-ref`, `~/store/port`, written by the
 * toolstack with the values it INTRODUCEd). Time is the system clock;
 * there is no emulated platform (an HVM guest's device model stays in the
 * host).
 *
 * @example
 * ```ts ignore
 * const env = await connectRemoteGuestEnv({
 *   url: "ws://127.0.0.1:8080/", secret, clock: new SystemClock(), rng, trace,
 * });
 * const agent = startGuestAgent(env, { kind: "pv" });
 * ```
 */
import type { GuestKernel } from "../hv/domain.ts";
import type { Hypercall, HypercallResult } from "../hv/hypercall.ts";
import type { Clock } from "../sim/clock.ts";
import type { Rng } from "../sim/rng.ts";
import type { Trace } from "../sim/trace.ts";
import { XsClient } from "../xenstore/client/client.ts";
import type { XsLink } from "../xenstore/client/link.ts";
import { connectWebSocket, type WebSocketLink } from "../xenstore/client/websocket_link.ts";
import type { GuestEnv } from "./guest_env.ts";
import { connectHvWebSocket, type HvUpcall, type HvWebSocketClient } from "./hv_ws_client.ts";

/** Xenstore connections one remote env attempts at most (boot, and a reconnect or two). */
export const REMOTE_ENV_XENSTORE_LINKS_MAX = 8;

/** What {@link connectRemoteGuestEnv} needs. */
export interface RemoteGuestEnvOptions {
  /** The host's WebSocket endpoint, `ws://host:port/`. */
  readonly url: string;
  /** The domain's secret (`$RUNDIR/domains/<id>/secret`). */
  readonly secret: string;
  /** The domain the caller expects the secret to speak for (checked). */
  readonly domid?: number;
  /** A system clock (timers and the connect timeout). */
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  /** Bound on connecting each socket; default `HV_WS_CONNECT_TIMEOUT_NS`. */
  readonly connectTimeoutNs?: number;
  /** Hypervisor requests on the wire at most; default `HV_WS_OUTSTANDING_MAX`. */
  readonly outstandingMax?: number;
  /** Hypervisor requests waiting for a slot at most; default `HV_WS_QUEUED_MAX`. */
  readonly queuedMax?: number;
  /** Xenstore links opened at most; default {@link REMOTE_ENV_XENSTORE_LINKS_MAX}. */
  readonly xenstoreLinksMax?: number;
}

/** A remote guest's environment, with its connections' life. */
export interface RemoteGuestEnv extends GuestEnv {
  /**
   * Resolves when the host connection is gone: the hypervisor socket or a
   * xenstore link it opened closed (`undefined` after {@link close}, else
   * the error saying why).
   */
  readonly closed: Promise<Error | undefined>;
  /** Closes every socket; pending hypercalls reject. Idempotent. */
  close(): void;
}

/** `ws://host:port/` with exactly one trailing slash, and its `/hv` route. */
function endpoints(url: string): { xenstore: string; hv: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`bad host URL "${url}"; give ws://HOST:PORT/`);
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") {
    throw new TypeError(`bad host URL "${url}": not ws:// or wss://`);
  }
  const base = url.endsWith("/") ? url : url + "/";
  return { xenstore: base, hv: base + "hv" };
}

/**
 * Connects to the host as the domain `opts.secret` belongs to; resolves
 * once the hypervisor socket is authenticated. Rejects with an error that
 * names the URL when the host cannot be reached or refuses the secret, or
 * when `opts.domid` is given and the secret is another domain's.
 */
export async function connectRemoteGuestEnv(opts: RemoteGuestEnvOptions): Promise<RemoteGuestEnv> {
  const urls = endpoints(opts.url);
  const hv = await connectHvWebSocket({
    url: urls.hv,
    secret: opts.secret,
    clock: opts.clock,
    connectTimeoutNs: opts.connectTimeoutNs,
    outstandingMax: opts.outstandingMax,
    queuedMax: opts.queuedMax,
  });
  if (opts.domid !== undefined && hv.domid !== opts.domid) {
    hv.close();
    throw new Error(
      `${urls.hv}: the secret is domain ${hv.domid}'s, not domain ${opts.domid}'s; ` +
        "check --secret-file",
    );
  }
  return new RemoteEnv(hv, urls.xenstore, opts);
}

class RemoteEnv implements RemoteGuestEnv {
  readonly domid: number;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  readonly closed: Promise<Error | undefined>;
  readonly #hv: HvWebSocketClient;
  readonly #xenstoreUrl: string;
  readonly #secret: string;
  readonly #links = new Set<WebSocketLink>();
  #linksOpened = 0;
  readonly #linksMax: number;
  #kernel: GuestKernel | undefined;
  #attach: Promise<unknown> | undefined;
  #resolveClosed!: (why: Error | undefined) => void;

  constructor(hv: HvWebSocketClient, xenstoreUrl: string, opts: RemoteGuestEnvOptions) {
    this.#hv = hv;
    this.#xenstoreUrl = xenstoreUrl;
    this.#secret = opts.secret;
    this.domid = hv.domid;
    this.clock = opts.clock;
    this.rng = opts.rng;
    this.trace = opts.trace;
    this.#linksMax = opts.xenstoreLinksMax ?? REMOTE_ENV_XENSTORE_LINKS_MAX;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    hv.closed.then((why) => this.#resolveClosed(why));
    hv.onUpcall((u) => this.#upcall(u));
  }

  hypercall<C extends Hypercall>(call: C): Promise<HypercallResult<C>> {
    return this.#hv.hypercall(call);
  }

  readPage(pfn: number, offset: number, out: Uint8Array): Promise<number> {
    return this.#hv.readPage(pfn, offset, out);
  }

  writePage(pfn: number, offset: number, data: Uint8Array): Promise<number> {
    return this.#hv.writePage(pfn, offset, data);
  }

  /**
   * The host attaches one kernel per socket: the first call sends `attach`,
   * later ones only replace the hooks. Upcalls that arrive while detached
   * are dropped (the host has already taken them off the domain).
   */
  attachKernel(kernel: GuestKernel): () => void {
    this.#kernel = kernel;
    this.#attach ??= this.#hv.request({ op: "attach" }).catch((e) => {
      this.#traceError("attach", e);
    });
    return () => {
      if (this.#kernel === kernel) this.#kernel = undefined;
    };
  }

  async openXenstore(storeFrame: number, storeEvtchn: number): Promise<XsLink> {
    if (this.#linksOpened >= this.#linksMax) {
      throw new Error(
        `xenstore: ${this.#linksOpened} connections attempted already (limit ${this.#linksMax}, ` +
          "xenstoreLinksMax); a guest reconnects only after a restore",
      );
    }
    this.#linksOpened++;
    await this.#checkStore(storeFrame, storeEvtchn);
    const link = await this.#connect();
    this.#links.add(link);
    link.closed.then((why) => {
      this.#links.delete(link);
      this.#resolveClosed(why);
    });
    return link;
  }

  sleep(ns: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimer(ns, resolve));
  }

  close(): void {
    for (const link of this.#links) link.close();
    this.#hv.close();
  }

  async #connect(): Promise<WebSocketLink> {
    const link = await connectWebSocket(this.#xenstoreUrl, this.#secret);
    if (link.domid !== this.domid) {
      link.close();
      throw new Error(
        `${this.#xenstoreUrl}: xenstore took the secret as domain ${link.domid}'s, ` +
          `the hypervisor as domain ${this.domid}'s`,
      );
    }
    return link;
  }

  /**
   * Refuses a ring or port other than the ones the toolstack recorded in
   * the domain's home (skipped where the home does not say).
   */
  async #checkStore(frame: number, port: number): Promise<void> {
    const probe = new XsClient(await this.#connect());
    let ringRef: string | undefined, storePort: string | undefined;
    try {
      const read = (p: string) => probe.readString(p).catch(() => undefined);
      [ringRef, storePort] = await Promise.all([read("store/ring-ref"), read("store/port")]);
    } finally {
      probe.close();
    }
    if (
      (ringRef !== undefined && Number(ringRef) !== frame) ||
      (storePort !== undefined && Number(storePort) !== port)
    ) {
      throw new Error(
        `xenstore ring ${frame} port ${port} refused: domain ${this.domid} was introduced ` +
          `with ring ${ringRef} port ${storePort}`,
      );
    }
  }

  #upcall(u: HvUpcall): void {
    const k = this.#kernel;
    if (k === undefined) return;
    try {
      switch (u.upcall) {
        case "event":
          k.event?.(u.port);
          return;
        case "vcpuRun":
          k.vcpuRun?.(u.vcpu, u.ctx);
          return;
        case "wake":
          k.wake?.(u.vcpu);
          return;
        case "trigger":
          k.trigger?.(u.trigger, u.vcpu);
          return;
        default:
          this.#traceError("upcall", new Error(`unknown upcall ${JSON.stringify(u)}`));
      }
    } catch (e) {
      this.#traceError(`upcall ${u.upcall}`, e);
    }
  }

  #traceError(what: string, e: unknown): void {
    const error = e instanceof Error ? e.message : String(e);
    this.trace.emit({ src: "guest", dom: this.domid, ev: "error", what, error });
  }
}
