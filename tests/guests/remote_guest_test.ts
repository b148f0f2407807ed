/**
 * A guest kernel in its own process (`deno task guest`, src/cli/guest.ts)
 * against a host in this process on the system clock: the hypervisor,
 * xenstored on it, and the WebSocket endpoint with its `/hv` route. The
 * domain is built as tests/guests/guest_host.ts builds it; the guest finds
 * everything through its secret alone (ARCHITECTURE.md "guest agents —
 * in-process, or separate processes over WebSocket").
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DOMID_SELF, Hypervisor, SHUTDOWN_poweroff } from "../../src/hv/mod.ts";
import { hvWebSocketRoute } from "../../src/host/hv_websocket.ts";
import { xenstoredOnHypervisor } from "../../src/host/xenstored_on_hv.ts";
import { Rng } from "../../src/sim/rng.ts";
import { SystemClock } from "../../src/sim/system_clock.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import { XsClient } from "../../src/xenstore/client/client.ts";
import { Credentials } from "../../src/xenstore/server/credentials.ts";
import { WebSocketTransport } from "../../src/xenstore/server/websocket_transport.ts";
import { buildPv, consoleText, type HostBase, shutdownCode, unpause } from "./guest_host.ts";
import { connectRemoteGuestEnv } from "../../src/guest-agents/remote_env.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Bound on each step (the child's start includes loading its modules). */
const STEP_TIMEOUT_MS = 30_000;
const POLL_MS = 20;

/**
 * Polls `pred` until it holds; fails naming `what` after `timeoutMs`, or
 * at once when `gone()` says why waiting is pointless.
 */
