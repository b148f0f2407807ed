/**
 * @module
 * Behaviour profiles: how a simulated guest answers the toolstack, so a
 * toolstack can be tested against guests that do not behave like a healthy
 * Linux. The names are the values of xl.cfg's `xenlab_guest` profile
 * (`GuestBehaviour.profile` in `toolstack/domain_config.ts`; repeated here
 * because guest agents may not import the toolstack).
 *
 * | profile | control/shutdown (PV, PVHVM) | ACPI power button (HVM) |
 * |---|---|---|
 * | `well-behaved` | Linux `drivers/xen/manage.c` exactly | orderly S5 |
 * | `slow-ack` | the same, started `slowAckDelayNs` late (default 30 s: later than a healthy guest, within libxl's 60 s) | acted on as late |
 * | `never-ack` | reads the request, never acknowledges or acts | ignored |
 * | `crash-on-request` | poweroff/halt/reboot acknowledged, then SHUTDOWN_crash | the OS panics |
 * | `no-suspend` | `feature-suspend` = `0`; "suspend" never acknowledged | as well-behaved |
 *
 * `feature-*` semantics (lifecycle-and-migration.md §2.2): `"0"` tells the
 * toolstack to fail at once, `"1"` to expect an ack, `""` (never written) to
 * wait and try something else.
 */
import { NS_PER_S } from "../sim/clock.ts";

/** The profile names, in the order of the table above. */
export const GUEST_PROFILE_NAMES = [
  "well-behaved",
  "slow-ack",
  "never-ack",
  "crash-on-request",
  "no-suspend",
] as const;

export type GuestProfileName = (typeof GUEST_PROFILE_NAMES)[number];

/** Default delay of `slow-ack`: 30 s of guest time (libxl waits 60 s, §7.1). */
export const SLOW_ACK_DELAY_NS_DEFAULT = 30 * NS_PER_S;
/** Longest `slowAckDelayNs` accepted: one hour of guest time. */
export const SLOW_ACK_DELAY_NS_MAX = 3600 * NS_PER_S;

/** What a profile changes, as flags the agents read. */
export interface GuestProfile {
  readonly name: GuestProfileName;
  /** Delay before a control request (or the power button) is handled; 0 = at once. */
  readonly ackDelayNs: number;
  /** False: requests are read and then ignored (never acknowledged). */
  readonly acknowledges: boolean;
  /** Poweroff/halt/reboot requests end in SHUTDOWN_crash after the ack. */
  readonly crashOnRequest: boolean;
  /** False: `feature-suspend` = `0` and "suspend" is never acknowledged. */
  readonly suspendable: boolean;
}

/** Options of {@link guestProfile}. */
export interface GuestProfileOptions {
  /** `slow-ack` delay; default {@link SLOW_ACK_DELAY_NS_DEFAULT}. */
  readonly slowAckDelayNs?: number;
}

/** Whether `name` is a profile name. */
export function isGuestProfileName(name: string): name is GuestProfileName {
  return (GUEST_PROFILE_NAMES as readonly string[]).includes(name);
}

/**
 * The profile called `name`. Throws a RangeError naming the valid profiles
 * for an unknown name, and for a `slowAckDelayNs` outside
 * 0..{@link SLOW_ACK_DELAY_NS_MAX}.
 */
export function guestProfile(name: string, opts: GuestProfileOptions = {}): GuestProfile {
  if (!isGuestProfileName(name)) {
    throw new RangeError(
      `unknown guest profile "${name}"; use one of ${GUEST_PROFILE_NAMES.join(", ")}`,
    );
  }
  const delay = opts.slowAckDelayNs ?? SLOW_ACK_DELAY_NS_DEFAULT;
  if (!Number.isSafeInteger(delay) || delay < 0 || delay > SLOW_ACK_DELAY_NS_MAX) {
    throw new RangeError(
      `slowAckDelayNs ${delay}: give whole nanoseconds in 0..${SLOW_ACK_DELAY_NS_MAX}`,
    );
  }
  return {
    name,
    ackDelayNs: name === "slow-ack" ? delay : 0,
    acknowledges: name !== "never-ack",
    crashOnRequest: name === "crash-on-request",
    suspendable: name !== "no-suspend",
  };
}
