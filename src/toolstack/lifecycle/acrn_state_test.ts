import assert from "node:assert/strict";
import {
  ACRN_OPS,
  ACRN_VM_STATE_VALUE,
  ACRN_VM_STATES,
  acrnCallsFor,
  type AcrnEvent,
  type AcrnOp,
  acrnStateFromName,
  acrnToPowerState,
  acrnTransition,
  type AcrnVmState,
  HC_CREATE_VM,
  HC_DESTROY_VM,
  HC_PAUSE_VM,
  HC_RESET_VM,
  HC_START_VM,
} from "./acrn_state.ts";
import { POWER_OPS, POWER_STATES, POWER_TRANSITIONS } from "./power_state.ts";

/** An event for `op` with its condition flag set to `flag`. */
function ev(op: AcrnOp, flag: boolean): AcrnEvent {
  switch (op) {
    case "start_vm":
      return { op, ioreqPageRegistered: flag };
    case "pause_vm":
      return { op, severityPass: flag };
    case "poweroff_if_rt_vm":
      return { op, rtVm: flag };
    case "resume_vm_from_s3":
      return { op, serviceVm: flag };
    default:
      return { op } as AcrnEvent;
  }
}

type Cell = AcrnVmState | "same" | "refused";
/** §1.4 written out: [state, op, result with flag true, result with flag false]. */
const EXPECTED: [AcrnVmState, AcrnOp, Cell, Cell][] = [
  ["VM_POWERED_OFF", "create_vm", "VM_CREATED", "VM_CREATED"],
  ["VM_POWERED_OFF", "start_vm", "refused", "refused"],
  ["VM_POWERED_OFF", "pause_vm", "refused", "refused"],
  ["VM_POWERED_OFF", "reset_vm", "refused", "refused"],
  ["VM_POWERED_OFF", "shutdown_vm", "refused", "refused"],
  ["VM_POWERED_OFF", "poweroff_if_rt_vm", "same", "same"],
  ["VM_POWERED_OFF", "resume_vm_from_s3", "refused", "refused"],
  ["VM_CREATED", "create_vm", "refused", "refused"],
  ["VM_CREATED", "start_vm", "VM_RUNNING", "refused"],
  ["VM_CREATED", "pause_vm", "VM_PAUSED", "VM_PAUSED"],
  ["VM_CREATED", "reset_vm", "refused", "refused"],
  ["VM_CREATED", "shutdown_vm", "refused", "refused"],
  ["VM_CREATED", "poweroff_if_rt_vm", "VM_READY_TO_POWEROFF", "same"],
  ["VM_CREATED", "resume_vm_from_s3", "refused", "refused"],
  ["VM_RUNNING", "create_vm", "refused", "refused"],
  ["VM_RUNNING", "start_vm", "refused", "refused"],
  ["VM_RUNNING", "pause_vm", "VM_PAUSED", "same"],
  ["VM_RUNNING", "reset_vm", "refused", "refused"],
  ["VM_RUNNING", "shutdown_vm", "refused", "refused"],
  ["VM_RUNNING", "poweroff_if_rt_vm", "VM_READY_TO_POWEROFF", "same"],
  ["VM_RUNNING", "resume_vm_from_s3", "refused", "refused"],
  ["VM_READY_TO_POWEROFF", "create_vm", "refused", "refused"],
  ["VM_READY_TO_POWEROFF", "start_vm", "refused", "refused"],
  ["VM_READY_TO_POWEROFF", "pause_vm", "VM_PAUSED", "VM_PAUSED"],
  ["VM_READY_TO_POWEROFF", "reset_vm", "refused", "refused"],
  ["VM_READY_TO_POWEROFF", "shutdown_vm", "refused", "refused"],
  ["VM_READY_TO_POWEROFF", "poweroff_if_rt_vm", "same", "same"],
  ["VM_READY_TO_POWEROFF", "resume_vm_from_s3", "refused", "refused"],
  ["VM_PAUSED", "create_vm", "refused", "refused"],
  ["VM_PAUSED", "start_vm", "refused", "refused"],
  ["VM_PAUSED", "pause_vm", "same", "same"],
  ["VM_PAUSED", "reset_vm", "VM_CREATED", "VM_CREATED"],
  ["VM_PAUSED", "shutdown_vm", "VM_POWERED_OFF", "VM_POWERED_OFF"],
  ["VM_PAUSED", "poweroff_if_rt_vm", "same", "same"],
  ["VM_PAUSED", "resume_vm_from_s3", "VM_RUNNING", "refused"],
];

Deno.test("acrn: every (state, call, condition) cell of §1.4", () => {
  assert.equal(EXPECTED.length, ACRN_VM_STATES.length * ACRN_OPS.length);
  for (const [state, op, ifTrue, ifFalse] of EXPECTED) {
    const cases: [boolean, Cell][] = [[true, ifTrue], [false, ifFalse]];
    for (const [flag, want] of cases) {
      const r = acrnTransition(state, ev(op, flag));
      const label = `${state} ${op} flag=${flag}`;
      if (want === "refused") {
        assert.equal(r.ok, false, label);
        assert.equal(r.state, state, label);
        assert.match((r as { reason: string }).reason, new RegExp(`^${op} in ${state}: .+`), label);
      } else if (want === "same") {
        assert.deepEqual(r, { ok: true, state, changed: false }, label);
      } else {
        assert.deepEqual(r, { ok: true, state: want, changed: true }, label);
      }
    }
  }
});

