/**
 * @module
 * What a guest sees of the machine (ARCHITECTURE.md: "its start_info / HVM
 * params, its xenstore connection (found through the store page and event
 * channel it was given), its hypercalls"). A guest agent is written against
 * this only, so it runs the same in process and as a separate process over
 * WebSocket.
 *
 * Hypercalls and page access return promises: over WebSocket each is a round
 * trip (`remote_env.ts`). In process they resolve at once
 * (`in_process_env.ts`), and their effect on the hypervisor happens when the
 * call is made, so calls made one after another without awaiting reach the
 * hypervisor in that order either way (one socket, answered in order).
 */
import type { Clock } from "../sim/clock.ts";
import type { Rng } from "../sim/rng.ts";
import type { Trace } from "../sim/trace.ts";
import type { XsLink } from "../xenstore/client/link.ts";
import type { GuestKernel } from "../hv/domain.ts";
import type { Hypercall, HypercallResult } from "../hv/hypercall.ts";
import type { HvmPlatform } from "./hvm_platform.ts";

export interface GuestEnv {
  readonly domid: number;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  /** A hypercall made by this domain (vCPU 0 unless the call says). */
  hypercall<C extends Hypercall>(call: C): Promise<HypercallResult<C>>;
  /** Registers the guest kernel's upcalls (event channels, vCPU run/wake, triggers). */
  attachKernel(kernel: GuestKernel): () => void;
  /**
   * Reads bytes of one of the guest's own pages into `out` (filled when the
   * promise resolves); resolves with ≥ 0 on success or -errno.
   */
  readPage(pfn: number, offset: number, out: Uint8Array): Promise<number>;
  /**
   * Writes bytes of one of the guest's own pages (marked dirty under
   * log-dirty); resolves with ≥ 0 on success or -errno.
   */
  writePage(pfn: number, offset: number, data: Uint8Array): Promise<number>;
  /**
   * Opens the xenstore connection through the store ring frame and event
   * channel the guest found in start_info (PV) or HVM params: refused unless
   * they are the ones xenstored was introduced with.
   */
  openXenstore(storeFrame: number, storeEvtchn: number): Promise<XsLink>;
  /** Resolves after `ns` of guest time. */
  sleep(ns: number): Promise<void>;
  /**
   * HVM only: the emulated PC the device model in dom0 provides (CMOS boot
   * order, probed disks, serial port, ACPI PM1a). Optional because it is
   * not Xen's: PV guests have none, and an HVM guest without one can
   * neither pick a boot device nor power itself off (`hvm_platform.ts`).
   */
  readonly platform?: HvmPlatform;
}
