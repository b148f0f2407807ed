/**
 * @module
 * The domain configuration a save image carries in its xl header
 * (lifecycle-and-migration.md §5.1: "optional data = u32 config length +
 * config text (JSON)"): xl stores `libxl_domain_config` as JSON, and
 * `xl restore` re-creates the domain from it. This is that JSON for
 * {@link DomainConfig}, in libxl's key names (`c_info`, `b_info`, `disks`,
 * `nics`, `on_*`) plus xenlab's `xenlab_guest`, and its strict reader: a
 * config that does not say what the domain is, is refused by name.
 */
import type { DiskConfig, DomainConfig, GuestBehaviour, VifConfig } from "../domain_config.ts";
import { SHUTDOWN_ACTIONS } from "../config/xl_cfg.ts";

/** Longest config text accepted (the xl header's own bound is 1 MiB). */
export const CONFIG_JSON_BYTES_MAX = 1 << 20;

/** The JSON xl writes for `c`. */
export function domainConfigJson(c: DomainConfig): string {
  return JSON.stringify({
    c_info: { type: c.type, name: c.name, uuid: c.uuid },
    b_info: {
      max_vcpus: c.maxvcpus,
      avail_vcpus: c.vcpus,
      target_memkb: c.memoryMb * 1024,
      max_memkb: c.maxmemMb * 1024,
      kernel: c.kernel,
      ramdisk: c.ramdisk,
      cmdline: c.cmdline,
      bootloader: c.bootloader,
      bootloader_args: c.bootloaderArgs,
      firmware: c.firmware,
      boot: c.boot,
    },
    disks: c.disks.map((d) => ({
      pdev_path: d.target,
      vdev: d.vdev,
      devid: d.devid,
      format: d.format,
      readwrite: d.access === "w" ? 1 : 0,
      is_cdrom: d.deviceType === "cdrom" ? 1 : 0,
      backend: d.backendType,
      script: d.script,
    })),
    nics: c.vifs.map((v) => ({
      devid: v.devid,
      mac: v.mac,
      bridge: v.bridge,
      script: v.script,
      nictype: v.type,
      ip: v.ip,
      mtu: v.mtu,
      ifname: v.vifname,
    })),
    on_poweroff: c.onPoweroff,
    on_reboot: c.onReboot,
    on_crash: c.onCrash,
    on_watchdog: c.onWatchdog,
    on_soft_reset: c.onSoftReset,
    xenlab_guest: c.guest,
  });
}

/** The image's config is missing, not JSON, or not a domain config. */
export class ConfigJsonError extends Error {
  override name = "ConfigJsonError";
}

type Obj = Record<string, unknown>;

function obj(x: unknown, what: string): Obj {
  if (typeof x !== "object" || x === null || Array.isArray(x)) {
    throw new ConfigJsonError(`${what} is not an object`);
  }
  return x as Obj;
}

function str(o: Obj, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== "string") throw new ConfigJsonError(`${what}.${k} is not a string`);
  return v;
}

function optStr(o: Obj, k: string, what: string): string | undefined {
  return o[k] === undefined ? undefined : str(o, k, what);
}

function int(o: Obj, k: string, what: string, min = 0): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new ConfigJsonError(`${what}.${k} is not an integer ≥ ${min}`);
  }
  return v;
}

function oneOf<T extends string>(o: Obj, k: string, what: string, allowed: readonly T[]): T {
  const v = str(o, k, what);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new ConfigJsonError(`${what}.${k} "${v}" is not one of ${allowed.join(", ")}`);
  }
  return v as T;
}

function array(o: Obj, k: string, what: string): unknown[] {
  const v = o[k] ?? [];
  if (!Array.isArray(v)) throw new ConfigJsonError(`${what}.${k} is not a list`);
  return v;
}

