/**
 * @module
 * The xenstore entries libxl writes for one device, as pure data
 * (lifecycle-and-migration.md §2.5, xenstore-protocol.md §8.3/§8.4; libxl
 * `libxl__device_add_async` + `libxl__set_xenstore_nic`, `device_disk_add`,
 * `libxl__device_console_add`). Three lists, in libxl's order:
 *
 * * `back` — under the backend directory (and copied to libxl's mirror);
 * * `front` — under the frontend directory, each key with the frontend
 *   permissions `[domid:none, backend:read]` (the guest owns them);
 * * `roFront` — under the frontend directory, read-only to the guest
 *   `[backend:none, domid:read]`.
 *
 * `generic_add.ts` writes them in one transaction.
 */
import type { DiskConfig, DomainType, VifConfig } from "../domain_config.ts";
import type { BackendKind, DeviceRef } from "./device_paths.ts";
import { XenbusState } from "../../platform/xenbus_state.ts";

/** Where relative hotplug script names live (`libxl__xen_script_dir_path`). */
export const XEN_SCRIPT_DIR = "/etc/xen/scripts";
/** `LIBXL_XENCONSOLE_LIMIT`: bytes of console output xenconsoled buffers. */
export const LIBXL_XENCONSOLE_LIMIT = "1048576";
/** `LIBXL_XENCONSOLE_PROTOCOL`. */
export const LIBXL_XENCONSOLE_PROTOCOL = "vt100";
/** libxl's default NIC MTU (`libxl__device_nic_setdefault`). */
export const NIC_MTU_DEFAULT = 1500;
/** `XEN_IO_PROTO_ABI_X86_64`: the native block protocol of a 64-bit PV guest. */
export const XEN_IO_PROTO_ABI_NATIVE = "x86_64-abi";

/** One key and its value. */
export type Entry = readonly [key: string, value: string];

/** Everything libxl writes for one device. */
export interface DeviceEntries {
  readonly dev: DeviceRef;
  readonly back: readonly Entry[];
  readonly front: readonly Entry[];
  readonly roFront: readonly Entry[];
}

/** A script path as libxl writes it (`libxl__abs_path` against the script dir). */
export function scriptPath(script: string): string {
  return script.startsWith("/") ? script : `${XEN_SCRIPT_DIR}/${script}`;
}

/** The keys every xenbus device starts with: backend and frontend both in state 1. */
function common(domid: number, backendDomid: number) {
  const st = String(XenbusState.Initialising);
  return {
    back: [["frontend-id", String(domid)], ["online", "1"], ["state", st]] as Entry[],
    front: [["backend-id", String(backendDomid)], ["state", st]] as Entry[],
  };
}

/** A `vif` (netback) device. */
export function vifEntries(domid: number, vif: VifConfig, backendDomid = 0): DeviceEntries {
  const dev: DeviceRef = { domid, kind: "vif", devid: vif.devid, backendKind: "vif", backendDomid };
  const { back, front } = common(domid, backendDomid);
  const mtu = String(vif.mtu ?? NIC_MTU_DEFAULT);
  back.push(["script", scriptPath(vif.script)]);
  if (vif.vifname !== undefined) back.push(["vifname", vif.vifname]);
  back.push(["mac", vif.mac]);
  if (vif.ip !== undefined) back.push(["ip", vif.ip]);
  back.push(
    ["bridge", vif.bridge],
    ["handle", String(vif.devid)],
    ["type", vif.type],
    ["mtu", mtu],
    // Forces netback to wait for the script before Connected (§2.5).
    ["hotplug-status", ""],
  );
  front.push(["handle", String(vif.devid)], ["mac", vif.mac], ["trusted", "1"]);
  return { dev, back, front, roFront: [["mtu", mtu]] };
}

/** `params` of a QEMU disk: `<format>:<target>` (`libxl__device_disk_string_of_format`). */
function qdiskParams(disk: DiskConfig): string {
  const format = disk.format === "raw" ? "aio" : disk.format;
  return `${format}:${disk.target}`;
}

/**
 * A disk: `vbd` (blkback, `phy`) or `qdisk` (QEMU). `tap` is refused by
 * the caller. PV guests also get the frontend `protocol` key, as libxl
 * writes it for pre-2.6.26 frontends.
 */
export function vbdEntries(
  domid: number,
  disk: DiskConfig,
  domainType: DomainType,
  backendDomid = 0,
): DeviceEntries {
  const backendKind: BackendKind = disk.backendType === "qdisk" ? "qdisk" : "vbd";
  const dev: DeviceRef = { domid, kind: "vbd", devid: disk.devid, backendKind, backendDomid };
  const { back, front } = common(domid, backendDomid);
  const cdrom = disk.deviceType === "cdrom";
  // libxl's order: frontend-id, online, removable, bootable, state, ...
  const state = back.pop()!;
  back.push(["removable", cdrom ? "1" : "0"], ["bootable", "1"], state);
  back.push(
    ["dev", disk.vdev],
    ["type", disk.backendType === "qdisk" ? "qdisk" : "phy"],
    ["mode", disk.access],
    ["device-type", disk.deviceType],
    ["discard-enable", disk.access === "w" ? "1" : "0"],
    ["specification", "xen"],
  );
  if (backendKind === "qdisk") {
    back.push(["params", qdiskParams(disk)]);
  } else {
    back.push(["params", disk.target], ["script", scriptPath(disk.script ?? "block")]);
  }
  front.push(
    ["virtual-device", String(disk.devid)],
    ["device-type", disk.deviceType],
    ["trusted", "1"],
  );
  if (domainType === "pv") front.push(["protocol", XEN_IO_PROTO_ABI_NATIVE]);
  return { dev, back, front, roFront: [] };
}

/** What console 0 needs from the domain builder. */
export interface ConsoleSpec {
  /** The console event channel, guest side (alloc_unbound at build_pre). */
  readonly port: number;
  /** The console ring's MFN (PV) or GFN (HVM). */
  readonly ringRef: number;
  /** `xenconsoled` (PV, PVH) or `ioemu` (HVM: QEMU serves it). */
  readonly backendType: "xenconsoled" | "ioemu";
}

/** Console 0: frontend `~/console` (no `state`), backend `backend/console/<domid>/0`. */
export function consoleEntries(domid: number, c: ConsoleSpec, backendDomid = 0): DeviceEntries {
  const dev: DeviceRef = { domid, kind: "console", devid: 0, backendKind: "console", backendDomid };
  const { back } = common(domid, backendDomid);
  back.push(["protocol", LIBXL_XENCONSOLE_PROTOCOL]);
  return {
    dev,
    back,
    front: [["backend-id", String(backendDomid)]],
    roFront: [
      ["limit", LIBXL_XENCONSOLE_LIMIT],
      ["type", c.backendType],
      ["output", "pty"],
      ["tty", ""],
      ["port", String(c.port)],
      ["ring-ref", String(c.ringRef)],
    ],
  };
}
