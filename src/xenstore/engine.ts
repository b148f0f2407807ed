/**
 * @module
 * The xenstore engine: `(connection, message) → outgoing messages`. One
 * table maps each opcode to its handler and flags, as in the C daemon's
 * `wire_funcs[]`; this is the one place where an {@link XsError} becomes an
 * `XS_ERROR` reply (xenstore-protocol.md §1.4). It never touches a socket:
 * transports feed it and deliver what it returns.
 *
 * Order of checks per request (cxenstored 4.17 `process_message`):
 * unknown type → ENOSYS; privileged-only op from a guest → EACCES;
 * `tx_id` lookup (except WATCH/UNWATCH) → ENOENT; then the handler.
 * Watch events a request causes are queued before its reply (§4.7).
 *
 * The hard memory quota (`store/memory_quota.ts`): node writes are checked
 * in the store operations, watches here, replies and events in the
 * {@link Outbox}; a guest at or above its quota is not read from — its
 * requests wait in {@link Connection.deferred} until it drops below.
 */
import { type Trace } from "../sim/trace.ts";
import { atoi, countNuls, oneArg, terminatedStrings, writeArgs } from "./wire/args.ts";
import { XsError } from "./wire/errno.ts";
import { errorReply, latin1, type Message, nulJoin, okReply, reply } from "./wire/message.ts";
import { Op, opName, XS_TYPE_COUNT } from "./wire/op.ts";
import { Connection, type ConnectionKind } from "./connection.ts";
import { DomainTable } from "./domain_table.ts";
import type { DomainInfoSource } from "./domains.ts";
import { control, ControlState } from "./control.ts";
import {
  type ChangeSink,
  DirectAccess,
  type FiredChange,
  type NodeAccess,
} from "./store/access.ts";
import * as ops from "./store/ops.ts";
import { canonicalize, canonicalizeWatch, domainPath, parentOf } from "./store/path.ts";
import {
  type Accessor,
  formatPerm,
  parsePerm,
  permFor,
  type PermList,
  XS_PERM_READ,
} from "./store/perms.ts";
import { DEFAULT_QUOTAS, type Quotas } from "./store/quota.ts";
import { type MemoryTotals, overMemoryQuota, watchBytes } from "./store/memory_quota.ts";
import { Tree } from "./store/tree.ts";
import { Transaction } from "./transaction.ts";
import { WatchIndex } from "./watch.ts";
import { Outbox, type Outgoing } from "./outbox.ts";

export type { Outgoing } from "./outbox.ts";

/** Hooks through which the engine tells its host about domains. */
export interface EngineHooks {
  /** A domain was introduced for the first time (create its guest endpoint). */
  introduced?(domid: number): void;
  /** A domain's connections are gone (released or dead). */
  released?(domid: number): void;
}

export interface EngineOptions {
  readonly quotas?: Partial<Quotas>;
  readonly domains: DomainInfoSource;
  readonly trace?: Trace;
  readonly hooks?: EngineHooks;
}

interface Request {
  readonly conn: Connection;
  readonly msg: Message;
  readonly tx: Transaction | undefined;
}

/** Returned by a handler that queued its own reply (WATCH: OK, then the event). */
const REPLIED = Symbol("replied");

type Handler = (e: Engine, r: Request) => Uint8Array | void | typeof REPLIED;

interface OpEntry {
  readonly handler: Handler;
  /** `XS_FLAG_PRIV`: refused with EACCES for unprivileged connections. */
  readonly priv?: boolean;
  /** `XS_FLAG_NOTID`: the header's tx_id is ignored. */
  readonly notid?: boolean;
}

/** Connections one engine serves at most (every transport counts). */
export const CONNECTIONS_MAX = 65_536;
/**
 * Requests one connection may send while its domain is over the memory
 * quota; the next one closes it. (A guest's 1 KiB ring holds at most 64;
 * only a socket peer that keeps writing gets here.)
 */
export const DEFERRED_REQUESTS_MAX = 1024;

