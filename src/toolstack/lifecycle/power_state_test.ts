import assert from "node:assert/strict";
import {
  SHUTDOWN_crash,
  SHUTDOWN_poweroff,
  SHUTDOWN_suspend,
  XEN_DOMINF_blocked,
  XEN_DOMINF_dying,
  XEN_DOMINF_paused,
  XEN_DOMINF_running,
  XEN_DOMINF_shutdown,
  XEN_DOMINF_shutdownshift,
} from "../../hv/xen_abi.ts";
import { SHUTDOWN_ACTIONS } from "../config/xl_cfg.ts";
import type { ShutdownAction } from "../domain_config.ts";
import {
  allowedOps,
  type GuestShutdownReason,
  POWER_OPS,
  POWER_STATE_VALUE,
  POWER_STATES,
  POWER_TRANSITIONS,
  type PowerOp,
  type PowerState,
  PowerStateError,
  powerStateOfDominf,
  type PowerTarget,
  shutdownActionFor,
  transition,
} from "./power_state.ts";

/** §1.3, written out independently of the module's table: every allowed (state, call) → target. */
const EXPECTED: [PowerState, PowerOp, PowerTarget][] = [
  ["Halted", "start", "Running"],
  ["Halted", "start_paused", "Paused"],
  ["Halted", "destroy", "Destroyed"],
  ["Paused", "unpause", "Running"],
  ["Paused", "suspend", "Suspended"],
  ["Paused", "hard_shutdown", "Halted"],
  ["Paused", "shutdown", "Halted"],
  ["Paused", "hard_reboot", "Running"],
  ["Running", "pause", "Paused"],
  ["Running", "suspend", "Suspended"],
  ["Running", "clean_shutdown", "Halted"],
  ["Running", "hard_shutdown", "Halted"],
  ["Running", "shutdown", "Halted"],
  ["Running", "clean_reboot", "Running"],
  ["Running", "hard_reboot", "Running"],
  ["Suspended", "resume", "Running"],
  ["Suspended", "resume_paused", "Paused"],
  ["Suspended", "hard_shutdown", "Halted"],
  ["Suspended", "shutdown", "Halted"],
  ["Suspended", "destroy", "Destroyed"],
  ["Crashed", "hard_shutdown", "Halted"],
];

Deno.test("power state: every allowed (state, call) pair goes where §1.3 says", () => {
  for (const [from, op, to] of EXPECTED) {
    assert.equal(transition(from, { op }, "web"), to, `${from} --${op}-->`);
  }
});

Deno.test("power state: every other (state, call) pair — all 65 minus the allowed — is refused, naming state and way out", () => {
  const allowed = new Set(EXPECTED.map(([s, op]) => `${s}/${op}`));
  let refused = 0;
  for (const state of POWER_STATES) {
    for (const op of POWER_OPS) {
      if (allowed.has(`${state}/${op}`)) continue;
      refused++;
      assert.throws(() => transition(state, { op }, "web"), (e: unknown) => {
        assert.ok(e instanceof PowerStateError);
        assert.equal(e.state, state);
        assert.deepEqual(e.allowed, EXPECTED.filter(([s]) => s === state).map(([, o]) => o));
        assert.equal(
          e.message,
          `cannot ${op}: domain "web" is ${state}; allowed: ${e.allowed.join(", ")}`,
        );
        return true;
      }, `${state}/${op}`);
    }
  }
  assert.equal(refused, POWER_STATES.length * POWER_OPS.length - EXPECTED.length);
  assert.equal(refused, 44);
});

Deno.test("power state: the exported table is exactly §1.3 (no extra entries)", () => {
  const fromTable = POWER_STATES.flatMap((s) =>
    Object.entries(POWER_TRANSITIONS[s]).map(([op, to]) => [s, op, to])
  );
  assert.deepEqual(
    fromTable.sort(),
    EXPECTED.map((e) => [...e]).sort(),
  );
});

Deno.test("power state: the brief's message, verbatim", () => {
  assert.throws(() => transition("Halted", { op: "pause" }, "web"), {
    name: "PowerStateError",
    message: 'cannot pause: domain "web" is Halted; allowed: start, start_paused, destroy',
  });
  assert.deepEqual(allowedOps("Crashed"), ["hard_shutdown"]);
});

Deno.test("power state: a guest shutdown from Running lands where its on_* action says", () => {
  const reasons: GuestShutdownReason[] = ["poweroff", "reboot", "crash", "watchdog", "soft_reset"];
  const expected = (reason: GuestShutdownReason, action: ShutdownAction): PowerState =>
    action === "destroy" || action === "coredump-destroy"
      ? "Halted"
      : action === "preserve"
      ? (reason === "crash" ? "Crashed" : "Halted")
      : "Running";
  for (const reason of reasons) {
    for (const action of SHUTDOWN_ACTIONS) {
      assert.equal(
        transition("Running", { op: "guest_shutdown", reason, action }, "web"),
        expected(reason, action),
        `${reason}/${action}`,
      );
    }
  }
  // xl's defaults: poweroff destroys, reboot restarts, crash destroys.
  const defaults = {
    onPoweroff: "destroy",
    onReboot: "restart",
    onCrash: "destroy",
    onWatchdog: "destroy",
    onSoftReset: "soft-reset",
  } as const;
  const after = (reason: GuestShutdownReason) =>
    transition("Running", {
      op: "guest_shutdown",
      reason,
      action: shutdownActionFor(defaults, reason),
    });
  assert.deepEqual(reasons.map(after), ["Halted", "Running", "Halted", "Halted", "Running"]);
});

Deno.test("power state: a guest that is not Running cannot shut itself down", () => {
  for (const state of POWER_STATES.filter((s) => s !== "Running")) {
    assert.throws(
      () => transition(state, { op: "guest_shutdown", reason: "crash", action: "preserve" }, "db"),
      {
        name: "PowerStateError",
        message: `cannot handle a guest crash: domain "db" is ${state}; ` +
          "a guest shuts itself down only while Running",
      },
    );
  }
});

Deno.test("power state: Xend numbering, and the state of a live domain from getdomaininfo flags", () => {
  assert.deepEqual(POWER_STATES.map((s) => POWER_STATE_VALUE[s]), [0, 1, 2, 3, 5]);
  const down = (code: number) => XEN_DOMINF_shutdown | (code << XEN_DOMINF_shutdownshift);
  assert.equal(powerStateOfDominf(XEN_DOMINF_running), "Running");
  assert.equal(powerStateOfDominf(XEN_DOMINF_blocked), "Running");
  assert.equal(powerStateOfDominf(XEN_DOMINF_paused | XEN_DOMINF_blocked), "Paused");
  assert.equal(powerStateOfDominf(down(SHUTDOWN_suspend) | XEN_DOMINF_paused), "Suspended");
  assert.equal(powerStateOfDominf(down(SHUTDOWN_crash)), "Crashed");
  assert.equal(powerStateOfDominf(down(SHUTDOWN_poweroff)), "Halted");
  assert.equal(powerStateOfDominf(XEN_DOMINF_dying | down(SHUTDOWN_crash)), "Halted");
});
