/**
 * @module
 * Running Debian's `xenstore-<mode>` and our `xs <mode>` the same way and
 * comparing what they did, byte for byte: stdout, stderr, exit status and,
 * for commands that change the store, the subtree they changed. Both are
 * separate processes with the same clean environment; a run may sit on a
 * pseudo-terminal of a given width (`script`), or be a watch that waits for
 * its first line before the test makes the store change.
 */
import { XsClient } from "../../src/xenstore/client/client.ts";
import { connectUnix } from "../../src/xenstore/client/unix_link.ts";
import { XsError } from "../../src/xenstore/wire/errno.ts";
import { formatPermList } from "../../src/xenstore/client/perms.ts";

/** Our CLI's entry point. */
export const XS_TS = decodeURIComponent(new URL("../../src/cli/xs.ts", import.meta.url).pathname);
/** How long one tool run may take before it is killed and the case fails. */
export const RUN_TIMEOUT_MS = 20_000;

/** Which implementation runs. */
export type Impl = "real" | "ours";

/** What a run did. */
export interface ToolRun {
  readonly stdout: Uint8Array;
  readonly stderr: Uint8Array;
  readonly code: number;
}

/** How to run. */
export interface RunOptions {
  /** Extra environment (XENSTORED_PATH is usually here). */
  readonly env: Record<string, string>;
  /** Run on a pseudo-terminal this many columns wide; stdout and stderr then merge. */
  readonly ttyColumns?: number;
  /** Called once the first stdout line is out (for watches); the run then goes on. */
  readonly afterFirstLine?: () => Promise<void>;
  /** Extra arguments for ours only (e.g. `--ws URL --credential FILE`). */
  readonly oursExtra?: readonly string[];
}

function command(
  impl: Impl,
  mode: string,
  args: readonly string[],
  extra: readonly string[],
): string[] {
  // Through `sh -c exec` so that argv[0] is the bare name, as from a shell
  // (Deno would pass the resolved path, which getopt and usage print).
  return impl === "real"
    ? ["/bin/sh", "-c", 'exec "$0" "$@"', `xenstore-${mode}`, ...args]
    : [Deno.execPath(), "run", "-A", "--quiet", XS_TS, mode, ...args, ...extra];
}

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "DENO_DIR", "TMPDIR"]) {
    const v = Deno.env.get(k);
    if (v !== undefined) env[k] = v;
  }
  return env;
}

/** Shell-quotes one argument for `script -c`. */
function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Runs one implementation. */
export async function runTool(
  impl: Impl,
  mode: string,
  args: readonly string[],
  opts: RunOptions,
): Promise<ToolRun> {
  let argv = command(impl, mode, args, impl === "ours" ? opts.oursExtra ?? [] : []);
  if (opts.ttyColumns !== undefined) {
    const inner = `stty cols ${opts.ttyColumns} rows 24; exec ${argv.map(shellQuote).join(" ")}`;
    argv = ["script", "-qec", inner, "/dev/null"];
  }
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    env: { ...baseEnv(), ...opts.env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  }, RUN_TIMEOUT_MS);
  try {
    const stderr = new Response(child.stderr).bytes();
    const stdout = opts.afterFirstLine
      ? readWithTrigger(child.stdout, opts.afterFirstLine)
      : new Response(child.stdout).bytes();
    const [out, err, status] = await Promise.all([stdout, stderr, child.status]);
    if (timedOut) {
      throw new Error(`${argv.join(" ")}: still running after ${RUN_TIMEOUT_MS} ms, killed`);
    }
    return { stdout: out, stderr: err, code: status.signal ? 128 : status.code };
  } finally {
    clearTimeout(timer);
  }
}

async function readWithTrigger(
  stream: ReadableStream<Uint8Array>,
  trigger: () => Promise<void>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let fired = false;
  for await (const c of stream) {
    chunks.push(c);
    if (!fired && c.includes(0x0a)) {
      fired = true;
      await trigger();
    }
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const dec = new TextDecoder("latin1");

/** A readable account of a run, for failure messages. */
export function showRun(r: ToolRun): string {
  return `exit ${r.code}\n--- stdout ---\n${
    JSON.stringify(dec.decode(r.stdout))
  }\n--- stderr ---\n${JSON.stringify(dec.decode(r.stderr))}`;
}

/** True if two runs are byte-identical. */
export function sameRun(a: ToolRun, b: ToolRun): boolean {
  return a.code === b.code && equalBytes(a.stdout, b.stdout) && equalBytes(a.stderr, b.stderr);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Opens a dom0 client on `socketPath`. */
export async function openClient(socketPath: string): Promise<XsClient> {
  return new XsClient(await connectUnix(socketPath));
}

/**
 * Every node under `root` as `path value-hex perms` lines, depth first in
 * server order; the state a mutating command is judged by.
 */
export async function snapshot(xs: XsClient, root: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (path: string) => {
    let value: Uint8Array;
    try {
      value = await xs.read(path);
    } catch (e) {
      if (e instanceof XsError && e.errno === "ENOENT") return;
      throw e;
    }
    const hex = [...value].map((b) => b.toString(16).padStart(2, "0")).join("");
    lines.push(`${path} ${hex} ${formatPermList(await xs.getPerms(path))}`);
    for (const child of await xs.directory(path)) {
      await walk(`${path === "/" ? "" : path}/${child}`);
    }
  };
  await walk(root);
  return lines;
}

/** Removes `root` if present. */
export async function removeTree(xs: XsClient, root: string): Promise<void> {
  try {
    await xs.rm(root);
  } catch (e) {
    if (!(e instanceof XsError && e.errno === "ENOENT")) throw e;
  }
}