export class Engine implements MemoryTotals {
  readonly tree = new Tree();
  readonly watches = new WatchIndex();
  /** Current quotas; CONTROL `quota set` changes them at run time. */
  readonly quotas: Quotas;
  readonly domains: DomainTable;
  readonly trace: Trace | undefined;
  readonly control = new ControlState();
  /** Replies, events and closes not yet taken by the transports. */
  readonly outbox = new Outbox(this);
  /** cxenstored's global errno as it would be now (see {@link ops.CErrno}). */
  readonly cErrno: ops.CErrno = { value: null };
  readonly #conns = new Map<number, Connection>();
  /** Connections with {@link Connection.deferred} requests. */
  readonly #deferring = new Set<Connection>();
  #nextConnId = 1;
  readonly #direct: DirectAccess;
  readonly #deliver: ChangeSink;

  constructor(opts: EngineOptions) {
    this.quotas = { ...DEFAULT_QUOTAS, ...opts.quotas };
    this.trace = opts.trace;
    this.#deliver = (c) => this.#deliverChange(c);
    this.#direct = new DirectAccess(this.tree, this.#deliver);
    this.domains = new DomainTable(this, opts.domains, opts.hooks ?? {});
  }

  /** Opens a connection: a socket (privileged dom0) or a guest domain's. */
  connect(domid = 0, kind: ConnectionKind = "socket"): Connection {
    if (this.#conns.size >= CONNECTIONS_MAX) {
      throw new Error(`too many connections (limit ${CONNECTIONS_MAX})`);
    }
    const privileged = kind === "socket" || domid === 0;
    const conn = new Connection(this.#nextConnId++, domid, privileged, kind);
    this.#conns.set(conn.id, conn);
    return conn;
  }

  /** Forgets a connection: its watches and transactions go with it. */
  disconnect(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.resetConnection(conn);
    conn.deferred.length = 0;
    this.#deferring.delete(conn);
    this.#conns.delete(conn.id);
  }

  /** Drops a connection's watches and transactions (§4.4, §6.1), and their memory. */
  resetConnection(conn: Connection): void {
    let bytes = 0;
    for (const w of this.watches.of(conn.id)) bytes += watchBytes(w.path, w.token);
    this.watches.removeAll(conn.id);
    this.tree.chargeMemory(conn.domid, -bytes);
    for (const tx of conn.transactions.values()) tx.release();
    conn.transactions.clear();
  }

  connections(): IterableIterator<Connection> {
    return this.#conns.values();
  }

  /**
   * Handles one request; returns every message it produced, reply last,
   * followed by what requests held back until now produced.
   */
  handle(conn: Connection, msg: Message): Outgoing[] {
    // A guest whose domain is released, ignored or dead is not served: its
    // requests go unanswered, as on a ring xenstored no longer reads.
    if (conn.kind === "guest" && !this.domains.serves(conn.domid)) return this.takeOutput();
    if (conn.deferred.length > 0 || this.#overQuota(conn)) this.#defer(conn, msg);
    else {
      this.#process(conn, msg);
      this.#resumeDeferred();
    }
    return this.takeOutput();
  }

  #process(conn: Connection, msg: Message): void {
    let response: Message | null;
    try {
      response = this.#dispatch(conn, msg);
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
      response = errorReply(msg, e.errno);
    }
    if (response && !conn.closed) response = this.outbox.reply(conn, msg, response);
    if (this.trace) this.#traceRequest(conn, msg, response ?? okReply(msg));
  }

  /** True if a guest's requests are not read: its domain is at or over its quota. */
  #overQuota(conn: Connection): boolean {
    return conn.kind === "guest" && this.memoryLimited(conn.domid) &&
      overMemoryQuota(this.memoryOf(conn.domid), this.quotas.memory);
  }

