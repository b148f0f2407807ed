/**
 * @module
 * The xl.cfg file syntax, as libxlutil's flex/bison parser reads it
 * (`tools/libs/util/libxlu_cfg_l.l`, `libxlu_cfg_y.y`, `libxlu_cfg.c`):
 *
 * ```
 * file     := (setting? (NEWLINE | ';'))*
 * setting  := IDENT '=' value
 * value    := atom | '[' NEWLINE* (atom NEWLINE* (',' NEWLINE* atom NEWLINE*)* (',' NEWLINE*)?)? ']'
 * atom     := STRING | NUMBER
 * IDENT    := [a-z][_0-9a-z]*          NUMBER := [0-9][0-9a-fx]*
 * STRING   := "..." | '...'            (backslash escapes, no raw newline)
 * ```
 *
 * `#` starts a comment to the end of the line, so lists may span lines with
 * comments between items. Numbers and strings are both *atoms* kept as text:
 * like xl, `memory = "512"` and `memory = 512` mean the same, and the
 * meaning of a value is decided by whoever reads the key. A key set twice
 * keeps its last value (libxlu prepends settings and finds the first).
 *
 * Errors are {@link ConfigError}s carrying the line, e.g.
 * `line 4: syntax error near "foo": a value is a quoted string, a number or a [ list ]`.
 */
import { ConfigError } from "./config_error.ts";

/** Largest config file accepted, in UTF-16 code units (1 MiB). */
export const XL_CFG_BYTES_MAX = 1024 * 1024;
/** Most `key = value` settings in one file. */
export const XL_CFG_SETTINGS_MAX = 1024;
/** Most items in one `[ ... ]` list. */
export const XL_CFG_LIST_ITEMS_MAX = 1024;

/** One atom (string or number), dequoted, with the line it starts on. */
export interface CfgAtom {
  readonly kind: "atom";
  readonly value: string;
  /** True for a quoted string, false for a bare number. */
  readonly quoted: boolean;
  readonly line: number;
}

/** A `[ ... ]` list of atoms; `line` is the line of `[`. */
export interface CfgList {
  readonly kind: "list";
  readonly items: readonly CfgAtom[];
  readonly line: number;
}

export type CfgValue = CfgAtom | CfgList;

/** One `key = value` setting; `line` is the line of the key. */
export interface CfgSetting {
  readonly key: string;
  readonly value: CfgValue;
  readonly line: number;
}

/** The parsed file: every setting in file order (repeats included). */
export interface CfgFile {
  readonly settings: readonly CfgSetting[];
}

type TokenKind =
  | "ident"
  | "number"
  | "string"
  | "="
  | "["
  | "]"
  | ","
  | ";"
  | "newline"
  | "eof";

interface Token {
  readonly kind: TokenKind;
  /** Dequoted text for strings, raw text otherwise. */
  readonly text: string;
  readonly line: number;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  "'": "'",
  "\\": "\\",
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/** Reads a quoted string starting at `start` (the quote); returns text and end index. */
function readString(src: string, start: number, line: number): { text: string; end: number } {
  const quote = src[start];
  let out = "";
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === quote) return { text: out, end: i + 1 };
    if (c === "\n") break;
    if (c !== "\\") {
      out += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    if (e === undefined || e === "\n") break;
    if (e in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[e];
      i += 2;
    } else if (e === "x") {
      const hex = /^[0-9a-fA-F]{2}/.exec(src.slice(i + 2, i + 4));
      if (!hex) {
        throw new ConfigError(line, "invalid \\x escape in quoted string (needs two hex digits)");
      }
      out += String.fromCharCode(parseInt(hex[0], 16));
      i += 4;
    } else if (e >= "0" && e <= "7") {
      const oct = /^[0-7]{1,3}/.exec(src.slice(i + 1, i + 4))![0];
      out += String.fromCharCode(parseInt(oct, 8) & 0xff);
      i += 1 + oct.length;
    } else {
      throw new ConfigError(line, `unknown escape \\${e} in quoted string`);
    }
  }
  throw new ConfigError(
    line,
    `unterminated quoted string starting ${src.slice(start, start + 20)}`,
  );
}

/** Splits the file into tokens (bounded by the file length: each token consumes input). */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "\n") {
      tokens.push({ kind: "newline", text: "\n", line });
      line++;
      i++;
    } else if ("=[],;".includes(c)) {
      tokens.push({ kind: c as TokenKind, text: c, line });
      i++;
    } else if (c === '"' || c === "'") {
      const { text, end } = readString(src, i, line);
      tokens.push({ kind: "string", text, line });
      i = end;
    } else {
      const m = /^[a-z][_0-9a-z]*/.exec(src.slice(i, i + 256)) ??
        /^[0-9][0-9a-fx]*/.exec(src.slice(i, i + 256));
      if (!m) {
        const near = src.slice(i).split("\n")[0].slice(0, 20);
        throw new ConfigError(line, `syntax error near "${near}": unexpected character "${c}"`);
      }
      tokens.push({ kind: /[a-z]/.test(c) ? "ident" : "number", text: m[0], line });
      i += m[0].length;
    }
  }
  tokens.push({ kind: "eof", text: "", line });
  return tokens;
}

