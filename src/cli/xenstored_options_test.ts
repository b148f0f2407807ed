import assert from "node:assert/strict";
import { parseXenstoredFlags } from "./xenstored_options.ts";
import { DEFAULT_QUOTAS } from "../xenstore/store/quota.ts";
import { EPOLL_SPIN_US_DEFAULT, EPOLL_SPIN_US_MAX } from "../xenstore/server/epoll_loop.ts";

Deno.test("xenstored flags: defaults are the C daemon's quotas and XENSTORED_RUNDIR", () => {
  const f = parseXenstoredFlags([], { XENSTORED_RUNDIR: "/run/x" });
  assert.equal(f.rundir, "/run/x");
  assert.deepEqual(f.quotas, DEFAULT_QUOTAS);
  assert.equal(f.ws, "127.0.0.1:0");
});

Deno.test("xenstored flags: C-style quota letters, -Q by name, --domains, --no-ws", () => {
  const f = parseXenstoredFlags(
    [
      "-E",
      "50",
      "-W",
      "3",
      "-t",
      "2",
      "-A",
      "4",
      "-S",
      "512",
      "-Q",
      "transaction-nodes=9",
      "--domains",
      "1-3,7",
      "--no-ws",
    ],
    {},
  );
  assert.equal(f.quotas.nodes, 50);
  assert.equal(f.quotas.watches, 3);
  assert.equal(f.quotas.transactions, 2);
  assert.equal(f.quotas.permissions, 4);
  assert.equal(f.quotas.nodeSize, 512);
  assert.equal(f.quotas.transactionNodes, 9);
  assert.deepEqual(f.domains, [1, 2, 3, 7]);
  assert.equal(f.ws, undefined);
});

Deno.test("xenstored flags: path-max is capped at 2048 like -M", () => {
  assert.equal(parseXenstoredFlags(["-M", "5000"], {}).quotas.pathMax, 2048);
});

Deno.test("xenstored flags: bad input is refused with a message naming the flag", () => {
  for (
    const [argv, re] of [
      [["-E"], /-E needs a value/],
      [["-E", "x"], /-E needs a non-negative integer/],
      [["-Q", "bogus=1"], /unknown quota "bogus"/],
      [["--domains", "5-1"], /bad domain range/],
      [["--ws", "nohostport"], /--ws takes HOST:PORT/],
      [["--frob"], /unknown option --frob/],
    ] as [string[], RegExp][]
  ) {
    assert.throws(() => parseXenstoredFlags(argv, {}), re);
  }
});

Deno.test("xenstored flags: --io picks the Unix-socket backend, --spin-us its spin", () => {
  const d = parseXenstoredFlags([], {});
  assert.equal(d.io, undefined, "default: epoll where it can run");
  assert.equal(d.spinUs, EPOLL_SPIN_US_DEFAULT);
  const f = parseXenstoredFlags(["--io", "deno", "--spin-us", "0"], {});
  assert.equal(f.io, "deno");
  assert.equal(f.spinUs, 0);
  assert.throws(() => parseXenstoredFlags(["--io", "uring"], {}), /--io: epoll or deno, not uring/);
  assert.throws(
    () => parseXenstoredFlags(["--spin-us", String(EPOLL_SPIN_US_MAX + 1)], {}),
    new RegExp(`--spin-us: at most ${EPOLL_SPIN_US_MAX}`),
  );
  assert.throws(() => parseXenstoredFlags(["--spin-us", "-1"], {}), /--spin-us needs/);
});
