/**
 * @module
 * What every guest agent kind shares: the {@link GuestAgent} surface, the
 * agent's state, tracing (`{src: "guest", dom, ev, ...}` for every step),
 * the guest's console (a bounded copy of what it printed, and the sink that
 * makes it visible to dom0), vCPU entries from the hypervisor, and the
 * final `SCHEDOP_shutdown` a kernel makes.
 *
 * Timers run on guest time (`GuestEnv.sleep`); every wait re-checks that
 * the agent was not stopped meanwhile, so a stopped agent makes no further
 * hypercall.
 */
import type { VcpuContext } from "../hv/vcpu.ts";
import type { GuestKernel } from "../hv/domain.ts";
import { SHUTDOWN_crash, shutdownReasonName } from "../hv/xen_abi.ts";
import { NS_PER_MS } from "../sim/clock.ts";
import type { GuestEnv } from "./guest_env.ts";
import type { GuestProfile } from "./profiles.ts";

export type GuestKind = "pv" | "pvhvm" | "hvm";

/** Where an agent is in its life. */
export type AgentState =
  /** Waiting for vCPU 0, or booting. */
  | "booting"
  /** Booted: xenstore connected, features written, frontends up (or the OS up, HVM). */
  | "running"
  /** An orderly poweroff/reboot is under way (the userspace part). */
  | "shutting-down"
  /** In a suspend hook. */
  | "suspending"
  /** ACPI S3: the device model has the domain asleep. */
  | "sleeping"
  /** Made its final shutdown hypercall (or wrote S5 to PM1a): it will not run again. */
  | "shutdown"
  /** Panicked (crash reported with SHUTDOWN_crash, or hung without PV drivers). */
  | "crashed"
  /** The firmware found nothing to boot. */
  | "halted"
  /** Boot failed (bad start_info, xenstore refused, ...). */
  | "failed"
  /** {@link GuestAgent.stop} was called. */
  | "stopped";

/** One simulated guest kernel. */
export interface GuestAgent {
  readonly kind: GuestKind;
  readonly profile: GuestProfile;
  /** Resolves once booted (see {@link AgentState} `running`); rejects if boot failed. */
  readonly ready: Promise<void>;
  readonly state: AgentState;
  /** What the guest printed on its console, oldest first (at most {@link CONSOLE_LINES_MAX}). */
  readonly console: readonly string[];
  /** Stops the agent: detaches from the hypervisor, closes xenstore. Idempotent. */
  stop(): Promise<void>;
}

/** Options every agent kind takes. */
export interface AgentCommonOptions {
  /**
   * Time from a poweroff/reboot request to the kernel's final hypercall
   * (the userspace part of `orderly_poweroff` / `ctrl_alt_del`); default
   * {@link ORDERLY_SHUTDOWN_NS_DEFAULT}.
   */
  readonly orderlyShutdownNs?: number;
}

/** Default orderly-shutdown time: 200 ms of guest time. */
export const ORDERLY_SHUTDOWN_NS_DEFAULT = 200 * NS_PER_MS;
/** Lines of console output an agent keeps. */
export const CONSOLE_LINES_MAX = 256;
/** vCPU entries queued for the agent and not yet consumed. */
export const VCPU_ENTRIES_MAX = 16;
/** Longest console line kept or written (longer lines are cut). */
export const CONSOLE_LINE_BYTES_MAX = 1024;

/** The state, trace, console and vCPU plumbing of one agent. */
export class AgentCore {
  readonly env: GuestEnv;
  readonly kind: GuestKind;
  readonly profile: GuestProfile;
  readonly orderlyShutdownNs: number;
  readonly ready: Promise<void>;
  readonly #console: string[] = [];
  #consoleSink: ((line: string) => void) | null = null;
  #state: AgentState = "booting";
  #resolveReady!: () => void;
  #rejectReady!: (e: Error) => void;
  #detach: (() => void) | null = null;
  /** The final `SCHEDOP_shutdown` was made (its answer may still be on its way). */
  #shutdownMade = false;
  readonly #entries: VcpuContext[] = [];
  #entryWaiter: ((ctx: VcpuContext) => void) | null = null;
  readonly #onStop: (() => void | Promise<void>)[] = [];
  /** Takes a vCPU 0 entry before it is queued (an S3 wake); true = consumed. */
  entryHandler: ((ctx: VcpuContext) => boolean) | null = null;

  constructor(env: GuestEnv, kind: GuestKind, profile: GuestProfile, opts: AgentCommonOptions) {
    this.env = env;
    this.kind = kind;
    this.profile = profile;
    const orderly = opts.orderlyShutdownNs ?? ORDERLY_SHUTDOWN_NS_DEFAULT;
    if (!Number.isSafeInteger(orderly) || orderly < 0) {
      throw new RangeError(`orderlyShutdownNs ${orderly}: give whole nanoseconds ≥ 0`);
    }
    this.orderlyShutdownNs = orderly;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // A boot failure is reported through `state` and the trace too; nobody
    // has to await `ready`.
    this.ready.catch(() => {});
  }

  get state(): AgentState {
    return this.#state;
  }

