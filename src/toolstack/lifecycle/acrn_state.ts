/**
 * @module
 * ACRN's VM states and its own rules for moving between them
 * (lifecycle-and-migration.md §1.4; ACRN `hypervisor/arch/x86/guest/vm.c`,
 * `hypervisor/common/hypercall.c`; seed `hv-vm-management.rst`), as a second
 * pure machine, and how they map onto the XenAPI power states.
 *
 * | call | from | to | otherwise |
 * |---|---|---|---|
 * | create_vm (HC_CREATE_VM) | VM_POWERED_OFF | VM_CREATED | refused |
 * | start_vm (HC_START_VM) | VM_CREATED, I/O request page registered | VM_RUNNING | refused |
 * | pause_vm (HC_PAUSE_VM) | VM_CREATED, VM_READY_TO_POWEROFF; VM_RUNNING if the caller passes the severity check | VM_PAUSED | VM_PAUSED, or VM_RUNNING failing the check: no change, success; VM_POWERED_OFF: refused |
 * | reset_vm (HC_RESET_VM) | VM_PAUSED | VM_CREATED | refused |
 * | shutdown_vm (HC_DESTROY_VM) | VM_PAUSED | VM_POWERED_OFF | refused |
 * | poweroff_if_rt_vm (an RT guest powers off) | RT VM not paused/off | VM_READY_TO_POWEROFF | no change |
 * | resume_vm_from_s3 (Service VM wake) | VM_PAUSED, Service VM | VM_RUNNING (reset, start at the wake vector) | refused |
 *
 * There is no unpause hypercall: a paused VM is reset or destroyed. State
 * names changed in March 2020 (VM_STARTED → VM_RUNNING, VM_POWERING_OFF →
 * VM_READY_TO_POWEROFF); {@link acrnStateFromName} accepts both.
 *
 * Onto XenAPI ({@link acrnToPowerState}): POWERED_OFF → Halted; CREATED
 * (vCPUs made, not launched — a Xen domain before its first unpause) →
 * Paused; RUNNING → Running; PAUSED → Paused; READY_TO_POWEROFF → Running
 * (the guest has asked to power off but nothing has acted yet, as a XenAPI VM
 * stays Running until its toolstack processes the shutdown).
 */
import type { PowerOp, PowerState } from "./power_state.ts";

/** ACRN `enum vm_state`, current names, in value order. */
export const ACRN_VM_STATES = [
  "VM_POWERED_OFF",
  "VM_CREATED",
  "VM_RUNNING",
  "VM_READY_TO_POWEROFF",
  "VM_PAUSED",
] as const;
export type AcrnVmState = (typeof ACRN_VM_STATES)[number];

/** `enum vm_state` values (VM_POWERED_OFF must be 0). */
export const ACRN_VM_STATE_VALUE: Readonly<Record<AcrnVmState, number>> = {
  VM_POWERED_OFF: 0,
  VM_CREATED: 1,
  VM_RUNNING: 2,
  VM_READY_TO_POWEROFF: 3,
  VM_PAUSED: 4,
};

/** Pre-2020 names still found in older DM/tools code. */
export const ACRN_LEGACY_STATE_NAMES: Readonly<Record<string, AcrnVmState>> = {
  VM_STARTED: "VM_RUNNING",
  VM_POWERING_OFF: "VM_READY_TO_POWEROFF",
};

/** `BASE_HC_ID(HC_ID 0x80, HC_ID_VM_BASE 0x10 + n)`. */
const hc = (n: number) => 0x80 * 2 ** 24 + 0x10 + n;
export const HC_CREATE_VM = hc(0);
export const HC_DESTROY_VM = hc(1);
export const HC_START_VM = hc(2);
export const HC_PAUSE_VM = hc(3);
export const HC_CREATE_VCPU = hc(4);
export const HC_RESET_VM = hc(5);

/** The machine's calls. */
export const ACRN_OPS = [
  "create_vm",
  "start_vm",
  "pause_vm",
  "reset_vm",
  "shutdown_vm",
  "poweroff_if_rt_vm",
  "resume_vm_from_s3",
] as const;
export type AcrnOp = (typeof ACRN_OPS)[number];

