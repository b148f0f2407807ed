/**
 * @module
 * pygrub, the host bootloader (`tools/pygrub/src/pygrub`), run the way
 * libxl runs it (`libxl_bootloader.c`, lifecycle-and-migration.md §2.3):
 *
 * ```
 * pygrub [--kernel=K] [--ramdisk=R] [--args=CMDLINE] --output=<fifo>
 *        --output-format=simple0 --output-directory=<dir> [bootloader_args...] <disk>
 * ```
 *
 * `<disk>` is the target of the domain's first disk (libxl boots from
 * `disks[0]`). pygrub opens that image (here: a ustar image read through
 * {@link Dom0Resources.readFile}), looks for the first menu that exists of
 * `/boot/grub/grub.cfg`, `/grub/grub.cfg`, `/boot/grub2/grub.cfg`,
 * `/grub2/grub.cfg` (GRUB 2) and `/boot/grub/menu.lst`,
 * `/boot/grub/grub.conf`, `/grub/menu.lst`, `/grub/grub.conf` (GRUB legacy),
 * picks the default entry (or `--entry=N|title`), and hands back kernel,
 * ramdisk and arguments: the entry's arguments, then `" " + --args` when
 * `--args` is set (pygrub's `run_grub`; note the blank even when the entry
 * has none). With `--kernel=` pygrub skips the menu and takes that kernel
 * (and `--ramdisk=`) from the image, with `--args` as the whole command line.
 * Options are read in order, so `--args` in bootloader_args overrides
 * libxl's.
 *
 * Deliberate differences: an `--entry` naming no entry is an error here
 * (pygrub silently keeps the default); a menu default out of range falls back
 * to entry 0 as in pygrub, with a warning. ExtLinux menus and partitioned
 * images are not read.
 */
import type { DomainConfig } from "../domain_config.ts";
import type { Dom0Resources } from "../toolstack_context.ts";
import { BootError } from "./boot_error.ts";
import { type GrubMenu, parseGrub2Cfg, parseMenuLst } from "./grub_config.ts";
import { formatSimple0 } from "./simple0.ts";
import { decodeDiskImage } from "./tar_image.ts";

/** Menu files pygrub tries, in its order (x86 `cfg_list`, ExtLinux left out). */
export const PYGRUB_CONFIG_FILES: readonly { path: string; flavour: "grub2" | "grub-legacy" }[] = [
  { path: "/boot/grub/grub.cfg", flavour: "grub2" },
  { path: "/grub/grub.cfg", flavour: "grub2" },
  { path: "/boot/grub2/grub.cfg", flavour: "grub2" },
  { path: "/grub2/grub.cfg", flavour: "grub2" },
  { path: "/boot/grub/menu.lst", flavour: "grub-legacy" },
  { path: "/boot/grub/grub.conf", flavour: "grub-legacy" },
  { path: "/grub/menu.lst", flavour: "grub-legacy" },
  { path: "/grub/grub.conf", flavour: "grub-legacy" },
];

/** Most arguments pygrub accepts on its command line. */
export const PYGRUB_ARGV_MAX = 256;

/** Where libxl asks pygrub to write (placeholders: xenlab has no fifo). */
const OUTPUT = "/var/run/xen/bootloader.d/output";
const OUTPUT_DIR = "/var/run/xen/bootloader.d";

/** What pygrub found. */
export interface PygrubResult {
  readonly kernel: Uint8Array;
  readonly ramdisk?: Uint8Array;
  /** The command line the guest gets (libxl's `pv_cmdline`). */
  readonly cmdline: string;
  /** Paths inside the guest image. */
  readonly kernelPath: string;
  readonly ramdiskPath?: string;
  /** The chosen menu entry; undefined when `--kernel=` bypassed the menu. */
  readonly entry?: { readonly index: number; readonly title: string };
  /** The menu file read, if any. */
  readonly configFile?: string;
  /** pygrub's simple0 output for this result (paths as in the image). */
  readonly simple0: Uint8Array;
  readonly warnings: readonly string[];
}

