/**
 * @module
 * `xen_domctl_getdomaininfo` as getdomaininfo reports it, and the decoding of
 * its flags word (lifecycle-and-migration.md §0.3): dying only once dead;
 * shutdown only once complete; paused = controller pause count > 0;
 * blocked/running only with an online vCPU; the shutdown code in bits
 * 16..31 (all ones, reason 255, when none is latched — consumers read it only
 * with the shutdown bit set).
 */
import {
  SHUTDOWN_REASON_LETTERS,
  XEN_DOMINF_blocked,
  XEN_DOMINF_dying,
  XEN_DOMINF_hap,
  XEN_DOMINF_hvm_guest,
  XEN_DOMINF_paused,
  XEN_DOMINF_running,
  XEN_DOMINF_shutdown,
  XEN_DOMINF_shutdownmask,
  XEN_DOMINF_shutdownshift,
  XEN_DOMINF_xs_domain,
} from "./xen_abi.ts";

/** getdomaininfo's output (the fields xenlab keeps). JSON. */
export interface DomainInfo {
  domain: number;
  /** `XEN_DOMINF_*` | shutdown code << 16, as an unsigned 32-bit number. */
  flags: number;
  totPages: number;
  maxPages: number;
  /** MFN of the shared_info frame. */
  sharedInfoFrame: number;
  /** Time all vCPUs spent running, ns. */
  cpuTimeNs: number;
  nrOnlineVcpus: number;
  maxVcpuId: number;
  /** The domain handle (UUID). */
  handle: string;
}

/** The flags word decoded. */
export interface DominfFlags {
  dying: boolean;
  hvm: boolean;
  shutdown: boolean;
  paused: boolean;
  blocked: boolean;
  running: boolean;
  xsDomain: boolean;
  hap: boolean;
  /** `(flags >> 16) & 0xff` — meaningful only when `shutdown`. */
  shutdownCode: number;
}

/** Decodes a getdomaininfo flags word. */
export function decodeDominf(flags: number): DominfFlags {
  return {
    dying: (flags & XEN_DOMINF_dying) !== 0,
    hvm: (flags & XEN_DOMINF_hvm_guest) !== 0,
    shutdown: (flags & XEN_DOMINF_shutdown) !== 0,
    paused: (flags & XEN_DOMINF_paused) !== 0,
    blocked: (flags & XEN_DOMINF_blocked) !== 0,
    running: (flags & XEN_DOMINF_running) !== 0,
    xsDomain: (flags & XEN_DOMINF_xs_domain) !== 0,
    hap: (flags & XEN_DOMINF_hap) !== 0,
    shutdownCode: (flags >>> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask,
  };
}

/** xl list's six-letter state column (`r b p s <reason> d`, §1.2). */
export function xlStateString(flags: number): string {
  const f = decodeDominf(flags);
  const reason = f.shutdown ? SHUTDOWN_REASON_LETTERS[f.shutdownCode] ?? "?" : "-";
  return (f.running ? "r" : "-") + (f.blocked ? "b" : "-") + (f.paused ? "p" : "-") +
    (f.shutdown ? "s" : "-") + reason + (f.dying ? "d" : "-");
}