  #defer(conn: Connection, msg: Message): void {
    if (conn.deferred.length >= DEFERRED_REQUESTS_MAX) {
      this.control.log(
        `connection ${conn.id}: domain ${conn.domid} is over its memory quota and sent ` +
          `${DEFERRED_REQUESTS_MAX} more requests; closed`,
      );
      this.disconnect(conn);
      this.outbox.close(conn);
      return;
    }
    // Held past this call: it must own its bytes (a transport may hand out
    // payloads that are views of a buffer it reuses for the next read).
    conn.deferred.push({ ...msg, payload: msg.payload.slice() });
    this.#deferring.add(conn);
  }

  /** Runs held-back requests of every domain that is below its quota again. */
  #resumeDeferred(): void {
    for (let progress = this.#deferring.size > 0; progress;) {
      progress = false;
      for (const c of [...this.#deferring]) {
        while (c.deferred.length > 0 && !this.#overQuota(c)) {
          const m = c.deferred.shift()!;
          if (c.kind === "guest" && !this.domains.serves(c.domid)) continue;
          this.#process(c, m);
          progress = true;
        }
        if (c.deferred.length === 0) this.#deferring.delete(c);
      }
    }
  }

  /** `VIRQ_DOM_EXC` (see {@link DomainTable.check}); held-back requests may run after. */
  checkDomains(): void {
    this.domains.check();
    this.#resumeDeferred();
  }

  /** Messages produced outside a request (domain checks), then cleared. */
  takeOutput(): Outgoing[] {
    return this.outbox.take();
  }

  #dispatch(conn: Connection, msg: Message): Message | null {
    const entry = msg.type < XS_TYPE_COUNT ? OPS[msg.type] : undefined;
    if (!entry) throw new XsError("ENOSYS", `unknown message type ${msg.type}`);
    if (entry.priv && !conn.privileged) {
      throw new XsError("EACCES", `${opName(msg.type)} is privileged`);
    }
    let tx: Transaction | undefined;
    if (!entry.notid && msg.txId !== 0) {
      tx = conn.transactions.get(msg.txId);
      if (!tx) throw new XsError("ENOENT", `no transaction ${msg.txId}`);
    }
    const payload = entry.handler(this, { conn, msg, tx });
    if (payload === REPLIED) return null;
    return payload === undefined ? okReply(msg) : reply(msg, msg.type, payload);
  }

  /** The accessor a connection acts as (its domain's SET_TARGET applies). */
  accessor(conn: Connection): Accessor {
    const target = this.domains.get(conn.domid)?.target;
    return { domid: conn.domid, privileged: conn.privileged, target };
  }

  /** Operation context for a request: the live tree or its transaction. */
  context(conn: Connection, tx?: Transaction): ops.OpContext {
    const access: NodeAccess = tx ?? this.#direct;
    return {
      access,
      who: this.accessor(conn),
      quotas: this.quotas,
      isKnownDomain: (d) => this.domains.get(d) !== undefined,
      memory: this,
      errno: this.cErrno,
    };
  }

  /** Context acting as xenstored itself (orphan removal on domain death). */
  systemContext(): ops.OpContext {
    return {
      access: this.#direct,
      who: { domid: 0, privileged: true },
      quotas: this.quotas,
      isKnownDomain: () => true,
      memory: this,
      errno: { value: null }, // leaves the daemon's errno alone
    };
  }

  /** Bytes charged to `domid`: its nodes, watches and transactions' copies. */
  memoryOf(domid: number): number {
    return this.tree.memoryOf(domid);
  }

  /**
   * cxenstored `domain_chk_quota`: every domain but dom0 is held to the hard
   * memory quota, unless its connection is ignored.
   */
  memoryLimited(domid: number): boolean {
    return domid !== 0 && !this.domains.get(domid)?.ignored;
  }

  get memoryQuota(): number {
    return this.quotas.memory;
  }

  canonical(conn: Connection, path: string): string {
    return canonicalize(path, conn.domid, this.quotas.pathMax);
  }

  // ---- watch delivery ------------------------------------------------------

  #deliverChange(c: FiredChange): void {
    for (const w of this.watches.matching(c.path, c.exact)) {
      const conn = this.#conns.get(w.connId);
      if (!conn || !this.#maySee(conn, c)) continue;
      const epath = w.relative ? c.path.slice(domainPath(conn.domid).length + 1) : c.path;
      this.outbox.event(conn, epath, w.token);
    }
  }

  /** §4.6: old perms, the node, or its parent readable by the watcher. */
  #readable(conn: Connection, perms: PermList | undefined): boolean {
    return perms !== undefined && (permFor(this.accessor(conn), perms) & XS_PERM_READ) !== 0;
  }

  /**
   * cxenstored `watch_permitted`: old perms, else the node, else its parent.
   * A node a transaction deleted has no node to look at (`perms` undefined),
   * so only its old perms count.
   */
  #maySee(conn: Connection, c: FiredChange): boolean {
    if (conn.privileged) return true;
    if (this.#readable(conn, c.oldPerms)) return true;
    if (c.perms === undefined) return false;
    return this.#readable(conn, c.perms) ||
      this.#readable(conn, this.tree.get(parentOf(c.path))?.perms);
  }

  /** Fires a special watch (`@introduceDomain`, `@releaseDomain`, §4.5). */
  fireSpecial(name: string): void {
    const perms = this.domains.specialPerms(name);
    for (const w of this.watches.matching(name, true)) {
      const conn = this.#conns.get(w.connId);
      if (!conn) continue;
      if (!conn.privileged && (permFor(this.accessor(conn), perms) & XS_PERM_READ) === 0) continue;
      this.outbox.event(conn, name, w.token);
    }
  }

  /** Fires one live-tree change (used by transaction commit). */
  fireChange(change: FiredChange): void {
    this.#deliverChange(change);
  }

  /** A domain's usage as `xenstore-control quota <domid>` shows it. */
  usage(
    domid: number,
  ): { nodes: number; watches: number; transactions: number; outstanding: number; memory: number } {
    let transactions = 0;
    for (const c of this.#conns.values()) {
      if (c.domid === domid) transactions += c.transactions.size;
    }
    const nodes = this.tree.ownedBy(domid);
    const watches = this.watchCountOfDomain(domid);
    return { nodes, watches, transactions, outstanding: 0, memory: this.memoryOf(domid) };
  }

  watchCountOfDomain(domid: number): number {
    let n = 0;
    for (const c of this.#conns.values()) if (c.domid === domid) n += this.watches.of(c.id).length;
    return n;
  }

  #traceRequest(conn: Connection, msg: Message, response: Message): void {
    const args = msg.type === Op.WRITE ? [] : terminatedStrings(msg.payload);
    let path: string | undefined = args[0];
    let value: string | undefined;
    if (msg.type === Op.WRITE) {
      const nul = msg.payload.indexOf(0);
      path = latin1(nul < 0 ? msg.payload : msg.payload.subarray(0, nul));
      if (nul >= 0) value = latin1(msg.payload.subarray(nul + 1));
    }
    const replyText = response.type === Op.ERROR
      ? latin1(response.payload.subarray(0, response.payload.length - 1))
      : response.type === Op.READ
      ? latin1(response.payload)
      : terminatedStrings(response.payload).join(" ");
    this.trace!.emit({
      src: "xenstored",
      dom: conn.domid,
      conn: conn.id,
      op: opName(msg.type),
      tx: msg.txId,
      path,
      ...(value !== undefined ? { value } : {}),
      ...(args.length > 1 && msg.type !== Op.WRITE ? { args: args.slice(1) } : {}),
      reply: response.type === Op.ERROR ? `ERROR ${replyText}` : replyText,
    });
  }
}

