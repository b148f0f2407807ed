/**
 * @module
 * What a dom0 backend driver runs with: its own xenstore connection (a
 * daemon or kernel driver in the backend domain, not the toolstack's), its
 * domain's hypercalls (to map grants and bind event channels on the
 * emulated hypervisor), time, a trace, dom0's files (blkback sizes a disk
 * from its image), optional fault points, and — where the host offers them —
 * byte access to mapped grants and event upcalls, which only xenconsoled
 * uses (to read the console ring).
 *
 * A `ToolstackContext` fits, but a backend should have its own connection.
 */
import type { Hypercall, HypercallResult } from "../../hv/hypercall.ts";
import type { Clock } from "../../sim/clock.ts";
import type { Faults } from "../../sim/faults.ts";
import type { Trace } from "../../sim/trace.ts";
import type { XsClient } from "../../xenstore/client/client.ts";
import type { Dom0Resources } from "../toolstack_context.ts";
import { ClockedXs } from "../../xenstore/client/clocked_xs.ts";

/** A mapped grant's bytes (`Hypervisor.grantPage`). */
export interface MappedPage {
  read(offset: number, out: Uint8Array): number;
  write(offset: number, data: Uint8Array): number;
}

/** The environment of a backend driver. */
export interface BackendEnv {
  readonly xs: XsClient;
  /** Hypercalls made by the backend domain. */
  hypercall<C extends Hypercall>(call: C): HypercallResult<C>;
  readonly clock: Clock;
  readonly trace: Trace;
  readonly dom0: Dom0Resources;
  /** `backend.initwait.stall`, `backend.close.stall`. */
  readonly faults?: Faults;
  /** The backend domain (default 0). */
  readonly domid?: number;
  /** Bytes of a grant this domain mapped, by handle. */
  grantPage?(handle: number): MappedPage | undefined;
  /** Upcalls on one of this domain's ports (`/dev/xen/evtchn`); returns an unsubscribe. */
  onPort?(port: number, fn: (port: number) => void): () => void;
}

/** The env's client, paced by zero-delay timers on its clock (`devices/clocked_xs.ts`). */
export function backendXs(env: BackendEnv): ClockedXs {
  return new ClockedXs(
    env.xs,
    () => new Promise<void>((resolve) => env.clock.setTimer(0, resolve)),
  );
}
