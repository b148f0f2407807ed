/**
 * @module
 * The real Xen 4.17 C xenstored as a conformance {@link Target}, run without
 * Xen by `../shared/tools/real-xenstored` (README there): `start.sh` starts
 * it in a fresh short temporary directory, `guest_bridge.py` turns a Unix
 * socket connection into an unprivileged guest's ring connection, and
 * closing that connection (`--destroy-on-close`) makes the domain die.
 */
import { Op } from "../../src/xenstore/wire/op.ts";
import { splitNul } from "./raw_conn.ts";
import type { RawConn, Target, TargetOptions } from "./target.ts";
import { connectUnix, type UnixRawConn } from "./unix_raw_conn.ts";

/** Where the real-xenstored tools live (overridable for other checkouts). */
export const REAL_XENSTORED_TOOLS = Deno.env.get("REAL_XENSTORED_TOOLS") ??
  decodeURIComponent(new URL("../../../shared/tools/real-xenstored", import.meta.url).pathname);

/** How long a guest bridge may take to print "ready". */
const BRIDGE_READY_MS = 10_000;
/** How long a guest bridge may take to exit once its client closed. */
const BRIDGE_EXIT_MS = 10_000;
/** How long the daemon may take to notice a destroyed domain. */
const DESTROY_NOTICE_MS = 5_000;
/** Polling interval while waiting for the daemon to notice a death. */
const DESTROY_POLL_MS = 10;
/** A Unix socket path has at most 107 bytes; start.sh wants < 100. */
const SOCKET_PATH_MAX = 100;

/** Thrown when the real daemon cannot run here (missing packages, no gcc...). */
export class RealDaemonUnavailable extends Error {
  constructor(detail: string) {
    super(`real C xenstored unavailable: ${detail}`);
    this.name = "RealDaemonUnavailable";
  }
}

interface Bridge {
  readonly child: Deno.ChildProcess;
  readonly conn: UnixRawConn;
  readonly stderr: Promise<string>;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let s = "";
  const dec = new TextDecoder();
  for await (const chunk of stream) s += dec.decode(chunk, { stream: true });
  return s;
}

/** Resolves with the first line of `stream`, then drains the rest into `rest`. */
async function firstLine(
  stream: ReadableStream<Uint8Array>,
  timeoutMs: number,
): Promise<{ line: string | null; rest: Promise<string> }> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), timeoutMs)));
  try {
    while (!text.includes("\n")) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === null || r.done) break;
      text += dec.decode(r.value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
  }
  const nl = text.indexOf("\n");
  const rest = (async () => {
    let s = nl >= 0 ? text.slice(nl + 1) : text;
    for (;;) {
      const r = await reader.read();
      if (r.done) return s;
      s += dec.decode(r.value, { stream: true });
    }
  })();
  return { line: nl >= 0 ? text.slice(0, nl) : null, rest };
}

/**
 * Waits up to `timeoutMs` for a bridge to exit, then kills it; true if it
 * exited on its own. Its stderr is drained either way.
 */
