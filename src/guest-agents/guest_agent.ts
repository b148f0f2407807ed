/**
 * @module
 * The one entry point for running a simulated guest in a domain:
 * {@link startGuestAgent} picks the agent kind (PV, PVHVM, HVM), resolves
 * the behaviour profile and wires the options through. Everything the agent
 * does is traced as `{src: "guest", dom, ev, ...}` on `env.trace`; it sees
 * only what a guest sees (`GuestEnv`).
 *
 * @example
 * ```ts ignore
 * const agent = startGuestAgent(env, { kind: "pv", profile: "slow-ack" });
 * // ... the toolstack builds and unpauses the domain ...
 * await agent.ready;
 * ```
 */
import type { AgentCommonOptions, GuestAgent, GuestKind } from "./agent_core.ts";
import type { GuestEnv } from "./guest_env.ts";
import { HvmAgent } from "./hvm_agent.ts";
import { type GuestProfile, guestProfile, type GuestProfileName } from "./profiles.ts";
import type { FrontendsBringUp } from "./pv_drivers.ts";
import { PvAgent } from "./pv_agent.ts";
import { PvhvmAgent } from "./pvhvm_agent.ts";
import type { SuspendHook } from "./suspend_hook.ts";

export type { AgentState, GuestAgent, GuestKind } from "./agent_core.ts";
export { CONSOLE_LINES_MAX, ORDERLY_SHUTDOWN_NS_DEFAULT } from "./agent_core.ts";

/** How to start an agent. */
export interface GuestAgentOptions extends AgentCommonOptions {
  readonly kind: GuestKind;
  /** A profile name (default `well-behaved`) or a resolved profile. */
  readonly profile?: GuestProfileName | GuestProfile | string;
  /** `slow-ack` delay (see `profiles.ts`). */
  readonly slowAckDelayNs?: number;
  /** PV and PVHVM: `do_suspend` (issue 5); absent, suspend is not offered. */
  readonly suspend?: SuspendHook;
  /** PV and PVHVM: first pfn of the frontends' ring pages. */
  readonly ringPfnBase?: number;
  /** PV and PVHVM: how many ring pages (default 16). */
  readonly ringPages?: number;
  /** PV and PVHVM: bound on waiting for devices at boot (default 300 s). */
  readonly waitDevicesNs?: number;
  /** PVHVM: where shared_info is mapped. */
  readonly sharedInfoPfn?: number;
  /** PV and PVHVM: replaces the frontend bring-up (tests). */
  readonly bringUpFrontends?: FrontendsBringUp;
  /** The page the kernel keeps its record in (`kernel_record.ts`); needed to resume from an image. */
  readonly kernelRecordPfn?: number;
  /** The domain was restored from a save image: resume in it instead of booting (§4.2–§4.4). */
  readonly resume?: boolean;
}

/**
 * Starts a guest agent in `env`'s domain. It attaches to the hypervisor at
 * once and boots when vCPU 0 first runs (after the toolstack's unpause).
 * Throws a RangeError for an unknown kind or profile.
 */
export function startGuestAgent(env: GuestEnv, opts: GuestAgentOptions): GuestAgent {
  const p = opts.profile ?? "well-behaved";
  const profile = typeof p === "string"
    ? guestProfile(p, { slowAckDelayNs: opts.slowAckDelayNs })
    : p;
  switch (opts.kind) {
    case "pv":
      return new PvAgent(env, { ...opts, profile });
    case "pvhvm":
      return new PvhvmAgent(env, { ...opts, profile });
    case "hvm":
      return new HvmAgent(env, { ...opts, profile });
    default:
      throw new RangeError(
        `unknown guest kind "${String((opts as { kind: unknown }).kind)}"; use pv, pvhvm or hvm`,
      );
  }
}