// ---- handlers -------------------------------------------------------------

function pathArg(e: Engine, r: Request): string {
  return e.canonical(r.conn, oneArg(r.msg.payload));
}

/**
 * Runs a store operation on the request's view (the live tree or its
 * transaction). Its failures are left in the daemon's errno, as
 * cxenstored's get_node, read_node, write_node and create_node leave them.
 */
function store<T>(e: Engine, r: Request, f: (ctx: ops.OpContext) => T): T {
  try {
    return f(e.context(r.conn, r.tx));
  } catch (err) {
    if (err instanceof XsError && !err.keepsErrno) e.cErrno.value = err.errno;
    throw err;
  }
}

const OPS: readonly (OpEntry | undefined)[] = (() => {
  const t: (OpEntry | undefined)[] = [];
  t[Op.CONTROL] = { priv: true, handler: (e, r) => control(e, r.conn, r.msg.payload) };
  t[Op.DIRECTORY] = { handler: (e, r) => store(e, r, (c) => ops.directory(c, pathArg(e, r))) };
  t[Op.READ] = { handler: (e, r) => store(e, r, (c) => ops.read(c, pathArg(e, r))) };
  t[Op.GET_PERMS] = {
    handler: (e, r) => nulJoin(store(e, r, (c) => ops.getPerms(c, pathArg(e, r))).map(formatPerm)),
  };
  t[Op.WATCH] = { notid: true, handler: doWatch };
  t[Op.UNWATCH] = { notid: true, handler: doUnwatch };
  t[Op.TRANSACTION_START] = { handler: doTransactionStart };
  t[Op.TRANSACTION_END] = { handler: doTransactionEnd };
  t[Op.INTRODUCE] = { priv: true, handler: (e, r) => e.domains.introduceRequest(r.msg.payload) };
  t[Op.RELEASE] = { priv: true, handler: (e, r) => e.domains.release(oneArg(r.msg.payload)) };
  t[Op.GET_DOMAIN_PATH] = {
    handler: (_e, r) => nulJoin([domainPath(atoiUnsigned(oneArg(r.msg.payload)))]),
  };
  t[Op.WRITE] = { handler: doWrite };
  t[Op.MKDIR] = { handler: (e, r) => store(e, r, (c) => ops.mkdir(c, pathArg(e, r))) };
  t[Op.RM] = { handler: (e, r) => store(e, r, (c) => ops.rm(c, pathArg(e, r))) };
  t[Op.SET_PERMS] = { handler: doSetPerms };
  t[Op.IS_DOMAIN_INTRODUCED] = {
    priv: true,
    handler: (e, r) => nulJoin([e.domains.isIntroduced(oneArg(r.msg.payload)) ? "T" : "F"]),
  };
  t[Op.RESUME] = { priv: true, handler: (e, r) => e.domains.resume(oneArg(r.msg.payload)) };
  t[Op.SET_TARGET] = { priv: true, handler: (e, r) => e.domains.setTarget(r.msg.payload) };
  t[Op.RESET_WATCHES] = {
    handler: (e, r) => {
      e.resetConnection(r.conn);
    },
  };
  t[Op.DIRECTORY_PART] = { handler: doDirectoryPart };
  return t;
})();

