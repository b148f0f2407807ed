/**
 * @module
 * One line of `xenstore-ls` output (`do_ls` of Xen 4.17's
 * `xenstore_client.c`, xenstore-protocol.md §11.10), as a pure function.
 *
 * The arithmetic follows the C code, including its types: the column
 * counter `linewid` counts the indent and the printed name (not the path
 * printed with `-f`, so `-f` lines count from 0); `%.*s` with a negative
 * precision prints the whole string; and the truncation test compares the
 * `int` width with a `size_t` sum, so a negative width (a terminal 0 or 1
 * columns wide) never truncates. Worked example, width 80, depth 1, name
 * `long`, a 120-byte value: linewid = 1 + 4 = 5; 80 < 5 + 120 + 8, so the
 * line is ` long = "` + 80 − 8 − 5 = 67 value characters + `\..."`.
 */
import { sanitiseValue } from "./xs_sanitise.ts";

/** Length of `TAG`, ` = "..."`, in `do_ls`. */
export const LS_TAG_LEN = 8;
/** Column the `-p` dot padding runs to (`desired_width`). */
export const LS_DESIRED_WIDTH = 60;
/** Width used when stdout is not a terminal. */
export const LS_DEFAULT_WIDTH = 80;
/** `-f` without a terminal: `INT_MAX / 2`, i.e. no truncation. */
export const LS_FLAT_WIDTH = Math.floor(0x7fffffff / 2);

/** Layout settings, fixed for one run. */
export interface LsLayout {
  /** `max_width`: terminal columns − 2, else 80 (or {@link LS_FLAT_WIDTH} with `-f`). */
  readonly maxWidth: number;
  /** `desired_width`: 60, or 0 with `-f`. */
  readonly desiredWidth: number;
  /** `-f`: print the full path instead of indent + name. */
  readonly wholePath: boolean;
  /** `-p`: pad and print permissions. */
  readonly showPerms: boolean;
}

/** The layout of a run: `-f`, `-p` and the terminal width (undefined when not a tty). */
export function lsLayout(flat: boolean, showPerms: boolean, ttyColumns?: number): LsLayout {
  let maxWidth = flat ? LS_FLAT_WIDTH : LS_DEFAULT_WIDTH;
  if (ttyColumns !== undefined) maxWidth = ttyColumns - 2;
  return { maxWidth, desiredWidth: flat ? 0 : LS_DESIRED_WIDTH, wholePath: flat, showPerms };
}

/** One node to print. */
export interface LsNode {
  readonly depth: number;
  readonly name: string;
  readonly fullPath: string;
  /** The value, or undefined when READ failed. */
  readonly value: Uint8Array | undefined;
  /** The `n0,r5` list, or undefined when not shown or GET_PERMS failed. */
  readonly perms: string | undefined;
}

/** `printf("%.*s", precision, s)`: a negative precision means "no limit". */
function precise(s: string, precision: number): string {
  return precision < 0 ? s : s.slice(0, precision);
}

/**
 * The bytes `do_ls` prints for one node (a byte string, ending in `\n`).
 * An unreadable node gives `name:\n` and then the permissions (if any) on a
 * line of their own.
 */
export function lsLine(layout: LsLayout, node: LsNode): string {
  let out = "";
  let linewid = 0;
  if (layout.wholePath) {
    out += node.fullPath;
  } else {
    out += " ".repeat(Math.max(0, node.depth));
    linewid = Math.max(0, node.depth);
    const name = precise(node.name, layout.maxWidth - LS_TAG_LEN - linewid);
    out += name;
    linewid += name.length;
  }
  if (node.value === undefined) {
    out += ":\n";
  } else {
    const text = sanitiseValue(node.value);
    const needed = linewid + node.value.length + LS_TAG_LEN;
    if (layout.maxWidth >= 0 && layout.maxWidth < needed) {
      out += ` = "${precise(text, layout.maxWidth - LS_TAG_LEN - linewid)}\\..."`;
    } else {
      out += ` = "${text}"`;
      linewid += text.length + 5;
      if (layout.showPerms) {
        out += " ";
        const stop = Math.min(layout.desiredWidth, layout.maxWidth);
        for (linewid++; linewid < stop; linewid++) out += linewid & 1 ? "." : " ";
      }
    }
  }
  if (layout.showPerms && node.perms !== undefined) out += `  (${node.perms})`;
  return out + "\n";
}
