import assert from "node:assert/strict";
import { parseXsArgs, usageLine, XS_MODES } from "./xs_options.ts";

Deno.test("usage lines are the 4.17.7 binary's", () => {
  assert.equal(usageLine("read"), "Usage: xenstore-read [-h] [-p] [-s] [-R] key [...]");
  assert.equal(usageLine("ls"), "Usage: xenstore-ls [-h] [-f] [-p] [-s] [path]");
  assert.equal(
    usageLine("chmod"),
    "Usage: xenstore-chmod [-h] [-u] [-r] [-s] key <mode [modes...]>",
  );
  assert.equal(usageLine("watch"), "Usage: xenstore-watch [-h] [-n NR] key");
});

Deno.test("an option of another mode, -h and missing operands give the usage line", () => {
  const cases: [string, string[]][] = [
    ["read", ["-t", "/a"]],
    ["exists", ["-p", "/a"]],
    ["ls", ["-n", "3"]],
    ["write", ["-p", "/a", "1"]],
    ["rm", ["-h"]],
    ["read", []],
    ["write", ["/a"]],
    ["write", ["/a", "1", "/b"]],
    ["watch", []],
    ["mkdir", ["-t", "/a"]],
  ];
  for (const [mode, args] of cases) {
    const r = parseXsArgs(mode as "read", args);
    assert.equal(r.command, undefined, `${mode} ${args}`);
    assert.equal(r.messages.at(-1), `xenstore-${mode}: ${usageLine(mode as "read")}`);
  }
});

Deno.test("warnings come before the usage line, and stop there", () => {
  const r = parseXsArgs("read", ["-x", "-f", "-y"]);
  assert.deepEqual(r.messages, [
    "xenstore-read: invalid option -- 'x'",
    `xenstore-read: ${usageLine("read")}`,
  ]);
});

Deno.test("transactions exactly where the real tools use them", () => {
  const tx = (mode: string, args: string[]) =>
    parseXsArgs(mode as "read", args).command!.transaction;
  assert.equal(tx("read", ["/a"]), false);
  assert.equal(tx("read", ["/a", "/b"]), true);
  assert.equal(tx("write", ["/a", "1"]), false);
  assert.equal(tx("write", ["/a", "1", "/b", "2"]), true);
  for (const m of ["rm", "exists", "list", "chmod", "mkdir"]) assert.equal(tx(m, ["/a"]), true, m);
  assert.equal(tx("ls", []), false);
  assert.equal(tx("watch", ["/a"]), false);
});

Deno.test("flags are recorded; -n uses atoi; ls needs no operand", () => {
  const w = parseXsArgs("watch", ["-n", "3x", "/a"]).command!;
  assert.equal(w.nrWatches, 3);
  assert.equal(parseXsArgs("watch", ["/a"]).command!.nrWatches, -1);
  const l = parseXsArgs("ls", ["-fp"]).command!;
  assert.deepEqual([l.flat, l.prefix, l.operands.length], [true, true, 0]);
  const c = parseXsArgs("chmod", ["-u", "--recurse", "/a", "n0"]).command!;
  assert.deepEqual([c.upto, c.recurse, c.operands], [true, true, ["/a", "n0"]]);
  assert.equal(parseXsArgs("rm", ["-s", "-t", "/a"]).command!.tidy, true);
  assert.equal(XS_MODES.length, 9);
});
