/**
 * Device failures: a hotplug script that fails (missing bridge, missing
 * disk image) or hangs, a backend that never reaches InitWait, a device
 * that already exists, a backend that never closes. Each is a named
 * DeviceError after libxl's timeout to the nanosecond, and nothing the add
 * wrote is left behind — no xenstore node, no grant, no bound channel.
 */
import assert from "node:assert/strict";
import { Faults } from "../../src/sim/faults.ts";
import { Rng } from "../../src/sim/rng.ts";
import { addDisk } from "../../src/toolstack/devices/add_disk.ts";
import { addVif } from "../../src/toolstack/devices/add_vif.ts";
import { DeviceError } from "../../src/toolstack/devices/device_error.ts";
import { listDevices } from "../../src/toolstack/devices/list_devices.ts";
import { removeDevice } from "../../src/toolstack/devices/remove_device.ts";
import { bringUpFrontends } from "../../src/guest-agents/frontends/bring_up_frontends.ts";
import type { XenbusFrontend } from "../../src/guest-agents/frontends/xenbus_frontend.ts";
import {
  type DeviceHost,
  exists,
  grantEntries,
  newDeviceHost,
  RING_PFN_BASE,
  VIF0,
  XVDA,
} from "./device_host.ts";

/** Runs `p` expecting a DeviceError; returns it. */
async function deviceError(h: DeviceHost, p: Promise<unknown>): Promise<DeviceError> {
  try {
    await h.run(p);
  } catch (e) {
    if (e instanceof DeviceError) return e;
    throw e;
  }
  assert.fail("expected a DeviceError");
}

/** No node of the device anywhere, nor the parents libxl's cleanup removes. */
async function assertNothingLeft(h: DeviceHost, domid: number, kind: string, devid: number) {
  for (
    const p of [
      `/local/domain/${domid}/device/${kind}/${devid}`,
      `/local/domain/${domid}/device/${kind}`,
      `/local/domain/0/backend/${kind}/${domid}/${devid}`,
      `/local/domain/0/backend/${kind}`,
      `/libxl/${domid}/device/${kind}`,
    ]
  ) assert.equal(await exists(h, p), false, `${p} left behind`);
  assert.deepEqual(await h.run(listDevices(h.tc, domid)), []);
  assert.equal(await exists(h, `/local/domain/${domid}/device/suspend/event-channel`), true);
}

Deno.test("hotplug failure: missing bridge → DeviceError with vif-bridge's words, nothing left, no leaked grant", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const d = g.domid;
  // The guest is up and brings its frontend up as soon as the device appears,
  // so netfront has granted its rings by the time the script fails.
  const fe = `/local/domain/${d}/device/vif/0`;
  let seen = false;
  const watch = await h.run(h.tc.xs.watch(`${fe}/state`));
  (async () => {
    for await (const _ of watch) seen ||= await h.tc.xs.exists(fe);
  })();
  const adding = addVif(h.tc, d, { ...VIF0, bridge: "xenbr9" });
  adding.catch(() => {});
  await h.runUntil(() => seen);
  const [f] = await h.run(bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }));
  const net = f as XenbusFrontend;
  await h.runUntil(() => net.state === 4);
  assert.equal(grantEntries(h, d).filter((e) => e.ref >= 8).length, 2);

  const e = await deviceError(h, adding);
  assert.equal(e.name, "DeviceError");
  assert.deepEqual(
    [e.kind, e.devid, e.domid, e.step, e.hotplugError],
    ["vif", 0, d, "hotplug", "Could not find bridge device xenbr9"],
  );
  assert.match(
    e.message,
    /^vif 0 of domain \d+: hotplug after 0\.005 s: .*exit status 1.*: Could not find bridge device xenbr9$/,
  );
  await h.runUntil(() =>
    net.state === 6 && net.rings.deferred === 0 && h.netback.devices.length === 0
  );
  await assertNothingLeft(h, d, "vif", 0);
  assert.deepEqual(grantEntries(h, d).filter((x) => x.ref >= 8), []);
  await watch.close();
});

