/**
 * A vif end to end on one in-process host: libxl's entries and perms, the
 * handshake to Connected on both sides with the rings mapped and the event
 * channel bound in the hypervisor, and removal to Closed with nothing left.
 */
import assert from "node:assert/strict";
import { EVTCHNSTAT_interdomain, GTF_reading, GTF_writing } from "../../src/hv/xen_abi.ts";
import { addVif } from "../../src/toolstack/devices/add_vif.ts";
import { listDevices } from "../../src/toolstack/devices/list_devices.ts";
import { removeDevice } from "../../src/toolstack/devices/remove_device.ts";
import { bringUpFrontends } from "../../src/guest-agents/frontends/bring_up_frontends.ts";
import type { XenbusFrontend } from "../../src/guest-agents/frontends/xenbus_frontend.ts";
import {
  exists,
  grantEntries,
  keys,
  newDeviceHost,
  perms,
  portStatus,
  RING_PFN_BASE,
  VIF0,
} from "./device_host.ts";

Deno.test("vif: libxl's entries and perms, handshake to Connected on both sides, rings mapped", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const d = g.domid;
  const fe = `/local/domain/${d}/device/vif/0`;
  const be = `/local/domain/0/backend/vif/${d}/0`;
  await h.run(addVif(h.tc, d, VIF0));
  const [net] = await h.run(bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }));
  const f = net as XenbusFrontend;
  await h.runUntil(() => f.state === 4 && f.backendState === 4);

  // Frontend: guest-owned, backend may read; mtu read-only to the guest.
  assert.equal(await perms(h, fe), `n${d},r0`);
  assert.equal(await perms(h, `${fe}/handle`), `n${d},r0`);
  assert.equal(await perms(h, `${fe}/backend`), `n${d},r0`);
  assert.equal(await perms(h, `${fe}/mtu`), `n0,r${d}`);
  const [tx, rx] = f.rings.shared.map((p) => p.ref);
  const [port] = f.rings.ports;
  assert.deepEqual(await keys(h, fe), {
    "backend": be,
    "backend-id": "0",
    "event-channel": String(port),
    "feature-gso-tcpv4": "1",
    "feature-gso-tcpv6": "1",
    "feature-ipv6-csum-offload": "1",
    "feature-rx-notify": "1",
    "feature-sg": "1",
    "handle": "0",
    "mac": "00:16:3e:00:00:01",
    "mtu": "1500",
    "multi-queue-num-queues": "1",
    "request-rx-copy": "1",
    "rx-ring-ref": String(rx),
    "state": "4",
    "trusted": "1",
    "tx-ring-ref": String(tx),
  });
  // Backend: dom0-owned, the guest may read.
  assert.equal(await perms(h, be), `n0,r${d}`);
  assert.equal(await perms(h, `${be}/feature-sg`), `n0,r${d}`);
  assert.deepEqual(await keys(h, be), {
    "bridge": "xenbr0",
    "feature-ctrl-ring": "1",
    "feature-dynamic-multicast-control": "1",
    "feature-gso-tcpv4": "1",
    "feature-gso-tcpv6": "1",
    "feature-ipv6-csum-offload": "1",
    "feature-multicast-control": "1",
    "feature-rx-copy": "1",
    "feature-rx-flip": "0",
    "feature-sg": "1",
    "feature-split-event-channels": "0",
    "frontend": fe,
    "frontend-id": String(d),
    "handle": "0",
    "hotplug-status": "connected",
    "mac": "00:16:3e:00:00:01",
    "mtu": "1500",
    "multi-queue-max-queues": "1",
    "online": "1",
    "script": "/etc/xen/scripts/vif-bridge",
    "state": "4",
    "type": "vif",
  });
  // libxl's mirror: paths plus the backend keys as written (state stays "1").
  assert.deepEqual(await keys(h, `/libxl/${d}/device/vif/0`), {
    "backend": be,
    "bridge": "xenbr0",
    "frontend": fe,
    "frontend-id": String(d),
    "handle": "0",
    "hotplug-status": "",
    "mac": "00:16:3e:00:00:01",
    "mtu": "1500",
    "online": "1",
    "script": "/etc/xen/scripts/vif-bridge",
    "state": "1",
    "type": "vif",
  });
  // The hypervisor: both rings granted to dom0 and mapped writable; the channel bound.
  const granted = grantEntries(h, d).filter((e) => e.ref >= 8);
  assert.deepEqual(granted.map((e) => [e.ref, e.domid]), [[tx, 0], [rx, 0]]);
  for (const e of granted) {
    assert.equal(e.flags & (GTF_reading | GTF_writing), GTF_reading | GTF_writing);
  }
  assert.deepEqual(granted.map((e) => e.frame), [RING_PFN_BASE, RING_PFN_BASE + 1]);
  const st = portStatus(h, d, port);
  assert.equal(st?.status, EVTCHNSTAT_interdomain);
  assert.equal(st?.dom, 0);
  assert.deepEqual(h.netback.devices, [`${d}/0`]);
  const listed = await h.run(listDevices(h.tc, d));
  assert.deepEqual(listed.map((x) => [x.kind, x.devid, x.backendState, x.frontendState]), [[
    "vif",
    0,
    4,
    4,
  ]]);

  // Removal: backend Closed, frontend Closed, every node gone, grants ended, ports closed.
  const r = await h.run(removeDevice(h.tc, d, "vif", 0));
  assert.equal(r.forced, false);
  await h.runUntil(() => f.rings.deferred === 0 && f.state === 6 && h.netback.devices.length === 0);
  for (const p of [fe, be, `/libxl/${d}/device/vif`, `/local/domain/0/backend/vif`]) {
    assert.equal(await exists(h, p), false, p);
  }
  assert.equal(await exists(h, `/local/domain/${d}/device`), true);
  assert.deepEqual(grantEntries(h, d).filter((e) => e.ref >= 8), []);
  assert.equal(portStatus(h, d, port)?.status, 0);
});
