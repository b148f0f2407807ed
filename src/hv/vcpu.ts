/**
 * @module
 * A virtual CPU: its register context, whether it is initialised and online
 * (`VPF_down`), blocked or polling, and its runstate with time accounting on
 * the injected clock.
 *
 * The register context matters for the suspend protocol: the value a guest's
 * `SCHEDOP_shutdown(SHUTDOWN_suspend)` "returns" is whatever RAX holds when
 * the vCPU next runs — 0 as left by the hypercall, or 1 after the toolstack's
 * fast resume rewrote it with setvcpucontext (lifecycle-and-migration.md
 * §3.6, §4.1). For PV, RDX carries the start_info MFN passed as the third
 * hypercall argument (§3.7 e). Values are JS numbers (exact up to 2^53).
 */
import { RUNSTATE_blocked, RUNSTATE_offline, RUNSTATE_running, VGCF_online } from "./xen_abi.ts";

/** A vCPU's registers (`vcpu_guest_context`, reduced). JSON-serialisable. */
export interface VcpuContext {
  rax: number;
  rbx: number;
  rcx: number;
  rdx: number;
  rsi: number;
  rdi: number;
  rsp: number;
  rbp: number;
  rip: number;
  rflags: number;
  cr3: number;
  /** `VGCF_*` flags; `VGCF_online` brings the vCPU up when the context is set. */
  flags: number;
  /** Any other register or guest-agent state worth saving (r8..r15, segment bases, ...). */
  regs: Record<string, number>;
}

/** The named registers, in `vcpu_guest_context` order. */
export const VCPU_REGISTERS = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "rip",
  "rflags",
  "cr3",
  "flags",
] as const;

/** A zeroed context. */
export function emptyVcpuContext(): VcpuContext {
  return {
    rax: 0,
    rbx: 0,
    rcx: 0,
    rdx: 0,
    rsi: 0,
    rdi: 0,
    rsp: 0,
    rbp: 0,
    rip: 0,
    rflags: 0,
    cr3: 0,
    flags: 0,
    regs: {},
  };
}

/** A deep copy (contexts cross the hypercall boundary by value). */
export function copyVcpuContext(c: VcpuContext): VcpuContext {
  return { ...c, regs: { ...c.regs } };
}

/**
 * Checks a context that came from outside (JSON); returns a clean copy or
 * undefined when a field is missing or not a finite number.
 */
export function parseVcpuContext(x: unknown): VcpuContext | undefined {
  if (typeof x !== "object" || x === null) return undefined;
  const o = x as Record<string, unknown>;
  const out = emptyVcpuContext();
  for (const r of VCPU_REGISTERS) {
    const v = o[r];
    if (typeof v !== "number" || !Number.isFinite(v)) return undefined;
    out[r] = v;
  }
  const regs = o.regs;
  if (typeof regs !== "object" || regs === null || Array.isArray(regs)) return undefined;
  for (const [k, v] of Object.entries(regs)) {
    if (typeof v !== "number" || !Number.isFinite(v)) return undefined;
    out.regs[k] = v;
  }
  return out;
}

/** `vcpu_runstate_info`: current state, when it was entered, time per state. */
export interface RunstateInfo {
  state: number;
  stateEntryTimeNs: number;
  /** Nanoseconds spent in running, runnable, blocked, offline. */
  timeNs: [number, number, number, number];
}

/** One vCPU. */
export class Vcpu {
  readonly id: number;
  ctx: VcpuContext = emptyVcpuContext();
  /** A context has been loaded (`is_initialised`). */
  initialised = false;
  /** `VPF_down`: offline. New vCPUs are down until built. */
  down = true;
  /** Blocked in SCHEDOP_block / poll until an event (or timeout) wakes it. */
  blocked = false;
  /** Ports a SCHEDOP_poll waits on, while polling. */
  pollPorts: readonly number[] | null = null;
  /** Cancels the poll timeout. */
  pollCancel: (() => void) | null = null;
  /**
   * The vCPU will start from its held context the next time it runs (first
   * run, after shutdown, after VCPUOP_down/up); the guest kernel's
   * `vcpuRun` hook is called then.
   */
  needsEntry = false;
  /** A wake-up to report to the kernel's `wake` hook. */
  wakePending = false;
  /** VCPUOP_register_runstate_memory_area / register_vcpu_info, recorded. */
  runstateArea = 0;
  vcpuInfoMfn = -1;
  readonly runstate: RunstateInfo;

  constructor(id: number, nowNs: number) {
    this.id = id;
    this.runstate = { state: RUNSTATE_offline, stateEntryTimeNs: nowNs, timeNs: [0, 0, 0, 0] };
  }

  /** Loads a context (setvcpucontext, VCPUOP_initialise, HVM context). */
  load(ctx: VcpuContext): void {
    this.ctx = copyVcpuContext(ctx);
    this.initialised = true;
    this.down = (ctx.flags & VGCF_online) === 0;
    this.needsEntry = true;
    this.blocked = false;
  }

  /** `vcpu_reset`: zero context, down, not initialised (setvcpucontext(NULL)). */
  reset(): void {
    this.ctx = emptyVcpuContext();
    this.initialised = false;
    this.down = true;
    this.blocked = false;
    this.needsEntry = false;
    this.wakePending = false;
    this.stopPolling();
  }

  stopPolling(): void {
    this.pollPorts = null;
    if (this.pollCancel !== null) this.pollCancel();
    this.pollCancel = null;
  }

  /** Moves the runstate to `state` at `nowNs`, accounting the time spent. */
  setRunstate(state: number, nowNs: number): void {
    const rs = this.runstate;
    if (rs.state === state) return;
    rs.timeNs[rs.state] += nowNs - rs.stateEntryTimeNs;
    rs.state = state;
    rs.stateEntryTimeNs = nowNs;
  }

  /** A snapshot of the runstate as of `nowNs`. */
  runstateAt(nowNs: number): RunstateInfo {
    const rs = this.runstate;
    const t: [number, number, number, number] = [...rs.timeNs];
    t[rs.state] += nowNs - rs.stateEntryTimeNs;
    return { state: rs.state, stateEntryTimeNs: rs.stateEntryTimeNs, timeNs: t };
  }
}

/** The runstate a vCPU is in, given whether the lifecycle lets it run. */
export function runstateOf(v: Vcpu, mayRun: boolean): number {
  if (v.down || !mayRun) return RUNSTATE_offline;
  if (v.blocked) return RUNSTATE_blocked;
  return RUNSTATE_running;
}
