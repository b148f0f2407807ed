/**
 * @module
 * What a guest agent holds per PV device: a {@link Frontend} with its kind,
 * devid and local XenbusState, and the three moments of its life the agent
 * drives — suspend, resume (cancelled: nothing changes; in a new domain:
 * reconnect, lifecycle-and-migration.md §4.3/§4.4, xenstore-protocol.md
 * §9.3), and close.
 */
import type { XsClient } from "../../xenstore/client/client.ts";
import type { GuestEnv } from "../guest_env.ts";

/** Device classes the frontends serve. */
export type FrontendKind = "vif" | "vbd" | "console";

/**
 * After a restore the guest runs in a new domain: its agent opens a new
 * xenstore connection and gets the new domain's env; the frontends move
 * over to them.
 */
export interface FrontendRebind {
  readonly xs: XsClient;
  readonly env: GuestEnv;
}

/** One frontend device. */
export interface Frontend {
  readonly kind: FrontendKind;
  readonly devid: number;
  /** The frontend's own state (`XenbusState`), as it last switched to. */
  readonly state: number;
  /** The guest is about to suspend: stop reacting to the backend. */
  suspend(): Promise<void>;
  /**
   * `newDomain` false: the suspend was cancelled, nothing changes. True:
   * restored into a new domain — re-read `backend`/`backend-id`, reset to
   * Initialising, free the old ring and renegotiate with new ring-refs and
   * event channels; `rebind` moves the device to the new domain's
   * connection and env.
   */
  resume(newDomain: boolean, rebind?: FrontendRebind): Promise<void>;
  /** Closing (5), wait for the backend to close, Closed (6), rings freed. */
  close(): Promise<void>;
}
