/**
 * @module
 * `xl network-attach` / a `vif=` entry at creation (libxl `libxl__device_nic_add`):
 * netback entries, InitWait, `vif-bridge online` (lifecycle-and-migration.md §2.5).
 */
import type { VifConfig } from "../domain_config.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { addDeviceEntries, type DeviceOptions } from "./device_add.ts";
import { vifEntries } from "./device_entries.ts";

/**
 * Adds network interface `vif` to domain `domid`; resolves once the
 * backend is in InitWait and the hotplug script reported `connected`.
 * Throws a `DeviceError` (nothing left behind) otherwise.
 */
export async function addVif(
  tc: ToolstackContext,
  domid: number,
  vif: VifConfig,
  opts: DeviceOptions = {},
): Promise<void> {
  const entries = vifEntries(domid, vif, opts.backendDomid ?? 0);
  await addDeviceEntries(tc, entries, { waitInitWait: true, hotplug: true }, opts);
}
