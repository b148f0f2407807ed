/**
 * Limits and misbehaviour around the devices: a backend over its device
 * bound, a frontend publishing rings the backend cannot map, a QEMU disk
 * (no wait, no script), a block device target, and one seed giving one trace.
 */
import assert from "node:assert/strict";
import { addDisk } from "../../src/toolstack/devices/add_disk.ts";
import { addVif } from "../../src/toolstack/devices/add_vif.ts";
import { DeviceError } from "../../src/toolstack/devices/device_error.ts";
import { listDevices } from "../../src/toolstack/devices/list_devices.ts";
import { removeDevice } from "../../src/toolstack/devices/remove_device.ts";
import { bringUpFrontends } from "../../src/guest-agents/frontends/bring_up_frontends.ts";
import { newDeviceHost, RING_PFN_BASE, VIF0, XVDA } from "./device_host.ts";

Deno.test("netback over its device bound refuses the next device: libxl times out at InitWait", async () => {
  const h = await newDeviceHost({ netbackDevicesMax: 1 });
  const g = await h.addGuest();
  await h.run(addVif(h.tc, g.domid, VIF0));
  const second = addVif(h.tc, g.domid, { ...VIF0, devid: 1, mac: "00:16:3e:00:00:02" });
  await assert.rejects(
    h.run(second),
    (e) => e instanceof DeviceError && e.step === "initwait" && e.waitedNs === 10e9,
  );
  assert.match(h.trace.text(), /"op":"refused","device":"\d+\/1","why":"over 1 devices"/);
  assert.deepEqual((await h.run(listDevices(h.tc, g.domid))).map((d) => d.devid), [0]);
});

Deno.test("a frontend offering rings that are not granted: the backend fails the connection and closes", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  await h.run(addVif(h.tc, g.domid, VIF0));
  // A broken guest driver: ring-refs it never granted, a port it never allocated.
  const fe = "device/vif/0";
  for (
    const [k, v] of [["tx-ring-ref", "999"], ["rx-ring-ref", "1000"], ["event-channel", "77"], [
      "request-rx-copy",
      "1",
    ], ["state", "4"]]
  ) {
    await h.run(g.xs.write(`${fe}/${k}`, v));
  }
  const be = `/local/domain/0/backend/vif/${g.domid}/0/state`;
  await h.runUntil(() => h.trace.text().includes('"op":"fatal"'));
  assert.match(h.trace.text(), /mapping grant 999 of domain \d+ failed/);
  await h.run(h.sched.sleep(1_000_000));
  assert.equal(await h.run(h.tc.xs.readString(be)), "6");
  const r = await h.run(removeDevice(h.tc, g.domid, "vif", 0));
  assert.equal(r.waitedNs, 0);
});

Deno.test("a qdisk is written without waiting (QEMU would serve it); a /dev target is used as it is", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const t0 = h.sched.nowNs();
  await h.run(addDisk(h.tc, g.domid, { ...XVDA, backendType: "qdisk" }));
  assert.equal(h.sched.nowNs(), t0);
  const [q] = await h.run(listDevices(h.tc, g.domid));
  assert.deepEqual([q.backendKind, q.backendState], ["qdisk", 1]);
  await h.run(removeDevice(h.tc, g.domid, "vbd", 51712));
  assert.deepEqual(await h.run(listDevices(h.tc, g.domid)), []);

  h.files.set("/dev/vg0/guest", new Uint8Array(512 * 10));
  await h.run(addDisk(h.tc, g.domid, { ...XVDA, target: "/dev/vg0/guest" }));
  const be = `/local/domain/0/backend/vbd/${g.domid}/51712`;
  assert.equal(await h.run(h.tc.xs.readString(`${be}/physical-device`)), "fe:0");
  assert.equal(await h.run(h.tc.xs.readString(`${be}/physical-device-path`)), "/dev/vg0/guest");
  await assert.rejects(
    h.run(addDisk(h.tc, g.domid, { ...XVDA, devid: 51728, backendType: "tap" })),
    (e) => e instanceof DeviceError && e.step === "config",
  );
});

Deno.test("one seed, one trace: the same devices on two hosts trace byte for byte alike", async () => {
  const once = async () => {
    const h = await newDeviceHost({ seed: 9 });
    const g = await h.addGuest();
    await h.run(addVif(h.tc, g.domid, VIF0));
    await h.run(addDisk(h.tc, g.domid, XVDA));
    const devs = await h.run(bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }));
    await h.runUntil(() => devs.every((f) => f.state === 4));
    await h.run(removeDevice(h.tc, g.domid, "vif", 0));
    await h.run(h.sched.sleep(1e9));
    return h.trace.text();
  };
  const [a, b] = [await once(), await once()];
  assert.ok(a.length > 1000);
  assert.equal(a, b);
});
