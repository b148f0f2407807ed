/**
 * @module
 * Value escaping of xenstore-utils (`sanitise_value` / `unsanitise_value` of
 * Xen 4.17's `xs_lib.c`, xenstore-protocol.md §11.2). `xenstore-read` and
 * `xenstore-ls` print values sanitised; `xenstore-write` unsanitises its
 * value argument. Strings here are byte strings (one char per byte).
 */

/**
 * Escapes a value for printing: bytes 0x20–0x7E except `\` as they are;
 * TAB, LF, CR and `\` as `\t \n \r \\`; other bytes below 0x08 as 3-digit
 * octal (`\001`); every other byte as `\x` and 2 lowercase hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitiseValue } from "./xs_sanitise.ts";
 * const v = new Uint8Array([0x61, 0x09, 0x01, 0x7f, 0xff, 0x5c]);
 * assert.equal(sanitiseValue(v), "a\\t\\001\\x7f\\xff\\\\");
 * ```
 */
export function sanitiseValue(value: Uint8Array): string {
  let out = "";
  for (const c of value) {
    if (c >= 0x20 && c <= 0x7e && c !== 0x5c) {
      out += String.fromCharCode(c);
    } else if (c === 0x09) out += "\\t";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x5c) out += "\\\\";
    else if (c < 0o10) out += "\\" + c.toString(8).padStart(3, "0");
    else out += "\\x" + c.toString(16).padStart(2, "0");
  }
  return out;
}

const SPACE = " \t\n\v\f\r";

/**
 * Reverses {@link sanitiseValue} the way `unsanitise_value` does, quirks
 * included: `\t \n \r \\`; `\x` then what `sscanf("%2x")` takes (blanks
 * skipped, a sign and a `0x` prefix count towards the 2 characters; nothing
 * numeric leaves a plain `x`); `\` + octal digit then up to 3 octal digits;
 * `\` + any other char is that char; a `\` at the very end becomes a NUL
 * byte. The input ends at its first NUL, as a C string does.
 */
export function unsanitiseValue(input: Uint8Array): Uint8Array {
  const end = input.indexOf(0);
  const s = input.subarray(0, end < 0 ? input.length : end);
  const out: number[] = [];
  let i = 0;
  while (i < s.length) {
    let c = s[i++];
    if (c === 0x5c) {
      if (i >= s.length) {
        out.push(0);
        break;
      }
      c = s[i++];
      if (c === 0x74) c = 0x09;
      else if (c === 0x6e) c = 0x0a;
      else if (c === 0x72) c = 0x0d;
      else if (c === 0x78) {
        const r = scanHex2(s, i);
        if (r) {
          c = r.value;
          i = r.next;
        }
      } else if (c >= 0x30 && c <= 0x37) {
        let v = 0;
        let n = 0;
        i--;
        while (n < 3 && i < s.length && s[i] >= 0x30 && s[i] <= 0x37) {
          v = v * 8 + (s[i++] - 0x30);
          n++;
        }
        c = v;
      }
    }
    out.push(c & 0xff);
  }
  return new Uint8Array(out);
}

/**
 * glibc `sscanf(s + i, "%2x%n")`: skips blanks (not counted in the width),
 * then at most 2 characters of `[+-]`, `0x` prefix and hex digits. Returns
 * undefined when no number could be read.
 */
function scanHex2(s: Uint8Array, i: number): { value: number; next: number } | undefined {
  while (i < s.length && SPACE.includes(String.fromCharCode(s[i]))) i++;
  let width = 2;
  let negative = false;
  if (s[i] === 0x2b || s[i] === 0x2d) {
    negative = s[i] === 0x2d;
    i++;
    width--;
  }
  let digits = 0;
  let value = 0;
  if (width > 0 && s[i] === 0x30) {
    // "0x" prefix: the 0 is a digit read so far; the x is consumed if width allows.
    i++;
    width--;
    digits++;
    if (width > 0 && (s[i] === 0x78 || s[i] === 0x58)) {
      i++;
      width--;
    }
  }
  while (width > 0 && i < s.length && isHex(s[i])) {
    value = value * 16 + parseInt(String.fromCharCode(s[i]), 16);
    i++;
    width--;
    digits++;
  }
  if (digits === 0) return undefined;
  return { value: negative ? -value : value, next: i };
}

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46);
}
