/**
 * @module
 * `domctl` (§0.3, `xen/common/domctl.c`, `xen/arch/x86/domctl.c`): the
 * toolstack's control of domains. Privileged: a guest gets -EPERM, except
 * that a xenstore domain (CDF_xs_domain) may call getdomaininfo. The
 * lifecycle ops go through the pure machine of `domain_lifecycle.ts`.
 */
import { isCount, isU32 } from "./args.ts";
import type { Domain } from "./domain.ts";
import { createdLifecycle } from "./domain_lifecycle.ts";
import { Errno } from "./errno.ts";
import { decodeHvmContext, encodeHvmContext } from "./hvm_context.ts";
import type { HvCore } from "./hv_core.ts";
import type { AnyHypercallResult, CreateDomainConfig, DomctlCall } from "./hypercall.ts";
import { copyVcpuContext, parseVcpuContext, Vcpu } from "./vcpu.ts";
import {
  EVTCHN_2L_NR_CHANNELS,
  EVTCHN_PORT_MAX_DEFAULT,
  GRANT_FRAMES_MAX_DEFAULT,
  MAPTRACK_FRAMES_MAX_DEFAULT,
  NR_VIRQS,
  VCPUS_MAX,
  VGCF_online,
  virqIsGlobal,
  XEN_DOMCTL_SENDTRIGGER_INIT,
  XEN_DOMCTL_SENDTRIGGER_NMI,
  XEN_DOMCTL_SENDTRIGGER_POWER,
  XEN_DOMCTL_SENDTRIGGER_RESET,
  XEN_DOMCTL_SENDTRIGGER_SLEEP,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  XEN_DOMCTL_SHADOW_OP_OFF,
  XEN_DOMCTL_SHADOW_OP_PEEK,
} from "./xen_abi.ts";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Handles one domctl from `caller`. */
export function domctl(core: HvCore, caller: Domain, call: DomctlCall): AnyHypercallResult {
  const allowed = caller.privileged || (call.op === "getdomaininfo" && caller.xsDomain);
  if (!allowed) return { ret: -Errno.EPERM };
  if (call.op === "createdomain") return createDomain(core, call.domid, call.config);
  const d = core.lookup(core.resolve(caller, call.domid));
  if (d === undefined) return { ret: -Errno.ESRCH };
  const self = d === caller;
  switch (call.op) {
    case "destroydomain":
      return { ret: core.lifecycle(d, { type: "kill", self }) };
    case "pausedomain":
      return { ret: core.lifecycle(d, { type: "pause_by_controller", self }) };
    case "unpausedomain":
      return { ret: core.lifecycle(d, { type: "unpause_by_controller" }) };
    case "getdomaininfo":
      return { ret: 0, info: core.domainInfo(d) };
    case "resumedomain":
      return { ret: core.lifecycle(d, { type: "resume", self }) };
    case "soft_reset":
      return { ret: core.lifecycle(d, { type: "soft_reset", self }) };
    case "setvcpucontext": {
      const v = d.vcpus[call.vcpu];
      if (self || v === undefined) return { ret: -Errno.EINVAL };
      if (call.ctx === null) v.reset();
      else {
        const ctx = parseVcpuContext(call.ctx);
        if (ctx === undefined) return { ret: -Errno.EINVAL };
        v.load(ctx);
      }
      core.touch(d);
      return { ret: 0 };
    }
    case "getvcpucontext": {
      const v = d.vcpus[call.vcpu];
      if (v === undefined) return { ret: -Errno.EINVAL };
      if (!v.initialised) return { ret: -Errno.ENODATA };
      return { ret: 0, ctx: copyVcpuContext(v.ctx) };
    }
    case "max_vcpus": {
      if (!Number.isInteger(call.max) || call.max > VCPUS_MAX) return { ret: -Errno.EINVAL };
      const ret = core.lifecycle(d, { type: "add_vcpus", count: call.max });
      while (ret === 0 && d.vcpus.length < call.max) {
        d.vcpus.push(new Vcpu(d.vcpus.length, core.clock.nowNs()));
      }
      return { ret };
    }
    case "max_mem":
      if (!isCount(call.maxMemKb)) return { ret: -Errno.EINVAL };
      d.memory.maxPages = Math.floor(call.maxMemKb / 4);
      return { ret: 0 };
    case "shadow_op":
      return shadowOp(d, self, call);
    case "subscribe":
      if (!isU32(call.port)) return { ret: -Errno.EINVAL };
      return { ret: core.lifecycle(d, { type: "subscribe", port: call.port }) };
    case "gethvmcontext": {
      if (!d.hvm) return { ret: -Errno.EINVAL };
      const cpus = d.vcpus.filter((v) => v.initialised).map((v) => ({
        id: v.id,
        online: !v.down,
        ctx: copyVcpuContext(v.ctx),
      }));
      return { ret: 0, blob: encodeHvmContext({ cpus, devices: structuredClone(d.hvmDevices) }) };
    }
    case "sethvmcontext": {
      if (!d.hvm) return { ret: -Errno.EINVAL };
      const c = decodeHvmContext(call.blob);
      if (c === undefined || c.cpus.some((r) => d.vcpus[r.id] === undefined)) {
        return { ret: -Errno.EINVAL };
      }
      for (const r of c.cpus) {
        const ctx = r.ctx;
        ctx.flags = r.online ? ctx.flags | VGCF_online : ctx.flags & ~VGCF_online;
        d.vcpus[r.id].load(ctx);
      }
      d.hvmDevices = c.devices;
      core.touch(d);
      return { ret: 0 };
    }
    case "sendtrigger":
      return { ret: sendTrigger(core, d, call.trigger, call.vcpu) };
    case "set_virq_handler":
      if (!isU32(call.virq) || call.virq >= NR_VIRQS || !virqIsGlobal(call.virq)) {
        return { ret: -Errno.EINVAL };
      }
      core.virqHandlers.set(call.virq, d.id);
      return { ret: 0 };
    default:
      return { ret: -Errno.ENOSYS };
  }
}

