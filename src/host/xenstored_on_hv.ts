/**
 * @module
 * xenstored wired to the emulated hypervisor the way Xen's is
 * (ARCHITECTURE.md): it asks `getdomaininfo` about domains, and on every
 * `VIRQ_DOM_EXC` it re-checks them, so a shut-down domain fires
 * `@releaseDomain` once and a dead one loses its connections and every node
 * it owned (xenstore-protocol.md §6.2, §6.6). Domains exist only if the
 * hypervisor says so: INTRODUCE of an unknown domid is refused.
 */
import { domainInfoSource, type Hypervisor } from "../hv/mod.ts";
import { Xenstored, type XenstoredOptions } from "../xenstore/server/xenstored.ts";

export interface XenstoredOnHv {
  readonly xenstored: Xenstored;
  /** Stops listening to VIRQ_DOM_EXC and closes every session. */
  close(): void;
}

/** Starts an in-process xenstored whose domains are `hv`'s (xenstore in dom0). */
export function xenstoredOnHypervisor(
  hv: Hypervisor,
  opts: Omit<XenstoredOptions, "domains"> = {},
): XenstoredOnHv {
  const source = domainInfoSource(hv, 0);
  const xenstored = new Xenstored({ ...opts, domains: source });
  const unsubscribe = source.onDomExc(() => xenstored.checkDomains());
  return {
    xenstored,
    close() {
      unsubscribe();
      xenstored.shutdown();
    },
  };
}
