/**
 * @module
 * blkfront (Linux `drivers/block/xen-blkfront.c`, `talk_to_blkback`,
 * `blkfront_connect`; lifecycle-and-migration.md §4.4, xenstore-protocol.md
 * §9.2): on backend InitWait it shares one ring page (ring order 0, one
 * queue), allocates an event channel, publishes `ring-ref`,
 * `event-channel`, `protocol` and `feature-persistent`, and goes
 * Initialised; once the backend is Connected it reads the disk's
 * properties and goes Connected. After a restore it talks to the new
 * backend at once (mainline), without waiting for InitWait.
 */
import type { GuestEnv } from "../guest_env.ts";
import type { GuestRings } from "./guest_rings.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { XenbusState } from "../../platform/xenbus_state.ts";
import {
  type Entry,
  type FrontendContext,
  FrontendError,
  type FrontendHooks,
  XenbusFrontend,
} from "./xenbus_frontend.ts";

/** `XEN_IO_PROTO_ABI_NATIVE` of an x86_64 guest. */
export const XEN_IO_PROTO_ABI_NATIVE = "x86_64-abi";

/** What blkfront learnt of its disk from the backend. */
export interface DiskProperties {
  readonly sectors: number;
  readonly sectorSize: number;
  readonly physicalSectorSize: number;
  /** `VDISK_*` bits. */
  readonly info: number;
  /** Backend features that are "1" (`feature-flush-cache`, ...). */
  readonly features: readonly string[];
}

const BACKEND_FEATURES = [
  "feature-flush-cache",
  "feature-barrier",
  "feature-discard",
  "feature-persistent",
] as const;

async function publish(f: FrontendContext, rings: GuestRings): Promise<readonly Entry[]> {
  const ring = await rings.share(f.backendId);
  const port = await rings.allocPort(f.backendId);
  return [
    ["ring-ref", String(ring.ref)],
    ["event-channel", String(port)],
    ["protocol", XEN_IO_PROTO_ABI_NATIVE],
    ["feature-persistent", "1"],
  ];
}

/** blkfront's hooks; `disk` receives the properties once the backend is Connected. */
export function blkfrontHooks(disk: (p: DiskProperties) => void): FrontendHooks {
  return {
    kind: "vbd",
    publishedState: XenbusState.Initialised,
    talkOnResume: true,
    publish,
    async backendConnected(f) {
      const [sectors, info, sectorSize, physical, ...features] = await f.xs.readAll(f.backend, [
        "sectors",
        "info",
        "sector-size",
        "physical-sector-size",
        ...BACKEND_FEATURES,
      ]);
      if (sectors === undefined || info === undefined || sectorSize === undefined) {
        throw new FrontendError(`reading backend fields at ${f.backend}: sectors/info/sector-size`);
      }
      disk({
        sectors: Number(sectors),
        sectorSize: Number(sectorSize),
        physicalSectorSize: Number(physical ?? sectorSize),
        info: Number(info),
        features: BACKEND_FEATURES.filter((_, i) => features[i] === "1"),
      });
    },
  };
}

/** A blkfront device. */
export class Blkfront extends XenbusFrontend {
  readonly #holder: { disk?: DiskProperties };

  constructor(xs: ClockedXs, env: GuestEnv, devid: number, rings: GuestRings) {
    const holder: { disk?: DiskProperties } = {};
    super(xs, env, blkfrontHooks((p) => (holder.disk = p)), devid, rings);
    this.#holder = holder;
  }

  /** The disk as the backend described it, once Connected. */
  get disk(): DiskProperties | undefined {
    return this.#holder.disk;
  }
}