function describe(t: Token): string {
  switch (t.kind) {
    case "newline":
      return "end of line";
    case "eof":
      return "end of file";
    case "string":
      return JSON.stringify(t.text);
    default:
      return `"${t.text}"`;
  }
}

/** A recursive-descent reader over the token list. */
class Reader {
  #pos = 0;
  constructor(readonly tokens: readonly Token[]) {}

  peek(): Token {
    return this.tokens[this.#pos];
  }
  next(): Token {
    const t = this.tokens[this.#pos];
    if (t.kind !== "eof") this.#pos++;
    return t;
  }
  skipNewlines(): void {
    while (this.peek().kind === "newline") this.next();
  }
}

function atomOf(t: Token): CfgAtom {
  return { kind: "atom", value: t.text, quoted: t.kind === "string", line: t.line };
}

function readList(r: Reader, key: string, open: Token): CfgList {
  const items: CfgAtom[] = [];
  r.skipNewlines();
  for (;;) {
    const t = r.next();
    if (t.kind === "]") return { kind: "list", items, line: open.line };
    if (t.kind !== "string" && t.kind !== "number") {
      throw new ConfigError(
        t.line,
        `${key}: syntax error near ${describe(t)}: expected a list item or "]"` +
          (t.kind === "eof" ? ` (the "[" on line ${open.line} is never closed)` : ""),
      );
    }
    if (items.length >= XL_CFG_LIST_ITEMS_MAX) {
      throw new ConfigError(t.line, `${key}: more than ${XL_CFG_LIST_ITEMS_MAX} list items`);
    }
    items.push(atomOf(t));
    r.skipNewlines();
    const sep = r.peek();
    if (sep.kind === ",") {
      r.next();
      r.skipNewlines();
    } else if (sep.kind !== "]") {
      throw new ConfigError(
        sep.line,
        `${key}: syntax error near ${describe(sep)}: expected "," or "]" after a list item` +
          (sep.kind === "eof" ? ` (the "[" on line ${open.line} is never closed)` : ""),
      );
    }
  }
}

function readValue(r: Reader, key: string): CfgValue {
  const t = r.next();
  if (t.kind === "string" || t.kind === "number") return atomOf(t);
  if (t.kind === "[") return readList(r, key, t);
  throw new ConfigError(
    t.line,
    `${key}: syntax error near ${describe(t)}: ` +
      "a value is a quoted string, a number or a [ list ]",
  );
}

/**
 * Parses xl.cfg text into settings. Throws {@link ConfigError} on bad syntax.
 *
 * @example
 * ```ts
 * import { parseXlCfgSyntax } from "./xl_cfg_syntax.ts";
 * const f = parseXlCfgSyntax('name = "web"\ndisk = [ "a",\n  "b" ]\n');
 * f.settings[1].value; // { kind: "list", items: [a@2, b@3], line: 2 }
 * ```
 */
export function parseXlCfgSyntax(text: string): CfgFile {
  if (text.length > XL_CFG_BYTES_MAX) {
    throw new ConfigError(
      undefined,
      `config is ${text.length} bytes (limit ${XL_CFG_BYTES_MAX})`,
    );
  }
  const r = new Reader(tokenize(text));
  const settings: CfgSetting[] = [];
  for (;;) {
    const t = r.next();
    if (t.kind === "eof") return { settings };
    if (t.kind === "newline" || t.kind === ";") continue;
    if (t.kind !== "ident") {
      throw new ConfigError(
        t.line,
        `syntax error near ${describe(t)}: expected a setting "key = value" ` +
          "(keys are lower-case words)",
      );
    }
    const eq = r.next();
    if (eq.kind !== "=") {
      throw new ConfigError(eq.line, `${t.text}: syntax error near ${describe(eq)}: expected "="`);
    }
    const value = readValue(r, t.text);
    const end = r.next();
    if (end.kind !== "newline" && end.kind !== ";" && end.kind !== "eof") {
      throw new ConfigError(
        end.line,
        `${t.text}: syntax error near ${
          describe(end)
        }: expected the end of the line after the value`,
      );
    }
    if (settings.length >= XL_CFG_SETTINGS_MAX) {
      throw new ConfigError(t.line, `more than ${XL_CFG_SETTINGS_MAX} settings`);
    }
    settings.push({ key: t.text, value, line: t.line });
    if (end.kind === "eof") return { settings };
  }
}
