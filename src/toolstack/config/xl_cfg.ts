/**
 * @module
 * xl.cfg → {@link DomainConfig}: the subset of `docs/man/xl.cfg.5.pod.in`
 * xenlab models, read the way xl's `parse_config_data` (`tools/xl/xl_parse.c`)
 * and libxl's defaults read it:
 *
 * * `type` = pv | pvh | hvm (legacy `builder = "hvm"` / `"generic"`; the two
 *   must agree); default pv.
 * * `memory`/`maxmem` in MiB (maxmem defaults to memory, memory to maxmem,
 *   both to libxl's 32); `vcpus`/`maxvcpus` (default 1 / vcpus).
 * * Command line (§2.3): `cmdline=` wins (root/extra then draw a warning);
 *   else `root=<root> <extra>`, `root=<root>` or `<extra>`.
 * * PV and PVH need `kernel=` or `bootloader=` ("Neither kernel nor
 *   bootloader specified"); `firmware = "pvgrub64"` means
 *   `kernel = "/usr/lib/xen/boot/pvgrub64.bin"`.
 * * HVM: `boot=` letters (default `cda`, libxl's), `firmware=`; a kernel
 *   named `hvmloader` is dropped with xl's warning.
 * * `disk`, `vif`: see `disk_spec.ts`, `vif_spec.ts`; duplicate virtual
 *   devices are refused. MACs come from the injected Rng.
 * * `on_poweroff|reboot|crash|watchdog|soft_reset`, defaults destroy,
 *   restart, destroy, destroy, soft-reset (§1.2).
 * * `xenlab_guest` (xenlab's own, see `xenlab_guest.ts`).
 *
 * Keys outside this subset are ignored, as xl ignores keys it does not
 * know, and listed in `warnings`. Values of known keys are checked; a bad one
 * is a {@link ConfigError} naming line and key:
 * `line 3: memory: expected an integer (MiB), got "lots"`.
 */
import type { Rng } from "../../sim/rng.ts";
import type {
  DiskConfig,
  DomainConfig,
  DomainType,
  ShutdownAction,
  VifConfig,
} from "../domain_config.ts";
import { bootOrderProblem } from "../../platform/cmos_boot_order.ts";
import { CfgReader } from "./cfg_reader.ts";
import { ConfigError } from "./config_error.ts";
import { parseDiskSpec } from "./disk_spec.ts";
import { parseVifSpec } from "./vif_spec.ts";
import { DEFAULT_GUEST, parseXenlabGuest } from "./xenlab_guest.ts";
import { parseXlCfgSyntax } from "./xl_cfg_syntax.ts";

/** libxl's default memory when neither memory nor maxmem is given, MiB. */
export const XL_MEMORY_MB_DEFAULT = 32;
/** Largest memory/maxmem accepted, MiB (16 TiB). */
export const XL_MEMORY_MB_MAX = 16 * 1024 * 1024;
/** Largest vcpus/maxvcpus accepted. */
export const XL_VCPUS_MAX = 4096;
/** libxl's default HVM boot order (the man page says `cd`; §9.3). */
export const XL_HVM_BOOT_DEFAULT = "cda";
/** Where `firmware = "pvgrub64"` kernels live (XENFIRMWAREDIR). */
export const XEN_FIRMWARE_DIR = "/usr/lib/xen/boot";

/** libxl `action_on_shutdown` names, xl.cfg spelling. */
export const SHUTDOWN_ACTIONS: readonly ShutdownAction[] = [
  "destroy",
  "restart",
  "rename-restart",
  "preserve",
  "coredump-destroy",
  "coredump-restart",
  "soft-reset",
];

