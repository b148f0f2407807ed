import assert from "node:assert/strict";
import { ConfigError } from "./config_error.ts";
import {
  type CfgAtom,
  type CfgFile,
  parseXlCfgSyntax,
  XL_CFG_BYTES_MAX,
  XL_CFG_LIST_ITEMS_MAX,
  XL_CFG_SETTINGS_MAX,
} from "./xl_cfg_syntax.ts";

const atom = (value: string, line: number, quoted = true): CfgAtom => ({
  kind: "atom",
  value,
  quoted,
  line,
});

function refused(text: string, line: number | undefined, reason: RegExp): void {
  assert.throws(() => parseXlCfgSyntax(text), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.line, line, e.message);
    assert.match(e.reason, reason);
    return true;
  });
}

Deno.test("syntax: strings in both quotes, numbers, comments and blank lines", () => {
  const f = parseXlCfgSyntax(
    "# a comment\n\nname = \"web\"   # trailing comment\nmemory=512\nkernel = '/boot/vmlinuz'\n",
  );
  assert.deepEqual(
    f,
    {
      settings: [
        { key: "name", value: atom("web", 3), line: 3 },
        { key: "memory", value: atom("512", 4, false), line: 4 },
        { key: "kernel", value: atom("/boot/vmlinuz", 5), line: 5 },
      ],
    } satisfies CfgFile,
  );
});

Deno.test("syntax: a list spans lines, with comments, blank lines and a trailing comma", () => {
  const f = parseXlCfgSyntax(
    [
      "disk = [",
      "  'phy:/dev/vg/a,xvda,w',   # root",
      "",
      "  'phy:/dev/vg/b,xvdb,w',",
      "]",
      "vif = []",
    ].join("\n"),
  );
  assert.deepEqual(f.settings[0], {
    key: "disk",
    value: {
      kind: "list",
      items: [atom("phy:/dev/vg/a,xvda,w", 2), atom("phy:/dev/vg/b,xvdb,w", 4)],
      line: 1,
    },
    line: 1,
  });
  assert.deepEqual(f.settings[1].value, { kind: "list", items: [], line: 6 });
});

Deno.test("syntax: settings may be separated by ';' and the last line needs no newline", () => {
  const f = parseXlCfgSyntax('vcpus = 2; maxvcpus = 4\r\nname="x"');
  assert.deepEqual(f.settings.map((s) => [s.key, (s.value as { value: string }).value, s.line]), [
    ["vcpus", "2", 1],
    ["maxvcpus", "4", 1],
    ["name", "x", 2],
  ]);
});

Deno.test("syntax: backslash escapes in quoted strings", () => {
  const f = parseXlCfgSyntax(String.raw`a = "q\"d\\n\n\t\x41\101'" ; b = 'it\'s'`);
  assert.equal((f.settings[0].value as { value: string }).value, "q\"d\\n\n\tAA'");
  assert.equal((f.settings[1].value as { value: string }).value, "it's");
});

Deno.test("syntax: a key set twice is kept twice (the reader takes the last)", () => {
  const f = parseXlCfgSyntax("memory = 1\nmemory = 2\n");
  assert.equal(f.settings.length, 2);
});

Deno.test("syntax: errors name the line and what was expected", () => {
  refused("name = web\n", 1, /name: syntax error near "web": a value is a quoted string/);
  refused('\n\nname "web"\n', 3, /name: syntax error near "web": expected "="/);
  refused('Name = "web"\n', 1, /unexpected character "N"/);
  refused('name = "web\nmemory = 1\n', 1, /unterminated quoted string/);
  refused('a = "x\\q"\n', 1, /unknown escape \\q/);
  refused('a = "\\x4"\n', 1, /invalid \\x escape/);
  refused(
    'disk = [ "a",\n "b"\n',
    3,
    /disk: syntax error near end of file: .*"\[" on line 1 is never closed/,
  );
  refused('disk = [ "a" "b" ]\n', 1, /disk: syntax error near "b": expected "," or "\]"/);
  refused('disk = [ [ "a" ] ]\n', 1, /disk: syntax error near "\[": expected a list item/);
  refused("memory = 1 2\n", 1, /memory: syntax error near "2": expected the end of the line/);
  refused("= 3\n", 1, /syntax error near "=": expected a setting/);
  refused("memory += 3\n", 1, /unexpected character "\+"/);
});

Deno.test("syntax: limits — bytes, settings and list items — are refused when exceeded", () => {
  refused("#".repeat(XL_CFG_BYTES_MAX + 1), undefined, /bytes \(limit/);
  const many = Array.from({ length: XL_CFG_SETTINGS_MAX + 1 }, (_, i) => `k${i} = ${i}`).join("\n");
  refused(many, XL_CFG_SETTINGS_MAX + 1, /more than 1024 settings/);
  assert.equal(
    parseXlCfgSyntax(many.split("\n").slice(0, XL_CFG_SETTINGS_MAX).join("\n")).settings.length,
    XL_CFG_SETTINGS_MAX,
  );
  const items = Array.from({ length: XL_CFG_LIST_ITEMS_MAX + 1 }, () => '"x"');
  refused(`l = [ ${items.join(", ")} ]`, 1, /l: more than 1024 list items/);
  assert.equal(
    (parseXlCfgSyntax(`l = [ ${items.slice(1).join(", ")} ]`).settings[0].value as {
      items: readonly unknown[];
    }).items.length,
    XL_CFG_LIST_ITEMS_MAX,
  );
});
