/**
 * @module
 * GNU `getopt_long` as glibc 2.36 (Debian bookworm) runs it for
 * xenstore-utils (xenstore-protocol.md §11.1), as a pure function: it
 * returns the options in the order getopt hands them out, with the warnings
 * getopt prints at the point it prints them, and the operands.
 *
 * Behaviour kept from glibc: arguments are permuted (options may follow
 * operands) unless `POSIXLY_CORRECT` is set; `--` ends the options; a lone
 * `-` is an operand; short options cluster (`-pf`) and an option argument
 * is the rest of the cluster or the next argument, whatever it looks like;
 * long options may be abbreviated to any unambiguous prefix, an exact match
 * wins, and `--name=value` gives the argument inline.
 */

/** A long option: its name, whether it takes an argument, the short option it stands for. */
export interface LongOption {
  readonly name: string;
  readonly hasArg: boolean;
  readonly val: string;
}

/** What getopt hands out, in order. */
export type GetoptEvent =
  | { readonly kind: "option"; readonly opt: string; readonly arg?: string }
  | { readonly kind: "warning"; readonly message: string };

/** The whole parse: events in order, then the operands. */
export interface GetoptResult {
  readonly events: GetoptEvent[];
  readonly operands: string[];
}

/**
 * Parses `args` (without the program name) like `getopt_long(argc, argv,
 * shortopts, longopts)`. Warning messages are prefixed with `prog`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getoptLong } from "./xs_getopt.ts";
 * const r = getoptLong("xenstore-read", ["/a", "-p", "--r"], "hfspturn:R", [
 *   { name: "recurse", hasArg: false, val: "r" },
 *   { name: "raw", hasArg: false, val: "R" },
 * ]);
 * assert.deepEqual(r.operands, ["/a"]);
 * assert.deepEqual(r.events[0], { kind: "option", opt: "p" });
 * ```
 */
export function getoptLong(
  prog: string,
  args: readonly string[],
  shortopts: string,
  longopts: readonly LongOption[],
  options: { readonly posixlyCorrect?: boolean } = {},
): GetoptResult {
  const events: GetoptEvent[] = [];
  const operands: string[] = [];
  const warn = (message: string) =>
    events.push({ kind: "warning", message: `${prog}: ${message}` });
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      i = longOption(args, i, longopts, events, warn);
    } else if (a.startsWith("-") && a.length > 1) {
      i = shortCluster(args, i, shortopts, events, warn);
    } else if (options.posixlyCorrect) {
      operands.push(...args.slice(i));
      break;
    } else {
      operands.push(a);
    }
  }
  return { events, operands };
}

/** One `-abc` cluster starting at `args[i]`; returns the last index used. */
function shortCluster(
  args: readonly string[],
  i: number,
  shortopts: string,
  events: GetoptEvent[],
  warn: (m: string) => void,
): number {
  const a = args[i];
  for (let j = 1; j < a.length; j++) {
    const c = a[j];
    const at = c === ":" ? -1 : shortopts.indexOf(c);
    if (at < 0) {
      warn(`invalid option -- '${c}'`);
      continue;
    }
    if (shortopts[at + 1] !== ":") {
      events.push({ kind: "option", opt: c });
      continue;
    }
    if (j + 1 < a.length) {
      events.push({ kind: "option", opt: c, arg: a.slice(j + 1) });
    } else if (i + 1 < args.length) {
      events.push({ kind: "option", opt: c, arg: args[++i] });
    } else {
      warn(`option requires an argument -- '${c}'`);
    }
    return i;
  }
  return i;
}

/** One `--name[=value]` at `args[i]`; returns the last index used. */
function longOption(
  args: readonly string[],
  i: number,
  longopts: readonly LongOption[],
  events: GetoptEvent[],
  warn: (m: string) => void,
): number {
  const text = args[i].slice(2);
  const eq = text.indexOf("=");
  const name = eq < 0 ? text : text.slice(0, eq);
  let found = longopts.find((o) => o.name === name);
  if (!found) {
    const candidates = longopts.filter((o) => o.name.startsWith(name));
    const distinct = candidates.filter((o) =>
      o.hasArg !== candidates[0].hasArg || o.val !== candidates[0].val
    );
    if (candidates.length > 0 && distinct.length > 0) {
      // glibc lists the first candidate and every later one that differs from it.
      const list = [candidates[0], ...distinct].map((o) => ` '--${o.name}'`).join("");
      warn(`option '--${text}' is ambiguous; possibilities:${list}`);
      return i;
    }
    found = candidates[0];
  }
  if (!found) {
    warn(`unrecognized option '--${text}'`);
    return i;
  }
  if (eq >= 0) {
    if (!found.hasArg) {
      warn(`option '--${found.name}' doesn't allow an argument`);
      return i;
    }
    events.push({ kind: "option", opt: found.val, arg: text.slice(eq + 1) });
  } else if (found.hasArg) {
    if (i + 1 >= args.length) {
      warn(`option '--${found.name}' requires an argument`);
      return i;
    }
    events.push({ kind: "option", opt: found.val, arg: args[++i] });
  } else {
    events.push({ kind: "option", opt: found.val });
  }
  return i;
}
