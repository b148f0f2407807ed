/**
 * @module
 * {@link RingMapping}: the grants one backend device mapped and the event
 * channels it bound, made with real hypercalls on the (emulated) hypervisor
 * — `grant_table_op map_grant_ref` with `GNTMAP_host_map`, `event_channel_op
 * bind_interdomain` — and undone together (`unmap_grant_ref`, `close`) when
 * the device disconnects (Linux `xenbus_map_ring_valloc` /
 * `bind_interdomain_evtchn_to_irqhandler` and their undo).
 */
import { GNTMAP_host_map, GNTMAP_readonly, GNTST_okay } from "../../hv/xen_abi.ts";
import type { BackendEnv } from "./backend_env.ts";

/** Most grants one device maps (blkback: 2^max-ring-page-order × queues). */
export const RING_GRANTS_MAX = 64;
/** Most event channels one device binds. */
export const RING_PORTS_MAX = 16;

/** A mapping or binding the hypervisor refused; the device fails to connect. */
export class RingError extends Error {
  override name = "RingError";
}

/** One mapped grant. */
export interface MappedGrant {
  readonly dom: number;
  readonly ref: number;
  readonly handle: number;
}

/** One bound interdomain event channel. */
export interface BoundPort {
  readonly remoteDom: number;
  readonly remotePort: number;
  readonly localPort: number;
}

/** The rings of one device. */
export class RingMapping {
  readonly #env: Pick<BackendEnv, "hypercall">;
  readonly #grants: MappedGrant[] = [];
  readonly #ports: BoundPort[] = [];

  constructor(env: Pick<BackendEnv, "hypercall">) {
    this.#env = env;
  }

  get grants(): readonly MappedGrant[] {
    return this.#grants;
  }

  get ports(): readonly BoundPort[] {
    return this.#ports;
  }

  /** Maps grant `ref` of domain `dom`; returns the handle. */
  map(dom: number, ref: number, readonly = false): number {
    if (this.#grants.length >= RING_GRANTS_MAX) {
      throw new RingError(`more than ${RING_GRANTS_MAX} ring grants for one device`);
    }
    const r = this.#env.hypercall({
      hc: "grant_table_op",
      op: "map_grant_ref",
      dom,
      ref,
      flags: GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
    });
    if (r.ret !== 0 || r.status !== GNTST_okay || r.handle === undefined) {
      throw new RingError(`mapping grant ${ref} of domain ${dom} failed (GNTST ${r.status})`);
    }
    this.#grants.push({ dom, ref, handle: r.handle });
    return r.handle;
  }

  /** Binds `remotePort` of domain `remoteDom`; returns the local port. */
  bind(remoteDom: number, remotePort: number): number {
    if (this.#ports.length >= RING_PORTS_MAX) {
      throw new RingError(`more than ${RING_PORTS_MAX} event channels for one device`);
    }
    const r = this.#env.hypercall({
      hc: "event_channel_op",
      op: "bind_interdomain",
      remoteDom,
      remotePort,
    });
    if (r.ret < 0 || r.localPort === undefined) {
      throw new RingError(
        `binding event channel ${remotePort} of domain ${remoteDom} failed (${r.ret})`,
      );
    }
    this.#ports.push({ remoteDom, remotePort, localPort: r.localPort });
    return r.localPort;
  }

  /** Unmaps every grant and closes every port; returns how many of each. */
  release(): { grants: number; ports: number } {
    const n = { grants: this.#grants.length, ports: this.#ports.length };
    for (const g of this.#grants.splice(0)) {
      this.#env.hypercall({ hc: "grant_table_op", op: "unmap_grant_ref", handle: g.handle });
    }
    for (const p of this.#ports.splice(0)) {
      this.#env.hypercall({ hc: "event_channel_op", op: "close", port: p.localPort });
    }
    return n;
  }
}
