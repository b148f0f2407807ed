/**
 * @module
 * The two things xenstored needs from the hypervisor (ARCHITECTURE.md: "an
 * event (VIRQ_DOM_EXC), then asking the hypervisor for domain info"), as a
 * tiny in-process adapter over the ordinary interface: `info` is
 * `domctl getdomaininfo` and `onDomExc` binds VIRQ_DOM_EXC on the xenstore
 * domain (dom0 unless given) with `event_channel_op bind_virq` and listens on
 * that port. If the VIRQ is already bound there (xenstored bound it itself),
 * the adapter listens on the existing port instead.
 */
import { decodeDominf } from "./domain_info.ts";
import { Errno } from "./errno.ts";
import type { Hypervisor } from "./hypervisor.ts";
import { EVTCHN_2L_NR_CHANNELS, EVTCHNSTAT_virq, VIRQ_DOM_EXC } from "./xen_abi.ts";

/** What xenstored asks about a domain. */
export interface DomainInfoSummary {
  dying: boolean;
  shutdown: boolean;
  /** SHUTDOWN_* code, present when `shutdown`. */
  shutdownReason?: number;
}

/** Domain info and death notification for xenstored. */
export interface DomainInfoSource {
  /** undefined when the domain does not exist (any more). */
  info(domid: number): DomainInfoSummary | undefined;
  /** Calls `handler` on each VIRQ_DOM_EXC; returns an unsubscribe function. */
  onDomExc(handler: () => void): () => void;
}

/** The adapter for `hv`, as seen by domain `xsDomid` (default 0). */
export function domainInfoSource(hv: Hypervisor, xsDomid = 0): DomainInfoSource {
  const handlers = new Set<() => void>();
  let port = 0;
  let owned = false;
  let stop: (() => void) | null = null;

  const findBound = (): number => {
    for (let p = 1; p < EVTCHN_2L_NR_CHANNELS; p++) {
      const r = hv.hypercall(xsDomid, {
        hc: "event_channel_op",
        op: "status",
        dom: xsDomid,
        port: p,
      });
      if (r.ret === -Errno.EINVAL) break; // past max_evtchn_port
      if (r.status?.status === EVTCHNSTAT_virq && r.status.virq === VIRQ_DOM_EXC) return p;
    }
    return 0;
  };

  const start = (): void => {
    const r = hv.hypercall(xsDomid, {
      hc: "event_channel_op",
      op: "bind_virq",
      virq: VIRQ_DOM_EXC,
      vcpu: 0,
    });
    if (r.ret === 0 && r.port !== undefined) {
      port = r.port;
      owned = true;
    } else if (r.ret === -Errno.EEXIST) {
      port = findBound();
      owned = false;
    }
    if (port === 0) throw new Error(`domainInfoSource: cannot bind VIRQ_DOM_EXC on d${xsDomid}`);
    stop = hv.onPort(xsDomid, port, () => {
      for (const h of [...handlers]) h();
    });
  };

  return {
    info(domid: number): DomainInfoSummary | undefined {
      const r = hv.hypercall(xsDomid, { hc: "domctl", op: "getdomaininfo", domid });
      if (r.ret < 0 || r.info === undefined) return undefined;
      const f = decodeDominf(r.info.flags);
      return f.shutdown
        ? { dying: f.dying, shutdown: true, shutdownReason: f.shutdownCode }
        : { dying: f.dying, shutdown: false };
    },
    onDomExc(handler: () => void): () => void {
      if (handlers.size === 0) start();
      handlers.add(handler);
      return () => {
        if (!handlers.delete(handler) || handlers.size > 0) return;
        stop?.();
        stop = null;
        if (owned) hv.hypercall(xsDomid, { hc: "event_channel_op", op: "close", port });
        port = 0;
        owned = false;
      };
    },
  };
}
