/**
 * @module
 * What libxl writes to xenstore for a new domain (lifecycle-and-migration.md
 * §2.2; xenstore-protocol.md §8.2), as data: transaction 1 of
 * `libxl__domain_make` (the skeleton, with its permissions) and transaction
 * 2 of `build_post`. Permission notation of §2.2: `ro` = [0:none,
 * domid:read], `rw` = [domid:none], `np` = [0:none].
 */
import type { XsPerm } from "../../xenstore/client/perms.ts";
import type { DomainConfig } from "../domain_config.ts";

/** One write: value (undefined = mkdir) and optional permissions. */
export interface LayoutEntry {
  readonly path: string;
  readonly value?: string;
  readonly perms?: readonly XsPerm[];
  /** Remove the path first (libxl's rm-then-mkdir of `~` and `/vm/<uuid>`). */
  readonly fresh?: boolean;
}

export function ro(domid: number): XsPerm[] {
  return [{ id: 0, perm: "n" }, { id: domid, perm: "r" }];
}

export function rw(domid: number): XsPerm[] {
  return [{ id: domid, perm: "n" }];
}

export const NP: readonly XsPerm[] = [{ id: 0, perm: "n" }];

/** Transaction 1: `libxl__domain_make` (§2.2), in libxl's order. */
export function skeleton(domid: number, uuid: string, c: DomainConfig): LayoutEntry[] {
  const dom = `/local/domain/${domid}`;
  const vm = `/vm/${uuid}`;
  const hvm = c.type === "hvm";
  const e: LayoutEntry[] = [
    { path: dom, perms: ro(domid), fresh: true },
    { path: vm, perms: ro(domid), fresh: true },
    { path: `/libxl/${domid}`, perms: NP },
    { path: `/libxl/${domid}/device`, perms: NP },
    { path: `${dom}/vm`, value: vm },
    { path: `${dom}/name`, value: c.name },
    { path: `${vm}/name`, value: c.name },
    { path: `${dom}/cpu`, perms: ro(domid) },
    { path: `${dom}/memory`, perms: ro(domid) },
    { path: `${dom}/device`, perms: ro(domid) },
    { path: `${dom}/device/suspend/event-channel`, value: "", perms: rw(domid) },
    { path: `${dom}/control`, perms: ro(domid) },
  ];
  if (hvm) e.push({ path: `${dom}/hvmloader`, perms: ro(domid) });
  e.push({ path: `${dom}/control/shutdown`, value: "", perms: rw(domid) });
  for (const f of ["feature-poweroff", "feature-reboot", "feature-suspend"]) {
    e.push({ path: `${dom}/control/${f}`, value: "", perms: rw(domid) });
  }
  if (hvm) {
    for (const f of ["feature-s3", "feature-s4"]) {
      e.push({ path: `${dom}/control/${f}`, value: "", perms: rw(domid) });
    }
  }
  e.push({ path: `${dom}/control/sysrq`, value: "", perms: rw(domid) });
  for (const d of ["data", "drivers", "feature", "attr", "error"]) {
    e.push({ path: `${dom}/${d}`, perms: rw(domid) });
  }
  e.push(
    { path: `${vm}/uuid`, value: uuid },
    { path: `${dom}/control/platform-feature-multiprocessor-suspend`, value: "1" },
    { path: `${dom}/control/platform-feature-xs_reset_watches`, value: "1" },
    { path: `/libxl/${domid}/type`, value: c.type },
  );
  return e;
}

/** The /vm/<uuid> part of `build_post`'s transaction (§2.2). */
export function vmDetails(uuid: string, c: DomainConfig, startTime: string, image: {
  kernel?: string;
  ramdisk?: string;
}): LayoutEntry[] {
  const vm = `/vm/${uuid}`;
  if (c.type === "hvm") {
    return [
      { path: `${vm}/rtc/timeoffset`, value: "0" },
      { path: `${vm}/image/ostype`, value: "hvm" },
      { path: `${vm}/start_time`, value: startTime },
    ];
  }
  if (c.type === "pvh") return [{ path: `${vm}/start_time`, value: startTime }];
  return [
    { path: `${vm}/image/ostype`, value: "linux" },
    { path: `${vm}/image/kernel`, value: image.kernel ?? "" },
    { path: `${vm}/image/ramdisk`, value: image.ramdisk ?? "" },
    { path: `${vm}/image/cmdline`, value: c.cmdline },
    { path: `${vm}/start_time`, value: startTime },
  ];
}

/** The domain part of `build_post`'s transaction (§2.2). */
export function domainDetails(
  domid: number,
  c: DomainConfig,
  store: { port: number; ringRef: number },
): LayoutEntry[] {
  const dom = `/local/domain/${domid}`;
  const kb = c.memoryMb * 1024;
  const e: LayoutEntry[] = [
    { path: `${dom}/memory/static-max`, value: String(c.maxmemMb * 1024) },
    { path: `${dom}/memory/target`, value: String(kb) },
    { path: `${dom}/memory/videoram`, value: c.type === "hvm" ? "8192" : "-1" },
    { path: `${dom}/domid`, value: String(domid) },
    { path: `${dom}/store/port`, value: String(store.port) },
    { path: `${dom}/store/ring-ref`, value: String(store.ringRef) },
  ];
  for (let i = 0; i < c.maxvcpus; i++) {
    e.push({ path: `${dom}/cpu/${i}/availability`, value: i < c.vcpus ? "online" : "offline" });
  }
  if (c.type === "hvm") {
    for (
      const [k, v] of [["acpi", "1"], ["acpi_s3", "1"], ["acpi_s4", "1"], [
        "acpi_laptop_slate",
        "0",
      ]]
    ) {
      e.push({ path: `${dom}/platform/${k}`, value: v });
    }
    e.push({ path: `${dom}/platform/device-model`, value: "qemu_xen" });
  }
  return e;
}
