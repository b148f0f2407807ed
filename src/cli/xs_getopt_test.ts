import assert from "node:assert/strict";
import { getoptLong } from "./xs_getopt.ts";
import { XS_LONGOPTS, XS_SHORTOPTS } from "./xs_options.ts";

const parse = (args: string[], posixlyCorrect = false) =>
  getoptLong("prog", args, XS_SHORTOPTS, XS_LONGOPTS, { posixlyCorrect });

const opts = (args: string[]) =>
  parse(args).events.map((
    e,
  ) => (e.kind === "option" ? `-${e.opt}${e.arg !== undefined ? `=${e.arg}` : ""}` : e.message));

Deno.test("getopt permutes: options after operands still count, -- ends options, - is an operand", () => {
  assert.deepEqual(parse(["/a", "-p", "/b"]).operands, ["/a", "/b"]);
  assert.deepEqual(opts(["/a", "-p", "/b"]), ["-p"]);
  assert.deepEqual(parse(["-p", "--", "-R", "/x"]).operands, ["-R", "/x"]);
  assert.deepEqual(parse(["-", "/x"]).operands, ["-", "/x"]);
});

Deno.test("POSIXLY_CORRECT stops at the first operand", () => {
  const r = parse(["/a", "-p"], true);
  assert.deepEqual(r.operands, ["/a", "-p"]);
  assert.deepEqual(r.events, []);
});

Deno.test("short clusters and option arguments", () => {
  assert.deepEqual(opts(["-pR"]), ["-p", "-R"]);
  assert.deepEqual(opts(["-n3"]), ["-n=3"]);
  assert.deepEqual(opts(["-n", "-5"]), ["-n=-5"]);
  assert.deepEqual(opts(["-pn", "7"]), ["-p", "-n=7"]);
  assert.deepEqual(parse(["/k", "-n", "2", "/j"]).operands, ["/k", "/j"]);
});

Deno.test("glibc's warnings for bad short options", () => {
  assert.deepEqual(opts(["-x"]), ["prog: invalid option -- 'x'"]);
  assert.deepEqual(opts(["-x:y"]), [
    "prog: invalid option -- 'x'",
    "prog: invalid option -- ':'",
    "prog: invalid option -- 'y'",
  ]);
  assert.deepEqual(opts(["-n"]), ["prog: option requires an argument -- 'n'"]);
});

Deno.test("long options: exact, abbreviated, ambiguous, unknown, with and without arguments", () => {
  assert.deepEqual(opts(["--prefix", "--pre", "--fl", "--ra", "--rec"]), [
    "-p",
    "-p",
    "-f",
    "-R",
    "-r",
  ]);
  assert.deepEqual(opts(["--number=4", "--num", "5"]), ["-n=4", "-n=5"]);
  assert.deepEqual(opts(["--r"]), [
    "prog: option '--r' is ambiguous; possibilities: '--recurse' '--raw'",
  ]);
  assert.deepEqual(opts(["--r=1"]), [
    "prog: option '--r=1' is ambiguous; possibilities: '--recurse' '--raw'",
  ]);
  assert.deepEqual(opts(["--foo=3"]), ["prog: unrecognized option '--foo=3'"]);
  assert.deepEqual(opts(["--he=1"]), ["prog: option '--help' doesn't allow an argument"]);
  assert.deepEqual(opts(["--number"]), ["prog: option '--number' requires an argument"]);
  assert.deepEqual(opts(["--n=", "--n"]), ["-n=", "prog: option '--number' requires an argument"]);
  assert.equal(
    opts(["--=x"])[0].startsWith(
      "prog: option '--=x' is ambiguous; possibilities: '--help' '--flat'",
    ),
    true,
  );
});
