/**
 * @module
 * Typed access to parsed xl.cfg settings, the way libxlutil's
 * `xlu_cfg_get_string/long/list` read them: the last setting of a key wins,
 * an atom is read as a string or as a C `strtol(…, 0)` integer (so `0x10`
 * is hex and `010` octal, as in xl), and asking for a single value where the
 * file has a list (or the reverse) is an error naming the key and line.
 * Every key read is remembered so the keys nobody read can be reported as
 * "unknown, ignored" — xl ignores them too.
 */
import { ConfigError } from "./config_error.ts";
import type { CfgAtom, CfgFile, CfgList, CfgSetting } from "./xl_cfg_syntax.ts";

/** Integer shapes strtol(…, 0) accepts completely (no trailing junk). */
const C_INTEGER = /^[ \t]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;

/** Parses a C integer literal as `strtol(s, &ep, 0)` with `*ep == 0`; undefined if not one. */
export function parseCInteger(s: string): number | undefined {
  const m = C_INTEGER.exec(s);
  if (!m) return undefined;
  const body = m[2];
  const n = /^0[xX]/.test(body)
    ? parseInt(body.slice(2), 16)
    : body.length > 1 && body.startsWith("0")
    ? parseInt(body, 8)
    : Number(body);
  return m[1] === "-" ? -n : n;
}

/** Reads settings by key; remembers which keys were read. */
export class CfgReader {
  readonly #last = new Map<string, CfgSetting>();
  readonly #read = new Set<string>();
  readonly warnings: string[] = [];

  constructor(file: CfgFile) {
    for (const s of file.settings) {
      const prev = this.#last.get(s.key);
      if (prev) {
        this.warnings.push(
          `line ${s.line}: ${s.key} is set again; the value on line ${prev.line} is ignored`,
        );
      }
      this.#last.set(s.key, s);
    }
  }

  /** The setting of `key` (marking it read), if any. */
  setting(key: string): CfgSetting | undefined {
    this.#read.add(key);
    return this.#last.get(key);
  }

  /** The line of `key`'s setting, if set. */
  line(key: string): number | undefined {
    return this.#last.get(key)?.line;
  }

  /** A single value; a list is an error. */
  atom(key: string): CfgAtom | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind === "list") {
      throw new ConfigError(s.line, `${key}: expected a single value, got a list`);
    }
    return s.value;
  }

  string(key: string): string | undefined {
    return this.atom(key)?.value;
  }

  /** An integer in [min, max]; `unit` (e.g. "MiB") appears in messages. */
  integer(key: string, min: number, max: number, unit?: string): number | undefined {
    const a = this.atom(key);
    if (!a) return undefined;
    const what = unit ? `an integer (${unit})` : "an integer";
    const n = parseCInteger(a.value);
    if (n === undefined) {
      throw new ConfigError(a.line, `${key}: expected ${what}, got "${a.value}"`);
    }
    if (n < min || n > max) {
      const u = unit ? ` ${unit}` : "";
      throw new ConfigError(a.line, `${key}: ${n}${u} is outside ${min}..${max}${u}`);
    }
    return n;
  }

  /** A list; a single value is an error. */
  list(key: string): CfgList | undefined {
    const s = this.setting(key);
    if (!s) return undefined;
    if (s.value.kind === "atom") {
      throw new ConfigError(
        s.line,
        `${key}: expected a list [ "...", ... ], got a single value "${s.value.value}"`,
      );
    }
    return s.value;
  }

  /** One warning per key that was set but never read, in file order. */
  unreadKeyWarnings(): string[] {
    const out: string[] = [];
    for (const s of this.#last.values()) {
      if (!this.#read.has(s.key)) {
        out.push(`line ${s.line}: ignoring unknown key "${s.key}" (not used by xenlab)`);
      }
    }
    return out.sort((a, b) => lineOf(a) - lineOf(b));
  }
}

function lineOf(w: string): number {
  return Number(/^line (\d+)/.exec(w)?.[1] ?? 0);
}
