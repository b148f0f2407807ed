/**
 * @module
 * netfront (Linux `drivers/net/xen-netfront.c`, `talk_to_netback`;
 * lifecycle-and-migration.md §4.4, xenstore-protocol.md §9.2): on backend
 * InitWait it checks `feature-rx-copy`, shares a TX and an RX ring page,
 * allocates one event channel (two when the backend offers
 * `feature-split-event-channels`), publishes them with its feature
 * requests and goes straight to Connected. One queue; it still says so
 * (`multi-queue-num-queues = 1`) when the backend advertises multi-queue.
 * After a restore it waits for the new backend's InitWait again.
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

/** The feature requests netfront publishes, in its order. */
export const NETFRONT_REQUESTS: readonly Entry[] = [
  ["request-rx-copy", "1"],
  ["feature-rx-notify", "1"],
  ["feature-sg", "1"],
  ["feature-gso-tcpv4", "1"],
  ["feature-gso-tcpv6", "1"],
  ["feature-ipv6-csum-offload", "1"],
];

async function publish(f: FrontendContext, rings: GuestRings): Promise<readonly Entry[]> {
  const [rxCopy, split, maxQueues] = await f.xs.readAll(f.backend, [
    "feature-rx-copy",
    "feature-split-event-channels",
    "multi-queue-max-queues",
  ]);
  if (rxCopy !== "1") throw new FrontendError("backend does not support copying receive path");
  const keys: Entry[] = [];
  if (maxQueues !== undefined) keys.push(["multi-queue-num-queues", "1"]);
  const tx = await rings.share(f.backendId);
  const rx = await rings.share(f.backendId);
  keys.push(["tx-ring-ref", String(tx.ref)], ["rx-ring-ref", String(rx.ref)]);
  if (split === "1") {
    const txPort = await rings.allocPort(f.backendId);
    const rxPort = await rings.allocPort(f.backendId);
    keys.push(["event-channel-tx", String(txPort)], ["event-channel-rx", String(rxPort)]);
  } else {
    keys.push(["event-channel", String(await rings.allocPort(f.backendId))]);
  }
  return [...keys, ...NETFRONT_REQUESTS];
}

/** netfront's part of the handshake. */
export const NETFRONT_HOOKS: FrontendHooks = {
  kind: "vif",
  publishedState: XenbusState.Connected,
  talkOnResume: false,
  publish,
};

/** A netfront device. */
export class Netfront extends XenbusFrontend {
  constructor(xs: ClockedXs, env: GuestEnv, devid: number, rings: GuestRings) {
    super(xs, env, NETFRONT_HOOKS, devid, rings);
  }
}
