/**
 * @module
 * Where a split device lives in xenstore (lifecycle-and-migration.md §2.5,
 * libxl `libxl__device_{frontend,backend,libxl}_path`):
 *
 * * frontend `/local/domain/<domid>/device/<kind>/<devid>`, except console 0
 *   at `/local/domain/<domid>/console`;
 * * backend `/local/domain/<backend>/backend/<backend kind>/<domid>/<devid>`;
 * * libxl's mirror `/libxl/<domid>/device/<kind>/<devid>`.
 *
 * The frontend kind names the device class the guest sees (`vbd` for every
 * disk); the backend kind names the driver serving it (`vbd` for blkback,
 * `qdisk` for QEMU).
 */

/** Device classes this toolstack attaches. */
export type DeviceKind = "vif" | "vbd" | "console";
/** Backend drivers: netback `vif`, blkback `vbd`, QEMU `qdisk`, xenconsoled/QEMU `console`. */
export type BackendKind = "vif" | "vbd" | "qdisk" | "console";

/** One device of one domain. */
export interface DeviceRef {
  readonly domid: number;
  readonly kind: DeviceKind;
  readonly devid: number;
  readonly backendKind: BackendKind;
  readonly backendDomid: number;
}

/** `/local/domain/<domid>`. */
export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/** The frontend directory (console 0: `~/console`). */
export function frontendPath(dev: DeviceRef): string {
  if (dev.kind === "console" && dev.devid === 0) return `${domainPath(dev.domid)}/console`;
  return `${domainPath(dev.domid)}/device/${dev.kind}/${dev.devid}`;
}

/** The backend directory. */
export function backendPath(dev: DeviceRef): string {
  return `${domainPath(dev.backendDomid)}/backend/${dev.backendKind}/${dev.domid}/${dev.devid}`;
}

/** libxl's private mirror. */
export function libxlPath(dev: DeviceRef): string {
  return `/libxl/${dev.domid}/device/${dev.kind}/${dev.devid}`;
}

/** The frontend kinds under `/libxl/<domid>/device`, in libxl's attach order. */
export const DEVICE_KINDS: readonly DeviceKind[] = ["vbd", "console", "vif"];

/** Whether `s` names a device kind. */
export function isDeviceKind(s: string): s is DeviceKind {
  return (DEVICE_KINDS as readonly string[]).includes(s);
}

/** Whether `s` names a backend kind. */
export function isBackendKind(s: string): s is BackendKind {
  return s === "vif" || s === "vbd" || s === "qdisk" || s === "console";
}
