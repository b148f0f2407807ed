/**
 * @module
 * The dom0 hotplug scripts, simulated (`tools/hotplug/Linux/vif-bridge`,
 * `block`, `xen-hotplug-common.sh`, `block-common.sh`;
 * lifecycle-and-migration.md §2.5 step 3). libxl runs the script named by
 * the backend's `script` key with `XENBUS_PATH` = the backend directory
 * and waits for it to exit (LIBXL_HOTPLUG_TIMEOUT); the script reports in
 * xenstore:
 *
 * * success (`success`): `hotplug-status = connected`;
 * * failure (`fatal msg`): `hotplug-error = msg`, `hotplug-status = error`,
 *   exit 1.
 *
 * `vif-bridge online` needs the `bridge` to exist in dom0
 * (`Could not find bridge device <b>` otherwise). `block add` needs
 * `params` to exist: an image file is attached to the first free loop
 * device (`losetup -f`, major 7), a `/dev/...` path is used as it is
 * (device-mapper, major 0xfe); `write_dev` then publishes
 * `physical-device` as hex `major:minor` (`stat -c %t:%T`) and
 * `physical-device-path`. `offline` / `remove` succeed without effect.
 *
 * Fault points (STYLE.md): `hotplug.<kind>.fail` makes the script fail,
 * `hotplug.<kind>.stall` makes it hang until the toolstack gives up.
 */
import { NS_PER_MS } from "../../sim/clock.ts";
import type { Faults } from "../../sim/faults.ts";
import type { Dom0Resources, ToolstackContext } from "../toolstack_context.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { backendPath, type DeviceRef, domainPath } from "./device_paths.ts";

/** Simulated time a script takes (fork, exec, shell start-up, brctl/losetup). */
export const HOTPLUG_SCRIPT_DURATION_NS = 5 * NS_PER_MS;
/** Loop devices `losetup -f` considers (`max_loop`). */
export const LOOP_DEVICES_MAX = 256;
/** `LOOP_MAJOR`. */
export const LOOP_MAJOR = 7;
/** Major of the block devices a `/dev/...` target stands for (device-mapper). */
export const DM_MAJOR = 0xfe;

/** What libxl asks the script to do (`libxl__device_action` → script argument). */
export type HotplugAction = "online" | "offline" | "add" | "remove";

/** The scripts xenlab simulates, by basename. */
export type HotplugScriptName = "vif-bridge" | "block";

/** What the simulated scripts can see of dom0 besides xenstore. */
export interface HotplugHost {
  readonly xs: ClockedXs;
  readonly tc: Pick<ToolstackContext, "sleep" | "trace">;
  readonly dom0: Dom0Resources;
  readonly faults?: Faults;
}

/** The basename of a `script` key, if it is one xenlab simulates. */
export function hotplugScriptName(script: string | undefined): HotplugScriptName | undefined {
  const base = script?.slice(script.lastIndexOf("/") + 1);
  return base === "vif-bridge" || base === "block" ? base : undefined;
}

/** `fatal`: the script's way of failing. */
async function fatal(h: HotplugHost, be: string, msg: string): Promise<number> {
  await h.xs.transaction(async (tx) => {
    await h.xs.writeAll(be, [["hotplug-error", msg], ["hotplug-status", "error"]], tx);
  });
  return 1;
}

/** `success`. */
async function success(h: HotplugHost, be: string): Promise<number> {
  await h.xs.write(`${be}/hotplug-status`, "connected");
  return 0;
}

/**
 * Runs the device's hotplug script with `action`; resolves with its exit
 * status. A stalled script (fault) never resolves: the caller's timeout
 * decides, as libxl kills the child.
 */
export async function runHotplugScript(
  h: HotplugHost,
  dev: DeviceRef,
  script: HotplugScriptName,
  action: HotplugAction,
): Promise<number> {
  const be = backendPath(dev);
  h.tc.trace.emit({ src: "hotplug", dom: dev.domid, script, action, path: be });
  await h.tc.sleep(HOTPLUG_SCRIPT_DURATION_NS);
  if (action === "offline" || action === "remove") return 0;
  const kind = dev.kind;
  if (h.faults?.hit(`hotplug.${kind}.stall`)) return await new Promise<number>(() => {});
  if (h.faults?.hit(`hotplug.${kind}.fail`)) {
    return await fatal(h, be, `xenlab fault hotplug.${kind}.fail`);
  }
  return script === "vif-bridge" ? await vifBridgeOnline(h, dev, be) : await blockAdd(h, dev, be);
}

async function vifBridgeOnline(h: HotplugHost, dev: DeviceRef, be: string): Promise<number> {
  const bridge = await h.xs.read(`${be}/bridge`);
  if (bridge === undefined || bridge === "") {
    return await fatal(h, be, "Could not find bridge, and none was specified");
  }
  if (!h.dom0.bridges.has(bridge)) {
    return await fatal(h, be, `Could not find bridge device ${bridge}`);
  }
  const vifname = (await h.xs.read(`${be}/vifname`)) ?? `vif${dev.domid}.${dev.devid}`;
  h.tc.trace.emit({ src: "hotplug", dom: dev.domid, op: "brctl addif", bridge, vif: vifname });
  return await success(h, be);
}

async function blockAdd(h: HotplugHost, dev: DeviceRef, be: string): Promise<number> {
  const params = await h.xs.read(`${be}/params`);
  // An empty CD-ROM drive (`,raw,hdc,r,devtype=cdrom`): no medium, nothing
  // to set up; the drive exists and is empty.
  if (params === "" && (await h.xs.read(`${be}/device-type`)) === "cdrom") {
    return await success(h, be);
  }
  if (params === undefined || h.dom0.readFile(params) === undefined) {
    return await fatal(h, be, `${params ?? "(no params)"} does not exist.`);
  }
  const blockDevice = params.startsWith("/dev/");
  const major = blockDevice ? DM_MAJOR : LOOP_MAJOR;
  const minor = await freeMinor(h, dev.backendDomid, major);
  if (minor < 0) return await fatal(h, be, `Failed to find an unused loop device`);
  const path = blockDevice ? params : `/dev/loop${minor}`;
  // write_dev: `stat -L -c %t:%T` prints major and minor in hex.
  await h.xs.writeAll(be, [
    ["physical-device", `${major.toString(16)}:${minor.toString(16)}`],
    ["physical-device-path", path],
  ]);
  return await success(h, be);
}

/** The lowest minor of `major` no vbd backend of this dom0 uses (`losetup -f`). */
async function freeMinor(h: HotplugHost, backendDomid: number, major: number): Promise<number> {
  const used = new Set<number>();
  const root = `${domainPath(backendDomid)}/backend/vbd`;
  for (const domid of await h.xs.directory(root)) {
    for (const devid of await h.xs.directory(`${root}/${domid}`)) {
      const pd = await h.xs.read(`${root}/${domid}/${devid}/physical-device`);
      const m = pd === undefined ? null : /^([0-9a-f]+):([0-9a-f]+)$/.exec(pd);
      if (m !== null && parseInt(m[1], 16) === major) used.add(parseInt(m[2], 16));
    }
  }
  for (let minor = 0; minor < LOOP_DEVICES_MAX; minor++) if (!used.has(minor)) return minor;
  return -1;
}
