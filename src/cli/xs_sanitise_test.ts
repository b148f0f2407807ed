import assert from "node:assert/strict";
import { fromLatin1, latin1 } from "../xenstore/wire/message.ts";
import { sanitiseValue, unsanitiseValue } from "./xs_sanitise.ts";

const un = (s: string) => latin1(unsanitiseValue(fromLatin1(s)));

Deno.test("sanitise escapes like the reference example (§11.2)", () => {
  const v = fromLatin1('a\tb\nc\\d\x01\x7f\xff"q');
  assert.equal(sanitiseValue(v), 'a\\tb\\nc\\\\d\\001\\x7f\\xff"q');
  assert.equal(
    sanitiseValue(fromLatin1("\x00\x07\x08\x0b\x1f\r ~")),
    "\\000\\007\\x08\\x0b\\x1f\\r ~",
  );
});

Deno.test("every byte survives sanitise then unsanitise", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual([...unsanitiseValue(fromLatin1(sanitiseValue(all)))], [...all]);
});

Deno.test("unsanitise quirks of sscanf: blanks, signs, 0x prefixes, widths", () => {
  const table: [string, string][] = [
    ["\\t\\n\\r\\\\", "\t\n\r\\"],
    ["\\x41", "A"],
    ["\\x4", "\x04"],
    ["\\x414", "A4"],
    ["\\xg", "xg"],
    ["\\x", "x"],
    ["\\x 41", "A"],
    ["\\x-1", "\xff"],
    ["\\x+f", "\x0f"],
    ["\\x-", "x-"],
    ["\\x0x41", "\x0041"],
    ["\\x-0x", "\x00x"],
    ["\\101", "A"],
    ["\\1011", "A1"],
    ["\\0x", "\x00x"],
    ["\\777", "\xff"],
    ["\\8", "8"],
    ["\\q", "q"],
    ["abc\\", "abc\x00"],
    ["\\", "\x00"],
  ];
  for (const [input, want] of table) assert.equal(un(input), want, JSON.stringify(input));
});

Deno.test("unsanitise stops at a NUL like a C string", () => {
  assert.equal(un("ab\0cd"), "ab");
});
