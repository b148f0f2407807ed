/**
 * @module
 * Every scenario, by name.
 */
import { bootModes } from "./boot_modes.ts";
import { headline } from "./headline.ts";
import type { Scenario } from "./scenario.ts";
import { crashOnRequest, hotplugFailure, reboot, shutdownNeverAck } from "./shutdown_failures.ts";

export const SCENARIOS: readonly Scenario[] = [
  headline,
  bootModes,
  reboot,
  shutdownNeverAck,
  crashOnRequest,
  hotplugFailure,
];

export function scenarioByName(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
