/**
 * @module
 * Flags of `deno task xenstored`, modelled on the C daemon's where they
 * overlap (`-E -S -W -t -A -M`, `-Q name=val`, `-q memory=val`, `-T file`).
 * Pure: parses argv and environment into options or a usage error.
 */
import { parseDomainList } from "../xenstore/domains.ts";
import { DEFAULT_QUOTAS, quotaKey, type Quotas } from "../xenstore/store/quota.ts";
import { XENSTORE_REL_PATH_MAX } from "../xenstore/store/path.ts";
import { EPOLL_SPIN_US_DEFAULT, EPOLL_SPIN_US_MAX } from "../xenstore/server/epoll_loop.ts";
import type { UnixIo } from "../xenstore/server/unix_transport.ts";

export interface XenstoredFlags {
  rundir: string;
  /** `host:port` for the WebSocket transport, or undefined for none. */
  ws: string | undefined;
  quotas: Quotas;
  softMemory?: number;
  /** Domains that exist besides dom0 (no hypervisor: like `XSD_SHIM_DOMAINS`). */
  domains: number[];
  trace: string | undefined;
  /** Unix-socket I/O backend; undefined: epoll where possible. */
  io: UnixIo | undefined;
  /** epoll backend: µs to keep polling after the last request. */
  spinUs: number;
  logLevel: "error" | "info" | "debug";
  help: boolean;
}

export const XENSTORED_USAGE = `Usage: deno task xenstored [options]

  --rundir DIR        run directory: DIR/socket (dom0), DIR/domains/<id>/socket
                      (guests), DIR/admin-token (default $XENSTORED_RUNDIR or
                      /var/run/xenstored)
  --ws HOST:PORT      WebSocket transport (default 127.0.0.1:0 = any free port)
  --no-ws             no WebSocket transport
  --domains LIST      domids that exist besides dom0, e.g. 1-63,100 (default none)
  -E, --entry-nb N    nodes per domain (default ${DEFAULT_QUOTAS.nodes})
  -S, --entry-size N  max node size (default ${DEFAULT_QUOTAS.nodeSize})
  -W, --watch-nb N    watches per domain (default ${DEFAULT_QUOTAS.watches})
  -t, --transaction N transactions per connection (default ${DEFAULT_QUOTAS.transactions})
  -A, --perm-nb N     permission entries per node (default ${DEFAULT_QUOTAS.permissions})
  -M, --path-max N    max path length after /local/domain/<id>/ (default and cap ${XENSTORE_REL_PATH_MAX})
  -Q, --quota Q=N     any quota by name: nodes, watches, transactions, outstanding,
                      transaction-nodes, memory, node-size, path-max, permissions
  -q, --quota-soft memory=N   soft memory quota (warning level)
  -T, --trace FILE    JSON lines of every request and reply
  --io epoll|deno     Unix-socket I/O: an epoll loop through FFI (default on
                      Linux) or Deno's socket API (default elsewhere)
  --spin-us N         epoll: keep polling N µs after the last request before
                      sleeping, to catch a client's next one without a wake-up
                      (default ${EPOLL_SPIN_US_DEFAULT}, max ${EPOLL_SPIN_US_MAX}; 0: sleep at once)
  --log-level L       error | info | debug (default info)
  -h, --help          this text`;

function int(flag: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${flag} needs a non-negative integer`);
  return Number(v);
}

/** Parses argv; throws an Error whose message is for the user. */
export function parseXenstoredFlags(
  argv: string[],
  env: Record<string, string | undefined>,
): XenstoredFlags {
  const quotas: { -readonly [K in keyof Quotas]: number } = { ...DEFAULT_QUOTAS };
  const f: XenstoredFlags = {
    rundir: env.XENSTORED_RUNDIR ?? "/var/run/xenstored",
    ws: "127.0.0.1:0",
    quotas,
    domains: [],
    trace: undefined,
    io: undefined,
    spinUs: EPOLL_SPIN_US_DEFAULT,
    logLevel: "info",
    help: false,
  };
  const short: Record<string, keyof Quotas> = {
    "-E": "nodes",
    "--entry-nb": "nodes",
    "-S": "nodeSize",
    "--entry-size": "nodeSize",
    "-W": "watches",
    "--watch-nb": "watches",
    "-t": "transactions",
    "--transaction": "transactions",
    "-A": "permissions",
    "--perm-nb": "permissions",
    "-M": "pathMax",
    "--path-max": "pathMax",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith("--") && a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag in short) {
      quotas[short[flag]] = int(flag, value());
    } else if (flag === "--rundir") f.rundir = value();
    else if (flag === "--ws") f.ws = value();
    else if (flag === "--no-ws") f.ws = undefined;
    else if (flag === "--domains") f.domains = parseDomainList(value());
    else if (flag === "-T" || flag === "--trace") f.trace = value();
    else if (flag === "--io") {
      const v = value();
      if (v !== "epoll" && v !== "deno") throw new Error(`--io: epoll or deno, not ${v}`);
      f.io = v;
    } else if (flag === "--spin-us") {
      f.spinUs = int(flag, value());
      if (f.spinUs > EPOLL_SPIN_US_MAX) {
        throw new Error(`--spin-us: at most ${EPOLL_SPIN_US_MAX}, not ${f.spinUs}`);
      }
    } else if (flag === "--log-level") {
      const v = value();
      if (v !== "error" && v !== "info" && v !== "debug") {
        throw new Error(`--log-level: error, info or debug, not ${v}`);
      }
      f.logLevel = v;
    } else if (flag === "-Q" || flag === "--quota") {
      const [name, v] = value().split("=");
      const key = quotaKey(name);
      if (!key) throw new Error(`-Q: unknown quota ${JSON.stringify(name)}`);
      quotas[key] = int(`-Q ${name}`, v);
    } else if (flag === "-q" || flag === "--quota-soft") {
      const [name, v] = value().split("=");
      if (name !== "memory") throw new Error(`-q: only memory=N is a soft quota`);
      f.softMemory = int("-q memory", v);
    } else if (flag === "-h" || flag === "--help") f.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  quotas.pathMax = Math.min(quotas.pathMax, XENSTORE_REL_PATH_MAX);
  if (f.ws !== undefined && !/^[^:]+:\d+$/.test(f.ws)) {
    throw new Error(`--ws takes HOST:PORT, not ${f.ws}`);
  }
  return f;
}
