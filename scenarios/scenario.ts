/**
 * @module
 * What a scenario is: a named script run on one simulated host, from one
 * seed, that says what it shows (`ctx.say`) and fails loudly.
 */
import type { Host, HostOptions } from "../src/host/host.ts";
import type { DomainConfig } from "../src/toolstack/domain_config.ts";

export interface ScenarioContext {
  readonly host: Host;
  readonly seed: number;
  /** Arguments after the name (`--kind pv` → { kind: "pv" }). */
  readonly args: Readonly<Record<string, string>>;
  /** A summary line (printed after the timeline). */
  say(line: string): void;
  /** An xl.cfg text as a config (the host's Rng draws MACs). */
  config(text: string): DomainConfig;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** dom0's files (kernels, disk images) this scenario needs. */
  files?(): Map<string, Uint8Array>;
  /** Host options beyond seed, files and trace (e.g. a guest behaviour). */
  hostOptions?(): Partial<HostOptions>;
  run(ctx: ScenarioContext): Promise<void>;
}
