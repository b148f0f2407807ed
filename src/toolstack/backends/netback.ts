/**
 * @module
 * netback, the `vif` backend driver (Linux `drivers/net/xen-netback/xenbus.c`;
 * lifecycle-and-migration.md §2.5, §4.4): on probe it publishes its
 * features and goes InitWait (which lets libxl run `vif-bridge`); once the
 * frontend is Connected (netfront goes straight to 4) and the hotplug
 * script has written `hotplug-status = connected`, it reads `tx-ring-ref`,
 * `rx-ring-ref` and `event-channel` (or the split `event-channel-tx`/`-rx`),
 * maps both rings, binds the channel(s) and goes Connected.
 *
 * xenlab differences, on purpose: one queue (`multi-queue-max-queues = 1`,
 * a one-vCPU dom0) and no split event channels offered
 * (`separate_tx_rx_irq = 0`) — though a frontend using them is served;
 * Linux maps the rings before the script is done and only delays Connected,
 * xenlab maps once both are ready.
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

/** Queues netback offers (`xenvif_max_queues`). */
export const NETBACK_QUEUES_MAX = 1;

/** What netback publishes at probe (`netback_probe`), in its order. */
export const NETBACK_FEATURES: readonly Entry[] = [
  ["feature-sg", "1"],
  ["feature-gso-tcpv4", "1"],
  ["feature-gso-tcpv6", "1"],
  ["feature-ipv6-csum-offload", "1"],
  ["feature-rx-copy", "1"],
  ["feature-rx-flip", "0"],
  ["feature-multicast-control", "1"],
  ["feature-dynamic-multicast-control", "1"],
  ["feature-split-event-channels", "0"],
  ["multi-queue-max-queues", String(NETBACK_QUEUES_MAX)],
  ["feature-ctrl-ring", "1"],
];

async function connect(d: BackendDeviceContext, rings: RingMapping): Promise<readonly Entry[]> {
  const [tx, rx, evtchn, evtchnTx, evtchnRx, rxCopy, queues] = await d.xs.readAll(d.frontend, [
    "tx-ring-ref",
    "rx-ring-ref",
    "event-channel",
    "event-channel-tx",
    "event-channel-rx",
    "request-rx-copy",
    "multi-queue-num-queues",
  ]);
  if (queues !== undefined && Number(queues) > NETBACK_QUEUES_MAX) {
    throw new FrontendError(`frontend asked for ${queues} queues (max ${NETBACK_QUEUES_MAX})`);
  }
  if (rxCopy !== "1") throw new FrontendError("frontend does not support rx-copy");
  const fe = d.id.domid;
  rings.map(fe, parseU32("tx-ring-ref", tx));
  rings.map(fe, parseU32("rx-ring-ref", rx));
  if (evtchn !== undefined) {
    rings.bind(fe, parseU32("event-channel", evtchn));
  } else {
    rings.bind(fe, parseU32("event-channel-tx", evtchnTx));
    rings.bind(fe, parseU32("event-channel-rx", evtchnRx));
  }
  return [];
}

/** netback's part of the handshake. */
export const NETBACK_HOOKS: BackendHooks = {
  kind: "vif",
  probe: () => Promise.resolve(NETBACK_FEATURES),
  frontendReady: (fe) => fe === XenbusState.Connected,
  hotplugReady: async (d) => (await d.xs.read(`${d.id.path}/hotplug-status`)) === "connected",
  connect,
};

/** Starts netback in the env's domain; stop it with `bus.stop()`. */
export function startNetback(
  env: BackendEnv,
  opts: BackendBusOptions = {},
): Promise<BackendBus> {
  return startXenbusBackend(env, NETBACK_HOOKS, opts);
}