async function reap(b: { child: Deno.ChildProcess; stderr: Promise<string> }, timeoutMs: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  const exited = await Promise.race([b.child.status.then(() => true), timeout]);
  clearTimeout(timer);
  if (!exited) {
    try {
      b.child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
    await b.child.status;
  }
  await b.stderr;
  return exited;
}

class RealTarget implements Target {
  readonly name = "real-c";
  readonly #dir: string;
  readonly #conns = new Set<UnixRawConn>();
  readonly #bridges = new Map<number, Bridge>();
  #stopped = false;

  constructor(dir: string) {
    this.#dir = dir;
  }

  get socketPath(): string {
    return `${this.#dir}/socket`;
  }

  async dom0(): Promise<RawConn> {
    const c = await connectUnix(this.socketPath);
    this.#conns.add(c);
    return c;
  }

  async guest(domid: number): Promise<RawConn> {
    if (this.#bridges.has(domid)) throw new Error(`guest ${domid} already has a bridge`);
    const listen = `${this.#dir}/g${domid}`;
    const child = new Deno.Command("/usr/bin/python3", {
      args: [
        `${REAL_XENSTORED_TOOLS}/guest_bridge.py`,
        this.#dir,
        String(domid),
        listen,
        "--destroy-on-close",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = readAll(child.stderr);
    const { line, rest } = await firstLine(child.stdout, BRIDGE_READY_MS);
    if (line !== "ready") {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await child.status;
      await rest;
      throw new Error(`guest_bridge.py ${domid} did not get ready: ${await stderr}`);
    }
    // stdout is drained by `rest`; nothing more is expected there.
    rest.catch(() => {});
    let conn: UnixRawConn;
    try {
      conn = await connectUnix(listen);
    } catch (e) {
      await reap({ child, stderr }, 0);
      throw e;
    }
    this.#conns.add(conn);
    this.#bridges.set(domid, { child, conn, stderr });
    return conn;
  }

  async destroyGuest(domid: number): Promise<void> {
    const b = this.#bridges.get(domid);
    if (b) {
      this.#bridges.delete(domid);
      b.conn.close();
      await b.conn.finished;
      if (!await reap(b, BRIDGE_EXIT_MS)) {
        throw new Error(`guest_bridge.py ${domid} did not exit after its client closed; killed`);
      }
    } else {
      await this.#killDomain(domid);
    }
    const d0 = await this.dom0();
    try {
      const deadline = Date.now() + DESTROY_NOTICE_MS;
      for (;;) {
        const r = await d0.req(Op.IS_DOMAIN_INTRODUCED, [String(domid)]);
        if (splitNul(r.payload)[0] === "F") return;
        if (Date.now() > deadline) {
          throw new Error(`xenstored still reports domain ${domid} introduced after destroy`);
        }
        await new Promise((r) => setTimeout(r, DESTROY_POLL_MS));
      }
    } finally {
      d0.close();
    }
  }

  /** A domain introduced without a bridge dies as in xsproto.GuestConn.destroy. */
  async #killDomain(domid: number): Promise<void> {
    const py = "import os,socket,struct,sys\n" +
      "d=sys.argv[1]\n" +
      "try: os.unlink(os.path.join(d,'ring-'+sys.argv[2]))\n" +
      "except FileNotFoundError: pass\n" +
      "s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n" +
      "s.sendto(struct.pack('<I',0xffffffff),os.path.join(d,'evtchn'))\n";
    const r = await run("/usr/bin/python3", ["-c", py, this.#dir, String(domid)]);
    if (r.code !== 0) throw new Error(`could not destroy domain ${domid}: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const c of this.#conns) c.close();
    await Promise.all([...this.#conns].map((c) => c.finished));
    for (const b of this.#bridges.values()) await reap(b, BRIDGE_EXIT_MS);
    this.#bridges.clear();
    try {
      await run(`${REAL_XENSTORED_TOOLS}/stop.sh`, [this.#dir]);
    } finally {
      await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Starts the real C xenstored with `opts` and returns it as a target.
 * Throws {@link RealDaemonUnavailable} if it cannot be started here.
 */
export async function startRealTarget(opts: TargetOptions = {}): Promise<Target> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "xsc" });
  if (`${dir}/socket`.length >= SOCKET_PATH_MAX) {
    throw new Error(`temporary directory ${dir} too long for a Unix socket`);
  }
  const env: Record<string, string> = {};
  if (opts.existingDomains) env.XSD_SHIM_DOMAINS = opts.existingDomains;
  let r;
  try {
    r = await run(`${REAL_XENSTORED_TOOLS}/start.sh`, [dir, ...(opts.daemonArgs ?? [])], env);
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new RealDaemonUnavailable(String(e));
  }
  if (r.code !== 0) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new RealDaemonUnavailable(`start.sh exited ${r.code}: ${r.stderr.trim()}`);
  }
  return new RealTarget(dir);
}

/**
 * Checks that the real daemon and the guest bridge can run here: starts a
 * daemon, introduces one guest, stops. Resolves with `null` when all is
 * well, else with the reason.
 */
export async function probeRealDaemon(): Promise<string | null> {
  for (const tool of ["/usr/bin/python3", "/usr/bin/gcc"]) {
    try {
      await Deno.stat(tool);
    } catch {
      return `${tool} is missing`;
    }
  }
  let t: Target | undefined;
  try {
    t = await startRealTarget({});
    const g = await t.guest(100);
    const r = await g.req(Op.GET_DOMAIN_PATH, ["7"]);
    if (r.type !== Op.GET_DOMAIN_PATH) return "guest bridge does not answer";
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await t?.stop();
  }
}
