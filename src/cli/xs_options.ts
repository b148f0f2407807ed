/**
 * @module
 * The command line of `xs <mode> ...`, parsed exactly as `main()` of Xen
 * 4.17's `xenstore_client.c` parses `xenstore-<mode> ...`
 * (xenstore-protocol.md §11.1): getopt string `hfspturn:R` with the long
 * options `--help --flat --socket --prefix --tidy --upto --recurse
 * --number --raw`; an option that exists but does not belong to the mode,
 * `-h`, missing operands and (write) an odd operand count give the mode's
 * usage line and exit status 1; unknown options only warn. `mkdir` is our
 * own mode (no Debian counterpart) with the options of `rm` minus `-t`.
 */
import { atoi } from "../xenstore/client/perms.ts";
import { type GetoptEvent, getoptLong, type LongOption } from "./xs_getopt.ts";

/** The modes of `xs`. */
export const XS_MODES = [
  "read",
  "write",
  "rm",
  "exists",
  "list",
  "ls",
  "chmod",
  "watch",
  "mkdir",
] as const;
export type XsMode = (typeof XS_MODES)[number];

/** True if `s` names a mode. */
export function isXsMode(s: string): s is XsMode {
  return (XS_MODES as readonly string[]).includes(s);
}

/** The getopt string of xenstore-utils 4.17. */
export const XS_SHORTOPTS = "hfspturn:R";

/** The long options of xenstore-utils 4.17, in table order. */
export const XS_LONGOPTS: readonly LongOption[] = [
  { name: "help", hasArg: false, val: "h" },
  { name: "flat", hasArg: false, val: "f" },
  { name: "socket", hasArg: false, val: "s" },
  { name: "prefix", hasArg: false, val: "p" },
  { name: "tidy", hasArg: false, val: "t" },
  { name: "upto", hasArg: false, val: "u" },
  { name: "recurse", hasArg: false, val: "r" },
  { name: "number", hasArg: true, val: "n" },
  { name: "raw", hasArg: false, val: "R" },
];

const USAGE: Readonly<Record<XsMode, string>> = {
  read: "[-h] [-p] [-s] [-R] key [...]",
  write: "[-h] [-s] [-R] key value [...]",
  rm: "[-h] [-s] [-t] key [...]",
  exists: "[-h] [-p] [-s] key [...]",
  list: "[-h] [-p] [-s] key [...]",
  ls: "[-h] [-f] [-p] [-s] [path]",
  chmod: "[-h] [-u] [-r] [-s] key <mode [modes...]>",
  watch: "[-h] [-n NR] key",
  mkdir: "[-h] [-s] key [...]",
};

/** Program name a mode's messages carry, as if run as `xenstore-<mode>`. */
export function progName(mode: XsMode): string {
  return `xenstore-${mode}`;
}

/** The usage line (without the `prog: ` prefix). */
export function usageLine(mode: XsMode): string {
  return `Usage: ${progName(mode)} ${USAGE[mode]}`;
}

/** Which modes accept which option letters (besides `-h` and `-s`). */
const OPTION_MODES: Readonly<Record<string, readonly XsMode[]>> = {
  f: ["ls"],
  p: ["read", "list", "ls"],
  t: ["rm"],
  u: ["chmod"],
  r: ["chmod"],
  n: ["watch"],
  R: ["read", "write"],
};

/** A parsed command. */
export interface XsCommand {
  readonly mode: XsMode;
  /** `-p`: read/list prefix, ls permissions. */
  readonly prefix: boolean;
  /** `-f` (ls). */
  readonly flat: boolean;
  /** `-t` (rm). */
  readonly tidy: boolean;
  /** `-u` (chmod). */
  readonly upto: boolean;
  /** `-r` (chmod). */
  readonly recurse: boolean;
  /** `-R` (read, write). */
  readonly raw: boolean;
  /** `-n NR` (watch): `atoi(NR)`, -1 = forever. */
  readonly nrWatches: number;
  readonly operands: readonly string[];
  /** Whether the real tool wraps the work in a transaction. */
  readonly transaction: boolean;
}

/** Outcome of parsing: warnings to print in any case, then a command or a usage failure. */
export interface XsParse {
  /** Complete stderr lines (getopt warnings, then the usage line on failure). */
  readonly messages: string[];
  readonly command?: XsCommand;
}

/**
 * Parses the arguments after the mode. `posixlyCorrect` mirrors the
 * `POSIXLY_CORRECT` environment variable (no argument permutation).
 */
export function parseXsArgs(
  mode: XsMode,
  args: readonly string[],
  posixlyCorrect = false,
): XsParse {
  const prog = progName(mode);
  const { events, operands } = getoptLong(prog, args, XS_SHORTOPTS, XS_LONGOPTS, {
    posixlyCorrect,
  });
  const messages: string[] = [];
  const usage = () => ({ messages: [...messages, `${prog}: ${usageLine(mode)}`] });
  const flags = { prefix: false, flat: false, tidy: false, upto: false, recurse: false };
  let raw = false;
  let nrWatches = -1;
  for (const ev of events) {
    if (ev.kind === "warning") {
      messages.push(ev.message);
      continue;
    }
    if (!optionAllowed(mode, ev)) return usage();
    switch (ev.opt) {
      case "f":
        flags.flat = true;
        break;
      case "p":
        flags.prefix = true;
        break;
      case "t":
        flags.tidy = true;
        break;
      case "u":
        flags.upto = true;
        break;
      case "r":
        flags.recurse = true;
        break;
      case "n":
        nrWatches = atoi(ev.arg ?? "");
        break;
      case "R":
        raw = true;
        break;
    }
  }
  const n = operands.length;
  if (mode === "write" && n % 2 === 1) return usage();
  if (mode !== "ls" && n === 0) return usage();
  const transaction = mode === "read"
    ? n > 1
    : mode === "write"
    ? n > 2
    : mode !== "ls" && mode !== "watch";
  return {
    messages,
    command: { mode, ...flags, raw, nrWatches, operands, transaction },
  };
}

function optionAllowed(mode: XsMode, ev: GetoptEvent & { kind: "option" }): boolean {
  if (ev.opt === "h") return false;
  if (ev.opt === "s") return true;
  return OPTION_MODES[ev.opt]?.includes(mode) ?? false;
}
