/**
 * @module
 * The add path libxl runs for every xenbus device (`libxl__device_add_async`,
 * `libxl__wait_device_connection`, `device_hotplug`;
 * lifecycle-and-migration.md §2.5):
 *
 * 1. write the entries in one transaction (`generic_add.ts`);
 * 2. wait ≤ LIBXL_INIT_TIMEOUT for the backend `state` to reach InitWait
 *    (not for QEMU backends, which go straight to Connected);
 * 3. run the hotplug script and wait ≤ LIBXL_HOTPLUG_TIMEOUT for it to
 *    finish with `hotplug-status = connected` (none for QEMU backends, nor
 *    for backends in a driver domain, whose `xl devd` runs it).
 *
 * libxl does not wait for Connected. On any failure the device is removed
 * again (`libxl__device_destroy`) and a {@link DeviceError} says which step
 * failed, after how long, and what the script said.
 */
import type { Faults } from "../../sim/faults.ts";
import { XsError } from "../../xenstore/wire/errno.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import type { DeviceEntries } from "./device_entries.ts";
import { DeviceError, type DeviceErrorInfo, type DeviceStep } from "./device_error.ts";
import { backendPath, type DeviceRef } from "./device_paths.ts";
import { deviceDestroy, deviceGenericAdd } from "./generic_add.ts";
import { type HotplugAction, hotplugScriptName, runHotplugScript } from "./hotplug.ts";
import { LIBXL_HOTPLUG_TIMEOUT_NS, LIBXL_INIT_TIMEOUT_NS } from "./libxl_timeouts.ts";
import { waitForNode } from "./wait_for_node.ts";
import { parseXenbusState, XenbusState, xenbusStateName } from "../../platform/xenbus_state.ts";

/** Options of the device workflows. */
export interface DeviceOptions {
  /** Named fault points: `hotplug.<kind>.fail`, `hotplug.<kind>.stall`. */
  readonly faults?: Faults;
  /** The domain running the backend; default 0 (dom0). */
  readonly backendDomid?: number;
}

/** What the add path does after writing the entries. */
export interface AddSteps {
  readonly waitInitWait: boolean;
  readonly hotplug: boolean;
}

/** The context's client, paced on its clock (see `clocked_xs.ts`). */
export function clockedXs(tc: ToolstackContext): ClockedXs {
  return new ClockedXs(tc.xs, () => tc.sleep(0));
}

function errorInfo(
  dev: DeviceRef,
  step: DeviceStep,
  waitedNs: number,
  hotplugError?: string,
): DeviceErrorInfo {
  return { kind: dev.kind, devid: dev.devid, domid: dev.domid, step, waitedNs, hotplugError };
}

/** Runs the add path for `entries`; see the module doc. */
export async function addDeviceEntries(
  tc: ToolstackContext,
  entries: DeviceEntries,
  steps: AddSteps,
  opts: DeviceOptions = {},
): Promise<DeviceRef> {
  const xs = clockedXs(tc);
  const { dev } = entries;
  const trace = (phase: string, extra: Record<string, unknown> = {}) =>
    tc.trace.emit({
      src: "toolstack",
      dom: dev.domid,
      op: "device-add",
      kind: dev.kind,
      devid: dev.devid,
      phase,
      ...extra,
    });
  trace("write");
  try {
    await deviceGenericAdd(xs, entries);
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    if (!(e instanceof XsError)) throw e;
    throw new DeviceError(errorInfo(dev, "write", 0), `writing the entries failed: ${e.message}`);
  }
  try {
    if (steps.waitInitWait) await waitInitWait(tc, xs, dev);
    if (steps.hotplug && dev.backendDomid === 0) {
      const script = hotplugScriptName(entries.back.find(([k]) => k === "script")?.[1]);
      if (script !== undefined) {
        const action: HotplugAction = dev.kind === "vif" ? "online" : "add";
        await hotplug(tc, xs, dev, script, action, opts.faults);
      }
    }
  } catch (e) {
    trace("failed", { error: String(e) });
    await deviceDestroy(xs, dev);
    throw e;
  }
  trace("done");
  return dev;
}

/** Step 2: backend InitWait within LIBXL_INIT_TIMEOUT. */
async function waitInitWait(tc: ToolstackContext, xs: ClockedXs, dev: DeviceRef): Promise<void> {
  const be = backendPath(dev);
  // libxl waits for exactly InitWait; xenlab also takes a backend that has
  // already gone past it (skipped states are tolerated, xenstore-protocol.md §9.2).
  const r = await waitForNode(xs, tc.clock, `${be}/state`, (v) => {
    if (v === undefined) return "gone";
    const s = parseXenbusState(v);
    if (s >= XenbusState.InitWait && s <= XenbusState.Connected) return "ok";
    if (s === XenbusState.Closing || s === XenbusState.Closed) return "closed";
    return undefined;
  }, LIBXL_INIT_TIMEOUT_NS);
  if (r.ok && r.value === "ok") return;
  if (r.ok) {
    throw new DeviceError(
      errorInfo(dev, "initwait", r.waitedNs),
      r.value === "gone"
        ? `backend ${be} was removed while waiting for InitWait`
        : `backend ${be} closed before InitWait; see the backend driver's log`,
    );
  }
  throw new DeviceError(
    errorInfo(dev, "initwait", r.waitedNs),
    `backend ${be} still in state ${xenbusStateName(parseXenbusState(r.last))}, not InitWait ` +
      `(LIBXL_INIT_TIMEOUT); is the ${dev.backendKind} backend driver running in domain ` +
      `${dev.backendDomid}?`,
  );
}

/** Step 3: the hotplug script within LIBXL_HOTPLUG_TIMEOUT, ending with `connected`. */
async function hotplug(
  tc: ToolstackContext,
  xs: ClockedXs,
  dev: DeviceRef,
  script: "vif-bridge" | "block",
  action: HotplugAction,
  faults: Faults | undefined,
): Promise<void> {
  const be = backendPath(dev);
  const start = tc.clock.nowNs();
  let fire!: () => void;
  const deadline = new Promise<"timeout">((r) => (fire = () => r("timeout")));
  const timer = tc.clock.setTimer(LIBXL_HOTPLUG_TIMEOUT_NS, fire);
  const run = runHotplugScript({ xs, tc, dom0: tc.dom0, faults }, dev, script, action)
    .catch(() => 1);
  const status = await Promise.race([run, deadline]);
  timer.cancel();
  const waitedNs = tc.clock.nowNs() - start;
  if (status === "timeout") {
    throw new DeviceError(
      errorInfo(dev, "hotplug", waitedNs),
      `script ${script} ${action} did not finish (LIBXL_HOTPLUG_TIMEOUT); killed it`,
    );
  }
  const [hotplugStatus, hotplugError] = await xs.readAll(be, ["hotplug-status", "hotplug-error"]);
  if (status !== 0) {
    throw new DeviceError(
      errorInfo(dev, "hotplug", waitedNs, hotplugError),
      `script ${script} ${action} failed (exit status ${status})`,
    );
  }
  if (hotplugStatus !== "connected") {
    throw new DeviceError(
      errorInfo(dev, "hotplug", waitedNs, hotplugError),
      `script ${script} ${action} exited 0 but hotplug-status is "${hotplugStatus ?? ""}"`,
    );
  }
}