/** The argv libxl gives the bootloader for `config`, booting from `disk`. */
export function pygrubArgv(config: DomainConfig, disk: string): string[] {
  return [
    ...(config.kernel ? [`--kernel=${config.kernel}`] : []),
    ...(config.ramdisk ? [`--ramdisk=${config.ramdisk}`] : []),
    ...(config.cmdline ? [`--args=${config.cmdline}`] : []),
    `--output=${OUTPUT}`,
    "--output-format=simple0",
    `--output-directory=${OUTPUT_DIR}`,
    ...config.bootloaderArgs,
    disk,
  ];
}

interface PygrubOptions {
  kernel?: string;
  ramdisk?: string;
  args: string;
  entry?: string;
  image?: string;
}

const WITH_VALUE = [
  "output",
  "output-format",
  "output-directory",
  "entry",
  "kernel",
  "ramdisk",
  "args",
];
const FLAGS = ["quiet", "interactive", "list-entries", "not-really", "help", "isconfig", "debug"];
const USAGE =
  "Usage: pygrub [-q|--quiet] [-i|--interactive] [-l|--list-entries] [-n|--not-really] " +
  "[--output=] [--kernel=] [--ramdisk=] [--args=] [--entry=] [--output-directory=] " +
  "[--output-format=sxp|simple|simple0] <image>";

/** pygrub's `getopt.gnu_getopt` over its options (long options may be abbreviated). */
function parseArgv(argv: readonly string[]): PygrubOptions {
  const bad = (m: string) => new BootError("bootloader_args_invalid", `pygrub: ${m}\n${USAGE}`);
  if (argv.length > PYGRUB_ARGV_MAX) {
    throw bad(`${argv.length} arguments (limit ${PYGRUB_ARGV_MAX})`);
  }
  const o: PygrubOptions = { args: "" };
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    if (/^-[qilnh]+$/.test(a)) {
      if (a.includes("h")) throw bad("help requested");
      continue;
    }
    if (!a.startsWith("--")) throw bad(`option ${a} not recognized`);
    const eq = a.indexOf("=");
    const given = a.slice(2, eq < 0 ? undefined : eq);
    const names = [...WITH_VALUE, ...FLAGS].filter((n) => n === given || n.startsWith(given));
    const name = names.includes(given) ? given : names.length === 1 ? names[0] : undefined;
    if (name === undefined) {
      throw bad(`option --${given} not ${names.length ? "a unique prefix" : "recognized"}`);
    }
    if (!WITH_VALUE.includes(name)) {
      if (eq >= 0) throw bad(`option --${name} must not have an argument`);
      if (name === "help") throw bad("help requested");
      if (name === "isconfig") {
        throw bad("--isconfig (a menu file instead of a disk image) is not supported");
      }
      continue;
    }
    let value: string;
    if (eq >= 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else throw bad(`option --${name} requires argument`);
    if (name === "output-format" && value !== "simple0") {
      throw bad(`output format ${value}: libxl reads simple0 only`);
    }
    if (name === "kernel") o.kernel = value;
    else if (name === "ramdisk") o.ramdisk = value;
    else if (name === "args") o.args = value;
    else if (name === "entry") o.entry = value;
  }
  if (positional.length < 1) throw bad("no disk image given");
  o.image = positional[0];
  return o;
}

function openImage(path: string, dom0: Dom0Resources): Map<string, Uint8Array> {
  const bytes = dom0.readFile(path);
  if (bytes === undefined) {
    throw new BootError("disk_image_missing", `pygrub: disk image ${path} does not exist in dom0`);
  }
  const r = decodeDiskImage(bytes);
  if (!r.ok) {
    throw new BootError(
      "disk_image_corrupt",
      `pygrub: unable to read ${path}: ${r.error.reason} (at byte ${r.error.offset})`,
    );
  }
  return r.files;
}

function readMenu(fs: Map<string, Uint8Array>, image: string): { menu: GrubMenu; file: string } {
  for (const { path, flavour } of PYGRUB_CONFIG_FILES) {
    const bytes = fs.get(path);
    if (bytes === undefined) continue;
    const text = new TextDecoder().decode(bytes);
    const menu = flavour === "grub2" ? parseGrub2Cfg(text, path) : parseMenuLst(text, path);
    return { menu, file: path };
  }
  throw new BootError(
    "no_bootloader_config",
    `pygrub: couldn't find bootloader config file in ${image} (looked for ` +
      `${PYGRUB_CONFIG_FILES.map((c) => c.path).join(", ")})`,
  );
}

