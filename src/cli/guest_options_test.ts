import assert from "node:assert/strict";
import { GUEST_RING_PAGES, guestLayout, parseGuestFlags } from "./guest_options.ts";

const REQUIRED = ["--ws", "ws://127.0.0.1:8080/", "--secret-file", "/run/x/domains/3/secret"];

Deno.test("guest flags: the required three, defaults for the rest", () => {
  const f = parseGuestFlags([...REQUIRED, "--kind", "pv"]);
  assert.deepEqual(f, {
    ws: "ws://127.0.0.1:8080/",
    secretFile: "/run/x/domains/3/secret",
    kind: "pv",
    profile: "well-behaved",
    seed: 1,
    trace: false,
    resume: false,
    help: false,
  });
});

Deno.test("guest flags: every option, --flag=value spelling, a URL without its slash", () => {
  const f = parseGuestFlags([
    "--ws=ws://[::1]:9/",
    "--secret-file=s",
    "--kind=hvm",
    "--profile",
    "never-ack",
    "--memory",
    "512",
    "--domid=7",
    "--seed",
    "0",
    "--trace",
  ]);
  assert.deepEqual(
    [f.ws, f.kind, f.profile, f.memoryMib, f.domid, f.seed, f.trace],
    ["ws://[::1]:9/", "hvm", "never-ack", 512, 7, 0, true],
  );
  assert.equal(
    parseGuestFlags(["--ws", "ws://h:1", "--secret-file", "s", "--kind", "pv"]).ws,
    "ws://h:1/",
  );
  assert.equal(parseGuestFlags(["-h"]).help, true);
});

Deno.test("guest flags: usage errors name the flag and the way out", () => {
  const cases: [string[], RegExp][] = [
    [["--secret-file", "s", "--kind", "pv"], /--ws is required/],
    [["--ws", "ws://h:1/", "--kind", "pv"], /--secret-file is required/],
    [REQUIRED, /--kind is required/],
    [[...REQUIRED, "--kind", "pvh"], /--kind pvh: use pv, pvhvm, hvm/],
    [[...REQUIRED, "--kind", "pv", "--profile", "nice"], /--profile nice: use well-behaved, /],
    [[...REQUIRED, "--kind", "pv", "--memory", "0"], /--memory needs an integer ≥ 1/],
    [[...REQUIRED, "--kind", "pv", "--memory"], /--memory needs an integer/],
    [["--ws", "http://h:1/", "--secret-file", "s", "--kind", "pv"], /ws:\/\/HOST:PORT/],
    [["--ws", "ws://h:1/hv", "--secret-file", "s", "--kind", "pv"], /ws:\/\/HOST:PORT/],
    [[...REQUIRED, "--kind", "pv", "--frobnicate"], /unknown option --frobnicate/],
  ];
  for (const [argv, re] of cases) assert.throws(() => parseGuestFlags(argv), re, argv.join(" "));
});

Deno.test("guest layout: the host's (shared_info at pages-3, rings below it), from memory/target", () => {
  // 512 MiB = 524288 kB = 131072 pages.
  assert.deepEqual(guestLayout(524288), {
    ringPfnBase: 131072 - 3 - GUEST_RING_PAGES,
    ringPages: GUEST_RING_PAGES,
    sharedInfoPfn: 131072 - 3,
    kernelRecordPfn: 131072 - 4 - GUEST_RING_PAGES,
  });
  assert.throws(() => guestLayout(64), /memory 64 kB is too small/);
});
