import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { S3_RESET_RIP } from "./hc_hvm_op.ts";
import {
  HVM_NR_PARAMS,
  HVM_PARAM_ACPI_S_STATE,
  HVM_PARAM_CALLBACK_IRQ,
  HVM_PARAM_CALLBACK_TYPE_VECTOR,
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_IDENT_PT,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_STORE_PFN,
  HVM_PARAM_TRIPLE_FAULT_REASON,
  HVM_PARAM_VIRIDIAN,
  hvmCallbackVia,
} from "./hvm_params.ts";
import { xlStateString } from "./domain_info.ts";
import { buildGuest, flagsOf, newHv } from "./testing.ts";
import { DOMID_SELF, SHUTDOWN_reboot } from "./xen_abi.ts";

function setup() {
  const t = newHv();
  const g = buildGuest(t.hv, { config: { hvm: true } });
  const set = (caller: number, index: number, value: number, domid = g) =>
    t.hv.hypercall(caller, { hc: "hvm_op", op: "set_param", domid, index, value }).ret;
  const get = (caller: number, index: number, domid = g) =>
    t.hv.hypercall(caller, { hc: "hvm_op", op: "get_param", domid, index });
  return { ...t, g, set, get };
}

Deno.test("hvm params: the toolstack sets store/console, the guest reads them", () => {
  const { g, set, get } = setup();
  for (
    const [i, v] of [[HVM_PARAM_STORE_PFN, 0xfeffc], [HVM_PARAM_STORE_EVTCHN, 3], [
      HVM_PARAM_CONSOLE_PFN,
      0xfeffd,
    ], [HVM_PARAM_CONSOLE_EVTCHN, 4]]
  ) {
    assert.equal(set(0, i, v), 0);
    assert.deepEqual(get(g, i, DOMID_SELF), { ret: 0, value: v });
  }
  assert.equal(get(g, HVM_PARAM_TRIPLE_FAULT_REASON).ret, -Errno.EPERM, "not guest-readable");
  assert.equal(get(0, HVM_PARAM_TRIPLE_FAULT_REASON).value, SHUTDOWN_reboot, "default reboot");
});

Deno.test("hvm params: guest-settable list, -EPERM otherwise, set-once -EEXIST, bad index -EINVAL", () => {
  const { hv, g, set, get } = setup();
  const via = hvmCallbackVia(HVM_PARAM_CALLBACK_TYPE_VECTOR, 0xf3);
  assert.equal(set(g, HVM_PARAM_CALLBACK_IRQ, via), 0, "a PVHVM guest declares PV drivers");
  assert.equal(
    Math.floor(get(0, HVM_PARAM_CALLBACK_IRQ).value! / 2 ** 56),
    HVM_PARAM_CALLBACK_TYPE_VECTOR,
  );
  assert.equal(set(g, HVM_PARAM_STORE_PFN, 5), -Errno.EPERM);
  assert.equal(set(g, HVM_PARAM_IDENT_PT, 5), -Errno.EPERM);
  assert.equal(set(0, HVM_PARAM_VIRIDIAN, 1), 0);
  assert.equal(set(0, HVM_PARAM_VIRIDIAN, 1), 0, "same value again is fine");
  assert.equal(set(0, HVM_PARAM_VIRIDIAN, 2), -Errno.EEXIST);
  assert.equal(set(0, HVM_NR_PARAMS, 1), -Errno.EINVAL);
  assert.equal(set(0, HVM_PARAM_TRIPLE_FAULT_REASON, 6), -Errno.EINVAL);
  assert.equal(set(0, HVM_PARAM_STORE_PFN, -1), -Errno.EINVAL);
  const pv = buildGuest(hv);
  assert.equal(set(0, HVM_PARAM_STORE_PFN, 1, pv), -Errno.EINVAL, "PV domains have no HVM params");
  const other = buildGuest(hv, { config: { hvm: true } });
  assert.equal(set(g, HVM_PARAM_CALLBACK_IRQ, 1, other), -Errno.EPERM);
  assert.equal(get(0, 0, 99).ret, -Errno.ESRCH);
});

Deno.test("hvm params: ACPI_S_STATE 3 suspends to S3, 0 wakes at the reset vector", () => {
  const { hv, sched, g, set, get } = setup();
  const runs: number[] = [];
  hv.attachKernel(g, { vcpuRun: (_v, ctx) => runs.push(ctx.rip) });
  sched.run();
  runs.length = 0;
  assert.equal(set(0, HVM_PARAM_ACPI_S_STATE, 3), 0);
  assert.equal(get(0, HVM_PARAM_ACPI_S_STATE).value, 3);
  assert.equal(hv.isRunning(g), false);
  assert.match(xlStateString(flagsOf(hv, g)), /^-/);
  assert.equal(set(0, HVM_PARAM_ACPI_S_STATE, 2), -Errno.EINVAL);
  sched.run();
  assert.deepEqual(runs, []);
  assert.equal(set(0, HVM_PARAM_ACPI_S_STATE, 0), 0);
  sched.run();
  assert.deepEqual(runs, [S3_RESET_RIP]);
  assert.equal(get(0, HVM_PARAM_ACPI_S_STATE).value, 0);
});
