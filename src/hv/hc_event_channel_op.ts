/**
 * @module
 * `event_channel_op` (§0.4, `xen/common/event_channel.c`): allocating,
 * binding, signalling and closing ports, with Xen's errno for each refusal.
 *
 * bind_interdomain marks the new *local* port pending at once (Xen
 * "conservatively" notifies because events sent to the unbound remote port
 * may have been lost) — the spurious first notification libxl drains after
 * binding a suspend event channel (§3.1). VIRQ_DOM_EXC and the other global
 * VIRQs bind on vCPU 0 only.
 */
import { isU16, isU32 } from "./args.ts";
import type { Domain } from "./domain.ts";
import { Errno } from "./errno.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, EventChannelOpCall } from "./hypercall.ts";
import {
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  NR_VIRQS,
  virqIsGlobal,
} from "./xen_abi.ts";

/** Handles one event_channel_op from `caller`. */
export function eventChannelOp(
  core: HvCore,
  caller: Domain,
  call: EventChannelOpCall,
): AnyHypercallResult {
  const ev = caller.evtchn;
  switch (call.op) {
    case "alloc_unbound": {
      if (!isU16(call.dom) || !isU16(call.remoteDom)) return { ret: -Errno.EINVAL };
      const d = core.lookup(core.resolve(caller, call.dom));
      if (d === undefined) return { ret: -Errno.ESRCH };
      if (d !== caller && !caller.privileged) return { ret: -Errno.EPERM };
      const port = d.evtchn.allocPort();
      if (port < 0) return { ret: port };
      d.evtchn.setUnbound(port, core.resolve(caller, call.remoteDom));
      return { ret: 0, port };
    }
    case "bind_interdomain":
      return bindInterdomain(core, caller, call.remoteDom, call.remotePort);
    case "bind_virq": {
      const { virq, vcpu } = call;
      if (!isU32(virq) || virq >= NR_VIRQS) return { ret: -Errno.EINVAL };
      if (virqIsGlobal(virq) && vcpu !== 0) return { ret: -Errno.EINVAL };
      if (!isU32(vcpu) || caller.vcpus[vcpu] === undefined) return { ret: -Errno.ENOENT };
      if (ev.virqPort(virq, vcpu) !== 0) return { ret: -Errno.EEXIST };
      const port = ev.allocPort();
      if (port < 0) return { ret: port };
      ev.setVirq(port, virq, vcpu);
      return { ret: 0, port };
    }
    case "bind_ipi": {
      if (!isU32(call.vcpu) || caller.vcpus[call.vcpu] === undefined) {
        return { ret: -Errno.ENOENT };
      }
      const port = ev.allocPort();
      if (port < 0) return { ret: port };
      ev.setIpi(port, call.vcpu);
      return { ret: 0, port };
    }
    case "bind_vcpu": {
      if (!isU32(call.vcpu) || caller.vcpus[call.vcpu] === undefined) {
        return { ret: -Errno.ENOENT };
      }
      if (!ev.isValid(call.port)) return { ret: -Errno.EINVAL };
      const st = ev.stateOf(call.port);
      const ok = st === EVTCHNSTAT_unbound || st === EVTCHNSTAT_interdomain ||
        (st === EVTCHNSTAT_virq && virqIsGlobal(ev.status(call.port).virq!));
      if (!ok) return { ret: -Errno.EINVAL };
      ev.setNotifyVcpu(call.port, call.vcpu);
      return { ret: 0 };
    }
    case "close":
      return { ret: core.close(caller, call.port) };
    case "send":
      return { ret: core.send(caller, call.port) };
    case "status": {
      if (!isU16(call.dom)) return { ret: -Errno.EINVAL };
      const d = core.lookup(core.resolve(caller, call.dom));
      if (d === undefined) return { ret: -Errno.ESRCH };
      if (d !== caller && !caller.privileged) return { ret: -Errno.EPERM };
      if (!d.evtchn.isValid(call.port)) return { ret: -Errno.EINVAL };
      return { ret: 0, status: d.evtchn.status(call.port) };
    }
    case "unmask": {
      if (!ev.isValid(call.port)) return { ret: -Errno.EINVAL };
      if (ev.unmask(call.port)) {
        const v = caller.vcpus[ev.notifyVcpu(call.port)];
        if (v !== undefined) core.wake(caller, v);
        core.touch(caller);
      }
      return { ret: 0 };
    }
    case "mask":
      if (!ev.isValid(call.port)) return { ret: -Errno.EINVAL };
      ev.mask(call.port);
      return { ret: 0 };
    case "reset": {
      if (!isU16(call.dom)) return { ret: -Errno.EINVAL };
      const d = core.lookup(core.resolve(caller, call.dom));
      if (d === undefined) return { ret: -Errno.ESRCH };
      if (d !== caller && !caller.privileged) return { ret: -Errno.EPERM };
      for (const p of d.evtchn.openPorts()) core.close(d, p);
      return { ret: 0 };
    }
    default:
      return { ret: -Errno.ENOSYS };
  }
}

function bindInterdomain(
  core: HvCore,
  ld: Domain,
  remoteDom: number,
  remotePort: number,
): AnyHypercallResult {
  if (!isU16(remoteDom)) return { ret: -Errno.EINVAL };
  const rd = core.lookup(core.resolve(ld, remoteDom));
  if (rd === undefined) return { ret: -Errno.ESRCH };
  const lport = ld.evtchn.allocPort();
  if (lport < 0) return { ret: lport };
  const r = rd.evtchn;
  if (
    !r.isValid(remotePort) || r.stateOf(remotePort) !== EVTCHNSTAT_unbound ||
    r.remoteDom(remotePort) !== ld.id
  ) return { ret: -Errno.EINVAL };
  ld.evtchn.setInterdomain(lport, rd.id, remotePort);
  r.setInterdomain(remotePort, ld.id, lport);
  core.setPending(ld, lport);
  return { ret: 0, localPort: lport };
}
