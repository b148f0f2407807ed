/**
 * @module
 * The two boot menu formats pygrub reads (`tools/pygrub/src/GrubConf.py`):
 *
 * * GRUB 2 `grub.cfg`: `menuentry 'Title' ... {` blocks with `linux` /
 *   `linux16` (kernel path and arguments) and `initrd` / `initrd16` lines;
 *   `set default=` at top level (a number, a title, `saved`,
 *   `${saved_entry}` or `${next_entry}` — the last three mean 0, as in
 *   pygrub); `submenu` blocks are flattened; `function` bodies skipped.
 * * GRUB legacy `menu.lst` / `grub.conf`: `default N`, `title ...` starting
 *   an entry, `kernel <path> <args>`, `initrd <path>`.
 *
 * A word followed by `=` before any blank splits on `=` (`default=1`), else on
 * blanks, like pygrub's `grub_split`. A path may carry a GRUB device prefix
 * `(hd0,msdos1)/vmlinuz`, which is dropped. A default that names no entry
 * falls back to entry 0 with a warning (pygrub selects entry 0 silently).
 */
import { BootError } from "./boot_error.ts";

/** Largest menu file read (pygrub's FS_READ_MAX, 1 MiB). */
export const GRUB_CFG_BYTES_MAX = 1024 * 1024;
/** Most entries in one menu. */
export const GRUB_ENTRIES_MAX = 256;

/** One boot entry. */
export interface GrubEntry {
  readonly title: string;
  /** Kernel path in the guest filesystem, device prefix dropped. */
  readonly kernel?: string;
  readonly initrd?: string;
  /** Kernel arguments of the entry ("" if none). */
  readonly args: string;
}

/** A parsed menu. */
export interface GrubMenu {
  readonly flavour: "grub2" | "grub-legacy";
  readonly entries: readonly GrubEntry[];
  /** The default entry's index (0 if the menu's default names none). */
  readonly defaultIndex: number;
  readonly warnings: readonly string[];
}

/** pygrub's `grub_split(s, 1)` then padded to two fields. */
function splitCommand(line: string): [string, string] {
  const eq = line.indexOf("=");
  const blank = line.search(/[ \t]/);
  if (eq >= 0 && (blank < 0 || eq < blank)) return [line.slice(0, eq), line.slice(eq + 1)];
  if (blank < 0) return [line, ""];
  return [line.slice(0, blank), line.slice(blank).replace(/^[ \t]+/, "")];
}

/** Drops a `(hd0,1)` device prefix. */
function stripDevice(path: string, file: string): string {
  if (!path.startsWith("(")) return path;
  const close = path.indexOf(")");
  if (close < 0) {
    throw new BootError(
      "bootloader_config_invalid",
      `${file}: unable to find matching ')' in "${path}"`,
    );
  }
  return path.slice(close + 1);
}

interface EntryBuilder {
  title: string;
  kernel?: string;
  initrd?: string;
  args: string;
}

/** Applies one line of an entry (`linux`, `kernel`, `initrd`, ...). */
function entryLine(
  e: EntryBuilder,
  line: string,
  file: string,
  kernelCmds: string[],
  initrdCmds: string[],
) {
  const [cmd, arg] = splitCommand(line);
  const value = arg.trim();
  if (kernelCmds.includes(cmd)) {
    const blank = value.search(/[ \t]/);
    e.kernel = stripDevice(blank < 0 ? value : value.slice(0, blank), file);
    e.args = blank < 0 ? "" : value.slice(blank).trim();
  } else if (initrdCmds.includes(cmd)) {
    e.initrd = stripDevice(value.split(/[ \t]+/)[0], file);
  }
}

