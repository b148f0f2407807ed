/**
 * @module
 * Device removal as libxl does it (`libxl__initiate_device_generic_remove`,
 * `device_backend_callback`, `device_hotplug_done`; lifecycle-and-migration.md
 * §2.5, xenstore-protocol.md §8.3):
 *
 * 1. one transaction: backend `online = 0` and, unless it is already Closed,
 *    `state = 5` (Closing); in force mode the frontend is removed first;
 * 2. wait ≤ LIBXL_DESTROY_TIMEOUT for backend `state = 6` (Closed); on a
 *    timeout, retry once in force mode;
 * 3. run the hotplug script's `offline`/`remove` (errors ignored);
 * 4. delete frontend, backend and mirror (`libxl__device_destroy`) — always,
 *    even when the backend never closed, which is then reported.
 *
 * Console 0 and QEMU disks are destroyed at once (libxl removes console
 * entries synchronously; no QEMU runs here to close a `qdisk`).
 */
import type { ToolstackContext } from "../toolstack_context.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { clockedXs, type DeviceOptions } from "./device_add.ts";
import { DeviceError } from "./device_error.ts";
import {
  backendPath,
  type DeviceKind,
  type DeviceRef,
  frontendPath,
  isDeviceKind,
} from "./device_paths.ts";
import { deviceDestroy, xsPathCleanup } from "./generic_add.ts";
import { hotplugScriptName, runHotplugScript } from "./hotplug.ts";
import { LIBXL_DESTROY_TIMEOUT_NS } from "./libxl_timeouts.ts";
import { listDevices, readDevice } from "./list_devices.ts";
import { waitForNode } from "./wait_for_node.ts";
import { parseXenbusState, XenbusState } from "../../platform/xenbus_state.ts";

/** Options of {@link removeDevice}. */
export interface RemoveOptions extends DeviceOptions {
  /** Start in force mode (`xl ... -f`, `libxl_device_*_destroy`): frontend removed first. */
  readonly force?: boolean;
}

/** How a removal went. */
export interface RemoveResult {
  readonly dev: DeviceRef;
  /** Whether force mode was used (asked for, or after a timeout). */
  readonly forced: boolean;
  /** Time spent waiting for the backend to close, ns. */
  readonly waitedNs: number;
}

/** The device as the mirror records it, else at libxl's default backend path. */
async function lookup(
  xs: ClockedXs,
  domid: number,
  kind: DeviceKind,
  devid: number,
  backendDomid: number,
): Promise<DeviceRef> {
  const listed = await readDevice(xs, domid, kind, devid);
  if (listed !== undefined) return listed;
  for (const backendKind of kind === "vbd" ? ["vbd", "qdisk"] as const : [kind]) {
    const dev: DeviceRef = { domid, kind, devid, backendKind, backendDomid };
    if (await xs.exists(backendPath(dev))) return dev;
  }
  throw new DeviceError(
    { kind, devid, domid, step: "lookup", waitedNs: 0 },
    `no such device in xenstore (/libxl/${domid}/device/${kind}/${devid}); see listDevices`,
  );
}

/** Steps 1–2 once: true when the backend closed (or was gone) in time. */
async function initiateRemove(
  tc: ToolstackContext,
  xs: ClockedXs,
  dev: DeviceRef,
  force: boolean,
): Promise<{ closed: boolean; waitedNs: number }> {
  const be = backendPath(dev);
  const present = await xs.transaction(async (tx) => {
    if (force) await xsPathCleanup(xs, tx, frontendPath(dev));
    const state = await xs.read(`${be}/state`, tx);
    if (state === undefined) return false;
    await xs.write(`${be}/online`, "0", tx);
    if (parseXenbusState(state) !== XenbusState.Closed) {
      await xs.write(`${be}/state`, String(XenbusState.Closing), tx);
    }
    return true;
  });
  if (!present) return { closed: true, waitedNs: 0 };
  const r = await waitForNode(xs, tc.clock, `${be}/state`, (v) => {
    return v === undefined || parseXenbusState(v) === XenbusState.Closed ? true : undefined;
  }, LIBXL_DESTROY_TIMEOUT_NS);
  return { closed: r.ok, waitedNs: r.waitedNs };
}

/**
 * Removes device `kind`/`devid` of `domid` (see the module doc). Throws
 * {@link DeviceError} `lookup` for an unknown device, and `remove` when the
 * backend did not close even in force mode — its entries are gone then too.
 */
export async function removeDevice(
  tc: ToolstackContext,
  domid: number,
  kind: DeviceKind,
  devid: number,
  opts: RemoveOptions = {},
): Promise<RemoveResult> {
  const xs = clockedXs(tc);
  const dev = await lookup(xs, domid, kind, devid, opts.backendDomid ?? 0);
  const trace = (phase: string, extra: Record<string, unknown> = {}) =>
    tc.trace.emit({
      src: "toolstack",
      dom: domid,
      op: "device-remove",
      kind,
      devid,
      phase,
      ...extra,
    });
  if (kind === "console" || dev.backendKind === "qdisk") {
    await deviceDestroy(xs, dev);
    trace("done");
    return { dev, forced: false, waitedNs: 0 };
  }
  const script = hotplugScriptName(await xs.read(`${backendPath(dev)}/script`));
  let forced = opts.force ?? false;
  let waitedNs = 0;
  let closed = false;
  for (let attempt = 0; attempt < 2 && !closed; attempt++) {
    trace(forced ? "close-forced" : "close");
    const r = await initiateRemove(tc, xs, dev, forced);
    waitedNs += r.waitedNs;
    closed = r.closed;
    if (!closed && !forced) forced = true;
    else if (!closed) break;
  }
  if (script !== undefined && dev.backendDomid === 0) {
    const action = kind === "vif" ? "offline" : "remove";
    await runHotplugScript({ xs, tc, dom0: tc.dom0, faults: opts.faults }, dev, script, action)
      .catch(() => {});
  }
  await deviceDestroy(xs, dev);
  trace("done", { forced, closed });
  if (!closed) {
    throw new DeviceError(
      { kind, devid, domid, step: "remove", waitedNs },
      `backend ${backendPath(dev)} did not reach Closed even in force mode ` +
        `(LIBXL_DESTROY_TIMEOUT twice); its entries were removed anyway`,
    );
  }
  return { dev, forced, waitedNs };
}

/**
 * Removes every device of `domid` (`libxl__devices_destroy`), each even if
 * another failed; throws the first failure at the end.
 */
export async function removeAllDevices(
  tc: ToolstackContext,
  domid: number,
  force: boolean,
  opts: DeviceOptions = {},
): Promise<void> {
  let first: unknown;
  for (const d of await listDevices(tc, domid)) {
    if (!isDeviceKind(d.kind)) continue;
    try {
      await removeDevice(tc, domid, d.kind, d.devid, { ...opts, force });
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
}
