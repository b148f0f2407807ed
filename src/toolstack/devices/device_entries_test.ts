import assert from "node:assert/strict";
import type { DiskConfig, VifConfig } from "../domain_config.ts";
import { consoleEntries, scriptPath, vbdEntries, vifEntries } from "./device_entries.ts";
import { backendPath, frontendPath, libxlPath } from "./device_paths.ts";
import { parseXenbusState, XenbusState, xenbusStateName } from "../../platform/xenbus_state.ts";

const vif: VifConfig = {
  devid: 2,
  mac: "00:16:3e:aa:bb:cc",
  bridge: "xenbr1",
  script: "/usr/local/bin/my-vif",
  type: "vif_ioemu",
  ip: "10.0.0.2",
  mtu: 9000,
  vifname: "web0",
};

const disk: DiskConfig = {
  vdev: "hda",
  devid: 768,
  target: "/images/a.qcow2",
  format: "qcow2",
  access: "w",
  deviceType: "disk",
  backendType: "qdisk",
};

Deno.test("vif entries: libxl's keys and order, optional ones present when configured", () => {
  const e = vifEntries(5, vif);
  assert.deepEqual(e.back, [
    ["frontend-id", "5"],
    ["online", "1"],
    ["state", "1"],
    ["script", "/usr/local/bin/my-vif"],
    ["vifname", "web0"],
    ["mac", "00:16:3e:aa:bb:cc"],
    ["ip", "10.0.0.2"],
    ["bridge", "xenbr1"],
    ["handle", "2"],
    ["type", "vif_ioemu"],
    ["mtu", "9000"],
    ["hotplug-status", ""],
  ]);
  assert.deepEqual(e.front, [
    ["backend-id", "0"],
    ["state", "1"],
    ["handle", "2"],
    ["mac", "00:16:3e:aa:bb:cc"],
    ["trusted", "1"],
  ]);
  assert.deepEqual(e.roFront, [["mtu", "9000"]]);
  assert.equal(frontendPath(e.dev), "/local/domain/5/device/vif/2");
  assert.equal(backendPath(e.dev), "/local/domain/0/backend/vif/5/2");
  assert.equal(libxlPath(e.dev), "/libxl/5/device/vif/2");
});

Deno.test("vbd entries: a QEMU disk of an HVM guest has format:path params, no script, no protocol", () => {
  const e = vbdEntries(7, disk, "hvm");
  assert.equal(e.dev.backendKind, "qdisk");
  assert.equal(backendPath(e.dev), "/local/domain/0/backend/qdisk/7/768");
  assert.equal(frontendPath(e.dev), "/local/domain/7/device/vbd/768");
  const back = Object.fromEntries(e.back);
  assert.equal(back.params, "qcow2:/images/a.qcow2");
  assert.equal(back.type, "qdisk");
  assert.equal(back.script, undefined);
  assert.deepEqual(e.back.slice(0, 5).map(([k]) => k), [
    "frontend-id",
    "online",
    "removable",
    "bootable",
    "state",
  ]);
  assert.equal(Object.fromEntries(e.front).protocol, undefined);
  const raw = vbdEntries(7, { ...disk, format: "raw" }, "pv");
  assert.equal(Object.fromEntries(raw.back).params, "aio:/images/a.qcow2");
  assert.equal(Object.fromEntries(raw.front).protocol, "x86_64-abi");
});

Deno.test("console entries: console 0 at ~/console, read-only keys, no frontend state", () => {
  const e = consoleEntries(3, { port: 4, ringRef: 0x1234, backendType: "ioemu" });
  assert.equal(frontendPath(e.dev), "/local/domain/3/console");
  assert.equal(backendPath(e.dev), "/local/domain/0/backend/console/3/0");
  assert.deepEqual(e.front, [["backend-id", "0"]]);
  assert.deepEqual(Object.fromEntries(e.roFront), {
    limit: "1048576",
    type: "ioemu",
    output: "pty",
    tty: "",
    port: "4",
    "ring-ref": "4660",
  });
  assert.deepEqual(Object.fromEntries(e.back).protocol, "vt100");
});

Deno.test("script paths are absolute under /etc/xen/scripts; states parse as xenbus_read_driver_state", () => {
  assert.equal(scriptPath("vif-bridge"), "/etc/xen/scripts/vif-bridge");
  assert.equal(scriptPath("/opt/x"), "/opt/x");
  assert.equal(parseXenbusState("4"), XenbusState.Connected);
  assert.equal(parseXenbusState(undefined), XenbusState.Unknown);
  assert.equal(parseXenbusState("9"), XenbusState.Unknown);
  assert.equal(parseXenbusState(" 4"), XenbusState.Unknown);
  assert.equal(xenbusStateName(2), "InitWait (2)");
});