/** The parsed configuration and what xl would have printed as warnings. */
export interface XlCfgResult {
  readonly config: DomainConfig;
  readonly warnings: string[];
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function domainType(r: CfgReader): DomainType {
  const type = r.atom("type");
  if (type && type.value !== "pv" && type.value !== "pvh" && type.value !== "hvm") {
    throw new ConfigError(type.line, `type: expected pv, pvh or hvm, got "${type.value}"`);
  }
  const builder = r.atom("builder");
  if (!builder) return (type?.value as DomainType | undefined) ?? "pv";
  const fromBuilder: DomainType | undefined = builder.value === "hvm"
    ? "hvm"
    : builder.value === "generic"
    ? "pv"
    : undefined;
  if (!fromBuilder) {
    throw new ConfigError(builder.line, `builder: expected hvm or generic, got "${builder.value}"`);
  }
  if (type && type.value !== fromBuilder) {
    throw new ConfigError(
      builder.line,
      `builder: contradicting "builder" and "type" options (builder "${builder.value}" is ` +
        `${fromBuilder}, type is ${type.value}); drop the deprecated builder=`,
    );
  }
  return fromBuilder;
}

function shutdownAction(r: CfgReader, key: string, dflt: ShutdownAction): ShutdownAction {
  const a = r.atom(key);
  if (!a) return dflt;
  if (!(SHUTDOWN_ACTIONS as readonly string[]).includes(a.value)) {
    throw new ConfigError(
      a.line,
      `${key}: unknown action "${a.value}" (expected ${SHUTDOWN_ACTIONS.join(", ")})`,
    );
  }
  return a.value as ShutdownAction;
}

/** xl's `parse_cmdline`. */
function commandLine(r: CfgReader, warnings: string[]): string {
  const cmdline = r.string("cmdline");
  const root = r.string("root");
  const extra = r.string("extra");
  if (cmdline !== undefined) {
    if (root !== undefined || extra !== undefined) {
      warnings.push(`line ${r.line("cmdline")}: ignoring root= and extra= in favour of cmdline=`);
    }
    return cmdline;
  }
  if (root !== undefined) return extra !== undefined ? `root=${root} ${extra}` : `root=${root}`;
  return extra ?? "";
}

function bootloaderArgs(r: CfgReader, warnings: string[]): string[] {
  const s = r.setting("bootloader_args");
  if (!s) return [];
  if (s.value.kind === "list") return s.value.items.map((i) => i.value);
  warnings.push(
    `line ${s.line}: specifying "bootloader_args" as a string is deprecated; ` +
      "use a list of arguments",
  );
  return s.value.value.split(/[ \t\n]+/).filter((a) => a !== "");
}

function memory(r: CfgReader): { memoryMb: number; maxmemMb: number } {
  const mem = r.integer("memory", 1, XL_MEMORY_MB_MAX, "MiB");
  const max = r.integer("maxmem", 1, XL_MEMORY_MB_MAX, "MiB");
  const memoryMb = mem ?? max ?? XL_MEMORY_MB_DEFAULT;
  const maxmemMb = max ?? memoryMb;
  if (maxmemMb < memoryMb) {
    throw new ConfigError(
      r.line("maxmem"),
      `maxmem: ${maxmemMb} MiB is less than memory (${memoryMb} MiB); raise maxmem or lower memory`,
    );
  }
  return { memoryMb, maxmemMb };
}

function vcpus(r: CfgReader): { vcpus: number; maxvcpus: number } {
  const v = r.integer("vcpus", 1, XL_VCPUS_MAX) ?? 1;
  const max = r.integer("maxvcpus", 1, XL_VCPUS_MAX) ?? v;
  if (max < v) {
    throw new ConfigError(r.line("maxvcpus"), `maxvcpus: ${max} is less than vcpus (${v})`);
  }
  return { vcpus: v, maxvcpus: max };
}

/** kernel/bootloader/firmware/boot rules that depend on the type. */
function bootFields(r: CfgReader, type: DomainType, warnings: string[]) {
  let kernel = r.string("kernel");
  const bootloader = r.string("bootloader");
  const firmware = r.atom("firmware");
  const boot = r.atom("boot");
  if (type === "hvm") {
    if (kernel !== undefined && kernel.split("/").pop() === "hvmloader") {
      warnings.push(
        `line ${r.line("kernel")}: you seem to be using "kernel" directive to override HVM ` +
          `guest firmware; ignored (use "firmware_override" for a non-default firmware)`,
      );
      kernel = undefined;
    }
    if (bootloader !== undefined) {
      warnings.push(`line ${r.line("bootloader")}: bootloader is ignored for HVM guests`);
    }
    const problem = boot && bootOrderProblem(boot.value);
    if (boot && problem) throw new ConfigError(boot.line, `boot: ${problem}`);
    return {
      kernel,
      bootloader,
      firmware: firmware?.value,
      boot: boot?.value ?? XL_HVM_BOOT_DEFAULT,
    };
  }
  if (boot) warnings.push(`line ${boot.line}: boot= applies to HVM guests only; ignored`);
  if (firmware) {
    if (kernel !== undefined) {
      throw new ConfigError(firmware.line, "firmware: both kernel and firmware specified");
    }
    if (firmware.value !== "pvgrub32" && firmware.value !== "pvgrub64") {
      throw new ConfigError(
        firmware.line,
        `firmware: only pvgrub32 or pvgrub64 are firmware options for ${type} guests, got "${firmware.value}"`,
      );
    }
    kernel = `${XEN_FIRMWARE_DIR}/${firmware.value}.bin`;
  }
  if (kernel === undefined && bootloader === undefined) {
    throw new ConfigError(
      r.line("type"),
      `type ${type}: neither kernel nor bootloader specified; set kernel = "/path/vmlinuz" ` +
        `or bootloader = "pygrub"`,
    );
  }
  return { kernel, bootloader, firmware: firmware?.value, boot: XL_HVM_BOOT_DEFAULT };
}

function disks(r: CfgReader, warnings: string[]): DiskConfig[] {
  const out: DiskConfig[] = [];
  const seen = new Map<number, { vdev: string; line: number }>();
  for (const item of r.list("disk")?.items ?? []) {
    const { disk, warnings: w } = parseDiskSpec(item.value, item.line);
    warnings.push(...w.map((m) => `line ${item.line}: ${m}`));
    const prev = seen.get(disk.devid);
    if (prev) {
      throw new ConfigError(
        item.line,
        `disk: duplicate virtual device ${disk.vdev} (devid ${disk.devid}); ` +
          `${prev.vdev} on line ${prev.line} already uses it`,
      );
    }
    seen.set(disk.devid, { vdev: disk.vdev, line: item.line });
    out.push(disk);
  }
  return out;
}

function vifs(r: CfgReader, type: DomainType, rng: Pick<Rng, "u32">, warnings: string[]) {
  const out: VifConfig[] = [];
  const seen = new Map<number, number>();
  (r.list("vif")?.items ?? []).forEach((item, index) => {
    const { vif, warnings: w } = parseVifSpec(item.value, index, type, rng, item.line);
    warnings.push(...w.map((m) => `line ${item.line}: ${m}`));
    const prevLine = seen.get(vif.devid);
    if (prevLine !== undefined) {
      throw new ConfigError(
        item.line,
        `vif: duplicate devid ${vif.devid}; the vif on line ${prevLine} already uses it`,
      );
    }
    seen.set(vif.devid, item.line);
    out.push(vif);
  });
  return out;
}

function nameAndUuid(r: CfgReader): { name: string; uuid?: string } {
  const name = r.atom("name");
  if (!name) throw new ConfigError(undefined, 'name: domain name must be specified (name = "...")');
  if (name.value === "") throw new ConfigError(name.line, "name: must not be empty");
  const uuid = r.atom("uuid");
  if (uuid && !UUID.test(uuid.value)) {
    throw new ConfigError(
      uuid.line,
      `uuid: "${uuid.value}" is not a UUID (expected 8-4-4-4-12 hex digits)`,
    );
  }
  return { name: name.value, ...(uuid ? { uuid: uuid.value.toLowerCase() } : {}) };
}

/**
 * Parses an xl.cfg file. `rng` draws the MACs of vifs that give none.
 * Throws {@link ConfigError} when the file cannot be used.
 *
 * @example
 * ```ts
 * import { Rng } from "../../sim/rng.ts";
 * import { parseXlCfg } from "./xl_cfg.ts";
 * const { config } = parseXlCfg('name = "web"\nkernel = "/boot/vmlinuz"\nroot = "/dev/xvda1 ro"\n', new Rng(1));
 * config.cmdline; // "root=/dev/xvda1 ro"
 * ```
 */
export function parseXlCfg(text: string, rng: Pick<Rng, "u32">): XlCfgResult {
  const r = new CfgReader(parseXlCfgSyntax(text));
  const warnings: string[] = [...r.warnings];
  const type = domainType(r);
  const { name, uuid } = nameAndUuid(r);
  const mem = memory(r);
  const cpus = vcpus(r);
  const boot = bootFields(r, type, warnings);
  const ramdisk = r.string("ramdisk");
  const guestAtom = r.atom("xenlab_guest");
  const config: DomainConfig = {
    name,
    type,
    ...mem,
    ...cpus,
    ...(uuid === undefined ? {} : { uuid }),
    ...(boot.kernel === undefined ? {} : { kernel: boot.kernel }),
    ...(ramdisk === undefined ? {} : { ramdisk }),
    cmdline: commandLine(r, warnings),
    ...(boot.bootloader === undefined ? {} : { bootloader: boot.bootloader }),
    bootloaderArgs: bootloaderArgs(r, warnings),
    ...(boot.firmware === undefined ? {} : { firmware: boot.firmware }),
    boot: boot.boot,
    disks: disks(r, warnings),
    vifs: vifs(r, type, rng, warnings),
    onPoweroff: shutdownAction(r, "on_poweroff", "destroy"),
    onReboot: shutdownAction(r, "on_reboot", "restart"),
    onCrash: shutdownAction(r, "on_crash", "destroy"),
    onWatchdog: shutdownAction(r, "on_watchdog", "destroy"),
    onSoftReset: shutdownAction(r, "on_soft_reset", "soft-reset"),
    guest: guestAtom ? parseXenlabGuest(guestAtom.value, type, guestAtom.line) : DEFAULT_GUEST,
  };
  warnings.push(...r.unreadKeyWarnings());
  return { config, warnings };
}
