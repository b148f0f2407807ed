/**
 * @module
 * Suspending a domain as libxl does (lifecycle-and-migration.md §3):
 * choose the method (§3.1), ask or impose, wait with libxl's timeouts, and
 * report each failure by name — which step, which domain, how long it
 * waited (§3.8).
 *
 * Methods:
 *   A `control/shutdown = "suspend"` (PV, PVH, PVHVM): the guest acks by
 *     clearing the node within 60 s; if not, the request is cancelled in a
 *     transaction — unless the guest acked at the last moment.
 *   B the guest's suspend event channel (`~/device/suspend/event-channel`):
 *     bind, XEN_DOMCTL_subscribe, notify; Xen signals it back on completion.
 *   C remote shutdown(suspend) for HVM without PV drivers or in an ACPI
 *     S-state: the guest is not asked.
 * Then: shut down with reason suspend within 60 s, watched through
 * `@releaseDomain` (or the subscribed channel for B).
 */
import { decodeDominf } from "../../hv/domain_info.ts";
import { HVM_PARAM_ACPI_S_STATE, HVM_PARAM_CALLBACK_IRQ } from "../../hv/hvm_params.ts";
import { SHUTDOWN_suspend } from "../../hv/xen_abi.ts";
import { NS_PER_S } from "../../sim/clock.ts";
import type { ToolstackContext } from "../toolstack_context.ts";
import { waitFor, WaitTimeout } from "../wait_for.ts";

/** libxl's wait for the guest to acknowledge `suspend` (xswait). */
export const SUSPEND_ACK_TIMEOUT_NS = 60 * NS_PER_S;
/** libxl's wait for the domain to be shut down with reason suspend. */
export const SUSPEND_SHUTDOWN_TIMEOUT_NS = 60 * NS_PER_S;
/** Bound on cancel attempts that meet EAGAIN. */
export const SUSPEND_CANCEL_RETRIES_MAX = 16;

export type SuspendMethod = "xenstore" | "evtchn" | "remote-shutdown";

export type SuspendStep = "choose" | "evtchn" | "ack" | "cancel" | "shutdown";

/** A failed suspend, by name (§3.8). */
export class SuspendError extends Error {
  readonly code: "ERROR_GUEST_TIMEDOUT" | "ERROR_FAIL" | "ERROR_NOPARAVIRT";
  readonly step: SuspendStep;
  readonly domid: number;
  readonly waitedNs: number;
  /** Method A: the unacknowledged request was withdrawn. */
  readonly cancelled: boolean;
  constructor(
    code: SuspendError["code"],
    step: SuspendStep,
    domid: number,
    waitedNs: number,
    message: string,
    cancelled = false,
  ) {
    super(
      `suspend of domain ${domid} failed at ${step} after ${waitedNs / NS_PER_S} s: ${message}`,
    );
    this.name = "SuspendError";
    this.code = code;
    this.step = step;
    this.domid = domid;
    this.waitedNs = waitedNs;
    this.cancelled = cancelled;
  }
}

export interface SuspendOptions {
  readonly ackTimeoutNs?: number;
  readonly shutdownTimeoutNs?: number;
}

export interface SuspendResult {
  readonly method: SuspendMethod;
  /** Virtual (or real) time from the request to shutdown(suspend). */
  readonly tookNs: number;
}

/** §3.1, `domain_suspend_callback_common`: which method, and the guest's port for B. */
export async function chooseSuspendMethod(
  tc: ToolstackContext,
  domid: number,
): Promise<{ method: SuspendMethod; guestPort?: number }> {
  const info = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
  if (!info) throw new SuspendError("ERROR_FAIL", "choose", domid, 0, "no such domain");
  const hvm = decodeDominf(info.flags).hvm;
  const param = (index: number) =>
    tc.hypercall({ hc: "hvm_op", op: "get_param", domid, index }).value ?? 0;
  const pvdrv = hvm ? param(HVM_PARAM_CALLBACK_IRQ) : 1;
  const sState = hvm ? param(HVM_PARAM_ACPI_S_STATE) : 0;
  const portText = await tc.xs.readString(`/local/domain/${domid}/device/suspend/event-channel`)
    .catch(() => "");
  const guestPort = /^\d+$/.test(portText) ? Number(portText) : undefined;
  if (sState === 0 && guestPort !== undefined) return { method: "evtchn", guestPort };
  if (hvm && (pvdrv === 0 || sState !== 0)) return { method: "remote-shutdown" };
  return { method: "xenstore" };
}

