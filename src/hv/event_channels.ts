/**
 * @module
 * One domain's event-channel port table (2-level ABI): per port its state
 * (`ECS_*` reported as `EVTCHNSTAT_*`), remote end, VIRQ and notify vCPU in
 * typed arrays; the pending and mask bits live in the domain's shared_info
 * page (`shared_info.ts`). Port 0 is reserved; ports are allocated lowest
 * first up to `max_evtchn_port` (then -ENOSPC), as Xen's `get_free_port`.
 *
 * This class holds one side only; operations that join two domains
 * (bind_interdomain, send, close) live in `hc_event_channel_op.ts`.
 * Source: `xen/common/event_channel.c`, `event_2l.c`.
 */
import { assert } from "./assert.ts";
import { Errno } from "./errno.ts";
import type { SharedInfoPage } from "./shared_info.ts";
import {
  DOMID_INVALID,
  EVTCHN_2L_NR_CHANNELS,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_ipi,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  NR_VIRQS,
} from "./xen_abi.ts";

/** `evtchn_status` output. */
export interface EvtchnStatus {
  /** `EVTCHNSTAT_*`. */
  status: number;
  /** The vCPU notified. */
  vcpu: number;
  /** unbound: the domain allowed to bind. */
  remoteDom?: number;
  /** interdomain: the other end. */
  dom?: number;
  port?: number;
  /** virq: which VIRQ. */
  virq?: number;
}

/** A port table. */
export class EventChannels {
  /** Highest port this domain may use (`max_evtchn_port`). */
  readonly maxPort: number;
  readonly shared: SharedInfoPage;
  readonly #state: Uint8Array;
  readonly #remoteDom: Uint16Array;
  readonly #remotePort: Uint32Array;
  readonly #virq: Uint8Array;
  readonly #vcpu: Uint16Array;
  /** (vcpu * NR_VIRQS + virq) → port. */
  readonly #virqPorts = new Map<number, number>();
  #open = 0;

  constructor(maxPort: number, shared: SharedInfoPage) {
    assert(
      Number.isInteger(maxPort) && maxPort >= 1 && maxPort < EVTCHN_2L_NR_CHANNELS,
      `evtchn: bad max port ${maxPort} (1..${EVTCHN_2L_NR_CHANNELS - 1})`,
    );
    this.maxPort = maxPort;
    this.shared = shared;
    const n = maxPort + 1;
    this.#state = new Uint8Array(n);
    this.#remoteDom = new Uint16Array(n).fill(DOMID_INVALID);
    this.#remotePort = new Uint32Array(n);
    this.#virq = new Uint8Array(n);
    this.#vcpu = new Uint16Array(n);
  }

  /** Ports in use. */
  get openCount(): number {
    return this.#open;
  }

  /** Whether `port` names a slot of this table (1..maxPort). */
  isValid(port: number): boolean {
    return Number.isInteger(port) && port >= 1 && port <= this.maxPort;
  }

  /** `EVTCHNSTAT_*` of a valid port. */
  stateOf(port: number): number {
    return this.#state[port];
  }

  /** Allocates the lowest free port (state stays closed until set): port or -ENOSPC. */
  allocPort(): number {
    for (let p = 1; p <= this.maxPort; p++) {
      if (this.#state[p] === EVTCHNSTAT_closed) {
        // Fresh ports start neither pending nor masked (Linux unmasks on bind anyway).
        this.shared.clearPending(p);
        this.shared.clearMask(p);
        this.#vcpu[p] = 0;
        return p;
      }
    }
    return -Errno.ENOSPC;
  }

  setUnbound(port: number, remoteDom: number): void {
    this.#set(port, EVTCHNSTAT_unbound);
    this.#remoteDom[port] = remoteDom;
  }

  setInterdomain(port: number, remoteDom: number, remotePort: number): void {
    this.#set(port, EVTCHNSTAT_interdomain);
    this.#remoteDom[port] = remoteDom;
    this.#remotePort[port] = remotePort;
  }

