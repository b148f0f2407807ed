/**
 * @module
 * Runs one scenario on a fresh simulated host from one seed and collects
 * the trace, the timeline and the summary; a failure is a result, with the
 * command that reproduces it. `real`: the same script on the system clock,
 * every guest kernel its own `deno task guest` process attached over
 * WebSocket (xenstore on `/`, hypercalls on `/hv`); times are then real.
 */
import { Host } from "../src/host/host.ts";
import { formatTimeline } from "../src/host/timeline.ts";
import { MemoryTrace } from "../src/sim/trace.ts";
import { SystemClock } from "../src/sim/system_clock.ts";
import { hvWebSocketRoute } from "../src/host/hv_websocket.ts";
import { Credentials } from "../src/xenstore/server/credentials.ts";
import { WebSocketTransport } from "../src/xenstore/server/websocket_transport.ts";
import { parseXlCfg } from "../src/toolstack/config/xl_cfg.ts";
import type { Scenario } from "./scenario.ts";

export interface ScenarioResult {
  readonly name: string;
  readonly seed: number;
  readonly ok: boolean;
  readonly error?: string;
  readonly summary: readonly string[];
  readonly trace: readonly string[];
  readonly timeline: readonly string[];
  readonly reproduce: string;
}

/** A host of real processes for `--real`: the WebSocket endpoint guests attach to. */
async function realHost(
  s: Scenario,
  seed: number,
  setTrace: (t: MemoryTrace) => void,
): Promise<{ host: Host; close(): Promise<void> }> {
  if (s.hostOptions?.().guestSuspend !== undefined) {
    throw new Error(
      `scenario ${s.name} replaces the guests' suspend code in process; it cannot run --real`,
    );
  }
  const rundir = await Deno.makeTempDir({ prefix: "xenlab-real-" });
  const host = await Host.start({
    ...s.hostOptions?.(),
    seed,
    files: s.files?.(),
    clock: new SystemClock(),
    trace: (c) => {
      const t = new MemoryTrace(c);
      setTrace(t);
      return t;
    },
  });
  const ws = new WebSocketTransport(
    host.xenstore.xenstored,
    new Credentials(rundir),
    "127.0.0.1:0",
    {
      "/hv": hvWebSocketRoute(host.hv),
    },
  );
  await ws.start();
  host.useGuestProcesses({ ws: ws.url, rundir });
  return {
    host,
    async close() {
      await ws.stop();
      await Deno.remove(rundir, { recursive: true }).catch(() => {});
    },
  };
}

export async function runScenario(
  s: Scenario,
  opts: { seed: number; args?: Record<string, string>; verbose?: boolean; real?: boolean },
): Promise<ScenarioResult> {
  let trace: MemoryTrace | undefined;
  const summary: string[] = [];
  const argText = Object.entries(opts.args ?? {}).map(([k, v]) => ` --${k} ${v}`).join("");
  const reproduce = `deno task scenario ${s.name} --seed ${opts.seed}${argText}${
    opts.real ? " --real" : ""
  }`;
  let closeReal: (() => Promise<void>) | undefined;
  let host: Host | undefined;
  let error: string | undefined;
  // The trace as it stood when the script ended: what the host's teardown
  // logs afterwards depends on wall-clock ordering and is not the run.
  let lines: readonly string[] = [];
  try {
    if (opts.real) {
      const r = await realHost(s, opts.seed, (t) => (trace = t));
      host = r.host;
      closeReal = r.close;
    } else {
      host = await Host.start({
        ...s.hostOptions?.(),
        seed: opts.seed,
        files: s.files?.(),
        trace: (c) => (trace = new MemoryTrace(c)),
      });
    }
    const h = host;
    await s.run({
      host: h,
      seed: opts.seed,
      args: opts.args ?? {},
      say: (l) => summary.push(l),
      config: (text) => parseXlCfg(text, h.rng).config,
    });
  } catch (e) {
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } finally {
    lines = (trace as MemoryTrace | undefined)?.lines.slice() ?? [];
    await host?.stop().catch(() => {});
    await closeReal?.();
  }
  return {
    name: s.name,
    seed: opts.seed,
    ok: error === undefined,
    error,
    summary,
    trace: lines,
    timeline: formatTimeline(lines, opts.verbose),
    reproduce,
  };
}
