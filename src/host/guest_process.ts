/**
 * @module
 * A guest kernel as its own process (`deno task guest`, ARCHITECTURE.md
 * "Real: the same components as processes"), seen from the host as a
 * {@link GuestAgent}: the child is started with the domain's secret and
 * `--trace`, and every guest trace event it prints is replayed into the
 * host's trace (stamped with the host's clock), from which the proxy keeps
 * the agent's state, console and readiness. `stop()` ends the process.
 *
 * Bounded: the child's lines are read through a {@link LineReader} with its
 * maximum, the console copy is capped like an in-process agent's.
 */
import { join } from "node:path";
import type { AgentState, GuestAgent, GuestKind } from "../guest-agents/guest_agent.ts";
import { CONSOLE_LINES_MAX } from "../guest-agents/guest_agent.ts";
import { type GuestProfile, guestProfile } from "../guest-agents/profiles.ts";
import type { Trace, TraceEvent } from "../sim/trace.ts";
import { LineReader } from "./xl_rpc.ts";

/** What starting a guest process needs. */
export interface GuestProcessOptions {
  /** The host's WebSocket endpoint, `ws://HOST:PORT/`. */
  readonly ws: string;
  readonly rundir: string;
  readonly domid: number;
  readonly kind: GuestKind;
  readonly profile: string;
  readonly memoryMib: number;
  readonly resume: boolean;
  readonly seed: number;
  readonly trace: Trace;
}

const GUEST_MAIN = new URL("../cli/guest.ts", import.meta.url).pathname;

/** A `deno task guest` child process for one domain. */
export class GuestProcess implements GuestAgent {
  readonly kind: GuestKind;
  readonly profile: GuestProfile;
  readonly ready: Promise<void>;
  readonly #child: Deno.ChildProcess;
  readonly #console: string[] = [];
  readonly #trace: Trace;
  #state: AgentState = "booting";
  #resolve!: () => void;
  #reject!: (e: Error) => void;
  readonly #done: Promise<void>;

  constructor(o: GuestProcessOptions) {
    this.kind = o.kind;
    this.profile = guestProfile(o.profile);
    this.#trace = o.trace;
    this.ready = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.ready.catch(() => {});
    const args = [
      "run",
      "-A",
      GUEST_MAIN,
      "--ws",
      o.ws,
      "--secret-file",
      join(o.rundir, "domains", String(o.domid), "secret"),
      "--domid",
      String(o.domid),
      "--kind",
      o.kind,
      "--profile",
      o.profile,
      "--memory",
      String(o.memoryMib),
      "--seed",
      String(o.seed),
      "--trace",
      ...(o.resume ? ["--resume"] : []),
    ];
    this.#child = new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = Promise.all([this.#readStdout(), this.#readStderr(o.domid)]).then(() => {
      if (this.#state === "booting") {
        this.#reject(new Error(`domain ${o.domid}: the guest process ended before it booted`));
      }
    });
  }

  get state(): AgentState {
    return this.#state;
  }

  get console(): readonly string[] {
    return this.#console;
  }

  async #readStdout(): Promise<void> {
    const lines = new LineReader();
    for await (const chunk of this.#child.stdout) {
      for (const line of lines.push(chunk)) this.#onLine(line);
    }
  }

  async #readStderr(domid: number): Promise<void> {
    const lines = new LineReader();
    for await (const chunk of this.#child.stderr) {
      for (const line of lines.push(chunk)) {
        this.#trace.emit({ src: "guest-process", dom: domid, stderr: line });
      }
    }
  }

  #onLine(line: string): void {
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line);
    } catch {
      return; // not a trace line
    }
    if (typeof ev !== "object" || ev === null) return;
    delete ev.t; // the host stamps it with its own clock
    this.#trace.emit(ev as unknown as TraceEvent);
    if (ev.src !== "guest") return;
    if (ev.ev === "state" && typeof ev.to === "string") this.#state = ev.to as AgentState;
    if (ev.ev === "ready") this.#resolve();
    if (ev.ev === "boot_failed") this.#reject(new Error(String(ev.why)));
    if (ev.ev === "console" && typeof ev.line === "string") {
      if (this.#console.length >= CONSOLE_LINES_MAX) this.#console.shift();
      this.#console.push(ev.line);
    }
  }

  async stop(): Promise<void> {
    if (this.#state !== "stopped") this.#state = "stopped";
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.#child.status;
    await this.#done.catch(() => {});
  }
}
