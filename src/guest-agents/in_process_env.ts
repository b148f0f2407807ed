/**
 * @module
 * A {@link GuestEnv} for a guest agent running in the same process as the
 * emulated hypervisor: hypercalls, kernel hooks and page access go to the
 * {@link Hypervisor} as domain `domid`; time is the host's clock.
 *
 * The xenstore connection is the host's business, so it is a parameter:
 * `openXenstore(storeFrame, storeEvtchn)` must refuse a ring and port other
 * than the ones the toolstack INTRODUCEd, and otherwise hand back the
 * guest's link (e.g. `xenstored.connectInProcess(domid)`). Guest agents may
 * not import xenstored (tests/architecture_test.ts), and this keeps it so.
 * The link it returns is wrapped so that its messages cross as clock events
 * (`clocked_link.ts`): on virtual time, a guest's chains of requests then
 * stay inside the scheduler's loop.
 */
import type { Hypervisor } from "../hv/hypervisor.ts";
import type { Clock } from "../sim/clock.ts";
import type { Rng } from "../sim/rng.ts";
import type { Trace } from "../sim/trace.ts";
import type { XsLink } from "../xenstore/client/link.ts";
import { clockedLink } from "../xenstore/client/clocked_link.ts";
import type { GuestEnv } from "./guest_env.ts";
import type { HvmPlatform } from "./hvm_platform.ts";

/** What {@link inProcessGuestEnv} needs. */
export interface InProcessGuestEnvOptions {
  readonly hv: Hypervisor;
  readonly domid: number;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  /** The host's check-and-connect for this domain's xenstore ring. */
  readonly openXenstore: (storeFrame: number, storeEvtchn: number) => Promise<XsLink>;
  /** HVM: the device model's emulated platform. */
  readonly platform?: HvmPlatform;
  /** One-way delay of xenstore messages; default 0 (still a clock event). */
  readonly xenstoreLatencyNs?: number;
}

/** The guest environment of domain `opts.domid` on an in-process hypervisor. */
export function inProcessGuestEnv(opts: InProcessGuestEnvOptions): GuestEnv {
  const { hv, domid, clock } = opts;
  return {
    domid,
    clock,
    rng: opts.rng,
    trace: opts.trace,
    // Made at once, answered at once: the call's effect (and its trace
    // line) comes before anything the caller does after it.
    hypercall: (call) => Promise.resolve(hv.hypercall(domid, call)),
    attachKernel: (kernel) => hv.attachKernel(domid, kernel),
    readPage: (pfn, offset, out) => Promise.resolve(hv.guestRead(domid, pfn, offset, out)),
    writePage: (pfn, offset, data) => Promise.resolve(hv.guestWrite(domid, pfn, offset, data)),
    openXenstore: async (frame, port) =>
      clockedLink(await opts.openXenstore(frame, port), clock, opts.xenstoreLatencyNs ?? 0),
    sleep: (ns) => new Promise<void>((resolve) => clock.setTimer(ns, resolve)),
    platform: opts.platform,
  };
}