/** A call with the facts its rule depends on. */
export type AcrnEvent =
  | { readonly op: "create_vm" }
  | { readonly op: "start_vm"; readonly ioreqPageRegistered: boolean }
  | { readonly op: "pause_vm"; readonly severityPass: boolean }
  | { readonly op: "reset_vm" }
  | { readonly op: "shutdown_vm" }
  | { readonly op: "poweroff_if_rt_vm"; readonly rtVm: boolean }
  | { readonly op: "resume_vm_from_s3"; readonly serviceVm: boolean };

/** The condition a rule may depend on (a boolean field of the event). */
export type AcrnCondition = "ioreqPageRegistered" | "severityPass" | "rtVm" | "serviceVm";

/** One cell of the table. */
export type AcrnRule =
  | { readonly kind: "to"; readonly to: AcrnVmState }
  | {
    readonly kind: "to_if";
    readonly to: AcrnVmState;
    readonly when: AcrnCondition;
    readonly otherwise: "no_change" | "refused";
  }
  | { readonly kind: "no_change" }
  | { readonly kind: "refused" };

/** What a call did. */
export type AcrnResult =
  | { readonly ok: true; readonly state: AcrnVmState; readonly changed: boolean }
  | { readonly ok: false; readonly state: AcrnVmState; readonly reason: string };

const to = (s: AcrnVmState): AcrnRule => ({ kind: "to", to: s });
const toIf = (
  s: AcrnVmState,
  when: AcrnCondition,
  otherwise: "no_change" | "refused",
): AcrnRule => ({ kind: "to_if", to: s, when, otherwise });
const NO: AcrnRule = { kind: "refused" };
const SAME: AcrnRule = { kind: "no_change" };

/** ACRN's transition table (see the module table). */
export const ACRN_TRANSITIONS: Readonly<Record<AcrnVmState, Readonly<Record<AcrnOp, AcrnRule>>>> = {
  VM_POWERED_OFF: {
    create_vm: to("VM_CREATED"),
    start_vm: NO,
    pause_vm: NO,
    reset_vm: NO,
    shutdown_vm: NO,
    poweroff_if_rt_vm: SAME,
    resume_vm_from_s3: NO,
  },
  VM_CREATED: {
    create_vm: NO,
    start_vm: toIf("VM_RUNNING", "ioreqPageRegistered", "refused"),
    pause_vm: to("VM_PAUSED"),
    reset_vm: NO,
    shutdown_vm: NO,
    poweroff_if_rt_vm: toIf("VM_READY_TO_POWEROFF", "rtVm", "no_change"),
    resume_vm_from_s3: NO,
  },
  VM_RUNNING: {
    create_vm: NO,
    start_vm: NO,
    pause_vm: toIf("VM_PAUSED", "severityPass", "no_change"),
    reset_vm: NO,
    shutdown_vm: NO,
    poweroff_if_rt_vm: toIf("VM_READY_TO_POWEROFF", "rtVm", "no_change"),
    resume_vm_from_s3: NO,
  },
  VM_READY_TO_POWEROFF: {
    create_vm: NO,
    start_vm: NO,
    pause_vm: to("VM_PAUSED"),
    reset_vm: NO,
    shutdown_vm: NO,
    poweroff_if_rt_vm: SAME,
    resume_vm_from_s3: NO,
  },
  VM_PAUSED: {
    create_vm: NO,
    start_vm: NO,
    pause_vm: SAME,
    reset_vm: to("VM_CREATED"),
    shutdown_vm: to("VM_POWERED_OFF"),
    poweroff_if_rt_vm: SAME,
    resume_vm_from_s3: toIf("VM_RUNNING", "serviceVm", "refused"),
  },
};

const REFUSAL: Record<AcrnOp, string> = {
  create_vm: "the VM slot is in use (create_vm needs VM_POWERED_OFF)",
  start_vm: "start_vm needs VM_CREATED",
  pause_vm: "cannot pause a powered-off VM",
  reset_vm: "reset_vm needs VM_PAUSED",
  shutdown_vm: "HC_DESTROY_VM needs VM_PAUSED (pause it first)",
  poweroff_if_rt_vm: "",
  resume_vm_from_s3: "resume_vm_from_s3 needs VM_PAUSED",
};

