/**
 * @module
 * Starting and stopping the two daemons the comparison benchmark and the
 * interop tests use: ours as a separate process, and the real Xen 4.17 C
 * xenstored via ../shared/tools/real-xenstored/start.sh.
 */
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");
export const REAL_TOOLS = resolve(ROOT, "../shared/tools/real-xenstored");
export const XSD_CACHE = Deno.env.get("XSD_CACHE") ??
  `${Deno.env.get("TMPDIR") ?? "/tmp"}/real-xenstored`;
export const XEN_BIN = join(XSD_CACHE, "root/usr/lib/xen-4.17/bin");

export interface Daemon {
  readonly name: string;
  readonly socket: string;
  readonly dir: string;
  stop(): Promise<void>;
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** The real C xenstored, started with start.sh in a fresh short directory. */
export async function startReal(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Daemon> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "rx" });
  await run(join(REAL_TOOLS, "start.sh"), [dir, ...args], env);
  return {
    name: "real C xenstored 4.17",
    socket: join(dir, "socket"),
    dir,
    async stop() {
      await run(join(REAL_TOOLS, "stop.sh"), [dir]).catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Our xenstored as its own process (`src/cli/xenstored.ts`). */
export async function startOurs(args: string[] = []): Promise<Daemon> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "ox" });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      join(ROOT, "src/cli/xenstored.ts"),
      "--rundir",
      dir,
      "--no-ws",
      "--log-level",
      "error",
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  if (!value || !new TextDecoder().decode(value).includes("listening")) {
    child.kill();
    throw new Error("our xenstored did not start");
  }
  reader.releaseLock();
  child.stdout.cancel();
  return {
    name: "xenlab xenstored",
    socket: join(dir, "socket"),
    dir,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Builds bench.c once (needs gcc and libxen-dev); returns the binary. */
export async function buildXsBench(): Promise<string> {
  const out = join(XSD_CACHE, "xs-bench");
  const src = join(REAL_TOOLS, "bench.c");
  const srcTime = (await Deno.stat(src)).mtime!.getTime();
  const outTime = await Deno.stat(out).then((s) => s.mtime!.getTime(), () => 0);
  if (outTime < srcTime) {
    await Deno.mkdir(XSD_CACHE, { recursive: true });
    await run("gcc", ["-O2", "-Wall", "-o", out, src, "-lxenstore"]);
  }
  return out;
}