/** Suspends `domid`; resolves once it is shut down with reason suspend. */
export async function suspendDomain(
  tc: ToolstackContext,
  domid: number,
  opts: SuspendOptions = {},
): Promise<SuspendResult> {
  const start = tc.clock.nowNs();
  const { method, guestPort } = await chooseSuspendMethod(tc, domid);
  tc.trace.emit({ src: "toolstack", dom: domid, op: "suspend", method });
  const shutdownTimeout = opts.shutdownTimeoutNs ?? SUSPEND_SHUTDOWN_TIMEOUT_NS;
  switch (method) {
    case "xenstore":
      await requestViaXenstore(tc, domid, opts.ackTimeoutNs ?? SUSPEND_ACK_TIMEOUT_NS);
      await waitSuspended(tc, domid, shutdownTimeout);
      break;
    case "remote-shutdown": {
      const r = tc.hypercall({
        hc: "sched_op",
        op: "remote_shutdown",
        domid,
        reason: SHUTDOWN_suspend,
      });
      if (r.ret < 0) {
        throw new SuspendError("ERROR_FAIL", "shutdown", domid, 0, `remote_shutdown: ${r.ret}`);
      }
      await waitSuspended(tc, domid, shutdownTimeout);
      break;
    }
    case "evtchn":
      await requestViaEvtchn(tc, domid, guestPort!, shutdownTimeout);
      break;
  }
  const tookNs = tc.clock.nowNs() - start;
  tc.trace.emit({ src: "toolstack", dom: domid, op: "suspended", method, tookNs });
  return { method, tookNs };
}

/** Method A, steps 1–3 (§3.2). */
async function requestViaXenstore(
  tc: ToolstackContext,
  domid: number,
  ackTimeoutNs: number,
): Promise<void> {
  const path = `/local/domain/${domid}/control/shutdown`;
  await tc.xs.write(path, "suspend");
  try {
    await waitFor(tc, path, (v) => v !== "suspend", ackTimeoutNs, `suspend ack of domain ${domid}`);
    return;
  } catch (e) {
    if (!(e instanceof WaitTimeout)) throw e;
  }
  // Cancel, unless the guest acked at the last moment.
  for (let attempt = 0; attempt < SUSPEND_CANCEL_RETRIES_MAX; attempt++) {
    const tx = await tc.xs.transactionStart();
    const v = await tc.xs.readString(path, tx).catch(() => undefined);
    if (v !== "suspend") {
      await tc.xs.transactionEnd(tx, false);
      tc.trace.emit({
        src: "toolstack",
        dom: domid,
        op: "suspend",
        note: "acknowledged during the cancel",
      });
      return;
    }
    await tc.xs.write(path, "", tx);
    try {
      await tc.xs.transactionEnd(tx, true);
    } catch (err) {
      if ((err as { errno?: string }).errno === "EAGAIN") continue;
      throw err;
    }
    throw new SuspendError(
      "ERROR_FAIL",
      "ack",
      domid,
      ackTimeoutNs,
      "guest didn't acknowledge suspend, cancelling request",
      true,
    );
  }
  throw new SuspendError(
    "ERROR_FAIL",
    "cancel",
    domid,
    ackTimeoutNs,
    "could not cancel the request (EAGAIN every time)",
  );
}

