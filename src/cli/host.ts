/**
 * @module
 * `deno task host --rundir DIR`: a Xen host as real processes talk to it —
 * the emulated hypervisor, xenstored with its Unix socket at `DIR/socket`
 * (real xenstore-utils can inspect the tree via XENSTORED_PATH) and its
 * WebSocket transport (`/` xenstore, `/hv` hypercalls for guest processes),
 * dom0's backends, and the toolstack service that `deno task xl` reaches at
 * `DIR/xl.sock`. Guests run in this process unless `--external-guests`.
 */
import { join } from "node:path";
import { SystemClock } from "../sim/system_clock.ts";
import { JsonlTrace } from "../sim/trace.ts";
import { Credentials } from "../xenstore/server/credentials.ts";
import { UnixTransport } from "../xenstore/server/unix_transport.ts";
import { WebSocketTransport } from "../xenstore/server/websocket_transport.ts";
import { Host } from "../host/host.ts";
import { hvWebSocketRoute } from "../host/hv_websocket.ts";
import { serveXlRpc } from "../host/xl_rpc.ts";
import { xlService } from "../host/xl_service.ts";

const USAGE = `Usage: deno task host --rundir DIR [options]
  --rundir DIR        run directory (default $XENSTORED_RUNDIR or /var/run/xenlab)
  --ws HOST:PORT      WebSocket endpoint (default 127.0.0.1:0)
  --bridge NAME       a dom0 bridge vif-bridge can use (repeatable; default xenbr0)
  --seed N            seed for UUIDs, MACs and guest choices (default 1)
  --external-guests   do not run guest kernels here: they attach with deno task guest
  --trace FILE        JSON lines of every xenstore request, hypercall and toolstack step`;

function parse(argv: string[], env: Record<string, string | undefined>) {
  const o = {
    rundir: env.XENSTORED_RUNDIR ?? "/var/run/xenlab",
    ws: "127.0.0.1:0",
    bridges: [] as string[],
    seed: 1,
    external: false,
    trace: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === "--rundir") o.rundir = v();
    else if (a === "--ws") o.ws = v();
    else if (a === "--bridge") o.bridges.push(v());
    else if (a === "--seed") o.seed = Number(v());
    else if (a === "--external-guests") o.external = true;
    else if (a === "--trace") o.trace = v();
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      Deno.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isSafeInteger(o.seed)) throw new Error("--seed takes an integer");
  return o;
}

let opts;
try {
  opts = parse(Deno.args, Deno.env.toObject());
} catch (e) {
  console.error(`host: ${(e as Error).message}\n${USAGE}`);
  Deno.exit(2);
}
Deno.mkdirSync(opts.rundir, { recursive: true });
const encoder = new TextEncoder();
const traceFile = opts.trace
  ? Deno.openSync(opts.trace, { write: true, create: true, truncate: true })
  : undefined;
const host = await Host.start({
  seed: opts.seed,
  clock: new SystemClock(),
  bridges: opts.bridges.length ? opts.bridges : undefined,
  externalGuests: opts.external,
  readFile: (p) => {
    try {
      return Deno.readFileSync(p);
    } catch {
      return undefined;
    }
  },
  trace: traceFile
    ? (clock) => new JsonlTrace(clock, (l) => traceFile.writeSync(encoder.encode(l + "\n")))
    : undefined,
  onEvent: (e) => console.log(`host: ${e.kind} ${JSON.stringify(e)}`),
});
const xenstored = host.xenstore.xenstored;
const unix = new UnixTransport(xenstored, opts.rundir);
unix.start();
const credentials = new Credentials(opts.rundir);
const ws = new WebSocketTransport(xenstored, credentials, opts.ws, {
  "/hv": hvWebSocketRoute(host.hv),
});
await ws.start();
const xl = serveXlRpc(
  join(opts.rundir, "xl.sock"),
  (req, progress) => xlService(host, req, progress),
);
console.log(
  `host: xenstored on ${unix.socketPath}, ${ws.url} (/hv for hypercalls), xl on ${
    join(opts.rundir, "xl.sock")
  }`,
);

const stop = async () => {
  xl.close();
  await host.stop();
  await unix.stop();
  await ws.stop();
  traceFile?.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