function atoiUnsigned(s: string): number {
  return atoi(s) >>> 0;
}

function doWrite(e: Engine, r: Request): void {
  const { path, value } = writeArgs(r.msg.payload);
  store(e, r, (c) => ops.write(c, e.canonical(r.conn, path), value));
}

function doSetPerms(e: Engine, r: Request): void {
  const p = r.msg.payload;
  if (countNuls(p) < 2) throw new XsError("EINVAL", "SET_PERMS needs a path and a permission");
  const [path, ...permStrings] = terminatedStrings(p);
  const who = e.accessor(r.conn);
  if (!who.privileged && permStrings.length > e.quotas.permissions) {
    throw new XsError(
      "ENOSPC",
      `${permStrings.length} permissions (limit ${e.quotas.permissions})`,
    );
  }
  const perms = store(e, r, () => permStrings.map(parsePerm)); // xs_strings_to_perms
  // `domain_alloc_permrefs`, before the path is looked at: the owner must
  // exist (ENOENT); existing ACL domains become known to xenstored.
  if (!e.domains.adopt(perms[0].id)) {
    throw new XsError("ENOENT", `domain ${perms[0].id} does not exist`);
  }
  for (let i = 1; i < perms.length; i++) e.domains.adopt(perms[i].id);
  if (path.startsWith("@")) {
    e.domains.setSpecialPerms(r.conn, path, perms);
    return;
  }
  store(e, r, (c) => ops.setPerms(c, e.canonical(r.conn, path), perms));
}

function doDirectoryPart(e: Engine, r: Request): Uint8Array {
  const p = r.msg.payload;
  if (countNuls(p) !== 2) throw new XsError("EINVAL", "DIRECTORY_PART needs a path and an offset");
  const [path, offset] = terminatedStrings(p);
  return store(
    e,
    r,
    (c) => ops.directoryPart(c, e.canonical(r.conn, path), atoiUnsigned(offset)),
  );
}

function watchArgs(e: Engine, r: Request): { raw: string; abs: string; token: string } {
  const args = terminatedStrings(r.msg.payload);
  if (args.length !== 2) {
    throw new XsError("EINVAL", "WATCH takes a path and a token", { keepsErrno: true });
  }
  const [raw, token] = args;
  return { raw, abs: canonicalizeWatch(raw, r.conn.domid, e.quotas.pathMax), token };
}