/** Reads {@link domainConfigJson}'s output back; throws ConfigJsonError. */
export function parseDomainConfigJson(text: string): DomainConfig {
  if (text.length > CONFIG_JSON_BYTES_MAX) {
    throw new ConfigJsonError(`config is ${text.length} bytes (at most ${CONFIG_JSON_BYTES_MAX})`);
  }
  let top: Obj;
  try {
    top = obj(JSON.parse(text), "config");
  } catch (e) {
    if (e instanceof ConfigJsonError) throw e;
    throw new ConfigJsonError(`config is not JSON: ${(e as Error).message}`);
  }
  const ci = obj(top.c_info, "c_info");
  const bi = obj(top.b_info, "b_info");
  const g = obj(top.xenlab_guest ?? { pvDrivers: true, profile: "well-behaved" }, "xenlab_guest");
  if (typeof g.pvDrivers !== "boolean") {
    throw new ConfigJsonError("xenlab_guest.pvDrivers is not a boolean");
  }
  const guest: GuestBehaviour = {
    pvDrivers: g.pvDrivers,
    profile: str(g, "profile", "xenlab_guest"),
  };
  const disks: DiskConfig[] = array(top, "disks", "config").map((x, i) => {
    const w = `disks[${i}]`;
    const d = obj(x, w);
    return {
      vdev: str(d, "vdev", w),
      devid: int(d, "devid", w),
      target: str(d, "pdev_path", w),
      format: oneOf(d, "format", w, ["raw", "qcow", "qcow2", "vhd"] as const),
      access: d.readwrite === 1 ? "w" : "r",
      deviceType: d.is_cdrom === 1 ? "cdrom" : "disk",
      backendType: oneOf(d, "backend", w, ["phy", "qdisk", "tap"] as const),
      ...(d.script === undefined ? {} : { script: str(d, "script", w) }),
    };
  });
  const vifs: VifConfig[] = array(top, "nics", "config").map((x, i) => {
    const w = `nics[${i}]`;
    const n = obj(x, w);
    return {
      devid: int(n, "devid", w),
      mac: str(n, "mac", w),
      bridge: str(n, "bridge", w),
      script: str(n, "script", w),
      type: oneOf(n, "nictype", w, ["vif", "vif_ioemu"] as const),
      ...(n.ip === undefined ? {} : { ip: str(n, "ip", w) }),
      ...(n.mtu === undefined ? {} : { mtu: int(n, "mtu", w, 1) }),
      ...(n.ifname === undefined ? {} : { vifname: str(n, "ifname", w) }),
    };
  });
  const args = array(bi, "bootloader_args", "b_info");
  if (!args.every((a) => typeof a === "string")) {
    throw new ConfigJsonError("b_info.bootloader_args holds a non-string");
  }
  const optional = <K extends string>(k: K, v: string | undefined) =>
    v === undefined ? {} : { [k]: v } as Record<K, string>;
  const maxvcpus = int(bi, "max_vcpus", "b_info", 1);
  return {
    name: str(ci, "name", "c_info"),
    type: oneOf(ci, "type", "c_info", ["pv", "pvh", "hvm"] as const),
    ...optional("uuid", optStr(ci, "uuid", "c_info")),
    memoryMb: int(bi, "target_memkb", "b_info", 1024) / 1024,
    maxmemMb: int(bi, "max_memkb", "b_info", 1024) / 1024,
    vcpus: int(bi, "avail_vcpus", "b_info", 1),
    maxvcpus,
    ...optional("kernel", optStr(bi, "kernel", "b_info")),
    ...optional("ramdisk", optStr(bi, "ramdisk", "b_info")),
    cmdline: str(bi, "cmdline", "b_info"),
    ...optional("bootloader", optStr(bi, "bootloader", "b_info")),
    bootloaderArgs: args as string[],
    ...optional("firmware", optStr(bi, "firmware", "b_info")),
    boot: str(bi, "boot", "b_info"),
    vifs,
    disks,
    onPoweroff: oneOf(top, "on_poweroff", "config", SHUTDOWN_ACTIONS),
    onReboot: oneOf(top, "on_reboot", "config", SHUTDOWN_ACTIONS),
    onCrash: oneOf(top, "on_crash", "config", SHUTDOWN_ACTIONS),
    onWatchdog: oneOf(top, "on_watchdog", "config", SHUTDOWN_ACTIONS),
    onSoftReset: oneOf(top, "on_soft_reset", "config", SHUTDOWN_ACTIONS),
    guest,
  };
}