/** Method A step 4 / method C: shutdown(suspend) seen via `@releaseDomain` (§3.2). */
async function waitSuspended(
  tc: ToolstackContext,
  domid: number,
  timeoutNs: number,
): Promise<void> {
  const started = tc.clock.nowNs();
  const watch = await tc.xs.watch("@releaseDomain", `suspend-${domid}`);
  let timedOut = false;
  const timer = tc.clock.setTimer(timeoutNs, () => {
    timedOut = true;
    watch.close();
  });
  try {
    for (;;) {
      const verdict = suspendVerdict(tc, domid, tc.clock.nowNs() - started);
      if (verdict === "suspended") return;
      const ev = await watch.next().catch(() => ({ done: true as const }));
      if (ev.done || timedOut) break;
    }
    throw new SuspendError(
      "ERROR_GUEST_TIMEDOUT",
      "shutdown",
      domid,
      timeoutNs,
      "guest did not suspend, timed out",
    );
  } finally {
    timer.cancel();
    await watch.close();
  }
}

/** getdomaininfo check of A.4: suspended, or keep waiting; other outcomes throw. */
function suspendVerdict(
  tc: ToolstackContext,
  domid: number,
  waitedNs: number,
): "suspended" | "waiting" {
  const info = tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
  if (!info) {
    throw new SuspendError(
      "ERROR_FAIL",
      "shutdown",
      domid,
      waitedNs,
      "guest we were suspending has been destroyed",
    );
  }
  const f = decodeDominf(info.flags);
  if (f.dying) {
    throw new SuspendError(
      "ERROR_FAIL",
      "shutdown",
      domid,
      waitedNs,
      "guest we were suspending has been destroyed",
    );
  }
  if (!f.shutdown) return "waiting";
  if (f.shutdownCode !== SHUTDOWN_suspend) {
    throw new SuspendError(
      "ERROR_FAIL",
      "shutdown",
      domid,
      waitedNs,
      `guest shut down for another reason (${f.shutdownCode})`,
    );
  }
  return "suspended";
}

/** Method B (§3.3). */
async function requestViaEvtchn(
  tc: ToolstackContext,
  domid: number,
  guestPort: number,
  timeoutNs: number,
): Promise<void> {
  const bound = tc.hypercall({
    hc: "event_channel_op",
    op: "bind_interdomain",
    remoteDom: domid,
    remotePort: guestPort,
  });
  if (bound.ret < 0 || bound.localPort === undefined) {
    throw new SuspendError(
      "ERROR_FAIL",
      "evtchn",
      domid,
      0,
      "Suspend event channel initialization failed",
    );
  }
  const port = bound.localPort;
  try {
    const sub = tc.hypercall({ hc: "domctl", op: "subscribe", domid, port });
    if (sub.ret < 0) {
      throw new SuspendError(
        "ERROR_FAIL",
        "evtchn",
        domid,
        0,
        "Suspend event channel initialization failed",
      );
    }
    const send = tc.hypercall({ hc: "event_channel_op", op: "send", port });
    if (send.ret < 0) {
      throw new SuspendError("ERROR_FAIL", "evtchn", domid, 0, `notify failed: ${send.ret}`);
    }
    // Xen signals the subscribed channel on completion, not VIRQ_DOM_EXC: poll
    // getdomaininfo on each clock tick of the wait instead of a watch.
    const started = tc.clock.nowNs();
    const deadline = started + timeoutNs;
    while (tc.clock.nowNs() < deadline) {
      if (suspendVerdict(tc, domid, tc.clock.nowNs() - started) === "suspended") return;
      await tc.sleep(Math.min(NS_PER_S / 100, deadline - tc.clock.nowNs()));
    }
    throw new SuspendError(
      "ERROR_GUEST_TIMEDOUT",
      "shutdown",
      domid,
      timeoutNs,
      "guest did not suspend, timed out",
    );
  } finally {
    tc.hypercall({ hc: "event_channel_op", op: "close", port });
  }
}
