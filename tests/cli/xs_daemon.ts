/**
 * @module
 * The daemon the CLI and client tests talk to, as a parameter: anything
 * that gives a dom0 Unix socket (and, optionally, a way to connect as an
 * unprivileged guest) is an {@link XsDaemon}. {@link startRealXenstored}
 * runs the real Xen 4.17 C xenstored (`../shared/tools/real-xenstored`);
 * {@link daemonFromEnv} uses one that is already running
 * (`XS_TEST_SOCKET`, `XS_TEST_GUEST_SOCKET`), e.g. ours.
 *
 * Missing prerequisites make tests say so and skip ({@link daemonTest}),
 * except with `CI=true`, where they fail.
 */

/** Where the real-xenstored tools live. */
export const REAL_XENSTORED_TOOLS = Deno.env.get("REAL_XENSTORED_TOOLS") ??
  decodeURIComponent(new URL("../../../shared/tools/real-xenstored", import.meta.url).pathname);
/** Domains the shim reports as existing (chmod to `n5` needs domain 5). */
export const REAL_DAEMON_DOMAINS = "0-63";
/** How long a guest bridge may take to say "ready", or to exit after its client left. */
const BRIDGE_READY_MS = 10_000;
/** A daemon test that takes longer fails (naming its last step) instead of hanging. */
export const DAEMON_TEST_DEADLINE_MS = 300_000;

/** A Unix socket at which the daemon sees an unprivileged guest. */
export interface GuestSocket {
  readonly path: string;
  /** Waits for the bridge (if any) to finish after the client hung up. */
  close(): Promise<void>;
}

/** A running daemon under test. */
export interface XsDaemon {
  readonly name: string;
  /** dom0's (privileged) socket. */
  readonly socketPath: string;
  /**
   * A socket that speaks as guest `domid`, for exactly one connection.
   * Undefined when the daemon offers no guest connections.
   */
  readonly guest?: (domid: number) => Promise<GuestSocket>;
  stop(): Promise<void>;
}

/** True when tests must not skip. */
export function inCi(): boolean {
  return Deno.env.get("CI") === "true";
}

function isExecutable(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Full path of `cmd` on PATH, if any. */
export function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && isExecutable(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  }
  return undefined;
}

/** Why Debian's xenstore-utils cannot be used, or undefined. */
export function xenstoreUtilsMissing(): string | undefined {
  const missing = ["read", "write", "ls", "list", "rm", "exists", "chmod", "watch"]
    .map((m) => `xenstore-${m}`)
    .filter((c) => !which(c));
  return missing.length
    ? `xenstore-utils not installed (${missing.join(", ")} missing)`
    : undefined;
}

/** Why no daemon can be had (neither XS_TEST_SOCKET nor the real one), or undefined. */
export function daemonMissing(): string | undefined {
  if (Deno.env.get("XS_TEST_SOCKET")) return undefined;
  if (!isExecutable(`${REAL_XENSTORED_TOOLS}/start.sh`)) {
    return `real-xenstored tools not found at ${REAL_XENSTORED_TOOLS}`;
  }
  const cache = Deno.env.get("XSD_CACHE") ?? `${Deno.env.get("TMPDIR") ?? "/tmp"}/real-xenstored`;
  const daemon = ["/usr/lib/xen-4.17/bin/xenstored", `${cache}/root/usr/lib/xen-4.17/bin/xenstored`]
    .some(isExecutable);
  if (!daemon && !which("apt-get")) {
    return "xenstored (xen-utils-4.17) not unpacked and no apt-get to fetch it";
  }
  if (!isExecutable(`${cache}/shim/xsd-shim.so`) && !which("gcc")) {
    return "no gcc to build the xenstored shim";
  }
  if (!isExecutable("/usr/bin/python3")) return "no /usr/bin/python3 for the guest bridge";
  return undefined;
}

