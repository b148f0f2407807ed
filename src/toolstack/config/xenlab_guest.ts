/**
 * @module
 * xenlab's own xl.cfg key, `xenlab_guest = "profile=well-behaved,pv_drivers=1"`:
 * which simulated guest runs in the domain. The profile names are the guest
 * agents' (`guest-agents/profiles.ts`), repeated here because the toolstack
 * may not import guest agents. `pv_drivers=0` turns an HVM guest into a plain
 * HVM guest (no PV drivers, so no `control/shutdown` protocol, §3.1); PV and
 * PVH guests are paravirtual by construction.
 */
import type { DomainType, GuestBehaviour } from "../domain_config.ts";
import { ConfigError } from "./config_error.ts";

/** The guest behaviour profiles (guest-agents/profiles.ts GUEST_PROFILE_NAMES). */
export const XENLAB_GUEST_PROFILES = [
  "well-behaved",
  "slow-ack",
  "never-ack",
  "crash-on-request",
  "no-suspend",
] as const;

/** The default guest: a healthy Linux with PV drivers. */
export const DEFAULT_GUEST: GuestBehaviour = { profile: "well-behaved", pvDrivers: true };

/**
 * Parses a `xenlab_guest` value (comma-separated `key=value`; keys `profile`
 * and `pv_drivers`). Throws {@link ConfigError} on `line` for anything else.
 */
export function parseXenlabGuest(
  spec: string,
  type: DomainType,
  line?: number,
): GuestBehaviour {
  const fail = (m: string): never => {
    throw new ConfigError(line, `xenlab_guest: ${m}`);
  };
  let profile = DEFAULT_GUEST.profile;
  let pvDrivers = DEFAULT_GUEST.pvDrivers;
  for (const raw of spec.split(",")) {
    const token = raw.trim();
    if (token === "") continue;
    const eq = token.indexOf("=");
    const key = eq < 0 ? token : token.slice(0, eq).trim();
    const value = eq < 0 ? "" : token.slice(eq + 1).trim();
    if (key === "profile") {
      if (!(XENLAB_GUEST_PROFILES as readonly string[]).includes(value)) {
        fail(`unknown profile "${value}"; use one of ${XENLAB_GUEST_PROFILES.join(", ")}`);
      }
      profile = value;
    } else if (key === "pv_drivers") {
      if (value !== "0" && value !== "1") fail(`pv_drivers: expected 0 or 1, got "${value}"`);
      pvDrivers = value === "1";
    } else {
      fail(`unknown key "${key}" (expected profile= or pv_drivers=)`);
    }
  }
  if (!pvDrivers && type !== "hvm") {
    fail(`pv_drivers=0 needs type = "hvm" (a ${type} guest is paravirtual by construction)`);
  }
  return { profile, pvDrivers };
}