async function waitFor(
  what: string,
  pred: () => boolean | Promise<boolean>,
  gone: () => string | undefined = () => undefined,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<void> {
  const rounds = Math.ceil(timeoutMs / POLL_MS);
  for (let i = 0; i < rounds; i++) {
    if (await pred()) return;
    const why = gone();
    if (why !== undefined) throw new Error(`${why} before ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** `p`, or a rejection naming `what` after `timeoutMs`. */
async function within<T>(what: string, p: Promise<T>, timeoutMs = STEP_TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The host in this process: hv, xenstored on it, the WebSocket endpoint with `/hv`. */
async function realHost() {
  const clock = new SystemClock();
  const trace = new MemoryTrace(clock);
  const hv = new Hypervisor({ clock, rng: new Rng(11), trace });
  const xenstored = xenstoredOnHypervisor(hv, { clock, trace });
  const dom0 = new XsClient(xenstored.xenstored.connectInProcess(0));
  const h: HostBase = { clock, hv, trace, xenstored, dom0, run: (p) => p };
  const rundir = await Deno.makeTempDir({ prefix: "xenlab-remote-guest-" });
  const credentials = new Credentials(rundir);
  const ws = new WebSocketTransport(xenstored.xenstored, credentials, "127.0.0.1:0", {
    "/hv": hvWebSocketRoute(hv),
  });
  await ws.start();
  let stopped = false;
  return {
    h,
    clock,
    trace,
    rundir,
    credentials,
    ws,
    async stop() {
      if (stopped) return;
      stopped = true;
      dom0.close();
      await ws.stop();
      xenstored.close();
      await Deno.remove(rundir, { recursive: true });
    },
  };
}

Deno.test("a PV guest in its own process writes its features, acknowledges poweroff and shuts down", async () => {
  const host = await realHost();
  const { h, trace, rundir, credentials, ws } = host;
  const dom0 = h.dom0;
  let child: Deno.ChildProcess | undefined;
  let output: Promise<Deno.CommandOutput> | undefined;
  const text = new TextDecoder();
  try {
    // 48 pages = 192 kB: the guest derives its ring pages from memory/target.
    const g = await buildPv(h, { extraNodes: { "memory/target": "192" } });
    const secretFile = join(rundir, "domains", String(g.domid), "secret");
    assert.equal((await Deno.readTextFile(secretFile)).trim(), credentials.secretOf(g.domid));
    child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "src/cli/guest.ts"),
        "--ws",
        ws.url,
        "--secret-file",
        secretFile,
        "--kind",
        "pv",
        "--domid",
        String(g.domid),
        "--trace",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    output = child.output();
    let exited: string | undefined;
    output.then((o) => (exited = `the guest process exited (${o.code})`), () => {});
    const gone = () => exited;
    // The vCPU entry waits for the kernel to attach over /hv.
    unpause(h, g.domid);

    const control = `/local/domain/${g.domid}/control`;
    const read = (p: string) => dom0.readString(p).catch(() => undefined);
    await waitFor(
      "the guest to write control/feature-poweroff=1",
      async () => (await read(`${control}/feature-poweroff`)) === "1",
      gone,
    );
    // manage.c writes its features one after another.
    await waitFor(
      "the guest to write control/feature-reboot=1",
      async () => (await read(`${control}/feature-reboot`)) === "1",
      gone,
    );

    // Ask only once the guest has finished booting (its login prompt is on the
    // console ring): a request during boot is forced, as Linux forces
    // orderly_poweroff then, and prints no "going down" line.
    await waitFor(
      "the login prompt on the console",
      () => consoleText(h, g.domid, g.consolePfn).includes("xenlab login:"),
      gone,
    );
    await dom0.write(`${control}/shutdown`, "poweroff");
    await waitFor(
      'the guest to acknowledge (control/shutdown = "")',
      async () => (await read(`${control}/shutdown`)) === "",
      gone,
    );
    await waitFor(
      "the domain to shut down",
      () => shutdownCode(h, g.domid) !== undefined,
    );
    assert.equal(shutdownCode(h, g.domid), SHUTDOWN_poweroff);

    const out = await within("the guest process to exit", output);
    const stdout = text.decode(out.stdout), stderr = text.decode(out.stderr);
    assert.equal(out.code, 0, `guest exited ${out.code}\n${stdout}\n${stderr}`);
    // --trace: every guest event as a JSON line, as it happened.
    const events = stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(events.every((e) => e.src === "guest" && e.dom === g.domid));
    // The host's layout, from memory/target: 48 pages - 3 - 16 ring pages.
    assert.deepEqual(
      events.filter((e) => e.ev === "layout").map((e) => [e.ringPfnBase, e.ringPages]),
      [[29, 16]],
    );
    const lines = events.filter((e) => e.ev === "console").map((e) => e.line);
    assert.match(lines[0], /^Linux version .* \(pv\)/);
    assert.deepEqual(lines.slice(-3), [
      "xenlab login:",
      "The system is going down for power-off NOW!",
      "reboot: Power down",
    ]);
    assert.deepEqual(
      events.filter((e) => e.ev === "shutdown").map((e) => [e.reason, e.ret]),
      [["poweroff", 0]],
    );
    assert.match(stderr, new RegExp(`domain ${g.domid} shut down`));
    // The console went through the ring page (writes over /hv), as xenconsoled reads it.
    assert.match(consoleText(h, g.domid, g.consolePfn), /xenlab login:\n.*\nreboot: Power down\n$/);
  } catch (e) {
    if (child !== undefined && output !== undefined) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      const out = await within("the killed guest process", output, 5_000).catch(() => undefined);
      if (out) {
        console.error(
          `guest stdout:\n${text.decode(out.stdout)}\nguest stderr:\n${text.decode(out.stderr)}`,
        );
      }
    }
    console.error(`host trace (last 40 lines):\n${trace.lines.slice(-40).join("\n")}`);
    throw e;
  } finally {
    if (child !== undefined) {
      try {
        child.kill("SIGKILL");
      } catch { /* already exited */ }
      await within("the guest process to go", output!, 5_000).catch(() => {});
    }
    await host.stop();
  }
});

Deno.test("remote env: the secret decides the domain; a ring other than the home's is refused; a closed host fails calls clearly", async () => {
  const host = await realHost();
  const { h, clock, trace, ws } = host;
  try {
    const g = await buildPv(h);
    const secret = host.credentials.secretOf(g.domid)!;
    const opts = { url: ws.url, secret, clock, rng: new Rng(1), trace };
    await assert.rejects(
      connectRemoteGuestEnv({ ...opts, domid: g.domid + 1 }),
      new RegExp(`the secret is domain ${g.domid}'s, not domain ${g.domid + 1}'s`),
    );
    await assert.rejects(
      connectRemoteGuestEnv({ ...opts, secret: "nope" }),
      /credential refused \(4401\)/,
    );
    const env = await connectRemoteGuestEnv({
      ...opts,
      url: ws.url.slice(0, -1),
      xenstoreLinksMax: 2,
    });
    assert.equal(env.domid, g.domid);
    const r = await env.hypercall({ hc: "memory_op", op: "maximum_gpfn", domid: DOMID_SELF });
    assert.equal(r.ret, 47);
    await assert.rejects(
      env.openXenstore(g.storeFrame + 1, g.storePort),
      new RegExp(
        `xenstore ring ${g.storeFrame + 1} port ${g.storePort} refused: domain ${g.domid} ` +
          `was introduced with ring ${g.storeFrame} port ${g.storePort}`,
      ),
    );
    const xs = new XsClient(await env.openXenstore(g.storeFrame, g.storePort));
    assert.equal(await xs.readString("domid"), String(g.domid));
    await assert.rejects(
      env.openXenstore(g.storeFrame, g.storePort),
      /xenstore: 2 connections attempted already \(limit 2, xenstoreLinksMax\)/,
    );
    const closed = env.closed;
    await ws.stop(); // the host goes away
    assert.match(String(await within("the env to see the host go", closed)), /closed/);
    await assert.rejects(
      env.hypercall({ hc: "sched_op", op: "yield" }),
      /hypercall sched_op yield: no hypervisor connection \(.*code 1001/,
    );
    env.close();
  } finally {
    await host.stop();
  }
});

Deno.test("deno task guest: bad flags exit 2 with the usage, an unreachable host exits 1 saying so", async () => {
  const run = async (args: string[]) => {
    const out = await within(
      `guest ${args.join(" ")}`,
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", join(ROOT, "src/cli/guest.ts"), ...args],
        cwd: ROOT,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output(),
    );
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
  };
  const usage = await run(["--kind", "pvh"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--kind pvh: use pv, pvhvm, hvm\nUsage: deno task guest/);

  const dir = await Deno.makeTempDir({ prefix: "xenlab-guest-cli-" });
  try {
    const secretFile = join(dir, "secret");
    await Deno.writeTextFile(secretFile, "0123\n");
    // A port nobody listens on: bind one, note it, let it go.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const refused = await run([
      "--ws",
      `ws://127.0.0.1:${port}/`,
      "--secret-file",
      secretFile,
      "--kind",
      "pv",
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /guest: hv websocket .*: cannot connect .*is the host running\?/);
    const missing = await run([
      "--ws",
      `ws://127.0.0.1:${port}/`,
      "--secret-file",
      join(dir, "none"),
      "--kind",
      "pv",
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /guest: cannot read the secret: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
