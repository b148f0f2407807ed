/**
 * @module
 * Toolstack-requested clean shutdown, reboot and sysrq
 * (lifecycle-and-migration.md §7.1, §7.2): write the request to
 * `~/control/shutdown` and wait up to 60 s for the guest to acknowledge by
 * clearing it. An HVM guest without PV drivers (HVM_PARAM_CALLBACK_IRQ = 0)
 * cannot be asked: ERROR_NOPARAVIRT, unless forced with an ACPI trigger.
 */
import { HVM_PARAM_CALLBACK_IRQ } from "../hv/hvm_params.ts";
import { decodeDominf } from "../hv/domain_info.ts";
import { XEN_DOMCTL_SENDTRIGGER_POWER } from "../hv/xen_abi.ts";
import { NS_PER_S } from "../sim/clock.ts";
import type { ToolstackContext } from "./toolstack_context.ts";
import { waitFor, WaitTimeout } from "./wait_for.ts";

/** libxl's wait for the guest to acknowledge a control request. */
export const CONTROL_ACK_TIMEOUT_NS = 60 * NS_PER_S;

export class ControlRequestError extends Error {
  readonly code: "ERROR_NOPARAVIRT" | "ERROR_TIMEDOUT";
  constructor(code: "ERROR_NOPARAVIRT" | "ERROR_TIMEDOUT", message: string) {
    super(message);
    this.name = "ControlRequestError";
    this.code = code;
  }
}

/** libxl__domain_pvcontrol_available: PV, PVH, or HVM with PV drivers. */
export function pvControlAvailable(tc: ToolstackContext, domid: number): boolean {
  const info = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
  if (!info || !decodeDominf(info.flags).hvm) return true;
  const r = tc.hypercall({ hc: "hvm_op", op: "get_param", domid, index: HVM_PARAM_CALLBACK_IRQ });
  return r.ret === 0 && (r.value ?? 0) !== 0;
}

/**
 * Sends `poweroff` / `reboot` (or another request) and waits for the ack.
 * With `force` and no PV drivers, sends the ACPI POWER trigger instead.
 */
export async function sendControlRequest(
  tc: ToolstackContext,
  domid: number,
  request: "poweroff" | "reboot" | "halt" | "suspend",
  opts: { force?: boolean; ackTimeoutNs?: number } = {},
): Promise<"acknowledged" | "triggered"> {
  if (!pvControlAvailable(tc, domid)) {
    if (opts.force && request === "poweroff") {
      tc.hypercall({
        hc: "domctl",
        op: "sendtrigger",
        domid,
        trigger: XEN_DOMCTL_SENDTRIGGER_POWER,
        vcpu: 0,
      });
      return "triggered";
    }
    throw new ControlRequestError(
      "ERROR_NOPARAVIRT",
      `domain ${domid} has no PV drivers: it cannot be asked to ${request} (use -F for an ACPI power event)`,
    );
  }
  const path = `/local/domain/${domid}/control/shutdown`;
  tc.trace.emit({ src: "toolstack", dom: domid, op: "control", request });
  await tc.xs.write(path, request);
  try {
    await waitFor(
      tc,
      path,
      (v) => v === "" || v === undefined,
      opts.ackTimeoutNs ?? CONTROL_ACK_TIMEOUT_NS,
      `${request} of domain ${domid}`,
    );
  } catch (e) {
    if (!(e instanceof WaitTimeout)) throw e;
    // libxl leaves the request in place; xl reports the timeout.
    throw new ControlRequestError(
      "ERROR_TIMEDOUT",
      `guest didn't acknowledge control request: domain ${domid} did not clear ${path} within ${
        e.waitedNs / NS_PER_S
      } s`,
    );
  }
  return "acknowledged";
}

/** `xl sysrq <dom> <c>`: one character to `~/control/sysrq` (§7.2). */
export async function sendSysrq(tc: ToolstackContext, domid: number, key: string): Promise<void> {
  if (key.length !== 1) {
    throw new Error(`sysrq takes exactly one character, not ${JSON.stringify(key)}`);
  }
  await tc.xs.write(`/local/domain/${domid}/control/sysrq`, key);
}
