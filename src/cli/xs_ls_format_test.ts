import assert from "node:assert/strict";
import { fromLatin1 } from "../xenstore/wire/message.ts";
import { LS_FLAT_WIDTH, lsLayout, lsLine, type LsNode } from "./xs_ls_format.ts";

const node = (depth: number, name: string, value?: string, perms?: string): LsNode => ({
  depth,
  name,
  fullPath: `/p/${name}`,
  value: value === undefined ? undefined : fromLatin1(value),
  perms,
});

Deno.test("tree lines: indent, sanitised value, unreadable nodes (§11.10 examples)", () => {
  const l = lsLayout(false, false);
  assert.equal(lsLine(l, node(0, "tool", "")), 'tool = ""\n');
  assert.equal(lsLine(l, node(3, "name", "Domain-0")), '   name = "Domain-0"\n');
  assert.equal(
    lsLine(l, node(3, "weird", 'a\tb\nc\\d\x01\x7f\xff"q')),
    '   weird = "a\\tb\\nc\\\\d\\001\\x7f\\xff"q"\n',
  );
  assert.equal(lsLine(l, node(3, "unread")), "   unread:\n\n");
});

Deno.test("-p pads to column 60 with '. . .' and prints perms; unreadable puts them on the next line", () => {
  const l = lsLayout(false, true);
  assert.equal(
    lsLine(l, node(0, "tool", "", "n0")),
    'tool = ""  . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)\n',
  );
  assert.equal(
    lsLine(l, node(1, "xenstored", "", "n0")),
    ' xenstored = ""  . . . . . . . . . . . . . . . . . . . . . .  (n0)\n',
  );
  assert.equal(
    lsLine(l, node(0, "local", "", "n0")),
    'local = "" . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)\n',
  );
  assert.equal(lsLine(l, node(3, "unread", undefined, "n0")), "   unread:\n  (n0)\n");
  assert.equal(lsLine(l, node(3, "unread", undefined, undefined)), "   unread:\n\n");
});

Deno.test("values longer than the width are cut with \\...; -p then adds only two spaces", () => {
  const long = "x".repeat(120);
  assert.equal(
    lsLine(lsLayout(false, false), node(0, "long", long)),
    `long = "${"x".repeat(68)}\\..."\n`,
  );
  assert.equal(
    lsLine(lsLayout(false, true), node(0, "long", long, "n0")),
    `long = "${"x".repeat(68)}\\..."  (n0)\n`,
  );
  const mid = "0123456789".repeat(6) + "0";
  assert.equal(lsLine(lsLayout(false, true), node(0, "mid", mid, "n0")), `mid = "${mid}"   (n0)\n`);
  // The test uses the raw length: 4 bytes that print as 16 characters still fit.
  assert.equal(
    lsLine(lsLayout(false, false), node(0, "n", "\x01\x02\x03\x04")),
    'n = "\\001\\002\\003\\004"\n',
  );
});

Deno.test("-f prints the full path, three spaces before perms, no truncation without a tty", () => {
  const l = lsLayout(true, true);
  assert.equal(l.maxWidth, LS_FLAT_WIDTH);
  assert.equal(lsLine(l, node(2, "x", "v", "n0,r5")), '/p/x = "v"   (n0,r5)\n');
  const y = "y".repeat(5000);
  assert.equal(lsLine(l, node(2, "x", y, "n0")), `/p/x = "${y}"   (n0)\n`);
});

Deno.test("on a terminal the width is columns - 2, for -f too (where the path does not count)", () => {
  assert.equal(
    lsLine(lsLayout(false, false, 40), node(0, "long", "x".repeat(120))),
    `long = "${"x".repeat(26)}\\..."\n`,
  );
  assert.equal(
    lsLine(lsLayout(true, false, 40), node(0, "long", "x".repeat(120))),
    `/p/long = "${"x".repeat(30)}\\..."\n`,
  );
});

Deno.test("narrow and zero-width terminals follow C's int/size_t arithmetic", () => {
  // 0 columns: width -2 is huge as size_t: nothing is cut, no padding.
  assert.equal(
    lsLine(lsLayout(false, true, 0), node(0, "name", "value", "n0")),
    'name = "value"   (n0)\n',
  );
  // 6 columns: width 4, precision 4 - 8 < 0 prints whole name and value, still marked cut.
  assert.equal(
    lsLine(lsLayout(false, false, 6), node(0, "name", "value")),
    'name = "value\\..."\n',
  );
  // A deep node on a narrow terminal: name precision 10 - 8 - 3 < 0, whole name.
  assert.equal(lsLine(lsLayout(false, false, 12), node(3, "abcdef", "")), '   abcdef = "\\..."\n');
  // The name is cut to width - 8 - indent.
  assert.equal(lsLine(lsLayout(false, false, 14), node(1, "abcdefgh", "v")), ' abc = "\\..."\n');
});