/** Resolves true when `p` settles within `ms`, false otherwise. */
async function deadline(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function output(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** Starts the real C xenstored in a fresh short directory under /tmp. */
export async function startRealXenstored(): Promise<XsDaemon> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "xscli" });
  const start = await output(`${REAL_XENSTORED_TOOLS}/start.sh`, [dir], {
    XSD_SHIM_DOMAINS: REAL_DAEMON_DOMAINS,
  });
  if (start.code !== 0) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`real xenstored did not start (start.sh ${dir}):\n${start.stderr}`);
  }
  let stopped = false;
  return {
    name: "real C xenstored 4.17",
    socketPath: `${dir}/socket`,
    guest: (domid) => startGuestBridge(dir, domid),
    async stop() {
      if (stopped) return;
      stopped = true;
      const r = await output(`${REAL_XENSTORED_TOOLS}/stop.sh`, [dir]);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (r.code !== 0) throw new Error(`stop.sh ${dir} failed: ${r.stderr}`);
    },
  };
}

/** `guest_bridge.py`: one connection to the returned socket speaks as guest `domid`. */
async function startGuestBridge(dir: string, domid: number): Promise<GuestSocket> {
  const path = `${dir}/g${domid}`;
  const child = new Deno.Command("/usr/bin/python3", {
    args: [`${REAL_XENSTORED_TOOLS}/guest_bridge.py`, dir, String(domid), path],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), BRIDGE_READY_MS)));
  try {
    while (!text.includes("ready\n")) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === null || r.done) break;
      text += new TextDecoder().decode(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  if (!text.includes("ready\n")) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited already
    }
    await child.status;
    throw new Error(`guest_bridge.py for domain ${domid} did not get ready: ${await stderr}`);
  }
  const drained = (async () => {
    while (!(await reader.read()).done) {
      // nothing more is expected on stdout
    }
  })();
  return {
    path,
    async close() {
      const exited = await deadline(child.status, BRIDGE_READY_MS);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch {
          // exited meanwhile
        }
      }
      await drained;
      await child.status;
      await stderr;
    },
  };
}

/**
 * A daemon somebody else runs: `XS_TEST_SOCKET` is its dom0 socket;
 * `XS_TEST_GUEST_SOCKET` (with `{domid}` in it, e.g.
 * `/run/xs/domains/{domid}/socket`) where guests connect, if it has that.
 */
export function daemonFromEnv(): XsDaemon | undefined {
  const socketPath = Deno.env.get("XS_TEST_SOCKET");
  if (!socketPath) return undefined;
  const template = Deno.env.get("XS_TEST_GUEST_SOCKET");
  return {
    name: `daemon at ${socketPath}`,
    socketPath,
    guest: template
      ? (domid) =>
        Promise.resolve({
          path: template.replace("{domid}", String(domid)),
          close: () => Promise.resolve(),
        })
      : undefined,
    stop: () => Promise.resolve(),
  };
}

/** The daemon from the environment, else a fresh real one. */
export async function startDaemon(): Promise<XsDaemon> {
  return daemonFromEnv() ?? await startRealXenstored();
}

/**
 * Registers a test that gets a daemon from `start` (default
 * {@link startDaemon}) and always stops it. With `needs` prerequisites
 * missing it is ignored with a note on stderr — or, under `CI=true`,
 * fails with that note.
 */
export function daemonTest(
  name: string,
  fn: (t: Deno.TestContext, daemon: XsDaemon) => Promise<void>,
  options: {
    readonly start?: () => Promise<XsDaemon>;
    readonly needsUtils?: boolean;
  } = {},
): void {
  const missing = (options.start ? undefined : daemonMissing()) ??
    (options.needsUtils ? xenstoreUtilsMissing() : undefined);
  if (missing && !inCi()) {
    console.error(`SKIP ${name}: ${missing}`);
    Deno.test({ name: `${name} (skipped: ${missing})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      if (missing) throw new Error(`CI=true but ${missing}`);
      const daemon = await (options.start ?? startDaemon)();
      // Remember the last step, so a hang is reported where it happened.
      let last = "(before the first step)";
      const steps = Object.create(t, {
        step: {
          value: (name: string, stepFn: (t: Deno.TestContext) => Promise<void> | void) => {
            last = name;
            return t.step(name, stepFn);
          },
        },
      }) as Deno.TestContext;
      try {
        const body = fn(steps, daemon);
        if (!await deadline(body, DAEMON_TEST_DEADLINE_MS)) {
          throw new Error(
            `${name}: no end after ${DAEMON_TEST_DEADLINE_MS} ms; last step: ${last}`,
          );
        }
        await body;
      } finally {
        await daemon.stop();
      }
    },
  });
}
