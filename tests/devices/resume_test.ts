/**
 * Frontends across a suspend: cancelled (resume(false): nothing changes)
 * and restored into a new domain (resume(true): re-read the backend, reset
 * to Initialising, free the old ring, publish new ring-refs and event
 * channels, handshake again — lifecycle-and-migration.md §4.4); and a
 * guest-initiated close.
 */
import assert from "node:assert/strict";
import { EVTCHNSTAT_interdomain, GTF_reading } from "../../src/hv/xen_abi.ts";
import { addDisk } from "../../src/toolstack/devices/add_disk.ts";
import { addVif } from "../../src/toolstack/devices/add_vif.ts";
import { removeAllDevices, removeDevice } from "../../src/toolstack/devices/remove_device.ts";
import { bringUpFrontends } from "../../src/guest-agents/frontends/bring_up_frontends.ts";
import type { XenbusFrontend } from "../../src/guest-agents/frontends/xenbus_frontend.ts";
import {
  type DeviceHost,
  exists,
  grantEntries,
  keys,
  newDeviceHost,
  portStatus,
  RING_PFN_BASE,
  type TestGuest,
  VIF0,
  XVDA,
} from "./device_host.ts";

/** A guest with a vif and a disk, both Connected. */
async function connectedGuest(h: DeviceHost): Promise<{ g: TestGuest; devs: XenbusFrontend[] }> {
  const g = await h.addGuest();
  await h.run(addVif(h.tc, g.domid, VIF0));
  await h.run(addDisk(h.tc, g.domid, XVDA));
  const devs = await h.run(
    bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }),
  ) as XenbusFrontend[];
  await h.runUntil(() => devs.every((f) => f.state === 4 && f.backendState === 4));
  return { g, devs };
}

/** What each frontend published: ring refs and ports, in order. */
function offers(devs: XenbusFrontend[]) {
  return devs.map((f) => ({ refs: f.rings.shared.map((p) => p.ref), ports: [...f.rings.ports] }));
}

Deno.test("resume(false): a cancelled suspend changes nothing", async () => {
  const h = await newDeviceHost();
  const { g, devs } = await connectedGuest(h);
  const before = offers(devs);
  const nodes = await keys(h, `/local/domain/${g.domid}/device/vif/0`);
  for (const f of devs) await h.run(f.suspend());
  for (const f of devs) await h.run(f.resume(false));
  await h.run(h.sched.sleep(1_000_000));
  assert.deepEqual(offers(devs), before);
  assert.deepEqual(devs.map((f) => f.state), [4, 4]);
  assert.deepEqual(await keys(h, `/local/domain/${g.domid}/device/vif/0`), nodes);
  assert.equal(grantEntries(h, g.domid).filter((e) => e.ref >= 8).length, 3);
});

Deno.test("resume(true): restored into a new domain, the frontends publish new ring-refs and event channels", async () => {
  const h = await newDeviceHost();
  const { g: a, devs } = await connectedGuest(h);
  const before = offers(devs);
  // Save: the guest quiesces its devices; the toolstack removes the old
  // domain's devices (the backends unmap and unbind) and destroys it.
  for (const f of devs) await h.run(f.suspend());
  await h.run(removeAllDevices(h.tc, a.domid, false));
  assert.equal(h.hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: a.domid }).ret, 0);
  // Restore: a new domain with fresh device entries (state 1), hotplug done.
  const b = await h.addGuest();
  assert.notEqual(b.domid, a.domid);
  await h.run(addVif(h.tc, b.domid, VIF0));
  await h.run(addDisk(h.tc, b.domid, XVDA));
  const [netfront, blkfront] = devs;
  await h.run(netfront.resume(true, { xs: b.xs, env: b.env }));
  await h.run(blkfront.resume(true, { xs: b.xs, env: b.env }));
  // blkfront talked at once (mainline): Initialised before the backend connected.
  assert.equal(blkfront.state, 3);
  await h.runUntil(() => devs.every((f) => f.state === 4 && f.backendState === 4));

  const after = offers(devs);
  assert.equal(netfront.backend, `/local/domain/0/backend/vif/${b.domid}/0`);
  for (let i = 0; i < devs.length; i++) {
    assert.equal(after[i].refs.length, before[i].refs.length);
    for (const ref of after[i].refs) assert.ok(!before[i].refs.includes(ref), `ref ${ref} reused`);
  }
  const vif = await keys(h, `/local/domain/${b.domid}/device/vif/0`);
  assert.deepEqual(
    [vif["tx-ring-ref"], vif["rx-ring-ref"], vif["event-channel"], vif.state],
    [...after[0].refs.map(String), String(after[0].ports[0]), "4"],
  );
  const vbd = await keys(h, `/local/domain/${b.domid}/device/vbd/51712`);
  assert.deepEqual(
    [vbd["ring-ref"], vbd["event-channel"], vbd.state],
    [String(after[1].refs[0]), String(after[1].ports[0]), "4"],
  );
  // In the new domain's hypervisor state: granted to dom0 and mapped; channels bound.
  const granted = grantEntries(h, b.domid).filter((e) => e.ref >= 8);
  assert.deepEqual(granted.map((e) => e.ref).sort(), after.flatMap((x) => x.refs).sort());
  for (const e of granted) assert.equal(e.flags & GTF_reading, GTF_reading);
  for (const { ports } of after) {
    assert.equal(portStatus(h, b.domid, ports[0])?.status, EVTCHNSTAT_interdomain);
  }
  // The same ring pages (guest pfns) were handed out again once freed.
  assert.deepEqual(blkfront.rings.shared.map((p) => p.pfn).length, 1);
  assert.equal(await exists(h, `/local/domain/0/backend/vif/${a.domid}`), false);
});

Deno.test("close(): the guest unplugs — 5, the backend closes, 6, rings freed; the toolstack then removes it at once", async () => {
  const h = await newDeviceHost();
  const { g, devs } = await connectedGuest(h);
  const [netfront] = devs;
  const port = netfront.rings.ports[0];
  await h.run(netfront.close());
  assert.equal(netfront.state, 6);
  assert.equal(
    await h.run(h.tc.xs.readString(`/local/domain/0/backend/vif/${g.domid}/0/state`)),
    "6",
  );
  assert.equal(netfront.rings.deferred, 0);
  assert.equal(grantEntries(h, g.domid).filter((e) => e.ref >= 8).length, 1); // the disk's
  assert.equal(portStatus(h, g.domid, port)?.status, 0);
  const r = await h.run(removeDevice(h.tc, g.domid, "vif", 0));
  assert.deepEqual([r.forced, r.waitedNs], [false, 0]);
});
