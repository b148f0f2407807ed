/**
 * @module
 * The XenAPI VM power state machine (lifecycle-and-migration.md §1.3; seed
 * `docs/xen-api/vm-lifecycle.tex`): states Halted, Paused, Running,
 * Suspended and the 2006 draft's Crashed, and the calls that move a VM
 * between them. {@link POWER_TRANSITIONS} is the union of the 2006 diagram
 * and current XAPI's allowed-state table:
 *
 * | from | call → to |
 * |---|---|
 * | Halted | start → Running, start_paused → Paused, destroy → (record gone) |
 * | Paused | unpause → Running, suspend → Suspended (2006), hard_shutdown / shutdown → Halted, hard_reboot → Running |
 * | Running | pause → Paused, suspend → Suspended, clean_shutdown / hard_shutdown / shutdown → Halted, clean_reboot / hard_reboot → Running |
 * | Suspended | resume → Running, resume_paused → Paused, hard_shutdown / shutdown → Halted, destroy → (record gone) |
 * | Crashed | hard_shutdown → Halted (2006) |
 *
 * A guest shuts itself down only while Running; what happens then is the
 * domain's `on_*` action (§1.2, §7): destroy and coredump-destroy halt it,
 * restart, rename-restart, coredump-restart and soft-reset leave a running
 * domain, preserve keeps the dead domain — Crashed after a crash (the 2006
 * "guest OS crash: Running → Crashed"), Halted otherwise.
 *
 * A refused request names the state and the way out:
 * `cannot pause: domain "web" is Halted; allowed: start, start_paused, destroy`.
 */
import { decodeDominf } from "../../hv/domain_info.ts";
import { SHUTDOWN_crash, SHUTDOWN_suspend } from "../../hv/xen_abi.ts";
import type { ShutdownAction } from "../domain_config.ts";

/** The power states, in Xend's numeric order. */
export const POWER_STATES = ["Halted", "Paused", "Running", "Suspended", "Crashed"] as const;
export type PowerState = (typeof POWER_STATES)[number];

/** Xend's XendAPIConstants numbering (ShuttingDown 4 and Unknown 6 are internal). */
export const POWER_STATE_VALUE: Readonly<Record<PowerState, number>> = {
  Halted: 0,
  Paused: 1,
  Running: 2,
  Suspended: 3,
  Crashed: 5,
};

/** Toolstack-requested calls (XenAPI `VM.*`; `_paused` = the `paused=true` variants). */
export const POWER_OPS = [
  "start",
  "start_paused",
  "pause",
  "unpause",
  "suspend",
  "resume",
  "resume_paused",
  "clean_shutdown",
  "hard_shutdown",
  "shutdown",
  "clean_reboot",
  "hard_reboot",
  "destroy",
] as const;
export type PowerOp = (typeof POWER_OPS)[number];

/** Where a call leads: a state, or `Destroyed` (the VM record is gone). */
export type PowerTarget = PowerState | "Destroyed";

/** Why a guest shut itself down (SHUTDOWN_* other than suspend). */
export type GuestShutdownReason = "poweroff" | "reboot" | "crash" | "watchdog" | "soft_reset";

/** An input of the machine: a toolstack call, or the guest shutting down. */
export type PowerEvent =
  | { readonly op: PowerOp }
  | {
    readonly op: "guest_shutdown";
    readonly reason: GuestShutdownReason;
    /** The domain's `on_<reason>` action (see {@link shutdownActionFor}). */
    readonly action: ShutdownAction;
  };

/** The transition table: for each state, the calls allowed and where they lead. */
export const POWER_TRANSITIONS: Readonly<
  Record<PowerState, Readonly<Partial<Record<PowerOp, PowerTarget>>>>
