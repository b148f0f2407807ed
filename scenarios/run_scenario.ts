/**
 * @module
 * Runs one scenario on a fresh simulated host from one seed and collects
 * the trace, the timeline and the summary; a failure is a result, with the
 * command that reproduces it.
 */
import { Host } from "../src/host/host.ts";
import { formatTimeline } from "../src/host/timeline.ts";
import { MemoryTrace } from "../src/sim/trace.ts";
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

export async function runScenario(
  s: Scenario,
  opts: { seed: number; args?: Record<string, string>; verbose?: boolean },
): Promise<ScenarioResult> {
  let trace: MemoryTrace | undefined;
  const summary: string[] = [];
  const argText = Object.entries(opts.args ?? {}).map(([k, v]) => ` --${k} ${v}`).join("");
  const reproduce = `deno task scenario ${s.name} --seed ${opts.seed}${argText}`;
  let host: Host | undefined;
  let error: string | undefined;
  // The trace as it stood when the script ended: what the host's teardown
  // logs afterwards depends on wall-clock ordering and is not the run.
  let lines: readonly string[] = [];
  try {
    host = await Host.start({
      ...s.hostOptions?.(),
      seed: opts.seed,
      files: s.files?.(),
      trace: (c) => (trace = new MemoryTrace(c)),
    });
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
