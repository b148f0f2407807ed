/**
 * @module
 * The extension point for the guest side of suspend (issue 5,
 * lifecycle-and-migration.md §3.7, §4.3): Linux's `do_suspend`. Until an
 * agent is given a {@link SuspendHook}, it behaves like a Linux built
 * without hibernate callbacks — the handler table has no "suspend", so
 * `feature-suspend` is never written and a "suspend" request is neither
 * acknowledged nor acted on ("Ignoring shutdown request: suspend"). It does
 * not advertise what it cannot do.
 *
 * With a hook, `feature-suspend` = `1`; "suspend" is acknowledged in the
 * shutdown transaction, `shutting_down` = SUSPEND, and the hook runs on the
 * watch thread (no other watch callback runs until it returns, as on
 * Linux). What the hook must do, per §3.7: freeze the frontends, quiesce
 * xenstore, PV: canonicalise start_info's store/console MFNs to PFNs, make
 * `SCHEDOP_shutdown(SHUTDOWN_suspend)` (PV: `arg` = start_info's MFN), wait
 * for the next vCPU entry and read RAX (1 = cancelled: thaw; 0 = resumed in
 * a new domain: re-read start_info / HVM params, reconnect xenstore,
 * re-register watches, frontends RESTORE).
 */
import type { VcpuContext } from "../hv/vcpu.ts";
import type { XsClient } from "../xenstore/client/client.ts";
import type { GuestEnv } from "./guest_env.ts";
import type { FrontendHandle } from "./pv_drivers.ts";

/** What the guest's suspend code works with. */
export interface SuspendContext {
  readonly env: GuestEnv;
  readonly kind: "pv" | "pvhvm";
  /** The xenstore connection (Linux's `xs_suspend` / `xs_resume` act on it). */
  readonly xs: XsClient;
  readonly frontends: readonly FrontendHandle[];
  /** PV: the pfn of start_info (its MFN goes in the suspend hypercall's `arg`). */
  readonly startInfoPfn?: number;
  /** The next time vCPU 0 runs: after the suspend hypercall, RAX is its return value. */
  nextVcpuEntry(): Promise<VcpuContext>;
  /** A guest trace event. */
  trace(ev: string, fields?: Record<string, unknown>): void;
}

/** `do_suspend`: resolves when the guest runs normally again. */
export type SuspendHook = (ctx: SuspendContext) => Promise<void>;