function createDomain(
  core: HvCore,
  domid: number | undefined,
  config: CreateDomainConfig,
): AnyHypercallResult {
  if (typeof config !== "object" || config === null) return { ret: -Errno.EINVAL };
  const c = config;
  const maxEvtchnPort = c.maxEvtchnPort ?? EVTCHN_PORT_MAX_DEFAULT;
  const maxGrantFrames = c.maxGrantFrames ?? GRANT_FRAMES_MAX_DEFAULT;
  const maxMaptrackFrames = c.maxMaptrackFrames ?? MAPTRACK_FRAMES_MAX_DEFAULT;
  if (
    !Number.isInteger(c.maxVcpus) || c.maxVcpus < 1 || c.maxVcpus > VCPUS_MAX ||
    !Number.isInteger(maxEvtchnPort) || maxEvtchnPort < 1 ||
    maxEvtchnPort >= EVTCHN_2L_NR_CHANNELS ||
    !Number.isInteger(maxGrantFrames) || maxGrantFrames < 1 ||
    maxGrantFrames > GRANT_FRAMES_MAX_DEFAULT ||
    !Number.isInteger(maxMaptrackFrames) || maxMaptrackFrames < 0 ||
    maxMaptrackFrames > MAPTRACK_FRAMES_MAX_DEFAULT ||
    (c.handle !== undefined && !(typeof c.handle === "string" && UUID_RE.test(c.handle))) ||
    (domid !== undefined && !isU32(domid))
  ) return { ret: -Errno.EINVAL };
  if (core.domains.size >= core.domainsMax) return { ret: -Errno.ENOMEM };
  // shared_info and the first grant frame.
  if (core.mm.framesMax - core.mm.framesUsed < 2) return { ret: -Errno.ENOMEM };
  const id = core.allocDomid(domid);
  if (id < 0) return { ret: id };
  const d = core.addDomain({
    domid: id,
    handle: c.handle ?? core.randomUuid(),
    hvm: c.hvm === true,
    hap: c.hap === true,
    xsDomain: c.xsDomain === true,
    privileged: c.privileged === true,
    maxEvtchnPort,
    maxGrantFrames,
    maxMaptrackFrames,
  }, createdLifecycle(c.maxVcpus));
  core.emit({ src: "hv", dom: d.id, ev: "created", handle: d.handle, hvm: d.hvm });
  return { ret: 0, domid: id };
}

function shadowOp(
  d: Domain,
  self: boolean,
  call: Extract<DomctlCall, { op: "shadow_op" }>,
): AnyHypercallResult {
  if (self) return { ret: -Errno.EINVAL };
  const mem = d.memory;
  switch (call.shadowOp) {
    case XEN_DOMCTL_SHADOW_OP_OFF:
      return { ret: mem.disableLogDirty() };
    case XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY:
      return { ret: mem.enableLogDirty() };
    case XEN_DOMCTL_SHADOW_OP_CLEAN:
    case XEN_DOMCTL_SHADOW_OP_PEEK: {
      const bitmap = mem.dirtyBitmap;
      if (bitmap === null) return { ret: -Errno.EINVAL };
      const clean = call.shadowOp === XEN_DOMCTL_SHADOW_OP_CLEAN;
      const size = Math.max(mem.p2mSize, mem.maxPfn + 1);
      const pages = call.pages === undefined ? size : call.pages;
      if (!isCount(pages)) return { ret: -Errno.EINVAL };
      let dirty = bitmap.toArray(clean);
      if (pages < size) {
        // Only pfns below `pages` are reported (and cleaned); the rest stay.
        const beyond = dirty.filter((p) => p >= pages);
        if (clean) { for (const p of beyond) bitmap.set(p); }
        dirty = dirty.filter((p) => p < pages);
      }
      return { ret: 0, pages: Math.min(pages, size), dirtyCount: dirty.length, dirty };
    }
    default:
      return { ret: -Errno.EINVAL };
  }
}

function sendTrigger(core: HvCore, d: Domain, trigger: number, vcpu: number): number {
  if (!Number.isInteger(vcpu) || vcpu < 0 || vcpu >= d.vcpus.length) return -Errno.EINVAL;
  switch (trigger) {
    case XEN_DOMCTL_SENDTRIGGER_NMI:
      break;
    case XEN_DOMCTL_SENDTRIGGER_POWER:
    case XEN_DOMCTL_SENDTRIGGER_SLEEP:
      if (!d.hvm) return -Errno.EINVAL;
      break;
    case XEN_DOMCTL_SENDTRIGGER_RESET:
    case XEN_DOMCTL_SENDTRIGGER_INIT:
    default:
      return -Errno.ENOSYS;
  }
  d.pendingTriggers.add(`${trigger}:${vcpu}`);
  core.touch(d);
  return 0;
}
