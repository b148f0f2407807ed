/**
 * @module
 * The tree operations of the C daemon 4.17 (xenstore-protocol.md §2–§3),
 * written once against {@link NodeAccess} so that they run the same on the
 * live tree and inside a transaction. Paths given here are already absolute
 * and valid; every failure is an {@link XsError}.
 *
 * Every node write is checked where cxenstored's `write_node` checks it:
 * the record size for unprivileged callers (node-size, ENOSPC), then the
 * memory of whoever pays for it (hard memory quota, `memory_quota.ts`), all
 * before anything changes; the charges are made once the change is done.
 */
import { type XsErrno, XsError } from "../wire/errno.ts";
import { fromLatin1, XENSTORE_PAYLOAD_MAX } from "../wire/message.ts";
import type { NodeAccess } from "./access.ts";
import { Node, NODE_RECORD_PERM_BYTES } from "./node.ts";
import { baseName, childPath, parentOf } from "./path.ts";
import {
  type Accessor,
  type Perm,
  permFor,
  type PermList,
  XS_PERM_IGNORE,
  XS_PERM_OWNER,
  XS_PERM_READ,
  XS_PERM_WRITE,
} from "./perms.ts";
import type { Quotas } from "./quota.ts";
import { MemoryPlan, type MemoryTotals } from "./memory_quota.ts";

/**
 * cxenstored's global `errno` as the daemon last left it (`null`: 0). Two
 * paths answer it instead of a code of their own: a WRITE of an existing
 * node and a SET_PERMS refused by the memory quota (`do_write` and
 * `do_set_perms` return `errno`, which the failing `domain_memory_add`
 * never sets). So the answer is whatever an earlier request left there, on
 * any connection: ENOENT after a creation (it looked the node up first),
 * EIO after a refused creation, EACCES or EINVAL after such a refusal, and
 * 0 after an RM (`delete_child` clears it) or a WATCH (`check_watch_path`)
 * — where the real daemon sends no reply and aborts on an assertion; we
 * answer EIO instead. (Its socket reads can leave EAGAIN too: not
 * modelled.) Failures of the
 * store operations set it (unless {@link XsError.keepsErrno}), and so do
 * the few successes noted where they happen.
 */
export interface CErrno {
  value: XsErrno | null;
}

/** What the operations need to know about the caller and the domains. */
export interface OpContext {
  readonly access: NodeAccess;
  readonly who: Accessor;
  readonly quotas: Quotas;
  /** Does xenstored know this domain (dom0, introduced, or adopted)? */
  isKnownDomain(domid: number): boolean;
  /** Memory charged to each domain, and who is held to the hard quota. */
  readonly memory: MemoryTotals;
  readonly errno: CErrno;
}

function permOn(ctx: OpContext, node: Node): number {
  return permFor(ctx.who, node.perms);
}

/**
 * cxenstored `domain_adjust_node_perms`, run whenever a node is written:
 * ACL entries naming a domain xenstored does not know are marked ignored,
 * for good (see {@link XS_PERM_IGNORE}).
 */
export function adjustPerms(ctx: OpContext, perms: PermList): PermList {
  let out: Perm[] | undefined;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i];
    if (p.perm & XS_PERM_IGNORE || ctx.isKnownDomain(p.id)) continue;
    out ??= [...perms];
    out[i] = { id: p.id, perm: p.perm | XS_PERM_IGNORE };
  }
  return out ? Object.freeze(out) : perms;
}

/**
 * The node at `path` if the caller holds `want` on it. Otherwise EACCES, or
 * for a missing node ENOENT only if the nearest existing ancestor grants
 * any of `want` — so nothing is disclosed below unreadable parents (§2.7).
 */
export function getNode(ctx: OpContext, path: string, want: number): Node {
  const node = ctx.access.get(path);
  if (node) {
    if ((permOn(ctx, node) & want) !== want) throw denied(ctx, path);
    return node;
  }
  throw new XsError(ancestorGrants(ctx, path, want) ? "ENOENT" : "EACCES", path);
}

/**
 * EACCES on an existing node. cxenstored's get_node_chk_perm asks the
 * parents even then (errno_from_parents), which cannot change the answer
 * but inside a transaction reads, and so records and snapshots, the nearest
 * existing ancestor: a later lookup below it in the same transaction sees
 * that copy (seen on the real daemon: a guest READ under a home removed
 * meanwhile is ENOENT, not EACCES, if the transaction had asked the home's
 * readable child before).
 */