function doWatch(e: Engine, r: Request): typeof REPLIED {
  // `errno = check_watch_path(...)`: 0 for a valid path (seen on the real
  // daemon: a refused rewrite after any WATCH finds errno 0), else EINVAL.
  const { raw, abs, token } = store(e, r, () => watchArgs(e, r));
  e.cErrno.value = null;
  if (e.watches.find(r.conn.id, abs, token)) throw new XsError("EEXIST", `watch ${raw} ${token}`);
  if (!r.conn.privileged && e.watchCountOfDomain(r.conn.domid) > e.quotas.watches) {
    throw new XsError("E2BIG", `quota: domain ${r.conn.domid} has too many watches`);
  }
  // add_watch charges the path and token, checked (and sets errno).
  const domid = r.conn.domid;
  const bytes = watchBytes(abs, token);
  if (e.memoryLimited(domid) && overMemoryQuota(e.memoryOf(domid) + bytes, e.quotas.memory)) {
    e.cErrno.value = "ENOMEM";
    throw new XsError(
      "ENOMEM",
      `quota: domain ${domid} would use more than ${e.quotas.memory} bytes of memory ` +
        `watching ${raw}; raise it with -Q memory=N`,
    );
  }
  const relative = !raw.startsWith("/") && !raw.startsWith("@");
  e.watches.add(r.conn.id, abs, token, relative);
  e.tree.chargeMemory(domid, bytes);
  // The OK goes first, then the initial event, echoing the path as given (§4.1).
  e.outbox.reply(r.conn, r.msg, okReply(r.msg));
  e.outbox.event(r.conn, raw, token);
  return REPLIED;
}

function doUnwatch(e: Engine, r: Request): void {
  const { raw, abs, token } = watchArgs(e, r);
  const w = e.watches.find(r.conn.id, abs, token);
  if (!w) throw new XsError("ENOENT", `no watch ${raw} ${token}`);
  e.watches.remove(w);
  e.tree.chargeMemory(r.conn.domid, -watchBytes(w.path, w.token));
}

function doTransactionStart(e: Engine, r: Request): Uint8Array {
  if (r.tx) throw new XsError("EBUSY", "already in a transaction");
  if (!r.conn.privileged && r.conn.transactions.size > e.quotas.transactions) {
    throw new XsError("ENOSPC", `quota: ${r.conn.transactions.size} open transactions`);
  }
  const id = r.conn.allocateTxId();
  const nodesMax = r.conn.privileged ? Infinity : e.quotas.transactionNodes;
  r.conn.transactions.set(id, new Transaction(id, e.tree, nodesMax, r.conn.domid));
  return nulJoin([String(id)]);
}

function doTransactionEnd(e: Engine, r: Request): void {
  const arg = oneArg(r.msg.payload);
  if (arg !== "T" && arg !== "F") throw new XsError("EINVAL", "TRANSACTION_END takes T or F");
  const tx = r.tx;
  if (!tx) throw new XsError("ENOENT", "not in a transaction");
  r.conn.transactions.delete(tx.id); // closed in every outcome (§5.3)
  try {
    if (arg === "F") return;
    if (tx.failed) throw new XsError("ENOMEM", `transaction ${tx.id} failed earlier`);
    // transaction_fix_domains: a domain gaining nodes may end below the quota only.
    if (!r.conn.privileged) {
      for (const [domid, delta] of tx.ownerDeltas()) {
        if (delta > 0 && tx.ownedBy(domid) >= e.quotas.nodes) {
          throw new XsError(
            "ENOSPC",
            `quota: domain ${domid} would own ${tx.ownedBy(domid)} nodes ` +
              `(limit ${e.quotas.nodes}); raise it with -E N`,
          );
        }
      }
    }
    if (!tx.conflictFree()) throw new XsError("EAGAIN", `transaction ${tx.id} conflicts`);
    tx.apply((c) => e.fireChange(c));
  } finally {
    tx.release(); // the copies (nothing left after a commit)
  }
}