Deno.test("hotplug failure: missing disk image → DeviceError from block, nothing left", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const e = await deviceError(
    h,
    addDisk(h.tc, g.domid, { ...XVDA, target: "/images/missing.img" }),
  );
  assert.deepEqual(
    [e.kind, e.devid, e.step, e.hotplugError],
    ["vbd", 51712, "hotplug", "/images/missing.img does not exist."],
  );
  await h.runUntil(() => h.blkback.devices.length === 0);
  await assertNothingLeft(h, g.domid, "vbd", 51712);
});

Deno.test("backend never reaching InitWait → DeviceError after exactly LIBXL_INIT_TIMEOUT (10 s)", async () => {
  const h = await newDeviceHost({ backendFaults: { "backend.initwait.stall": [1, 1] } });
  const g = await h.addGuest();
  const t0 = h.sched.nowNs();
  const e = await deviceError(h, addVif(h.tc, g.domid, VIF0));
  assert.equal(h.sched.nowNs() - t0, 10_000_000_000);
  assert.deepEqual([e.step, e.waitedNs], ["initwait", 10_000_000_000]);
  assert.match(e.message, /still in state Initialising \(1\), not InitWait/);
  await h.runUntil(() => h.netback.devices.length === 0);
  await assertNothingLeft(h, g.domid, "vif", 0);
});

Deno.test("a hotplug script that hangs is given up after exactly LIBXL_HOTPLUG_TIMEOUT (40 s)", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const faults = new Faults(new Rng(3), { "hotplug.vbd.stall": [1, 1] });
  const t0 = h.sched.nowNs();
  const e = await deviceError(h, addDisk(h.tc, g.domid, XVDA, { faults }));
  assert.deepEqual([e.step, e.waitedNs], ["hotplug", 40_000_000_000]);
  assert.equal(h.sched.nowNs() - t0, 40_000_000_000);
  assert.equal(e.hotplugError, undefined);
  await h.runUntil(() => h.blkback.devices.length === 0);
  await assertNothingLeft(h, g.domid, "vbd", 51712);
});

Deno.test("a fault-injected script failure says so; a device already in xenstore is refused untouched", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const faults = new Faults(new Rng(3), { "hotplug.vif.fail": [1, 1] });
  const e = await deviceError(h, addVif(h.tc, g.domid, VIF0, { faults }));
  assert.equal(e.hotplugError, "xenlab fault hotplug.vif.fail");
  await assertNothingLeft(h, g.domid, "vif", 0);

  await h.run(addVif(h.tc, g.domid, VIF0));
  const again = await deviceError(h, addVif(h.tc, g.domid, VIF0));
  assert.equal(again.step, "exists");
  assert.match(again.message, /device already exists in xenstore/);
  const listed = await h.run(listDevices(h.tc, g.domid));
  assert.deepEqual(listed.map((x) => [x.kind, x.devid, x.backendState]), [["vif", 0, 2]]);
});

Deno.test("removal: a backend that never closes → forced retry, DeviceError after 2 × 10 s, entries removed anyway", async () => {
  const h = await newDeviceHost({ backendFaults: { "backend.close.stall": [1, 1] } });
  const g = await h.addGuest();
  await h.run(addVif(h.tc, g.domid, VIF0));
  const t0 = h.sched.nowNs();
  const e = await deviceError(h, removeDevice(h.tc, g.domid, "vif", 0));
  assert.deepEqual([e.step, e.waitedNs], ["remove", 20_000_000_000]);
  assert.ok(h.sched.nowNs() - t0 >= 20_000_000_000);
  await h.runUntil(() => h.netback.devices.length === 0);
  await assertNothingLeft(h, g.domid, "vif", 0);
  const gone = await deviceError(h, removeDevice(h.tc, g.domid, "vif", 0));
  assert.equal(gone.step, "lookup");
});

Deno.test("removal with force removes the frontend first; the backend still closes", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  await h.run(addDisk(h.tc, g.domid, XVDA));
  const [f] = await h.run(bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }));
  await h.runUntil(() => f.state === 4);
  const r = await h.run(removeDevice(h.tc, g.domid, "vbd", 51712, { force: true }));
  assert.equal(r.forced, true);
  const blk = f as XenbusFrontend;
  await h.runUntil(() =>
    blk.state === 6 && blk.rings.deferred === 0 && h.blkback.devices.length === 0
  );
  await assertNothingLeft(h, g.domid, "vbd", 51712);
  assert.deepEqual(grantEntries(h, g.domid).filter((x) => x.ref >= 8), []);
});