function denied(ctx: OpContext, path: string): XsError {
  if (path !== "/") nearestAncestor(ctx, path);
  return new XsError("EACCES", path);
}

function nearestAncestor(ctx: OpContext, path: string): { path: string; node: Node } {
  let p = path;
  for (;;) {
    p = parentOf(p);
    const node = ctx.access.get(p);
    if (node) return { path: p, node };
    if (p === "/") throw new Error("the root node is missing");
  }
}

// cxenstored's errno_from_parents: `parent_perm & perm`, any overlap.
function ancestorGrants(ctx: OpContext, path: string, want: number): boolean {
  if (path === "/") return false;
  const { node } = nearestAncestor(ctx, path);
  return (permOn(ctx, node) & want) !== 0;
}

function checkNodeSize(ctx: OpContext, bytes: number, path: string): void {
  if (!ctx.who.privileged && bytes >= ctx.quotas.nodeSize) {
    ctx.access.failTransaction();
    throw new XsError(
      "ENOSPC",
      `node ${path} would be ${bytes} bytes (limit ${ctx.quotas.nodeSize})`,
    );
  }
}

/**
 * cxenstored's `write_node` checks for the record at `path` becoming
 * `bytes` long and owned by `owner` (replacing `before`, if any): the node
 * size, then the memory (`do_tdb_write`: the old record's charge is
 * released, the new one checked). A memory refusal fails a transaction and
 * answers EIO when creating (`create_node` returns its own code), else the
 * stale errno (see {@link CErrno}).
 */
function checkWrite(
  ctx: OpContext,
  plan: MemoryPlan,
  path: string,
  before: Node | undefined,
  owner: number,
  bytes: number,
  creating: boolean,
): void {
  checkNodeSize(ctx, bytes, path);
  const key = ctx.access.keyBytes(path);
  if (before) plan.release(ctx.access.payer(before.perms[0].id), before.recordBytes() + key);
  const payer = ctx.access.payer(owner);
  if (plan.charge(payer, bytes + key)) return;
  ctx.access.failTransaction();
  const detail = `quota: domain ${payer} would use more than ${ctx.memory.memoryQuota} ` +
    `bytes of memory writing ${path}; raise it with -Q memory=N`;
  if (creating) throw new XsError("EIO", detail);
  throw new XsError(ctx.errno.value ?? "EIO", detail, { keepsErrno: true });
}

function applyPlan(ctx: OpContext, plan: MemoryPlan): void {
  plan.applyTo(ctx.access);
}

/** READ: the node's value (§2.5). */
export function read(ctx: OpContext, path: string): Uint8Array {
  return getNode(ctx, path, XS_PERM_READ).value;
}

/** GET_PERMS: the node's permission list. */
export function getPerms(ctx: OpContext, path: string): PermList {
  return getNode(ctx, path, XS_PERM_READ).perms;
}

/** DIRECTORY: child names, NUL-terminated each; E2BIG past the payload limit. */
export function directory(ctx: OpContext, path: string): Uint8Array {
  const node = getNode(ctx, path, XS_PERM_READ);
  if (node.childBytes > XENSTORE_PAYLOAD_MAX) {
    throw new XsError("E2BIG", path, { keepsErrno: true }); // send_reply's own check
  }
  return node.encodedChildren();
}

/**
 * DIRECTORY_PART (§2.6): `<generation>\0` then whole bytes of the child list
 * from byte `offset` that fit; `\0` appended when the chunk reaches the end.
 */
