/**
 * @module
 * The byte-for-byte comparison of `xs <mode>` with Debian's xenstore-utils
 * 4.17.7 (xenstore-protocol.md §11), both pointed at the same daemon:
 * {@link registerXsComparisons} registers it against any {@link XsDaemon}
 * (the real C xenstored by default; the lead runs it against ours).
 *
 * Read-only cases run on one fixture under `/t`; every mutating case
 * rebuilds `/m` before each of the two runs and also compares the
 * resulting `/m`. Guest cases (an unprivileged domain 5, for unreadable
 * nodes) need a daemon with guest sockets; terminal-width cases need
 * `script`; WebSocket cases run ours through `ws_relay.ts`.
 */
import assert from "node:assert/strict";
import type { XsClient } from "../../src/xenstore/client/client.ts";
import type { XsPerm } from "../../src/xenstore/client/perms.ts";
import { fromLatin1 } from "../../src/xenstore/wire/message.ts";
import {
  type Impl,
  openClient,
  removeTree,
  type RunOptions,
  runTool,
  sameRun,
  showRun,
  snapshot,
  type ToolRun,
} from "./xs_compare.ts";
import { daemonTest, which, type XsDaemon } from "./xs_daemon.ts";
import { startWsRelay } from "./ws_relay.ts";

/** One comparison. */
interface Case {
  readonly mode: string;
  readonly args: readonly string[];
  /** Rebuild `/m` before each run and compare it afterwards. */
  readonly mutates?: boolean;
  /** Run after the first line of stdout (watches). */
  readonly trigger?: (xs: XsClient) => Promise<void>;
}

const perm = (s: string): XsPerm => ({ id: Number(s.slice(1)), perm: s[0] as XsPerm["perm"] });
const bytes = (...b: number[]) => new Uint8Array(b);

/** The read-only fixture. */
async function buildFixture(xs: XsClient): Promise<void> {
  await removeTree(xs, "/t");
  const w = (p: string, v: string | Uint8Array) =>
    xs.write(p, typeof v === "string" ? fromLatin1(v) : v);
  await w("/t/plain", "hello");
  await w("/t/empty", "");
  await w("/t/weird", 'a\tb\nc\\d\x01\x7f\xff"q');
  await w("/t/allbytes", new Uint8Array(256).map((_, i) => i));
  await w("/t/nul", bytes(0x61, 0, 0x62));
  await w("/t/long", "x".repeat(120));
  await w("/t/mid", "0123456789".repeat(6) + "0");
  await w("/t/fit68", "f".repeat(68));
  await w("/t/fit69", "f".repeat(69));
  for (let n = 40; n <= 56; n++) await w(`/t/pad/v${n}`, "p".repeat(n));
  await w(`/t/${"n".repeat(80)}`, "long name");
  await w("/t/dir/a/b/c", "deep");
  await w("/t/dir/x", "1");
  await w("/t/perms", "p");
  await xs.setPerms("/t/perms", ["n0", "r5", "b7", "w3"].map(perm));
  await w("/t/utf8", "\xc3\xa9");
  await w("/t/esc", "\\x41");
  await w("xsrel", "rel");
  await w("xsrel/kid", "k");
  // More than 4096 bytes of child names: DIRECTORY says E2BIG.
  await Promise.all(
    Array.from({ length: 300 }, (_, i) => w(`/t/big/child-${String(i).padStart(12, "0")}`, "")),
  );
}

/** The fixture mutating cases start from. */
async function buildMutable(xs: XsClient): Promise<void> {
  await removeTree(xs, "/m");
  const w = (p: string, v: string) => xs.write(p, fromLatin1(v));
  await w("/m/a", "1");
  await w("/m/b/c", "2");
  await w("/m/b/d", "3");
  await w("/m/tidy/x/y/z", "v");
  await w("/m/tidy/keep", "");
  await w("/m/val/x/y", "");
  await w("/m/val", "has value");
}

