/**
 * @module
 * What every toolstack workflow runs with: dom0's view of the machine
 * (ARCHITECTURE.md: "xenstore as a privileged client and the hypervisor
 * through privileged hypercalls"), time, a trace, and the dom0 resources
 * hotplug scripts look at (bridges, disk images).
 */
import type { Clock } from "../sim/clock.ts";
import type { Rng } from "../sim/rng.ts";
import type { Trace } from "../sim/trace.ts";
import type { XsClient } from "../xenstore/client/client.ts";
import type { Hypercall, HypercallResult } from "../hv/hypercall.ts";
import type { ForeignMapping } from "../hv/foreign_mapping.ts";

/** dom0's files and network as hotplug scripts and bootloaders see them. */
export interface Dom0Resources {
  /** Bridges `vif-bridge` can attach to (e.g. `xenbr0`). */
  readonly bridges: ReadonlySet<string>;
  /** Reads a file in dom0 (disk images, kernels); undefined if missing. */
  readFile(path: string): Uint8Array | undefined;
}

export interface ToolstackContext {
  /** dom0's privileged xenstore connection. */
  readonly xs: XsClient;
  /** Privileged hypercalls, made as dom0. */
  hypercall<C extends Hypercall>(call: C): HypercallResult<C>;
  /** privcmd mmap of another domain's pages (the domain builder, save, restore). */
  foreignMap(domid: number, pfns: readonly number[], writable: boolean): ForeignMapping;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly trace: Trace;
  readonly dom0: Dom0Resources;
  /** Resolves after `ns` of this context's time (virtual or real). */
  sleep(ns: number): Promise<void>;
}