/** `--entry=` (index or title) or the menu's default. */
function chooseEntry(menu: GrubMenu, entry: string | undefined, file: string): number {
  if (menu.entries.length === 0) {
    throw new BootError("no_boot_entries", `pygrub: ${file} has no boot entries`);
  }
  if (entry === undefined) return menu.defaultIndex;
  if (/^[0-9]+$/.test(entry)) {
    const n = Number(entry);
    if (n >= menu.entries.length) {
      throw new BootError(
        "entry_out_of_range",
        `pygrub: --entry=${entry} is out of range: ${file} has ${menu.entries.length} ` +
          `entries (0..${menu.entries.length - 1})`,
      );
    }
    return n;
  }
  const i = menu.entries.findIndex((e) => e.title === entry);
  if (i < 0) {
    throw new BootError(
      "entry_not_found",
      `pygrub: --entry="${entry}" matches no title in ${file} ` +
        `(titles: ${menu.entries.map((e) => JSON.stringify(e.title)).join(", ")})`,
    );
  }
  return i;
}

function fileIn(
  fs: Map<string, Uint8Array>,
  path: string,
  what: "kernel" | "ramdisk",
  image: string,
  where: string,
): Uint8Array {
  const bytes = fs.get(path);
  if (bytes === undefined) {
    throw new BootError(
      what === "kernel" ? "kernel_missing" : "ramdisk_missing",
      `pygrub: ${where} names ${what} ${path}, but ${image} has no such file`,
    );
  }
  return bytes;
}

/**
 * Runs pygrub with `argv` (as from {@link pygrubArgv}) against dom0's files.
 * Throws {@link BootError} when the guest cannot be booted.
 */
export function runPygrub(argv: readonly string[], dom0: Dom0Resources): PygrubResult {
  const o = parseArgv(argv);
  const image = o.image!;
  const fs = openImage(image, dom0);
  if (o.kernel !== undefined) {
    const kernel = fileIn(fs, o.kernel, "kernel", image, "--kernel");
    const ramdisk = o.ramdisk === undefined
      ? undefined
      : fileIn(fs, o.ramdisk, "ramdisk", image, "--ramdisk");
    return result({
      kernel,
      ramdisk,
      cmdline: o.args,
      kernelPath: o.kernel,
      ramdiskPath: o.ramdisk,
      warnings: [],
    });
  }
  const { menu, file } = readMenu(fs, image);
  const index = chooseEntry(menu, o.entry, file);
  const e = menu.entries[index];
  const where = `entry ${index} ("${e.title}") of ${file}`;
  if (e.kernel === undefined) {
    throw new BootError("kernel_missing", `pygrub: ${where} has no linux/kernel line`);
  }
  const kernel = fileIn(fs, e.kernel, "kernel", image, where);
  const ramdisk = e.initrd === undefined
    ? undefined
    : fileIn(fs, e.initrd, "ramdisk", image, where);
  const cmdline = e.args + (o.args ? ` ${o.args}` : "");
  return result({
    kernel,
    ramdisk,
    cmdline,
    kernelPath: e.kernel,
    ramdiskPath: e.initrd,
    entry: { index, title: e.title },
    configFile: file,
    warnings: menu.warnings.map((w) => `pygrub: ${file}: ${w}`),
  });
}

function result(r: Omit<PygrubResult, "simple0">): PygrubResult {
  const clean = Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
  return {
    ...clean,
    simple0: formatSimple0({ kernel: r.kernelPath, ramdisk: r.ramdiskPath, args: r.cmdline }),
  } as PygrubResult;
}

/**
 * pygrub for a domain: boots from `disks[0]` as libxl does. Throws
 * {@link BootError} `no_bootable_disk` when there is none to read.
 */
export function pygrubForConfig(config: DomainConfig, dom0: Dom0Resources): PygrubResult {
  const disk = config.disks[0];
  if (disk === undefined || disk.target === "") {
    throw new BootError(
      "no_bootable_disk",
      `pygrub: domain "${config.name}" has no disk to boot from ` +
        (disk
          ? `(its first disk ${disk.vdev} is an empty CD-ROM drive)`
          : "(disk = [ ... ] is empty)"),
    );
  }
  return runPygrub(pygrubArgv(config, disk.target), dom0);
}