const readOnly: Case[] = [
  // read
  ...[
    ["/t/plain"],
    ["/t/weird"],
    ["/t/allbytes"],
    ["/t/nul"],
    ["/t/empty"],
    ["/t/utf8"],
    ["-p", "/t/plain", "/t/weird"],
    ["-R", "/t/weird"],
    ["-R", "-p", "/t/nul", "/t/utf8"],
    ["/t/plain", "/t/missing", "/t/empty"],
    ["/t/missing"],
    ["xsrel"],
    ["bad path"],
    ["/t/"],
    [""],
    ["@releaseDomain"],
    ["-s", "/t/plain"],
    ["--prefix", "/t/plain", "--raw"],
    ["/t/plain", "-p"],
    ["-x", "-y", "/t/plain"],
    ["--r", "/t/plain"],
    ["--foo=1", "/t/plain"],
    ["--prefix=1", "/t/plain"],
    ["-h", "/t/plain"],
    ["-f", "/t/plain"],
    ["-n"],
    [],
    ["--", "-p"],
    ["-", "/t/plain"],
  ].map((args): Case => ({ mode: "read", args })),
  // ls
  ...[
    [],
    ["/t"],
    ["-p", "/t"],
    ["-f", "/t"],
    ["-fp", "/t"],
    ["-p", "/t/pad"],
    ["/t/missing"],
    ["/t/dir", "/t/missing", "/t"],
    ["/t", "/t/dir"],
    ["/t/dir/"],
    [""],
    ["bad path"],
    ["xsrel"],
    ["-p", "/"],
    ["-R"],
    ["-x", "/t/dir"],
  ].map((args): Case => ({ mode: "ls", args })),
  // list
  ...[
    ["/t"],
    ["-p", "/t"],
    ["-p", "/"],
    ["/t/big"],
    ["/t/plain"],
    ["/t/missing"],
    ["/t/dir", "/t/missing", "/t"],
    ["xsrel"],
    ["-R", "/t"],
    [],
  ].map((args): Case => ({ mode: "list", args })),
  // exists
  ...[
    ["/t/plain"],
    ["/t/missing"],
    ["/t/plain", "/t/missing"],
    ["/t/plain", "/t/dir", "xsrel"],
    ["bad path"],
    ["-p", "/t"],
    [],
  ].map((args): Case => ({ mode: "exists", args })),
  // watch: registrations and their initial events
  ...[
    ["-n", "1", "/t/plain"],
    ["-n", "2", "/t/plain", "/t/dir"],
    ["-n", "0", "/t"],
    ["-n", "x", "/t"],
    ["-n", "-5", "/t"],
    ["-n", "1", "bad path"],
    ["-n", "2", "/t/plain", "/t/plain"],
    ["-n", "1", "@releaseDomain"],
    ["--number=1", "xsrel"],
    ["-p", "/t"],
    [],
  ].map((args): Case => ({ mode: "watch", args })),
];

const mutating: Case[] = [
  ...[
    ["/m/new", "v"],
    ["/m/a", "\\x41\\t\\101\\"],
    ["/m/hex", "\\x 41\\x-1\\x0x41\\xg\\x"],
    ["/m/oct", "\\0x\\777\\8\\1234"],
    ["/m/esc", "\\q\\\\\\n\\r"],
    ["-R", "/m/a", "\\x41"],
    ["/m/p", "1", "/m/q", "2"],
    ["/m/x", "1", "bad path", "2"],
    ["/m/z", "é"],
    ["/m/a"],
    ["bad path", "1"],
    ["xsrel2", "r"],
    ["-p", "/m/a", "1"],
  ].map((args): Case => ({ mode: "write", args, mutates: true })),
  ...[
    ["/m/a"],
    ["/m/missing"],
    ["/m/missing/deeper"],
    ["/m/b"],
    ["-t", "/m/tidy/x/y/z"],
    ["-t", "/m/val/x/y"],
    ["-t", "/m/b/c"],
    ["/m/a", "/m/missing/x"],
    ["/"],
    ["-p", "/m/a"],
  ].map((args): Case => ({ mode: "rm", args, mutates: true })),
  ...[
    ["/m/a", "n0", "r5"],
    ["/m/a", "b0x10"],
    ["/m/a", "n-1"],
    ["/m/a", "r3", "w0"],
    ["/m/a", "n0", "r99999999999999999999", "b4294967301"],
    ["-r", "/m/b", "n0", "r3"],
    ["-u", "/m/b/c", "n0", "r4"],
    ["-u", "-r", "/m/b", "b2"],
    ["/m/a"],
    ["/m/a", "x5"],
    ["/m/a", ""],
    ["/m/missing", "n0"],
    ["/m/a", "n99"],
    ["-u", "xsrel", "n0"],
    ["-r", "/", "n0"],
    ["-t", "/m/a", "n0"],
  ].map((args): Case => ({ mode: "chmod", args, mutates: true })),
  // watch with changes made while it runs
  {
    mode: "watch",
    args: ["-n", "3", "/m/b"],
    mutates: true,
    trigger: async (xs) => {
      await xs.write("/m/b/new", "1");
      await xs.write("/m/other", "x");
      await xs.rm("/m/b");
    },
  },
  {
    mode: "watch",
    args: ["-n", "3", "/m/a", "/m/b/c"],
    mutates: true,
    trigger: async (xs) => {
      await xs.rm("/m/b");
    },
  },
  {
    mode: "watch",
    args: ["-n", "2", "xsrel2"],
    mutates: true,
    trigger: async (xs) => {
      await xs.write("xsrel2/sub", "1");
    },
  },
];