  get console(): readonly string[] {
    return this.#console;
  }

  /** Whether the agent may still act (not stopped, not shut down, not crashed). */
  get alive(): boolean {
    const s = this.#state;
    return !this.#shutdownMade && s !== "stopped" && s !== "shutdown" && s !== "crashed" &&
      s !== "failed" && s !== "halted";
  }

  /** Emits one guest trace event. */
  trace(ev: string, fields: Record<string, unknown> = {}): void {
    this.env.trace.emit({ src: "guest", dom: this.env.domid, ev, ...fields });
  }

  /** Moves to `to` (traced); a stopped agent stays stopped. */
  setState(to: AgentState): void {
    const from = this.#state;
    if (from === to || from === "stopped") return;
    this.#state = to;
    this.trace("state", { from, to });
  }

  /** Where printed lines go besides the local copy (console ring, serial port). */
  setConsoleSink(sink: (line: string) => void): void {
    this.#consoleSink = sink;
  }

  /** Prints one line on the guest's console. */
  print(line: string): void {
    const text = line.length > CONSOLE_LINE_BYTES_MAX
      ? line.slice(0, CONSOLE_LINE_BYTES_MAX)
      : line;
    if (this.#console.length >= CONSOLE_LINES_MAX) this.#console.shift();
    this.#console.push(text);
    this.trace("console", { line: text });
    this.#consoleSink?.(text + "\n");
  }

  /** Boot finished. */
  booted(): void {
    this.setState("running");
    this.trace("ready");
    this.#resolveReady();
  }

  /** Boot failed: state `state`, `ready` rejects with `why`. */
  bootFailed(why: string, state: "failed" | "halted" = "failed"): void {
    this.trace("boot_failed", { why });
    this.setState(state);
    this.#rejectReady(new Error(`domain ${this.env.domid} (${this.kind} guest): ${why}`));
  }

  /** Boot stopped by something else (a shutdown while booting): `ready` rejects, state stays. */
  bootAborted(why: string): void {
    this.trace("boot_aborted", { why, state: this.#state });
    this.#rejectReady(new Error(`domain ${this.env.domid} (${this.kind} guest): ${why}`));
  }

  /**
   * Attaches the kernel hooks; vCPU 0 entries are queued for
   * {@link nextVcpuEntry} (other vCPUs are not simulated: traced only).
   */
  attach(hooks: Omit<GuestKernel, "vcpuRun">): void {
    const kernel: GuestKernel = {
      ...hooks,
      vcpuRun: (vcpu, ctx) => this.#vcpuRun(vcpu, ctx),
    };
    this.#detach = this.env.attachKernel(kernel);
  }

  #vcpuRun(vcpu: number, ctx: VcpuContext): void {
    this.trace("vcpu_entry", { vcpu, rip: ctx.rip, rax: ctx.rax });
    if (vcpu !== 0 || this.#state === "stopped") return;
    if (this.entryHandler?.(ctx)) return;
    if (this.#entryWaiter !== null) {
      const w = this.#entryWaiter;
      this.#entryWaiter = null;
      w(ctx);
    } else if (this.#entries.length < VCPU_ENTRIES_MAX) {
      this.#entries.push(ctx);
    } else {
      this.trace("vcpu_entry_dropped", { queued: this.#entries.length });
    }
  }

  /** The next time vCPU 0 starts executing (first boot, resume after shutdown, S3 wake). */
  nextVcpuEntry(): Promise<VcpuContext> {
    const queued = this.#entries.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#entryWaiter !== null) {
      return Promise.reject(new Error("nextVcpuEntry: already waiting for an entry"));
    }
    return new Promise((resolve) => (this.#entryWaiter = resolve));
  }

  /**
   * Sleeps `ns` of guest time; resolves false if the agent can no longer
   * act when it wakes.
   */
  async sleep(ns: number): Promise<boolean> {
    if (ns > 0) await this.env.sleep(ns);
    return this.alive;
  }

  /**
   * The kernel's last act: `SCHEDOP_shutdown(reason)` (lifecycle-and-
   * migration.md §7.1 table). Returns the hypercall's ret.
   */
  async machineShutdown(reason: number, why: string): Promise<number> {
    // The agent stops acting from the moment the call is made, not when the
    // answer comes back (over WebSocket that is a round trip later).
    this.#shutdownMade = true;
    const r = await this.env.hypercall({ hc: "sched_op", op: "shutdown", reason });
    this.trace("shutdown", { reason: shutdownReasonName(reason), why, ret: r.ret });
    this.setState(reason === SHUTDOWN_crash ? "crashed" : "shutdown");
    return r.ret;
  }

  /** Registers cleanup for {@link stop}. */
  onStop(fn: () => void | Promise<void>): void {
    this.#onStop.push(fn);
  }

  /** Stops the agent (idempotent). */
  async stop(): Promise<void> {
    if (this.#state === "stopped") return;
    this.setState("stopped");
    this.#detach?.();
    this.#detach = null;
    for (const fn of this.#onStop.splice(0).reverse()) await fn();
    this.#rejectReady(new Error(`domain ${this.env.domid}: agent stopped before boot finished`));
  }
}
