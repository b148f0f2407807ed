/**
 * @module
 * `xl block-attach` / a `disk=` entry at creation (libxl `device_disk_add`):
 * blkback (`phy`) entries, InitWait, `block add`; a QEMU (`qdisk`) disk only
 * gets its entries, as libxl neither waits for QEMU nor runs a script for it
 * (lifecycle-and-migration.md §2.5).
 */
import { decodeDominf } from "../../hv/domain_info.ts";
import type { DiskConfig, DomainType } from "../domain_config.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { addDeviceEntries, clockedXs, type DeviceOptions } from "./device_add.ts";
import { vbdEntries } from "./device_entries.ts";
import { DeviceError } from "./device_error.ts";

/** Options of {@link addDisk}. */
export interface DiskOptions extends DeviceOptions {
  /** The guest's type; read from `/libxl/<domid>/type`, else getdomaininfo, when absent. */
  readonly domainType?: DomainType;
}

/** libxl's idea of the domain type (`libxl__domain_type`). */
async function domainTypeOf(tc: ToolstackContext, domid: number): Promise<DomainType> {
  const t = await clockedXs(tc).read(`/libxl/${domid}/type`);
  if (t === "pv" || t === "pvh" || t === "hvm") return t;
  const r = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid });
  return r.info !== undefined && decodeDominf(r.info.flags).hvm ? "hvm" : "pv";
}

/**
 * Adds `disk` to domain `domid`; resolves once blkback is in InitWait and
 * `block add` reported `connected` (for `qdisk`: once written). Throws a
 * `DeviceError` (nothing left behind) otherwise.
 */
export async function addDisk(
  tc: ToolstackContext,
  domid: number,
  disk: DiskConfig,
  opts: DiskOptions = {},
): Promise<void> {
  if (disk.backendType === "tap") {
    throw new DeviceError(
      { kind: "vbd", devid: disk.devid, domid, step: "config", waitedNs: 0 },
      `disk ${disk.vdev}: backendtype=tap (tapdisk) is not simulated; use phy or qdisk`,
    );
  }
  const type = opts.domainType ?? await domainTypeOf(tc, domid);
  const entries = vbdEntries(domid, disk, type, opts.backendDomid ?? 0);
  const blkback = entries.dev.backendKind === "vbd";
  await addDeviceEntries(tc, entries, { waitInitWait: blkback, hotplug: blkback }, opts);
}