/** Guest domain 5 sees /g/ok but not /g/secret. */
const GUEST = 5;

async function buildGuestFixture(xs: XsClient): Promise<void> {
  await removeTree(xs, "/g");
  await xs.write("/g/ok", "1");
  await xs.write("/g/secret/child", "2");
  await xs.write("/g/z", "3");
  for (const p of ["/g", "/g/ok", "/g/z"]) await xs.setPerms(p, [perm("n0"), perm(`r${GUEST}`)]);
}

const guestCases: Case[] = [
  ["ls", ["/g"]],
  ["ls", ["-p", "/g"]],
  ["ls", ["-fp", "/g"]],
  ["read", ["/g/secret"]],
  ["read", ["/g/ok", "/g/secret"]],
  ["read", ["/g/secret/missing"]],
  ["list", ["/g/secret"]],
  ["list", ["-p", "/g"]],
  ["exists", ["/g/secret"]],
  ["rm", ["/g/ok"]],
  ["write", ["/g/new", "x"]],
  ["chmod", ["/g/ok", `n${GUEST}`]],
  ["watch", ["-n", "1", "/g/secret"]],
].map(([mode, args]) => ({ mode: mode as string, args: args as string[] }));

const ttyCases: { cols: number; args: string[] }[] = [
  ...[40, 80, 100, 0, 1, 6, 12, 14].map((cols) => ({ cols, args: ["/t"] })),
  { cols: 40, args: ["-p", "/t"] },
  { cols: 40, args: ["-f", "/t"] },
  { cols: 40, args: ["-fp", "/t"] },
  { cols: 70, args: ["-p", "/t/pad"] },
  { cols: 14, args: ["/t/dir"] },
];

function label(c: { mode: string; args: readonly string[] }): string {
  return `${c.mode} ${c.args.map((a) => JSON.stringify(a)).join(" ")}`.trim();
}

/** `XS_COMPARE_SHOW=1` prints every real run, to see what is being compared. */
const SHOW = Deno.env.get("XS_COMPARE_SHOW") === "1";

function assertSame(what: string, real: ToolRun, ours: ToolRun): void {
  if (SHOW) console.log(`\n### ${what}\n${showRun(real)}`);
  if (!sameRun(real, ours)) {
    assert.fail(
      `${what}: outputs differ\n=== real ===\n${showRun(real)}\n=== ours ===\n${showRun(ours)}`,
    );
  }
}

async function compareCase(
  xs: XsClient,
  c: Case,
  env: Record<string, string>,
  extra: Partial<RunOptions> = {},
): Promise<void> {
  const results: Partial<Record<Impl, { run: ToolRun; state: string[] }>> = {};
  for (const impl of ["real", "ours"] as const) {
    if (c.mutates) await buildMutable(xs);
    const run = await runTool(impl, c.mode, c.args, {
      env,
      afterFirstLine: c.trigger ? () => c.trigger!(xs) : undefined,
      ...extra,
    });
    const state = c.mutates
      ? [...await snapshot(xs, "/m"), ...await snapshot(xs, "/local/domain/0")]
      : [];
    results[impl] = { run, state };
  }
  assertSame(label(c), results.real!.run, results.ours!.run);
  assert.deepEqual(
    results.ours!.state,
    results.real!.state,
    `${label(c)}: the store differs afterwards`,
  );
}

/**
 * Registers the comparison suite: one test per group, one step per case.
 * `start` gives the daemon (default: `XS_TEST_SOCKET`, else the real one).
 */
