/**
 * @module
 * The toolstack service (what `xl` does, and what xl's per-domain monitor
 * process does while a domain lives): creation, lookup, list, pause,
 * unpause, clean shutdown and reboot, sysrq, destroy, and the reaction to
 * guest-initiated shutdowns through a single `@releaseDomain` watch
 * (lifecycle-and-migration.md §1.2: DOMAIN_SHUTDOWN once per shutdown,
 * with its reason, then the on_* action; DOMAIN_DEATH when it is gone).
 * Everything it knows it can re-read from xenstore and the hypervisor; the
 * configs it keeps are what xl keeps to re-create a domain on reboot.
 */
import { decodeDominf, type DomainInfo } from "../hv/domain_info.ts";
import { DOMAIN_LOOKUP_MAX, type DomainRef, lookupDomain } from "./lifecycle/domain_lookup.ts";
import { formatXlList } from "./lifecycle/xl_list.ts";
import { type PowerOp, powerStateOfDominf, transition } from "./lifecycle/power_state.ts";
import { NS_PER_S } from "../sim/clock.ts";
import {
  SHUTDOWN_suspend,
  XEN_DOMCTL_SENDTRIGGER_INIT,
  XEN_DOMCTL_SENDTRIGGER_NMI,
  XEN_DOMCTL_SENDTRIGGER_POWER,
  XEN_DOMCTL_SENDTRIGGER_RESET,
  XEN_DOMCTL_SENDTRIGGER_SLEEP,
} from "../hv/xen_abi.ts";
import { type CreatedDomain, createDomain, type CreateOptions } from "./create/create_domain.ts";
import { destroyDomain } from "./create/destroy_domain.ts";
import type { DomainOps } from "./create/domain_ops.ts";
import { check } from "./build/hypercall_error.ts";
import { sendControlRequest, sendSysrq } from "./control_request.ts";
import {
  suspendDomain,
  type SuspendOptions,
  type SuspendResult,
} from "./suspend/suspend_domain.ts";
import { resumeDomain } from "./suspend/resume_domain.ts";
import type { SaveSink } from "./save/save_stream_writer.ts";
import { domainConfigJson } from "./saverestore/config_json.ts";
import { saveDomain, type SaveDomainResult, type SaveProgress } from "./saverestore/save_domain.ts";
import {
  type RestoredDomain,
  restoreDomain,
  type RestoreProgress,
} from "./saverestore/restore_domain.ts";
import type { DomainConfig, ShutdownAction } from "./domain_config.ts";
import type { ToolstackContext } from "./toolstack_context.ts";

/** SHUTDOWN_* names by code (§0.2). */
export const SHUTDOWN_REASONS = [
  "poweroff",
  "reboot",
  "suspend",
  "crash",
  "watchdog",
  "soft_reset",
] as const;

/** xl sleeps this long before re-creating a domain that asked to reboot (§1.2). */
export const RESTART_DELAY_NS = 2 * NS_PER_S;

/** A domain the toolstack created and still tracks. */
export interface ManagedDomain {
  readonly domid: number;
  readonly uuid: string;
  readonly config: DomainConfig;
  /** How it was made: built from its config, or restored from an image. */
  readonly created?: CreatedDomain;
  readonly restored?: RestoredDomain;
  /** Reason of the shutdown already handled (reported once per shutdown). */
  handledShutdown?: number;
}

/** What the toolstack tells its user (CLI, scenario timeline). */
export type ToolstackEvent =
  | { kind: "created"; domid: number; name: string }
  | {
    kind: "shutdown";
    domid: number;
    name: string;
    reason: string;
    action: ShutdownAction | "wait";
  }
  | { kind: "death"; domid: number; name: string }
  | { kind: "restarted"; oldDomid: number; domid: number; name: string }
  | { kind: "saved"; domid: number; name: string; then: "destroyed" | "resumed" | "paused" }
  | { kind: "restored"; domid: number; name: string };

/** Hooks for the host: start the guest's kernel before the domain first runs. */
export interface ToolstackHooks {
  built?(domid: number, config: DomainConfig, created: CreatedDomain): void | Promise<void>;
  /** A restored domain's devices are attached: start its kernel (resume path) and device model. */
  restored?(restored: RestoredDomain): void | Promise<void>;
  /** HVM: the device model's saved state (EMULATOR_CONTEXT) of `domid`. */
  deviceModelState?(domid: number): Uint8Array | undefined;
  /** HVM: QMP `cont` to `domid`'s device model before a resume (§4.1 step 1). */
  deviceModelCont?(domid: number): void;
  /** HVM: QMP `system_wakeup` to `domid`'s device model; the answer's ret, or undefined: none. */
  deviceModelWakeup?(domid: number): number | undefined;
  event?(e: ToolstackEvent): void;
}

