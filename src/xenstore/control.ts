/**
 * @module
 * `XS_CONTROL` (privileged): the commands of the C daemon 4.17 that make
 * sense here, with its argument counts and replies (observed on the real
 * daemon: an unknown command or a wrong argument count is EINVAL; replies
 * are NUL-terminated text). We have: check, log, logfile, memreport, print,
 * quota, quota-soft, help. `live-update` is the one 4.17 command we lack:
 * `help` lists it word for word as 4.17 does, and using it answers ENOSYS
 * (without arguments EINVAL, as 4.17).
 */
import { atoi, terminatedStrings } from "./wire/args.ts";
import { XsError } from "./wire/errno.ts";
import { nulJoin } from "./wire/message.ts";
import type { Connection } from "./connection.ts";
import type { Engine } from "./engine.ts";
import { QUOTA_NAMES, quotaKey, type Quotas } from "./store/quota.ts";

/** Default soft memory quota (warning level), `-q memory=`. */
export const SOFT_MEMORY_QUOTA_DEFAULT = 2_097_152;

interface Command {
  readonly name: string;
  readonly args: string;
  readonly min: number;
  readonly max: number;
  run(e: Engine, args: string[]): string;
}

const COMMANDS: readonly Command[] = [
  { name: "check", args: "", min: 0, max: 0, run: () => "OK" },
  {
    name: "log",
    args: "on|off",
    min: 1,
    max: 1,
    run: (e, [v]) => {
      if (v !== "on" && v !== "off") throw new XsError("EINVAL", "log takes on or off");
      e.control.logging = v === "on";
      return "OK";
    },
  },
  {
    name: "live-update",
    args: "[-c <cmdline>] [-F] [-t <timeout>] <file>\n    Default timeout is 60 seconds.",
    min: 1,
    max: 6,
    run: () => {
      throw new XsError("ENOSYS", "live-update is not supported");
    },
  },
  {
    name: "logfile",
    args: "<file>",
    min: 1,
    max: 1,
    run: (e, [f]) => {
      e.control.logFile = f;
      return "OK";
    },
  },
  {
    name: "memreport",
    args: "[<file>]",
    min: 0,
    max: 1,
    run: (e, [f]) => {
      if (f === undefined && e.control.logFile === undefined) {
        throw new XsError("EINVAL", "memreport needs a file when no log file is open");
      }
      e.control.log(`memreport: ${e.tree.size} nodes, ${e.watches.size} watches`);
      return "OK";
    },
  },
  {
    name: "print",
    args: "<string>",
    min: 1,
    max: 1,
    run: (e, [s]) => {
      e.control.log(s);
      return "OK";
    },
  },
  { name: "quota", args: "[set <name> <val>|<domid>]", min: 0, max: 3, run: quota },
  { name: "quota-soft", args: "[set <name> <val>]", min: 0, max: 3, run: quotaSoft },
  {
    name: "help",
    args: "",
    min: 0,
    max: 0,
    run: () => COMMANDS.map((c) => `${c.name}\t${c.args}\n`).join(""),
  },
];

/** Mutable settings CONTROL changes. */
export class ControlState {
  logging = false;
  logFile: string | undefined;
  softMemory = SOFT_MEMORY_QUOTA_DEFAULT;
  /** Where `print` and log lines go (the daemon's log). */
  sink: (line: string) => void = () => {};

  log(line: string): void {
    this.sink(line);
  }
}

/** Handles a CONTROL payload `<cmd>\0[<arg>\0...]`. */
export function control(e: Engine, _conn: Connection, payload: Uint8Array): Uint8Array {
  const [name, ...args] = terminatedStrings(payload);
  if (name === undefined) throw new XsError("EINVAL", "CONTROL needs a command");
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) throw new XsError("EINVAL", `unknown control command ${name}`);
  if (args.length < cmd.min || args.length > cmd.max) {
    throw new XsError("EINVAL", `${name}: wrong number of arguments`);
  }
  return nulJoin([cmd.run(e, args)]);
}

function pad(name: string, width: number): string {
  return name.padEnd(width);
}

function num(v: number): string {
  return String(v).padStart(8);
}

function quota(e: Engine, args: string[]): string {
  if (args.length === 0) {
    return "Quota settings:\n" +
      QUOTA_NAMES.map(([n, k, help]) => `${pad(n, 17)}: ${num(e.quotas[k])} ${help}\n`).join("");
  }
  if (args[0] === "set") {
    if (args.length !== 3) throw new XsError("EINVAL", "quota set <name> <val>");
    const key = quotaKey(args[1]);
    if (!key) throw new XsError("EINVAL", `unknown quota ${args[1]}`);
    (e.quotas as { -readonly [K in keyof Quotas]: number })[key] = atoi(args[2]);
    return "OK";
  }
  if (args.length !== 1) throw new XsError("EINVAL", "quota <domid>");
  const domid = atoi(args[0]) >>> 0;
  if (!e.domains.get(domid)) throw new XsError("ENOENT", `domain ${domid} is not known`);
  const usage = e.usage(domid);
  return `Domain ${domid}:\n` +
    (["nodes", "watches", "transactions", "outstanding", "memory"] as const)
      .map((k) => `${pad(k, 16)}: ${num(usage[k])}\n`).join("");
}

function quotaSoft(e: Engine, args: string[]): string {
  if (args.length === 0) {
    return `Quota settings:\n${pad("memory", 17)}: ${
      num(e.control.softMemory)
    } Total Xenstore memory per domain (warning level)\n`;
  }
  if (args[0] !== "set" || args.length !== 3 || args[1] !== "memory") {
    throw new XsError("EINVAL", "quota-soft set memory <val>");
  }
  e.control.softMemory = atoi(args[2]);
  return "OK";
}
