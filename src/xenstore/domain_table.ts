/**
 * @module
 * The domain operations of the C daemon 4.17 (xenstore-protocol.md §6):
 * INTRODUCE, RELEASE, RESUME, IS_DOMAIN_INTRODUCED, SET_TARGET, the
 * special-watch permission lists (§4.5), and what happens when the
 * hypervisor reports a domain shut down or dead (`VIRQ_DOM_EXC`, §6.2,
 * §6.6): its connections go, every node it owns is removed (XSA-419), and
 * `@releaseDomain` fires once per check round.
 */
import { atoi, terminatedStrings } from "./wire/args.ts";
import { XsError } from "./wire/errno.ts";
import type { Connection } from "./connection.ts";
import { type DomainInfoSource, type DomainRecord, DOMID_SELF } from "./domains.ts";
import type { Engine, EngineHooks } from "./engine.ts";
import * as ops from "./store/ops.ts";
import { baseName, parentOf } from "./store/path.ts";
import {
  DEFAULT_PERMS,
  permFor,
  type PermList,
  XS_PERM_OWNER,
  XS_PERM_WRITE,
} from "./store/perms.ts";

export const INTRODUCE_DOMAIN = "@introduceDomain";
export const RELEASE_DOMAIN = "@releaseDomain";

/** A source that can also be told a domain was introduced (stand-alone mode). */
interface IntroducibleSource extends DomainInfoSource {
  create?(domid: number): void;
}