export class Toolstack {
  readonly tc: ToolstackContext;
  readonly #ops: DomainOps;
  readonly #hooks: ToolstackHooks;
  readonly #domains = new Map<number, ManagedDomain>();
  #monitor: Promise<void> | undefined;
  #stopMonitor: (() => Promise<void>) | undefined;

  constructor(tc: ToolstackContext, ops: DomainOps, hooks: ToolstackHooks = {}) {
    this.tc = tc;
    this.#ops = ops;
    this.#hooks = hooks;
  }

  /** Starts watching `@releaseDomain` (call once). */
  async start(): Promise<void> {
    const w = await this.tc.xs.watch("@releaseDomain", "xenlab-toolstack");
    this.#stopMonitor = () => w.close();
    this.#monitor = (async () => {
      for await (const _ of w) await this.#check();
    })();
  }

  async stop(): Promise<void> {
    await this.#stopMonitor?.();
    await this.#monitor;
  }

  domains(): ManagedDomain[] {
    return [...this.#domains.values()];
  }

  /** `xl create [-p]`. */
  async create(config: DomainConfig, opts: CreateOptions = {}): Promise<ManagedDomain> {
    const created = await createDomain(this.tc, this.#ops, config, {
      ...opts,
      beforeUnpause: async (c) => {
        this.#domains.set(c.domid, { domid: c.domid, uuid: c.uuid, config, created: c });
        await this.#hooks.built?.(c.domid, config, c);
      },
    });
    const d = this.#domains.get(created.domid)!;
    this.#emit({ kind: "created", domid: d.domid, name: config.name });
    return d;
  }

  /** Every domain the hypervisor has, with its name from xenstore and its handle. */
  async domainRefs(): Promise<(DomainRef & { info: DomainInfo })[]> {
    const r = this.tc.hypercall({
      hc: "sysctl",
      op: "getdomaininfolist",
      firstDomain: 0,
      maxDomains: DOMAIN_LOOKUP_MAX,
    });
    const out: (DomainRef & { info: DomainInfo })[] = [];
    for (const info of r.infos ?? []) {
      const name = await this.tc.xs.readString(`/local/domain/${info.domain}/name`).catch(() => "");
      out.push({ domid: info.domain, name, uuid: info.handle, info });
    }
    return out;
  }

  /** Resolves a user's domain argument as xend did: name, then domid, then UUID (§2.6). */
  async lookup(arg: string): Promise<number> {
    return lookupDomain(arg, await this.domainRefs(), "xend").domid;
  }

  /** `xl list`: the columns and formats of xl's `list_domains`. */
  async list(): Promise<string> {
    const refs = await this.domainRefs();
    return formatXlList(
      refs.map((r) => ({ name: r.domid === 0 ? r.name || "Domain-0" : r.name, info: r.info })),
    );
  }

  /**
   * Checks `op` against the domain's Xen API power state (derived from
   * getdomaininfo, §1.3): an illegal request throws a PowerStateError naming
   * the state and the operations allowed from it.
   */
  async checkPower(domid: number, op: PowerOp): Promise<void> {
    const info = this.tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
    if (!info) throw new Error(`no domain ${domid}`);
    const name = await this.tc.xs.readString(`/local/domain/${domid}/name`).catch(() =>
      `domain ${domid}`
    );
    transition(powerStateOfDominf(info.flags), { op }, name);
  }

  async pause(domid: number): Promise<void> {
    await this.checkPower(domid, "pause");
    check(this.tc.hypercall({ hc: "domctl", op: "pausedomain", domid }), "pause", domid);
  }

  async unpause(domid: number): Promise<void> {
    await this.checkPower(domid, "unpause");
    check(this.tc.hypercall({ hc: "domctl", op: "unpausedomain", domid }), "unpause", domid);
  }

  /** `xl shutdown|reboot [-w] [-F]`: ask, wait for the ack; `-w`: then for the shutdown. */
  async shutdown(
    domid: number,
    opts: { reboot?: boolean; wait?: boolean; force?: boolean } = {},
  ): Promise<void> {
    const request = opts.reboot ? "reboot" : "poweroff";
    await this.checkPower(domid, opts.reboot ? "clean_reboot" : "clean_shutdown");
    const waiter = opts.wait ? this.#waitShutdownOrDeath(domid) : undefined;
    await sendControlRequest(this.tc, domid, request, { force: opts.force });
    await waiter?.promise;
  }

  /** `xl suspend`: libxl's suspend (§3), the domain stays shut down (suspend). */
  async suspend(domid: number, opts: SuspendOptions = {}): Promise<SuspendResult> {
    await this.checkPower(domid, "suspend");
    return await suspendDomain(this.tc, domid, opts);
  }

  /** `xl resume`: fast (cancelled suspend) unless `fast` is false (§4.1). */
  async resume(domid: number, opts: { fast?: boolean } = {}): Promise<void> {
    await this.checkPower(domid, "resume");
    await this.#resume(domid, opts.fast ?? true);
  }

  /** `libxl_domain_resume`: QMP `cont` to the device model first (§4.1 step 1). */
  async #resume(domid: number, fast: boolean): Promise<void> {
    this.#hooks.deviceModelCont?.(domid);
    await resumeDomain(this.tc, domid, { fast });
  }

  /**
   * `xl save [-c] [-p] DOM`: the image onto `sink` (§5.2), then — like
   * xl's `save_domain` — `-p`: pause and fast-resume (the guest sees a
   * cancelled suspend, stays paused); `-c`: fast-resume (it runs on);
   * neither: destroy. If saving fails once the guest is suspended, it is
   * fast-resumed ("Failed to save domain, resuming domain") and the error
   * is rethrown.
   */
  async save(
    domid: number,
    sink: SaveSink,
    opts: {
      checkpoint?: boolean;
      paused?: boolean;
      progress?: (p: SaveProgress) => void;
      suspend?: SuspendOptions;
    } = {},
  ): Promise<SaveDomainResult> {
    await this.checkPower(domid, "suspend");
    const d = this.#domains.get(domid);
    if (d === undefined) {
      throw new Error(`domain ${domid} has no stored config (not created by this toolstack)`);
    }
    let result: SaveDomainResult;
    try {
      result = await saveDomain(this.tc, domid, sink, {
        configJson: this.savedConfigJson(domid)!,
        suspend: opts.suspend,
        progress: opts.progress,
        deviceModelState: this.#hooks.deviceModelState
          ? () => this.#hooks.deviceModelState!(domid) ?? new Uint8Array(0)
          : undefined,
      });
    } catch (e) {
      const info = this.tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
      const f = info ? decodeDominf(info.flags) : undefined;
      if (f?.shutdown && f.shutdownCode === SHUTDOWN_suspend) {
        this.tc.trace.emit({
          src: "toolstack",
          dom: domid,
          op: "save",
          failed: String(e),
          then: "resume",
        });
        await this.#resume(domid, true);
      }
      throw e;
    }
    let then: "destroyed" | "resumed" | "paused";
    if (opts.paused || opts.checkpoint) {
      if (opts.paused) {
        check(this.tc.hypercall({ hc: "domctl", op: "pausedomain", domid }), "pause", domid);
      }
      await this.#resume(domid, true);
      then = opts.paused ? "paused" : "resumed";
    } else {
      await this.destroy(domid);
      then = "destroyed";
    }
    this.#emit({ kind: "saved", domid, name: d.config.name, then });
    return result;
  }

  /**
   * The config `xl save` stores for `domid` (`libxl_retrieve_domain_configuration`:
   * with the domain's own UUID, so a restored domain keeps it); undefined
   * for a domain this toolstack did not make.
   */
  savedConfigJson(domid: number): string | undefined {
    const d = this.#domains.get(domid);
    return d === undefined ? undefined : domainConfigJson({ ...d.config, uuid: d.uuid });
  }

  /**
   * `xl restore [-p] FILE`: a new domain from an image (§5.5); unpaused
   * unless `paused`. A bad image leaves nothing behind (RestoreError).
   */
  async restore(
    chunks: AsyncIterable<Uint8Array>,
    opts: { paused?: boolean; progress?: (p: RestoreProgress) => void; name?: string } = {},
  ): Promise<ManagedDomain> {
    const r = await restoreDomain(this.tc, this.#ops, chunks, {
      progress: opts.progress,
      name: opts.name,
      beforeUnpause: async (r) => {
        this.#domains.set(r.domid, { domid: r.domid, uuid: r.uuid, config: r.config, restored: r });
        await this.#hooks.restored?.(r);
      },
    });
    if (!opts.paused) {
      check(
        this.tc.hypercall({ hc: "domctl", op: "unpausedomain", domid: r.domid }),
        "unpause",
        r.domid,
      );
    }
    this.#emit({ kind: "restored", domid: r.domid, name: r.config.name });
    return this.#domains.get(r.domid)!;
  }

  /**
   * `xl trigger DOM nmi|reset|init|power|sleep|s3resume [VCPU]`
   * (`libxl_send_trigger`): `s3resume` is QMP `system_wakeup` to the device
   * model (§3.9); the others are XEN_DOMCTL_sendtrigger (RESET/INIT: -ENOSYS
   * on x86, as on Xen).
   */
  trigger(domid: number, name: string, vcpu = 0): void {
    const codes: Record<string, number> = {
      nmi: XEN_DOMCTL_SENDTRIGGER_NMI,
      reset: XEN_DOMCTL_SENDTRIGGER_RESET,
      init: XEN_DOMCTL_SENDTRIGGER_INIT,
      power: XEN_DOMCTL_SENDTRIGGER_POWER,
      sleep: XEN_DOMCTL_SENDTRIGGER_SLEEP,
    };
    if (name === "s3resume") {
      const ret = this.#hooks.deviceModelWakeup?.(domid);
      if (ret === undefined) throw new Error(`domain ${domid} has no device model to wake`);
      if (ret < 0) throw new Error(`s3resume of domain ${domid}: guest is not in suspended state`);
      return;
    }
    const trigger = codes[name];
    if (trigger === undefined) {
      throw new Error(`unknown trigger "${name}": nmi, reset, init, power, sleep or s3resume`);
    }
    check(
      this.tc.hypercall({ hc: "domctl", op: "sendtrigger", domid, trigger, vcpu }),
      `sendtrigger ${name}`,
      domid,
    );
  }

  sysrq(domid: number, key: string): Promise<void> {
    return sendSysrq(this.tc, domid, key);
  }

  /** `xl destroy`. */
  async destroy(domid: number): Promise<void> {
    if (domid === 0) throw new Error("refusing to destroy domain 0 (xl destroy 0 needs -f)");
    await destroyDomain(this.tc, this.#ops, domid, { force: true });
  }

  /** Resolves once `domid` is shut down or gone (a `@releaseDomain` watch of its own). */
  #waitShutdownOrDeath(domid: number): { promise: Promise<void> } {
    const promise = (async () => {
      const w = await this.tc.xs.watch("@releaseDomain", `xl-wait-${domid}`);
      try {
        for await (const _ of w) {
          const info = this.tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid }).info;
          if (!info) return;
          const f = decodeDominf(info.flags);
          if (f.dying || f.shutdown) return;
        }
      } finally {
        await w.close();
      }
    })();
    return { promise };
  }

  /** A `@releaseDomain` round: report shutdowns once, deaths, apply on_* actions. */
  async #check(): Promise<void> {
    for (const d of [...this.#domains.values()]) {
      const info = this.tc.hypercall({ hc: "domctl", op: "getdomaininfo", domid: d.domid }).info;
      const f = info ? decodeDominf(info.flags) : undefined;
      if (!f || f.dying) {
        this.#domains.delete(d.domid);
        this.#emit({ kind: "death", domid: d.domid, name: d.config.name });
        continue;
      }
      if (!f.shutdown) {
        d.handledShutdown = undefined;
        continue;
      }
      const reason = f.shutdownCode;
      if (d.handledShutdown === reason) continue;
      d.handledShutdown = reason;
      await this.#onShutdown(d, reason);
    }
  }

  async #onShutdown(d: ManagedDomain, reason: number): Promise<void> {
    const name = SHUTDOWN_REASONS[reason] ?? `reason ${reason}`;
    if (reason === SHUTDOWN_suspend) {
      // "Domain has suspended": xl keeps waiting (DOMAIN_RESTART_SUSPENDED).
      this.#emit({
        kind: "shutdown",
        domid: d.domid,
        name: d.config.name,
        reason: name,
        action: "wait",
      });
      return;
    }
    const c = d.config;
    const action =
      [c.onPoweroff, c.onReboot, undefined, c.onCrash, c.onWatchdog, c.onSoftReset][reason] ??
        "destroy";
    this.#emit({ kind: "shutdown", domid: d.domid, name: c.name, reason: name, action });
    switch (action) {
      case "preserve":
        return;
      case "destroy":
      case "coredump-destroy":
        await this.destroy(d.domid);
        return;
      case "restart":
      case "coredump-restart":
      case "rename-restart":
      case "soft-reset": {
        // Destroy, sleep 2 s, re-create from the saved config (never paused).
        await this.destroy(d.domid);
        this.#domains.delete(d.domid);
        await this.tc.sleep(RESTART_DELAY_NS);
        const again = await this.create(c);
        this.#emit({ kind: "restarted", oldDomid: d.domid, domid: again.domid, name: c.name });
        return;
      }
    }
  }

  #emit(e: ToolstackEvent): void {
    this.tc.trace.emit({
      src: "toolstack",
      dom: "domid" in e ? e.domid : undefined,
      event: e.kind,
      ...e,
    });
    this.#hooks.event?.(e);
  }
}