  setVirq(port: number, virq: number, vcpu: number): void {
    const key = vcpu * NR_VIRQS + virq;
    assert(!this.#virqPorts.has(key), `evtchn: virq ${virq} bound twice on vcpu ${vcpu}`);
    this.#set(port, EVTCHNSTAT_virq);
    this.#virq[port] = virq;
    this.#vcpu[port] = vcpu;
    this.#virqPorts.set(key, port);
  }

  setIpi(port: number, vcpu: number): void {
    this.#set(port, EVTCHNSTAT_ipi);
    this.#vcpu[port] = vcpu;
  }

  /** Frees an open port: closed, not pending, VIRQ unbound. */
  free(port: number): void {
    const st = this.#state[port];
    assert(st !== EVTCHNSTAT_closed, `evtchn: freeing closed port ${port}`);
    if (st === EVTCHNSTAT_virq) {
      this.#virqPorts.delete(this.#vcpu[port] * NR_VIRQS + this.#virq[port]);
    }
    this.#state[port] = EVTCHNSTAT_closed;
    this.#remoteDom[port] = DOMID_INVALID;
    this.#remotePort[port] = 0;
    this.shared.clearPending(port);
    this.#open--;
  }

  /** The other end of an interdomain port, or the allowed domain of an unbound one. */
  remoteDom(port: number): number {
    return this.#remoteDom[port];
  }

  remotePort(port: number): number {
    return this.#remotePort[port];
  }

  /** Port bound to `virq` on `vcpu`, or 0. */
  virqPort(virq: number, vcpu: number): number {
    return this.#virqPorts.get(vcpu * NR_VIRQS + virq) ?? 0;
  }

  /** The vCPU a port notifies. */
  notifyVcpu(port: number): number {
    return this.#vcpu[port];
  }

  setNotifyVcpu(port: number, vcpu: number): void {
    this.#vcpu[port] = vcpu;
  }

  /** `evtchn_status` of a valid port. */
  status(port: number): EvtchnStatus {
    const status = this.#state[port];
    const out: EvtchnStatus = { status, vcpu: this.#vcpu[port] };
    if (status === EVTCHNSTAT_unbound) out.remoteDom = this.#remoteDom[port];
    if (status === EVTCHNSTAT_interdomain) {
      out.dom = this.#remoteDom[port];
      out.port = this.#remotePort[port];
    }
    if (status === EVTCHNSTAT_virq) out.virq = this.#virq[port];
    return out;
  }

  /**
   * Xen's 2-level `set_pending`: sets the pending bit; if it was clear and
   * the port is unmasked, marks the notify vCPU's upcall pending and returns
   * true (the caller then delivers an upcall).
   */
  setPending(port: number): boolean {
    if (this.shared.testAndSetPending(port)) return false;
    if (this.shared.testMask(port)) return false;
    this.shared.markVcpuPending(this.#vcpu[port], port);
    return true;
  }

  /** EVTCHNOP_unmask: clears the mask; true if an upcall is now due (it was pending). */
  unmask(port: number): boolean {
    this.shared.clearMask(port);
    if (!this.shared.testPending(port)) return false;
    this.shared.markVcpuPending(this.#vcpu[port], port);
    return true;
  }

  /** The guest setting `evtchn_mask[port]` in shared_info. */
  mask(port: number): void {
    this.shared.setMask(port);
  }

  /** Open ports, ascending. */
  openPorts(): number[] {
    const out: number[] = [];
    for (let p = 1; p <= this.maxPort; p++) if (this.#state[p] !== EVTCHNSTAT_closed) out.push(p);
    return out;
  }

  #set(port: number, state: number): void {
    assert(this.isValid(port), `evtchn: port ${port} out of range`);
    if (this.#state[port] === EVTCHNSTAT_closed) this.#open++;
    this.#state[port] = state;
  }
}
