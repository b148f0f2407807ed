/**
 * @module
 * Console 0 (libxl `libxl__device_console_add`, lifecycle-and-migration.md
 * §2.5 and §2.1 step 10): its entries are written synchronously — no
 * InitWait, no hotplug script — and creation later waits ≤ LIBXL_INIT_TIMEOUT
 * for xenconsoled to publish `~/console/tty`, which is not fatal when it
 * does not come.
 */
import type { ToolstackContext } from "../toolstack_context.ts";
import { addDeviceEntries, clockedXs, type DeviceOptions } from "./device_add.ts";
import { consoleEntries, type ConsoleSpec } from "./device_entries.ts";
import { domainPath } from "./device_paths.ts";
import { LIBXL_INIT_TIMEOUT_NS } from "./libxl_timeouts.ts";
import { waitForNode } from "./wait_for_node.ts";

/** Writes console 0 of domain `domid`. */
export async function addConsole(
  tc: ToolstackContext,
  domid: number,
  c: ConsoleSpec,
  opts: DeviceOptions = {},
): Promise<void> {
  const entries = consoleEntries(domid, c, opts.backendDomid ?? 0);
  await addDeviceEntries(tc, entries, { waitInitWait: false, hotplug: false }, opts);
}

/**
 * libxl's "console available" wait: `~/console/tty` non-empty within
 * `timeoutNs` (default LIBXL_INIT_TIMEOUT). Resolves with the tty, or
 * undefined when it did not come (libxl logs and carries on).
 */
export async function waitForConsoleTty(
  tc: ToolstackContext,
  domid: number,
  timeoutNs = LIBXL_INIT_TIMEOUT_NS,
): Promise<string | undefined> {
  const path = `${domainPath(domid)}/console/tty`;
  const r = await waitForNode(clockedXs(tc), tc.clock, path, (v) => v ? v : undefined, timeoutNs);
  return r.ok ? r.value : undefined;
}
