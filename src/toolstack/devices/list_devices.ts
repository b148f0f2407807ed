/**
 * @module
 * `xl network-list` / `block-list` as libxl builds them: the devices of a
 * domain are what its mirror `/libxl/<domid>/device/<kind>/<devid>` lists
 * (`libxl__device_list`), each with the frontend and backend paths recorded
 * there and their current states.
 */
import type { ToolstackContext } from "../toolstack_context.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { clockedXs } from "./device_add.ts";
import {
  type BackendKind,
  type DeviceKind,
  type DeviceRef,
  isBackendKind,
  isDeviceKind,
} from "./device_paths.ts";
import { parseXenbusState } from "../../platform/xenbus_state.ts";

/** Most devices {@link listDevices} reports for one domain. */
export const DEVICES_LIST_MAX = 1024;

/** One device as the toolstack sees it. */
export interface DeviceListing extends DeviceRef {
  readonly frontend: string;
  readonly backend: string;
  /** Backend `state` (0 = Unknown when missing). */
  readonly backendState: number;
  /** Frontend `state`, undefined where there is none (console 0). */
  readonly frontendState: number | undefined;
}

const BACKEND_PATH = /^\/local\/domain\/(\d+)\/backend\/([^/]+)\/(\d+)\/(\d+)$/;

/** Backend domid and kind from a backend path, if it has libxl's shape. */
export function parseBackendPath(
  path: string,
): { backendDomid: number; backendKind: BackendKind; domid: number; devid: number } | undefined {
  const m = BACKEND_PATH.exec(path);
  if (m === null || !isBackendKind(m[2])) return undefined;
  return {
    backendDomid: Number(m[1]),
    backendKind: m[2],
    domid: Number(m[3]),
    devid: Number(m[4]),
  };
}

/** The device `kind`/`devid` of `domid` as the mirror records it, if it does. */
export async function readDevice(
  xs: ClockedXs,
  domid: number,
  kind: DeviceKind,
  devid: number,
): Promise<DeviceListing | undefined> {
  const lx = `/libxl/${domid}/device/${kind}/${devid}`;
  const [frontend, backend] = await xs.readAll(lx, ["frontend", "backend"]);
  const be = backend === undefined ? undefined : parseBackendPath(backend);
  if (frontend === undefined || backend === undefined || be === undefined) return undefined;
  const [bs, fs] = await Promise.all([xs.read(`${backend}/state`), xs.read(`${frontend}/state`)]);
  return {
    domid,
    kind,
    devid,
    backendKind: be.backendKind,
    backendDomid: be.backendDomid,
    frontend,
    backend,
    backendState: parseXenbusState(bs),
    frontendState: fs === undefined ? undefined : parseXenbusState(fs),
  };
}

/** The devices of `domid`, by kind then devid (ascending). */
export async function listDevices(tc: ToolstackContext, domid: number): Promise<DeviceListing[]> {
  const xs = clockedXs(tc);
  const out: DeviceListing[] = [];
  const kinds = (await xs.directory(`/libxl/${domid}/device`)).filter(isDeviceKind).sort();
  for (const kind of kinds) {
    const devids = (await xs.directory(`/libxl/${domid}/device/${kind}`))
      .filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
    for (const devid of devids) {
      if (out.length >= DEVICES_LIST_MAX) return out;
      const d = await readDevice(xs, domid, kind, devid);
      if (d !== undefined) out.push(d);
    }
  }
  return out;
}