Deno.test("acrn: refusals say why", () => {
  const reason = (s: AcrnVmState, e: AcrnEvent) =>
    (acrnTransition(s, e) as { reason: string }).reason;
  assert.equal(
    reason("VM_RUNNING", { op: "shutdown_vm" }),
    "shutdown_vm in VM_RUNNING: HC_DESTROY_VM needs VM_PAUSED (pause it first)",
  );
  assert.equal(
    reason("VM_CREATED", { op: "start_vm", ioreqPageRegistered: false }),
    "start_vm in VM_CREATED: start_vm needs the I/O request page registered first",
  );
  assert.equal(
    reason("VM_PAUSED", { op: "resume_vm_from_s3", serviceVm: false }),
    "resume_vm_from_s3 in VM_PAUSED: only the Service VM resumes from S3",
  );
  assert.equal(
    reason("VM_CREATED", { op: "create_vm" }),
    "create_vm in VM_CREATED: the VM slot is in use (create_vm needs VM_POWERED_OFF)",
  );
});

Deno.test("acrn: enum values, hypercall ids and the 2020 renames", () => {
  assert.deepEqual(ACRN_VM_STATES.map((s) => ACRN_VM_STATE_VALUE[s]), [0, 1, 2, 3, 4]);
  assert.deepEqual(
    [HC_CREATE_VM, HC_DESTROY_VM, HC_START_VM, HC_PAUSE_VM, HC_RESET_VM],
    [0x80000010, 0x80000011, 0x80000012, 0x80000013, 0x80000015],
  );
  assert.equal(acrnStateFromName("VM_STARTED"), "VM_RUNNING");
  assert.equal(acrnStateFromName("VM_POWERING_OFF"), "VM_READY_TO_POWEROFF");
  assert.equal(acrnStateFromName("VM_PAUSED"), "VM_PAUSED");
  assert.equal(acrnStateFromName("VM_STATE_UNKNOWN"), undefined);
  assert.deepEqual(ACRN_VM_STATES.map(acrnToPowerState), [
    "Halted",
    "Paused",
    "Running",
    "Running",
    "Paused",
  ]);
});

Deno.test("acrn: a life cycle — create, start, RT power-off, pause, destroy", () => {
  let s: AcrnVmState = "VM_POWERED_OFF";
  const steps: AcrnEvent[] = [
    { op: "create_vm" },
    { op: "start_vm", ioreqPageRegistered: true },
    { op: "poweroff_if_rt_vm", rtVm: true },
    { op: "pause_vm", severityPass: false },
    { op: "shutdown_vm" },
  ];
  const seen: AcrnVmState[] = [];
  for (const e of steps) {
    const r = acrnTransition(s, e);
    assert.ok(r.ok, e.op);
    s = r.state;
    seen.push(s);
  }
  assert.deepEqual(seen, [
    "VM_CREATED",
    "VM_RUNNING",
    "VM_READY_TO_POWEROFF",
    "VM_PAUSED",
    "VM_POWERED_OFF",
  ]);
});

Deno.test("acrn: every XenAPI call ACRN can carry out lands in the XenAPI target state", () => {
  const impossible: string[] = [];
  for (const ps of POWER_STATES) {
    for (const op of POWER_OPS) {
      const target = POWER_TRANSITIONS[ps][op];
      if (target === undefined) continue;
      for (const as of ACRN_VM_STATES.filter((a) => acrnToPowerState(a) === ps)) {
        const calls = acrnCallsFor(as, op);
        if (calls === undefined) {
          impossible.push(`${as}/${op}`);
          continue;
        }
        let s: AcrnVmState = as;
        for (const e of calls) {
          const r = acrnTransition(s, e);
          assert.ok(r.ok, `${as} ${op}: ${e.op} refused`);
          s = r.state;
        }
        const want: string = target === "Destroyed" ? "Halted" : target;
        assert.equal(acrnToPowerState(s), want, `${as} --${op}--> ${s}`);
      }
    }
  }
  // What ACRN cannot do: unpause a paused VM, suspend, guest-driven shutdown/reboot.
  assert.deepEqual(
    impossible.sort(),
    [
      "VM_PAUSED/suspend",
      "VM_PAUSED/unpause",
      "VM_READY_TO_POWEROFF/clean_reboot",
      "VM_READY_TO_POWEROFF/clean_shutdown",
      "VM_READY_TO_POWEROFF/suspend",
      "VM_RUNNING/clean_reboot",
      "VM_RUNNING/clean_shutdown",
      "VM_RUNNING/suspend",
      "VM_CREATED/suspend",
    ].sort(),
  );
});