export function registerXsComparisons(
  start?: () => Promise<XsDaemon>,
  prefix = "xs vs xenstore-utils",
): void {
  const opts = { start, needsUtils: true };

  daemonTest(`${prefix}: read-only modes on one tree`, async (t, daemon) => {
    const xs = await openClient(daemon.socketPath);
    try {
      await buildFixture(xs);
      const env = { XENSTORED_PATH: daemon.socketPath };
      for (const c of readOnly) {
        await t.step(label(c), () => compareCase(xs, c, env));
      }
    } finally {
      xs.close();
    }
  }, opts);

  daemonTest(`${prefix}: write, rm, chmod and watch change the store alike`, async (t, daemon) => {
    const xs = await openClient(daemon.socketPath);
    try {
      const env = { XENSTORED_PATH: daemon.socketPath };
      for (const c of mutating) {
        await t.step(label(c), async () => {
          await removeTree(xs, "xsrel2");
          await compareCase(xs, c, env);
        });
      }
    } finally {
      xs.close();
    }
  }, opts);

  daemonTest(`${prefix}: connection failures`, async (t, daemon) => {
    const cases: [string, Record<string, string>][] = [
      ["missing socket", { XENSTORED_PATH: `${daemon.socketPath}.missing` }],
      ["a directory", { XENSTORED_PATH: "/tmp" }],
      ["rundir without socket", { XENSTORED_RUNDIR: "/nonexistent-rundir" }],
    ];
    for (const [what, env] of cases) {
      for (const mode of ["read", "ls"]) {
        await t.step(`${mode}: ${what}`, async () => {
          const args = mode === "read" ? ["/t/plain"] : [];
          assertSame(
            what,
            await runTool("real", mode, args, { env }),
            await runTool("ours", mode, args, { env }),
          );
        });
      }
    }
  }, opts);

  daemonTest(`${prefix}: ls on terminals of several widths`, async (t, daemon) => {
    if (!which("script")) {
      console.error("SKIP terminal cases: `script` (util-linux) not installed");
      return;
    }
    const xs = await openClient(daemon.socketPath);
    try {
      await buildFixture(xs);
      const env = { XENSTORED_PATH: daemon.socketPath };
      for (const { cols, args } of ttyCases) {
        await t.step(
          `${cols} columns: ls ${args.join(" ")}`,
          () => compareCase(xs, { mode: "ls", args }, env, { ttyColumns: cols }),
        );
      }
    } finally {
      xs.close();
    }
  }, opts);

  daemonTest(`${prefix}: an unprivileged guest sees unreadable nodes`, async (t, daemon) => {
    if (!daemon.guest) {
      console.error(
        `SKIP guest cases: ${daemon.name} offers no guest sockets (XS_TEST_GUEST_SOCKET)`,
      );
      return;
    }
    const xs = await openClient(daemon.socketPath);
    try {
      await buildGuestFixture(xs);
      for (const c of guestCases) {
        await t.step(label(c), async () => {
          const runs: ToolRun[] = [];
          for (const impl of ["real", "ours"] as const) {
            const g = await daemon.guest!(GUEST);
            try {
              runs.push(await runTool(impl, c.mode, c.args, { env: { XENSTORED_PATH: g.path } }));
            } finally {
              await g.close();
            }
          }
          assertSame(label(c), runs[0], runs[1]);
        });
      }
    } finally {
      xs.close();
    }
  }, opts);

  daemonTest(
    `${prefix}: ours over a WebSocket prints what the real one prints over the socket`,
    async (t, daemon) => {
      const xs = await openClient(daemon.socketPath);
      const relay = startWsRelay(daemon.socketPath, "test-credential");
      const dir = await Deno.makeTempDir({ prefix: "xsws" });
      try {
        await buildFixture(xs);
        await Deno.writeTextFile(`${dir}/cred`, "test-credential\n");
        const env = { XENSTORED_PATH: daemon.socketPath };
        const oursExtra = ["--ws", relay.url, "--credential", `${dir}/cred`];
        const sample = readOnly.filter((c) => ["ls", "list", "read"].includes(c.mode)).slice(0, 40);
        for (const c of [...sample, ...mutating.filter((c) => c.mode === "write").slice(0, 6)]) {
          await t.step(label(c), () => compareCase(xs, c, env, { oursExtra }));
        }
        await t.step("a refused credential", async () => {
          await Deno.writeTextFile(`${dir}/bad`, "wrong");
          const r = await runTool("ours", "read", ["/t/plain"], {
            env,
            oursExtra: ["--ws", relay.url, "--credential", `${dir}/bad`],
          });
          assert.equal(r.code, 1);
          assert.equal(
            new TextDecoder().decode(r.stderr),
            `xenstore-read: xs_open: websocket ${relay.url}: credential refused (4401): credential not accepted\n`,
          );
        });
      } finally {
        xs.close();
        await relay.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
    opts,
  );
}