export class DomainTable {
  readonly #engine: Engine;
  readonly #source: IntroducibleSource;
  readonly #hooks: EngineHooks;
  readonly #records = new Map<number, DomainRecord>();
  readonly #special = new Map<string, PermList>([
    [INTRODUCE_DOMAIN, DEFAULT_PERMS],
    [RELEASE_DOMAIN, DEFAULT_PERMS],
  ]);

  constructor(engine: Engine, source: IntroducibleSource, hooks: EngineHooks) {
    this.#engine = engine;
    this.#source = source;
    this.#hooks = hooks;
    // xenstored introduces the master domain itself at start-up (§6.8).
    this.#records.set(0, {
      domid: 0,
      introduced: true,
      shutdownReported: false,
      ignored: false,
      zombie: false,
      port: 1,
      mfn: 0,
    });
  }

  get(domid: number): DomainRecord | undefined {
    return this.#records.get(domid);
  }

  records(): IterableIterator<DomainRecord> {
    return this.#records.values();
  }

  /** `find_or_alloc_existing_domain`: learn of a domain the hypervisor has. */
  adopt(domid: number): boolean {
    if (this.#records.has(domid)) return true;
    if (!this.#source.info(domid)) return false;
    this.#add(domid);
    return true;
  }

  #add(domid: number): DomainRecord {
    const r: DomainRecord = {
      domid,
      introduced: false,
      shutdownReported: false,
      ignored: false,
      zombie: false,
      port: 0,
      mfn: 0,
    };
    this.#records.set(domid, r);
    return r;
  }

  /** INTRODUCE `<domid>\0<gfn>\0<evtchn>\0` (§6.1). */
  introduceRequest(payload: Uint8Array): void {
    const args = terminatedStrings(payload);
    if (args.length < 3) throw new XsError("EINVAL", "INTRODUCE takes domid, gfn and evtchn");
    const domid = atoi(args[0]) >>> 0;
    // An unsigned port: only 0 (or a non-number) is refused; "-1" passes.
    const port = atoi(args[2]) >>> 0;
    if (port === 0) throw new XsError("EINVAL", `bad event channel ${args[2]}`);
    this.introduce(domid, atoi(args[1]) >>> 0, port);
  }

  /** Introduces (or re-introduces) a domain and resets its connections. */
  introduce(domid: number, mfn: number, port: number): void {
    if (!this.#source.info(domid)) {
      if (!this.#source.create) throw new XsError("EINVAL", `domain ${domid} does not exist`);
      this.#source.create(domid);
    }
    const r = this.#records.get(domid) ?? this.#add(domid);
    r.port = port;
    r.mfn = mfn;
    if (!r.introduced) {
      r.introduced = true;
      this.#hooks.introduced?.(domid);
      if (domid !== 0) this.#engine.fireSpecial(INTRODUCE_DOMAIN);
    }
    for (const c of this.#guestConnections(domid)) this.#engine.resetConnection(c);
  }

  #guestConnections(domid: number): Connection[] {
    return [...this.#engine.connections()].filter((c) => c.domid === domid && c.kind !== "socket");
  }

  /** `onearg_domain` + `find_connected_domain` of cxenstored. */
  #connected(arg: string, allowZero: boolean): DomainRecord {
    const domid = atoi(arg) >>> 0;
    if (!allowZero && domid === 0) throw new XsError("EINVAL", "domain 0 cannot be released");
    const r = this.#records.get(domid);
    if (!r) throw new XsError("ENOENT", `domain ${domid} is not known`);
    if (!r.introduced || r.zombie) throw new XsError("EINVAL", `domain ${domid} has no connection`);
    return r;
  }

  /** True while the domain's guest connections are to be served. */
  serves(domid: number): boolean {
    const r = this.#records.get(domid);
    return r !== undefined && r.introduced && !r.ignored && !r.zombie;
  }

  /** A guest connection broke the protocol: ignore the domain for good (§6.7). */
  ignore(domid: number): void {
    const r = this.#records.get(domid);
    if (!r || domid === 0) return;
    r.ignored = true;
    for (const c of this.#guestConnections(domid)) this.#engine.resetConnection(c);
  }

  /**
   * RELEASE `<domid>\0` (§6.2): the record, watches, transactions and owned
   * nodes go, and `@releaseDomain` fires; like a ring that is no longer
   * mapped, the guest's connections stay open but unanswered until the
   * domain is introduced again (observed on the real daemon).
   */
  release(arg: string): void {
    const r = this.#connected(arg, false);
    this.#destroy(r.domid, false);
    this.#engine.fireSpecial(RELEASE_DOMAIN);
  }

  /** RESUME `<domid>\0`: re-arm `@releaseDomain` for the next shutdown (§6.3). */
  resume(arg: string): void {
    this.#connected(arg, false).shutdownReported = false;
  }

  /** IS_DOMAIN_INTRODUCED (§6.4). */
  isIntroduced(arg: string): boolean {
    const domid = atoi(arg) >>> 0;
    if (domid === DOMID_SELF) return true;
    return this.#records.get(domid)?.introduced ?? false;
  }

  /** SET_TARGET `<dm-domid>\0<guest-domid>\0` (§3.7). */
  setTarget(payload: Uint8Array): void {
    const args = terminatedStrings(payload);
    if (args.length < 2) throw new XsError("EINVAL", "SET_TARGET takes two domids");
    const dm = this.#connected(args[0], true);
    const guest = this.#connected(args[1], true);
    dm.target = guest.domid;
  }

  specialPerms(name: string): PermList {
    return this.#special.get(name) ?? DEFAULT_PERMS;
  }

  /** SET_PERMS on `@introduceDomain` / `@releaseDomain` (§4.5). */
  setSpecialPerms(conn: Connection, name: string, perms: PermList): void {
    const current = this.#special.get(name);
    if (!current) throw new XsError("ENOENT", `${name} is not a special node`);
    const mine = permFor(this.#engine.accessor(conn), current);
    const need = XS_PERM_WRITE | XS_PERM_OWNER;
    if ((mine & need) !== need) throw new XsError("EACCES", name);
    this.#special.set(name, Object.freeze([...perms]));
  }

  /**
   * `VIRQ_DOM_EXC`: asks the hypervisor about every known domain. Dead ones
   * are destroyed, except a target a live device model still holds (it
   * lingers as a zombie until the model dies, possibly later in this same
   * round); a newly shut-down introduced one is reported once. At most one
   * `@releaseDomain` per round (§4.5).
   */
  check(): void {
    let fire = false;
    for (let changed = true; changed;) {
      changed = false;
      for (const r of [...this.#records.values()]) {
        if (r.domid === 0) continue;
        const info = this.#source.info(r.domid);
        if (!info || info.dying) {
          if (r.introduced && this.#heldAsTarget(r.domid)) {
            if (!r.zombie) this.#zombify(r);
            continue;
          }
          fire ||= r.introduced;
          this.#destroy(r.domid, true);
          changed = true;
        } else if (r.introduced && info.shutdown && !r.shutdownReported) {
          r.shutdownReported = true;
          fire = true;
        }
      }
    }
    if (fire) this.#engine.fireSpecial(RELEASE_DOMAIN);
  }

  /** Is `domid` the SET_TARGET of a live device-model domain? */
  #heldAsTarget(domid: number): boolean {
    for (const o of this.#records.values()) {
      if (o.domid !== domid && o.target === domid && o.introduced && !o.zombie) return true;
    }
    return false;
  }

  #zombify(r: DomainRecord): void {
    r.zombie = true;
    this.#closeConnections(r.domid);
  }

  #closeConnections(domid: number): void {
    for (const c of this.#guestConnections(domid)) {
      this.#engine.disconnect(c);
      this.#engine.outbox.close(c);
    }
  }

  /**
   * Drops the domain's record, owned nodes and special-ACL entries; its
   * connections are closed (death) or reset and left unserved (RELEASE).
   */
  #destroy(domid: number, close: boolean): void {
    const r = this.#records.get(domid);
    if (close) this.#closeConnections(domid);
    else for (const c of this.#guestConnections(domid)) this.#engine.resetConnection(c);
    this.#records.delete(domid);
    if (r?.introduced) this.#removeOwnedNodes(domid);
    for (const [name, perms] of this.#special) {
      const kept = perms.filter((p, i) => i === 0 || p.id !== domid);
      if (kept.length !== perms.length) this.#special.set(name, Object.freeze(kept));
    }
    for (const other of this.#records.values()) {
      if (other.target === domid) other.target = undefined;
    }
    if (r?.introduced) this.#hooks.released?.(domid);
  }

  /** XSA-419: remove every node the domain owns, with its subtree (§6.6). */
  #removeOwnedNodes(domid: number): void {
    const tree = this.#engine.tree;
    const owned: string[] = [];
    for (const p of tree.paths()) {
      if (p !== "/" && tree.get(p)!.perms[0].id === domid) owned.push(p);
    }
    owned.sort((a, b) => a.split("/").length - b.split("/").length);
    const ctx = this.#engine.systemContext();
    for (const p of owned) {
      const node = tree.get(p);
      if (!node) continue; // went with an owned ancestor
      ops.removeSubtree(ctx, p, node);
      ops.removeChildEntry(ctx, parentOf(p), baseName(p));
    }
  }
}
