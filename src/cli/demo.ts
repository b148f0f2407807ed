/**
 * @module
 * `deno task demo`: the README's main job. Starts xenstored on a scratch
 * run directory and shows it answering real clients: Debian's
 * xenstore-utils (libxenstore) as dom0 over the Unix socket, the same tools
 * acting as an unprivileged guest through its per-domain socket, our own
 * client over WebSocket, and a watch. Where the Debian tools are not
 * installed it says so and uses xenlab's client instead.
 */
import { join } from "node:path";
import { XsClient } from "../xenstore/client/client.ts";
import { connectUnix } from "../xenstore/client/unix_link.ts";
import { connectWebSocket } from "../xenstore/client/websocket_link.ts";
import { Credentials } from "../xenstore/server/credentials.ts";
import { UnixTransport } from "../xenstore/server/unix_transport.ts";
import { WebSocketTransport } from "../xenstore/server/websocket_transport.ts";
import { Xenstored } from "../xenstore/server/xenstored.ts";
import { runScenario } from "../../scenarios/run_scenario.ts";
import { scenarioByName } from "../../scenarios/registry.ts";

const rundir = await Deno.makeTempDir({ dir: "/tmp", prefix: "xenlab-demo" });
const server = new Xenstored();
const unix = new UnixTransport(server, rundir);
unix.start();
const credentials = new Credentials(rundir);
const ws = new WebSocketTransport(server, credentials, "127.0.0.1:0");
await ws.start();

const haveUtils = await new Deno.Command("sh", {
  args: ["-c", "command -v xenstore-write"],
  stdout: "null",
})
  .output().then((o) => o.success, () => false);

function say(title: string): void {
  console.log(`\n== ${title}`);
}

/** Runs a Debian xenstore tool against a socket, printing the command and its output. */
async function tool(socket: string, who: string, ...argv: string[]): Promise<void> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { XENSTORED_PATH: socket },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  console.log(`${who}$ ${argv.join(" ")}${out.success ? "" : `   (exit ${out.code})`}`);
  if (text.trim()) console.log(text.trimEnd().replace(/^/gm, "  "));
}

try {
  console.log(`xenstored listening on ${unix.socketPath} and ${ws.url}`);
  const dom0 = new XsClient(await connectUnix(unix.socketPath));

  say("dom0 builds a guest's home, as a toolstack does (xenstore-paths, §8.2)");
  await dom0.introduce(5, 0, 1);
  // The home first, readable by the guest; children inherit its list.
  await dom0.mkdir("/local/domain/5");
  await dom0.setPerms("/local/domain/5", [{ id: 0, perm: "n" }, { id: 5, perm: "r" }]);
  for (
    const [p, v] of [["name", "demo-guest"], ["domid", "5"], ["control/shutdown", ""], ["data", ""]]
  ) {
    await dom0.write(`/local/domain/5/${p}`, v);
  }
  await dom0.setPerms("/local/domain/5/control/shutdown", [{ id: 5, perm: "n" }]);
  await dom0.setPerms("/local/domain/5/data", [{ id: 5, perm: "n" }]);
  const guestSocket = unix.guestSocketPath(5);

  if (haveUtils) {
    say("real xenstore-utils (libxenstore 4.17) as dom0 over the Unix socket");
    await tool(
      unix.socketPath,
      "dom0",
      "xenstore-write",
      "/demo/a",
      "1",
      "/demo/b/c",
      "hello world",
    );
    await tool(unix.socketPath, "dom0", "xenstore-read", "/demo/a", "/demo/b/c");
    await tool(unix.socketPath, "dom0", "xenstore-ls", "-fp", "/local/domain/5");
    say("the same tools as unprivileged guest 5, through its own socket");
    await tool(guestSocket, "dom5", "xenstore-write", "data/greeting", "hi from the guest");
    await tool(guestSocket, "dom5", "xenstore-read", "name");
    await tool(guestSocket, "dom5", "xenstore-write", "/tool/x", "1");
    await tool(guestSocket, "dom5", "xenstore-ls", "/demo");
  } else {
    say("xenstore-utils is not installed (apt-get install xenstore-utils); using xenlab's client");
    const guest = new XsClient(await connectUnix(guestSocket));
    await guest.write("data/greeting", "hi from the guest");
    console.log(`dom5 read name = ${await guest.readString("name")}`);
    await guest.write("/tool/x", "1").catch((e) =>
      console.log(`dom5 write /tool/x -> ${e.message}`)
    );
    guest.close();
  }

  say("a guest agent over WebSocket with its domain's secret watches control/shutdown");
  const secret = credentials.secretOf(5)!;
  const agent = new XsClient(await connectWebSocket(ws.url, secret));
  const watch = await agent.watch("control/shutdown", "shutdown");
  console.log(`dom5 watch event: ${JSON.stringify((await watch.next()).value)} (initial)`);
  await dom0.write("/local/domain/5/control/shutdown", "poweroff");
  console.log(`dom5 watch event: ${JSON.stringify((await watch.next()).value)}`);
  const request = await agent.readString("control/shutdown");
  await agent.transaction(async (tx) => await agent.write("control/shutdown", "", tx));
  console.log(`dom5 read "${request}", acknowledged by writing "" in a transaction`);

  say("the domain goes: its nodes and socket go with it, @releaseDomain fires");
  const release = await dom0.watch("@releaseDomain", "rel");
  await release.next();
  await dom0.release(5);
  console.log(`dom0 watch event: ${JSON.stringify((await release.next()).value)}`);
  console.log(
    `guest socket still there: ${await Deno.stat(guestSocket).then(() => true, () => false)}`,
  );
  console.log(`/local/domain/5/data still there: ${await dom0.exists("/local/domain/5/data")}`);
  agent.close();
  dom0.close();
} finally {
  server.shutdown();
  await unix.stop();
  await ws.stop();
  await Deno.remove(join(rundir), { recursive: true });
}

// Part 2: a whole host on virtual time (the headline scenario).
say("a simulated Xen host on virtual time (deno task scenario headline --seed 1)");
const result = await runScenario(scenarioByName("headline")!, { seed: 1 });
const milestones = result.timeline.filter((l) =>
  /toolstack|ev=state|bios_boot|remote_shutdown|shutdown /.test(l)
);
for (const l of milestones.slice(0, 40)) console.log(l);
if (milestones.length > 40) {
  console.log(`   ... ${milestones.length - 40} more lines: deno task scenario headline`);
}
console.log("");
for (const l of result.summary) console.log(l);
if (!result.ok) {
  console.log(`FAILED: ${result.error}\nreproduce with: ${result.reproduce}`);
  Deno.exit(1);
}
console.log(
  `\ndemo done: xenstored served ${
    haveUtils ? "libxenstore, " : ""
  }WebSocket and in-process clients; ` +
    `a simulated host booted PV, PVHVM and HVM guests, suspended and resumed each, checkpointed one, ` +
    `saved and restored one into a new domain, then stopped and rebooted them (${result.trace.length} events, seed 1).`,
);
