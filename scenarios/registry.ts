/**
 * @module
 * Every scenario, by name.
 */
import { bootModes } from "./boot_modes.ts";
import { headline } from "./headline.ts";
import type { Scenario } from "./scenario.ts";
import {
  suspendCrash,
  suspendNeverAck,
  suspendNoShutdown,
  suspendNoSupport,
  suspendResume,
} from "./suspend_resume.ts";
import { hvmS3 } from "./hvm_s3.ts";
import { checkpoint, restoreHotplugFailure, saveRestore } from "./save_restore.ts";
import { crashOnRequest, hotplugFailure, reboot, shutdownNeverAck } from "./shutdown_failures.ts";

export const SCENARIOS: readonly Scenario[] = [
  headline,
  bootModes,
  reboot,
  shutdownNeverAck,
  crashOnRequest,
  hotplugFailure,
  suspendResume,
  suspendNeverAck,
  suspendNoSupport,
  suspendNoShutdown,
  suspendCrash,
  saveRestore,
  checkpoint,
  restoreHotplugFailure,
  hvmS3,
];

export function scenarioByName(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