export function directoryPart(ctx: OpContext, path: string, offset: number): Uint8Array {
  const node = getNode(ctx, path, XS_PERM_READ);
  const gen = fromLatin1(`${node.generation}\0`);
  const list = node.encodedChildren();
  const room = XENSTORE_PAYLOAD_MAX - gen.length - 1;
  const start = offset; // unsigned: "-1" is past any end
  if (start >= list.length) return concat(gen, new Uint8Array(1));
  let end = list.length;
  if (end - start > room) {
    // Whole names only: cut after the last NUL that fits.
    end = list.lastIndexOf(0, start + room - 1) + 1;
    if (end <= start) end = start;
  }
  const chunk = list.subarray(start, end);
  return end === list.length ? concat(gen, chunk, new Uint8Array(1)) : concat(gen, chunk);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** WRITE (§2.2): replace the value, or create the node and missing parents. */
export function write(ctx: OpContext, path: string, value: Uint8Array): void {
  const existing = ctx.access.get(path);
  if (existing) {
    if ((permOn(ctx, existing) & XS_PERM_WRITE) === 0) throw denied(ctx, path);
    const plan = new MemoryPlan(ctx.memory);
    const bytes = existing.recordBytes() - existing.value.length + value.length;
    checkWrite(ctx, plan, path, existing, existing.perms[0].id, bytes, false);
    const node = ctx.access.modify(path);
    node.value = value;
    node.perms = adjustPerms(ctx, node.perms);
    applyPlan(ctx, plan);
  } else {
    create(ctx, path, value);
  }
  ctx.access.fire({ path, exact: false, perms: ctx.access.get(path)!.perms });
}

/** MKDIR (§2.3): create if missing; an existing writable node is left alone, no event. */
export function mkdir(ctx: OpContext, path: string): void {
  const existing = ctx.access.get(path);
  if (existing) {
    if ((permOn(ctx, existing) & XS_PERM_WRITE) === 0) throw denied(ctx, path);
    return;
  }
  create(ctx, path, new Uint8Array(0));
  ctx.access.fire({ path, exact: false, perms: ctx.access.get(path)!.perms });
}

/**
 * Creates `path` and every missing ancestor. All checks run before the first
 * change, in the order of cxenstored's create_node, which writes the new
 * nodes bottom up and the existing parent last: for each new node the node
 * quota (of the caller's domain), then its `write_node` checks; then the
 * parent's. A refused creation leaves nothing behind.
 */
function create(ctx: OpContext, path: string, value: Uint8Array): void {
  const missing: string[] = [path];
  const parent = nearestAncestor(ctx, path);
  for (let p = parentOf(path); p !== parent.path; p = parentOf(p)) missing.push(p);
  missing.reverse(); // top-down
  if ((permOn(ctx, parent.node) & XS_PERM_WRITE) === 0) throw new XsError("EACCES", path);
  ctx.errno.value = "ENOENT"; // get_node found nothing there

  // cxenstored construct_node: copy the parent's whole list; an unprivileged
  // creator becomes the owner (§3.4).
  const inherited = adjustPerms(ctx, parent.node.perms);
  const perms: PermList = ctx.who.privileged
    ? inherited
    : [{ id: ctx.who.domid, perm: inherited[0].perm }, ...inherited.slice(1)];
  const owner = perms[0].id;
  const empty = new Uint8Array(0);
  const nodes = missing.map((_, i) =>
    i + 1 === missing.length
      ? new Node(value, perms, 0, [])
      : new Node(empty, perms, 0, [baseName(missing[i + 1])])
  );
  const plan = new MemoryPlan(ctx.memory);
  for (let i = missing.length - 1; i >= 0; i--) {
    const written = missing.length - 1 - i;
    if (
      !ctx.who.privileged &&
      ctx.access.nodeQuotaCount(ctx.who.domid, written) >= ctx.quotas.nodes
    ) {
      if (written > 0) ctx.access.failTransaction(); // destroy_node of those written
      throw new XsError(
        "ENOSPC",
        `quota: domain ${ctx.who.domid} would own more than ${ctx.quotas.nodes} nodes; ` +
          `raise it with -E N`,
      );
    }
    checkWrite(ctx, plan, missing[i], undefined, owner, nodes[i].recordBytes(), true);
  }
  const first = baseName(missing[0]);
  const parentBytes = parent.node.recordBytes() + first.length + 1;
  checkWrite(ctx, plan, parent.path, parent.node, parent.node.perms[0].id, parentBytes, true);

  for (let i = 0; i < missing.length; i++) {
    ctx.access.create(missing[i], nodes[i]);
    ctx.access.charge(owner, 1);
  }
  ctx.access.modify(parent.path).addChild(first);
  applyPlan(ctx, plan);
}

/**
 * RM (§2.4): needs WRITE on the node; removes the subtree deepest first,
 * firing exact events for descendants and a subtree event for `path`.
 * A missing node is fine if its parent exists.
 */
export function rm(ctx: OpContext, path: string): void {
  let node: Node;
  try {
    node = getNode(ctx, path, XS_PERM_WRITE);
  } catch (e) {
    if (e instanceof XsError && e.errno === "ENOENT" && ctx.access.get(parentOf(path))) {
      ctx.errno.value = "ENOENT";
      return;
    }
    throw e;
  }
  if (path === "/") throw new XsError("EINVAL", "cannot remove /", { keepsErrno: true });
  // Only a transaction's view can be this inconsistent: its copy of the
  // node outlived the parent, removed by another connection. cxenstored's
  // _rm reads the parent first and answers EINVAL, before touching the
  // subtree (seen on the real daemon).
  const parentPath = parentOf(path);
  const parent = ctx.access.get(parentPath);
  if (!parent) {
    ctx.errno.value = "ENOENT"; // read_node of the parent
    throw new XsError("EINVAL", `the parent of ${path} is gone`, { keepsErrno: true });
  }
  removeSubtree(ctx, path, node);
  // Or its copy of the parent predates another connection creating the
  // node, so the parent does not list it: remove_child_entry fails with
  // EIO, after the subtree is already gone from the view (real daemon).
  if (!parent.hasChild(baseName(path))) {
    throw new XsError("EIO", `${path} is not listed in its parent`);
  }
  removeChildEntry(ctx, parentPath, baseName(path));
  ctx.errno.value = null; // delete_child sets it to 0
}

/**
 * Takes `name` out of the child list of the node at `parentPath`, which
 * shrinks by the name and its NUL (cxenstored `remove_child_entry`,
 * written without a memory check).
 */
export function removeChildEntry(ctx: OpContext, parentPath: string, name: string): void {
  const parent = ctx.access.modify(parentPath);
  if (!parent.removeChild(name)) return;
  ctx.access.chargeMemory(ctx.access.payer(parent.perms[0].id), -(name.length + 1));
}

/** Removes `path` and its descendants, post-order, with their events. */
export function removeSubtree(ctx: OpContext, path: string, node: Node): void {
  // Iterative post-order over this view of the tree (no recursion: XSA-418).
  const stack: { path: string; node: Node; it: Iterator<string> }[] = [
    { path, node, it: [...node.children()][Symbol.iterator]() },
  ];
  while (stack.length) {
    const top = stack[stack.length - 1];
    const next = top.it.next();
    if (!next.done) {
      const p = childPath(top.path, next.value);
      const child = ctx.access.get(p);
      // A listed child that is not there: only a transaction's view can be
      // that inconsistent (another connection removed it); cxenstored's
      // delete walk answers EIO.
      if (!child) throw new XsError("EIO", `${p} is listed but missing`);
      stack.push({ path: p, node: child, it: [...child.children()][Symbol.iterator]() });
      continue;
    }
    stack.pop();
    // delnode_sub deletes the node, and so releases its memory, before its
    // watches fire (an event may fit then); the permissions they are judged
    // by are those the node had. The node as it is now: the walk took its
    // children out of its list.
    const current = ctx.access.get(top.path)!;
    const owner = current.perms[0].id;
    ctx.access.remove(top.path);
    ctx.access.chargeMemory(
      ctx.access.payer(owner),
      -(current.recordBytes() + ctx.access.keyBytes(top.path)),
    );
    ctx.access.fire({ path: top.path, exact: top.path !== path, perms: top.node.perms });
    ctx.access.charge(owner, -1);
    // cxenstored's delnode_sub answers WALK_TREE_RM_CHILDENTRY: the walk
    // takes each deleted child out of its parent's list (writing the
    // parent) as it goes, so a walk stopped by EIO leaves the children it
    // got through unlisted in a transaction's view (real daemon).
    if (stack.length) removeChildEntry(ctx, stack[stack.length - 1].path, baseName(top.path));
  }
}

/**
 * SET_PERMS (§3.5) on a node path. The caller has already checked the entry
 * count and that the owner exists (the real daemon does that before it looks
 * at the path).
 */
export function setPerms(ctx: OpContext, path: string, newPerms: PermList): void {
  const node = getNode(ctx, path, XS_PERM_WRITE | XS_PERM_OWNER);
  if (!ctx.who.privileged && newPerms[0].id !== node.perms[0].id) {
    throw new XsError("EPERM", "only a privileged domain may change a node's owner", {
      keepsErrno: true,
    });
  }
  const perms = adjustPerms(ctx, newPerms);
  const oldPerms = node.perms;
  const plan = new MemoryPlan(ctx.memory);
  const bytes = node.recordBytes() + NODE_RECORD_PERM_BYTES * (perms.length - oldPerms.length);
  checkWrite(ctx, plan, path, node, perms[0].id, bytes, false);
  const target = ctx.access.modify(path);
  target.perms = Object.freeze([...perms]);
  ctx.access.charge(oldPerms[0].id, -1);
  ctx.access.charge(perms[0].id, 1);
  applyPlan(ctx, plan);
  ctx.access.fire({ path, exact: false, perms: target.perms, oldPerms });
}