> = {
  Halted: { start: "Running", start_paused: "Paused", destroy: "Destroyed" },
  Paused: {
    unpause: "Running",
    suspend: "Suspended",
    hard_shutdown: "Halted",
    shutdown: "Halted",
    hard_reboot: "Running",
  },
  Running: {
    pause: "Paused",
    suspend: "Suspended",
    clean_shutdown: "Halted",
    hard_shutdown: "Halted",
    shutdown: "Halted",
    clean_reboot: "Running",
    hard_reboot: "Running",
  },
  Suspended: {
    resume: "Running",
    resume_paused: "Paused",
    hard_shutdown: "Halted",
    shutdown: "Halted",
    destroy: "Destroyed",
  },
  Crashed: { hard_shutdown: "Halted" },
};

/** A refused power request. */
export class PowerStateError extends Error {
  override name = "PowerStateError";
  constructor(
    readonly domain: string,
    readonly state: PowerState,
    readonly event: PowerEvent,
    readonly allowed: readonly PowerOp[],
  ) {
    const what = event.op === "guest_shutdown" ? `handle a guest ${event.reason}` : event.op;
    const why = event.op === "guest_shutdown"
      ? "a guest shuts itself down only while Running"
      : `allowed: ${allowed.length ? allowed.join(", ") : "nothing"}`;
    super(`cannot ${what}: domain "${domain}" is ${state}; ${why}`);
  }
}

/** The calls allowed from `state`, in {@link POWER_OPS} order. */
export function allowedOps(state: PowerState): PowerOp[] {
  return POWER_OPS.filter((op) => POWER_TRANSITIONS[state][op] !== undefined);
}

/** Where a guest shutdown leaves the domain, given its `on_*` action. */
export function guestShutdownTarget(
  reason: GuestShutdownReason,
  action: ShutdownAction,
): PowerState {
  switch (action) {
    case "destroy":
    case "coredump-destroy":
      return "Halted";
    case "restart":
    case "rename-restart":
    case "coredump-restart":
    case "soft-reset":
      return "Running";
    case "preserve":
      return reason === "crash" ? "Crashed" : "Halted";
  }
}

/** The `on_*` action a domain configuration names for `reason` (§1.2). */
export function shutdownActionFor(
  config: {
    readonly onPoweroff: ShutdownAction;
    readonly onReboot: ShutdownAction;
    readonly onCrash: ShutdownAction;
    readonly onWatchdog: ShutdownAction;
    readonly onSoftReset: ShutdownAction;
  },
  reason: GuestShutdownReason,
): ShutdownAction {
  switch (reason) {
    case "poweroff":
      return config.onPoweroff;
    case "reboot":
      return config.onReboot;
    case "crash":
      return config.onCrash;
    case "watchdog":
      return config.onWatchdog;
    case "soft_reset":
      return config.onSoftReset;
  }
}

/**
 * The pure transition: where `event` takes a domain in `state`. Throws
 * {@link PowerStateError} for a request the state does not allow.
 *
 * @example
 * ```ts
 * import { transition } from "./power_state.ts";
 * transition("Running", { op: "pause" }, "web"); // "Paused"
 * transition("Running", { op: "guest_shutdown", reason: "crash", action: "preserve" }); // "Crashed"
 * ```
 */
export function transition(
  state: PowerState,
  event: PowerEvent,
  domain = "(unnamed)",
): PowerTarget {
  if (event.op === "guest_shutdown") {
    if (state !== "Running") throw new PowerStateError(domain, state, event, allowedOps(state));
    return guestShutdownTarget(event.reason, event.action);
  }
  const to = POWER_TRANSITIONS[state][event.op];
  if (to === undefined) throw new PowerStateError(domain, state, event, allowedOps(state));
  return to;
}

/**
 * The power state of a live domain from its getdomaininfo flags: shut down
 * for suspend → Suspended, for a crash → Crashed, otherwise (or dying) →
 * Halted; paused → Paused; else Running.
 */
export function powerStateOfDominf(flags: number): PowerState {
  const f = decodeDominf(flags);
  if (f.dying) return "Halted";
  if (f.shutdown) {
    if (f.shutdownCode === SHUTDOWN_suspend) return "Suspended";
    return f.shutdownCode === SHUTDOWN_crash ? "Crashed" : "Halted";
  }
  return f.paused ? "Paused" : "Running";
}