/** Resolves a `default` value to an entry index, with pygrub's fallbacks. */
function resolveDefault(
  value: string | undefined,
  entries: readonly GrubEntry[],
  warnings: string[],
): number {
  if (value === undefined) return 0;
  if (value === "saved" || value === "${saved_entry}" || value === "${next_entry}") {
    warnings.push(`default "${value}" is not supported; using entry 0`);
    return 0;
  }
  const n = /^[0-9]+$/.test(value) ? Number(value) : entries.findIndex((e) => e.title === value);
  if (n < 0 || n >= entries.length) {
    warnings.push(
      `default "${value}" names no entry (${entries.length} entries); using entry 0`,
    );
    return 0;
  }
  return n;
}

function lines(text: string, file: string): string[] {
  if (text.length > GRUB_CFG_BYTES_MAX) {
    throw new BootError(
      "bootloader_config_invalid",
      `${file}: ${text.length} bytes (limit ${GRUB_CFG_BYTES_MAX})`,
    );
  }
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

function pushEntry(entries: GrubEntry[], e: EntryBuilder, file: string): void {
  if (entries.length >= GRUB_ENTRIES_MAX) {
    throw new BootError(
      "bootloader_config_invalid",
      `${file}: more than ${GRUB_ENTRIES_MAX} entries`,
    );
  }
  entries.push({ ...e });
}

const MENUENTRY = /^menuentry ["'](.*?)["'] (.*)\{/;

/** Parses a GRUB 2 `grub.cfg`. `file` names it in messages. */
export function parseGrub2Cfg(text: string, file = "grub.cfg"): GrubMenu {
  const bad = (m: string) =>
    new BootError("bootloader_config_invalid", `${file}: syntax error: ${m}`);
  const entries: GrubEntry[] = [];
  const warnings: string[] = [];
  let inFunction = false, menuLevel = 0, dflt: string | undefined;
  let cur: EntryBuilder | undefined;
  for (const l of lines(text, file)) {
    if (l.startsWith("function")) {
      inFunction = true;
    } else if (inFunction) {
      if (l.startsWith("}")) inFunction = false;
    } else if (MENUENTRY.test(l)) {
      if (cur) throw bad(`cannot nest menuentry (inside "${cur.title}")`);
      cur = { title: MENUENTRY.exec(l)![1], args: "" };
    } else if (l.startsWith("submenu")) {
      menuLevel++;
    } else if (l.startsWith("}")) {
      if (cur) {
        pushEntry(entries, cur, file);
        cur = undefined;
      } else if (menuLevel > 0) menuLevel--;
      else throw bad("closing brace without menuentry");
    } else if (cur) {
      entryLine(cur, l, file, ["linux", "linux16", "linuxefi"], [
        "initrd",
        "initrd16",
        "initrdefi",
      ]);
    } else {
      const [cmd, arg] = splitCommand(l);
      if (cmd !== "set") continue;
      const [name, value] = splitCommand(arg);
      if (name === "default") dflt = value.trim().replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  if (cur) throw bad(`end of file with open menuentry "${cur.title}"`);
  return {
    flavour: "grub2",
    entries,
    defaultIndex: resolveDefault(dflt, entries, warnings),
    warnings,
  };
}

/** Parses a GRUB legacy `menu.lst` / `grub.conf`. */
export function parseMenuLst(text: string, file = "menu.lst"): GrubMenu {
  const entries: GrubEntry[] = [];
  const warnings: string[] = [];
  let dflt: string | undefined;
  let cur: EntryBuilder | undefined;
  for (const l of lines(text, file)) {
    if (l.startsWith("title")) {
      if (cur) pushEntry(entries, cur, file);
      cur = { title: l.slice(6).trim(), args: "" };
    } else if (cur) {
      entryLine(cur, l, file, ["kernel"], ["initrd"]);
    } else {
      const [cmd, arg] = splitCommand(l);
      if (cmd === "default") dflt = arg.trim();
    }
  }
  if (cur) pushEntry(entries, cur, file);
  return {
    flavour: "grub-legacy",
    entries,
    defaultIndex: resolveDefault(dflt, entries, warnings),
    warnings,
  };
}
