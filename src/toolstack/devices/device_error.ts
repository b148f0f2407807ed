/**
 * @module
 * {@link DeviceError}: a device could not be added or removed. It names the
 * device, the step that failed (libxl's phases, lifecycle-and-migration.md
 * §2.5), how long that step waited on the context's clock, and the hotplug
 * script's own words (`hotplug-error`) when there are some.
 */
import type { DeviceKind } from "./device_paths.ts";

/** Where an add or remove failed. */
export type DeviceStep =
  /** The configuration asks for something xenlab cannot attach. */
  | "config"
  /** The device is already in xenstore ("device already exists" is an error). */
  | "exists"
  /** The entries transaction failed (e.g. EAGAIN past the retry bound). */
  | "write"
  /** The backend did not reach InitWait within LIBXL_INIT_TIMEOUT. */
  | "initwait"
  /** The hotplug script failed or ran past LIBXL_HOTPLUG_TIMEOUT. */
  | "hotplug"
  /** The device to remove is not in xenstore. */
  | "lookup"
  /** The backend did not reach Closed within LIBXL_DESTROY_TIMEOUT, even forced. */
  | "remove";

/** What a {@link DeviceError} carries. */
export interface DeviceErrorInfo {
  readonly kind: DeviceKind;
  readonly devid: number;
  readonly domid: number;
  readonly step: DeviceStep;
  /** Time the failing step waited, ns of the context's clock. */
  readonly waitedNs: number;
  /** The backend's `hotplug-error`, if the script wrote one. */
  readonly hotplugError?: string;
}

/** A device add or remove that failed; nothing it wrote is left behind. */
export class DeviceError extends Error implements DeviceErrorInfo {
  override name = "DeviceError";
  readonly kind: DeviceKind;
  readonly devid: number;
  readonly domid: number;
  readonly step: DeviceStep;
  readonly waitedNs: number;
  readonly hotplugError?: string;

  /** `detail` says what happened and the way out. */
  constructor(info: DeviceErrorInfo, detail: string) {
    const waited = info.waitedNs > 0 ? ` after ${info.waitedNs / 1e9} s` : "";
    const script = info.hotplugError !== undefined ? `: ${info.hotplugError}` : "";
    super(
      `${info.kind} ${info.devid} of domain ${info.domid}: ${info.step}${waited}: ${detail}${script}`,
    );
    this.kind = info.kind;
    this.devid = info.devid;
    this.domid = info.domid;
    this.step = info.step;
    this.waitedNs = info.waitedNs;
    if (info.hotplugError !== undefined) this.hotplugError = info.hotplugError;
  }
}
