/**
 * @module
 * blkback, the `vbd` backend driver (Linux `drivers/block/xen-blkback/xenbus.c`;
 * lifecycle-and-migration.md §2.5, §4.4): on probe it publishes its limits
 * and goes InitWait (libxl then runs `block add`, which writes
 * `physical-device`); once the frontend is Initialised (or Connected) and
 * `physical-device` is there, it reads `ring-ref` (or `ring-page-order` +
 * `ring-ref<i>`), `event-channel` and `protocol`, maps the ring, binds the
 * channel, publishes the disk (`connect()`: flush/discard/barrier/persistent
 * features, `sectors`, `info`, `sector-size`) and goes Connected.
 *
 * The disk's size is its image's in dom0 (`params`), in 512-byte sectors.
 */
import type { Entry } from "../devices/device_entries.ts";
import { XenbusState } from "../../platform/xenbus_state.ts";
import type { BackendBus, BackendBusOptions } from "./backend_bus.ts";
import type { BackendEnv } from "./backend_env.ts";
import type { RingMapping } from "./ring_mapping.ts";
import {
  type BackendDeviceContext,
  type BackendHooks,
  FrontendError,
  parseU32,
  startXenbusBackend,
} from "./xenbus_backend.ts";

/** `xen_blkif_max_ring_order`: rings of up to 2^4 pages. */
export const BLKBACK_RING_PAGE_ORDER_MAX = 4;
/** `MAX_INDIRECT_SEGMENTS`. */
export const BLKBACK_INDIRECT_SEGMENTS_MAX = 256;
/** `xenblk_max_queues` (one-vCPU dom0). */
export const BLKBACK_QUEUES_MAX = 1;
/** Sector size published (`bdev_logical_block_size` of an image file's loop device). */
export const SECTOR_SIZE = 512;
/** `VDISK_*` bits of `info` (`blkif.h`). */
export const VDISK_CDROM = 1;
export const VDISK_REMOVABLE = 2;
export const VDISK_READONLY = 4;

/** Protocols blkback accepts (`XEN_IO_PROTO_ABI_*`). */
const PROTOCOLS = new Set(["x86_32-abi", "x86_64-abi"]);

/** What blkback publishes at probe (`xen_blkbk_probe`). */
export const BLKBACK_FEATURES: readonly Entry[] = [
  ["feature-max-indirect-segments", String(BLKBACK_INDIRECT_SEGMENTS_MAX)],
  ["max-ring-page-order", String(BLKBACK_RING_PAGE_ORDER_MAX)],
  ["multi-queue-max-queues", String(BLKBACK_QUEUES_MAX)],
];

/** `connect_ring`: the frontend's ring grant refs. */
async function ringRefs(d: BackendDeviceContext): Promise<number[]> {
  const [order, single] = await d.xs.readAll(d.frontend, ["ring-page-order", "ring-ref"]);
  if (order === undefined) return [parseU32("ring-ref", single)];
  const o = parseU32("ring-page-order", order);
  if (o > BLKBACK_RING_PAGE_ORDER_MAX) {
    throw new FrontendError(`ring-page-order ${o} over max-ring-page-order`);
  }
  const keys = Array.from({ length: 2 ** o }, (_, i) => `ring-ref${i}`);
  const values = await d.xs.readAll(d.frontend, keys);
  return values.map((v, i) => parseU32(keys[i], v));
}

async function connect(d: BackendDeviceContext, rings: RingMapping): Promise<readonly Entry[]> {
  const [evtchn, protocol, queues] = await d.xs.readAll(d.frontend, [
    "event-channel",
    "protocol",
    "multi-queue-num-queues",
  ]);
  if (queues !== undefined && Number(queues) > BLKBACK_QUEUES_MAX) {
    throw new FrontendError(`frontend asked for ${queues} queues (max ${BLKBACK_QUEUES_MAX})`);
  }
  if (protocol !== undefined && !PROTOCOLS.has(protocol)) {
    throw new FrontendError(`unknown fe protocol ${protocol}`);
  }
  const refs = await ringRefs(d);
  const port = parseU32("event-channel", evtchn);
  const [params, mode, deviceType, removable, discard] = await d.xs.readAll(d.id.path, [
    "params",
    "mode",
    "device-type",
    "removable",
    "discard-enable",
  ]);
  const image = params === undefined ? undefined : d.env.dom0.readFile(params);
  if (image === undefined) throw new FrontendError(`backing file ${params} is gone`);
  for (const ref of refs) rings.map(d.id.domid, ref);
  rings.bind(d.id.domid, port);
  const info = (deviceType === "cdrom" ? VDISK_CDROM : 0) |
    (removable === "1" ? VDISK_REMOVABLE : 0) | (mode === "r" ? VDISK_READONLY : 0);
  const keys: Entry[] = [["feature-flush-cache", "1"]];
  if (discard !== "0") {
    keys.push(
      ["discard-granularity", String(SECTOR_SIZE)],
      ["discard-alignment", "0"],
      ["feature-discard", "1"],
    );
  }
  keys.push(
    ["feature-barrier", "1"],
    ["feature-persistent", "1"],
    ["sectors", String(Math.floor(image.length / SECTOR_SIZE))],
    ["info", String(info)],
    ["sector-size", String(SECTOR_SIZE)],
    ["physical-sector-size", String(SECTOR_SIZE)],
  );
  return keys;
}

/** blkback's part of the handshake. */
export const BLKBACK_HOOKS: BackendHooks = {
  kind: "vbd",
  probe: () => Promise.resolve(BLKBACK_FEATURES),
  frontendReady: (fe) => fe === XenbusState.Initialised || fe === XenbusState.Connected,
  hotplugReady: async (d) => (await d.xs.read(`${d.id.path}/physical-device`)) !== undefined,
  connect,
};

/** Starts blkback in the env's domain; stop it with `bus.stop()`. */
export function startBlkback(
  env: BackendEnv,
  opts: BackendBusOptions = {},
): Promise<BackendBus> {
  return startXenbusBackend(env, BLKBACK_HOOKS, opts);
}
