/**
 * A vbd (blkback) end to end: libxl's entries and perms, `block add` on a
 * loop device, blkfront Initialised → blkback Connected with the disk's
 * size → blkfront Connected, and removal with nothing left.
 */
import assert from "node:assert/strict";
import { EVTCHNSTAT_interdomain, GTF_reading, GTF_writing } from "../../src/hv/xen_abi.ts";
import { addDisk } from "../../src/toolstack/devices/add_disk.ts";
import { removeDevice } from "../../src/toolstack/devices/remove_device.ts";
import type { DiskConfig } from "../../src/toolstack/domain_config.ts";
import type { Blkfront } from "../../src/guest-agents/frontends/blkfront.ts";
import { bringUpFrontends } from "../../src/guest-agents/frontends/bring_up_frontends.ts";
import {
  DISK_BYTES,
  DISK_IMAGE,
  exists,
  grantEntries,
  keys,
  newDeviceHost,
  perms,
  portStatus,
  RING_PFN_BASE,
  XVDA,
} from "./device_host.ts";

Deno.test("vbd: libxl's entries and perms, block add, handshake 3 → 4 on both sides, ring mapped", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  const d = g.domid;
  const fe = `/local/domain/${d}/device/vbd/51712`;
  const be = `/local/domain/0/backend/vbd/${d}/51712`;
  await h.run(addDisk(h.tc, d, XVDA));
  // After libxl's add: InitWait, and the block script's results.
  assert.equal(await h.run(h.tc.xs.readString(`${be}/state`)), "2");
  assert.equal(await h.run(h.tc.xs.readString(`${be}/physical-device`)), "7:0");
  assert.equal(await h.run(h.tc.xs.readString(`${be}/physical-device-path`)), "/dev/loop0");

  const [dev] = await h.run(bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }));
  const f = dev as Blkfront;
  await h.runUntil(() => f.state === 4);
  assert.equal(f.backendState, 4);
  assert.deepEqual(f.disk, {
    sectors: DISK_BYTES / 512,
    sectorSize: 512,
    physicalSectorSize: 512,
    info: 0,
    features: ["feature-flush-cache", "feature-barrier", "feature-discard", "feature-persistent"],
  });

  assert.equal(await perms(h, fe), `n${d},r0`);
  assert.equal(await perms(h, `${fe}/virtual-device`), `n${d},r0`);
  const ring = f.rings.shared[0].ref;
  const port = f.rings.ports[0];
  assert.deepEqual(await keys(h, fe), {
    "backend": be,
    "backend-id": "0",
    "device-type": "disk",
    "event-channel": String(port),
    "feature-persistent": "1",
    "protocol": "x86_64-abi",
    "ring-ref": String(ring),
    "state": "4",
    "trusted": "1",
    "virtual-device": "51712",
  });
  assert.equal(await perms(h, be), `n0,r${d}`);
  assert.deepEqual(await keys(h, be), {
    "bootable": "1",
    "dev": "xvda",
    "device-type": "disk",
    "discard-alignment": "0",
    "discard-enable": "1",
    "discard-granularity": "512",
    "feature-barrier": "1",
    "feature-discard": "1",
    "feature-flush-cache": "1",
    "feature-max-indirect-segments": "256",
    "feature-persistent": "1",
    "frontend": fe,
    "frontend-id": String(d),
    "hotplug-status": "connected",
    "info": "0",
    "max-ring-page-order": "4",
    "mode": "w",
    "multi-queue-max-queues": "1",
    "online": "1",
    "params": DISK_IMAGE,
    "physical-device": "7:0",
    "physical-device-path": "/dev/loop0",
    "physical-sector-size": "512",
    "removable": "0",
    "script": "/etc/xen/scripts/block",
    "sector-size": "512",
    "sectors": String(DISK_BYTES / 512),
    "specification": "xen",
    "state": "4",
    "type": "phy",
  });
  assert.deepEqual(Object.keys(await keys(h, `/libxl/${d}/device/vbd/51712`)), [
    "backend",
    "bootable",
    "dev",
    "device-type",
    "discard-enable",
    "frontend",
    "frontend-id",
    "mode",
    "online",
    "params",
    "removable",
    "script",
    "specification",
    "state",
    "type",
  ]);
  const granted = grantEntries(h, d).filter((e) => e.ref >= 8);
  assert.deepEqual(granted.map((e) => [e.ref, e.domid, e.frame]), [[ring, 0, RING_PFN_BASE]]);
  assert.equal(granted[0].flags & (GTF_reading | GTF_writing), GTF_reading | GTF_writing);
  assert.equal(portStatus(h, d, port)?.status, EVTCHNSTAT_interdomain);

  await h.run(removeDevice(h.tc, d, "vbd", 51712));
  await h.runUntil(() => f.state === 6 && f.rings.deferred === 0 && h.blkback.devices.length === 0);
  for (const p of [fe, be, `/libxl/${d}/device/vbd`, `/local/domain/0/backend/vbd`]) {
    assert.equal(await exists(h, p), false, p);
  }
  assert.deepEqual(grantEntries(h, d).filter((e) => e.ref >= 8), []);
  assert.equal(portStatus(h, d, port)?.status, 0);
});

Deno.test("vbd: a second disk gets the next loop device; a read-only cdrom says so in info", async () => {
  const h = await newDeviceHost();
  const g = await h.addGuest();
  h.files.set("/images/cd.iso", new Uint8Array(4096));
  await h.run(addDisk(h.tc, g.domid, XVDA));
  const cd: DiskConfig = {
    ...XVDA,
    vdev: "xvdb",
    devid: 51728,
    target: "/images/cd.iso",
    access: "r",
    deviceType: "cdrom",
  };
  await h.run(addDisk(h.tc, g.domid, cd));
  const be = `/local/domain/0/backend/vbd/${g.domid}/51728`;
  assert.equal(await h.run(h.tc.xs.readString(`${be}/physical-device`)), "7:1");
  assert.equal(await h.run(h.tc.xs.readString(`${be}/removable`)), "1");
  assert.equal(await h.run(h.tc.xs.readString(`${be}/discard-enable`)), "0");
  const devs = await h.run(bringUpFrontends(g.xs, g.env, { ringPfnBase: RING_PFN_BASE }));
  const b = devs.find((x) => x.devid === 51728) as Blkfront;
  await h.runUntil(() => devs.every((x) => x.state === 4));
  // VDISK_CDROM | VDISK_REMOVABLE | VDISK_READONLY, no discard.
  assert.equal(b.disk?.info, 7);
  assert.deepEqual(b.disk?.features, [
    "feature-flush-cache",
    "feature-barrier",
    "feature-persistent",
  ]);
  assert.equal(b.disk?.sectors, 8);
});