const CONDITION_REFUSAL: Record<AcrnCondition, string> = {
  ioreqPageRegistered: "start_vm needs the I/O request page registered first",
  severityPass: "",
  rtVm: "",
  serviceVm: "only the Service VM resumes from S3",
};

function conditionHolds(e: AcrnEvent, when: AcrnCondition): boolean {
  switch (when) {
    case "ioreqPageRegistered":
      return e.op === "start_vm" && e.ioreqPageRegistered;
    case "severityPass":
      return e.op === "pause_vm" && e.severityPass;
    case "rtVm":
      return e.op === "poweroff_if_rt_vm" && e.rtVm;
    case "serviceVm":
      return e.op === "resume_vm_from_s3" && e.serviceVm;
  }
}

/**
 * The pure ACRN transition. Refused calls (a hypercall returning an error)
 * leave the state as it was and say why.
 *
 * @example
 * ```ts
 * import { acrnTransition } from "./acrn_state.ts";
 * acrnTransition("VM_PAUSED", { op: "reset_vm" }); // { ok: true, state: "VM_CREATED", changed: true }
 * ```
 */
export function acrnTransition(state: AcrnVmState, e: AcrnEvent): AcrnResult {
  const rule = ACRN_TRANSITIONS[state][e.op];
  const refused = (why: string): AcrnResult => ({
    ok: false,
    state,
    reason: `${e.op} in ${state}: ${why}`,
  });
  switch (rule.kind) {
    case "to":
      return { ok: true, state: rule.to, changed: rule.to !== state };
    case "no_change":
      return { ok: true, state, changed: false };
    case "refused":
      return refused(REFUSAL[e.op]);
    case "to_if":
      if (conditionHolds(e, rule.when)) {
        return { ok: true, state: rule.to, changed: rule.to !== state };
      }
      return rule.otherwise === "no_change"
        ? { ok: true, state, changed: false }
        : refused(CONDITION_REFUSAL[rule.when]);
  }
}

/** An ACRN state name, current or legacy, or undefined. */
export function acrnStateFromName(name: string): AcrnVmState | undefined {
  if ((ACRN_VM_STATES as readonly string[]).includes(name)) return name as AcrnVmState;
  return ACRN_LEGACY_STATE_NAMES[name];
}

/** The XenAPI power state an ACRN VM state corresponds to (see the module doc). */
export function acrnToPowerState(s: AcrnVmState): PowerState {
  switch (s) {
    case "VM_POWERED_OFF":
      return "Halted";
    case "VM_CREATED":
    case "VM_PAUSED":
      return "Paused";
    case "VM_RUNNING":
    case "VM_READY_TO_POWEROFF":
      return "Running";
  }
}

/**
 * The ACRN calls a toolstack on ACRN makes for a XenAPI call from `state`
 * (as the device model does: pause, then destroy or reset), or undefined
 * where ACRN has no way: no unpause of a paused VM, no save/restore, and
 * clean shutdown/reboot are the guest's business.
 */
export function acrnCallsFor(state: AcrnVmState, op: PowerOp): AcrnEvent[] | undefined {
  const pause: AcrnEvent = { op: "pause_vm", severityPass: true };
  const start: AcrnEvent = { op: "start_vm", ioreqPageRegistered: true };
  const quiesce = state === "VM_PAUSED" ? [] : [pause];
  switch (op) {
    case "start":
      return [{ op: "create_vm" }, start];
    case "start_paused":
      return [{ op: "create_vm" }];
    case "pause":
      return [pause];
    case "unpause":
      return state === "VM_CREATED" ? [start] : undefined;
    case "hard_shutdown":
    case "shutdown":
      return [...quiesce, { op: "shutdown_vm" }];
    case "hard_reboot":
      return [...quiesce, { op: "reset_vm" }, start];
    case "destroy":
      return [];
    case "suspend":
    case "resume":
    case "resume_paused":
    case "clean_shutdown":
    case "clean_reboot":
      return undefined;
  }
}
