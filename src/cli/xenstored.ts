/**
 * @module
 * `deno task xenstored`: the daemon as a real process. Parses flags, builds
 * the system clock, the trace file and the transports, and runs until
 * SIGINT/SIGTERM.
 */
import { SystemClock } from "../sim/system_clock.ts";
import { JsonlTrace, type Trace } from "../sim/trace.ts";
import { StaticDomains } from "../xenstore/domains.ts";
import { Credentials } from "../xenstore/server/credentials.ts";
import { UnixTransport } from "../xenstore/server/unix_transport.ts";
import { WebSocketTransport } from "../xenstore/server/websocket_transport.ts";
import { Xenstored } from "../xenstore/server/xenstored.ts";
import { parseXenstoredFlags, XENSTORED_USAGE } from "./xenstored_options.ts";

let flags;
try {
  flags = parseXenstoredFlags(Deno.args, Deno.env.toObject());
} catch (e) {
  console.error(`xenstored: ${(e as Error).message}\n${XENSTORED_USAGE}`);
  Deno.exit(2);
}
if (flags.help) {
  console.log(XENSTORED_USAGE);
  Deno.exit(0);
}

const encoder = new TextEncoder();
let trace: Trace | undefined;
let traceFile: Deno.FsFile | undefined;
if (flags.trace) {
  traceFile = Deno.openSync(flags.trace, { write: true, create: true, truncate: true });
  const f = traceFile;
  trace = new JsonlTrace(new SystemClock(), (line) => f.writeSync(encoder.encode(line + "\n")));
}
const log = (line: string) => {
  if (flags.logLevel !== "error") console.error(`xenstored: ${line}`);
};

const server = new Xenstored({
  quotas: flags.quotas,
  domains: new StaticDomains(flags.domains),
  trace,
  log,
});
if (flags.softMemory !== undefined) server.engine.control.softMemory = flags.softMemory;

// With no WebSocket server, nothing else in this process needs the JS
// thread promptly: the epoll loop may wait on it directly.
const unix = new UnixTransport(server, flags.rundir, {
  io: flags.io,
  spinUs: flags.spinUs,
  park: flags.ws ? "thread" : "block",
});
unix.start();
let ws: WebSocketTransport | undefined;
const credentials = new Credentials(flags.rundir);
if (flags.ws) {
  ws = new WebSocketTransport(server, credentials, flags.ws);
  await ws.start();
} else {
  server.addDomainListener({
    introduced: (d) => credentials.issue(d),
    released: (d) => credentials.revoke(d),
  });
}
console.log(`xenstored: listening on ${unix.socketPath}${ws ? ` and ${ws.url}` : ""}`);

const stop = async () => {
  server.shutdown();
  await unix.stop();
  await ws?.stop();
  traceFile?.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
