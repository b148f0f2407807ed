/**
 * @module
 * The tree operations of the C daemon 4.17 (xenstore-protocol.md §2–§3),
 * written once against {@link NodeAccess} so that they run the same on the
 * live tree and inside a transaction. Paths given here are already absolute
 * and valid; every failure is an {@link XsError}.
 */
import { XsError } from "../wire/errno.ts";
import { fromLatin1, XENSTORE_PAYLOAD_MAX } from "../wire/message.ts";
import type { NodeAccess } from "./access.ts";
import { Node } from "./node.ts";
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

/** What the operations need to know about the caller and the domains. */
export interface OpContext {
  readonly access: NodeAccess;
  readonly who: Accessor;
  readonly quotas: Quotas;
  /** Does xenstored know this domain (dom0, introduced, or adopted)? */
  isKnownDomain(domid: number): boolean;
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
    throw new XsError(
      "ENOSPC",
      `node ${path} would be ${bytes} bytes (limit ${ctx.quotas.nodeSize})`,
    );
  }
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
  if (node.childBytes > XENSTORE_PAYLOAD_MAX) throw new XsError("E2BIG", path);
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
    checkNodeSize(ctx, existing.recordBytes() - existing.value.length + value.length, path);
    const node = ctx.access.modify(path);
    node.value = value;
    node.perms = adjustPerms(ctx, node.perms);
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
 * change, so a refused creation leaves nothing behind.
 */
function create(ctx: OpContext, path: string, value: Uint8Array): void {
  const missing: string[] = [path];
  const parent = nearestAncestor(ctx, path);
  for (let p = parentOf(path); p !== parent.path; p = parentOf(p)) missing.push(p);
  missing.reverse(); // top-down
  if ((permOn(ctx, parent.node) & XS_PERM_WRITE) === 0) throw new XsError("EACCES", path);

  // cxenstored construct_node: copy the parent's whole list; an unprivileged
  // creator becomes the owner (§3.4).
  const inherited = adjustPerms(ctx, parent.node.perms);
  const perms: PermList = ctx.who.privileged
    ? inherited
    : [{ id: ctx.who.domid, perm: inherited[0].perm }, ...inherited.slice(1)];
  const owner = perms[0].id;
  if (!ctx.who.privileged) {
    if (ctx.access.ownedBy(owner) + missing.length > ctx.quotas.nodes) {
      throw new XsError(
        "ENOSPC",
        `quota: domain ${owner} would own more than ${ctx.quotas.nodes} nodes`,
      );
    }
    const first = baseName(missing[0]);
    checkNodeSize(ctx, parent.node.recordBytes() + first.length + 1, parent.path);
    for (let i = 0; i < missing.length; i++) {
      const child = i + 1 < missing.length ? baseName(missing[i + 1]).length + 1 : 0;
      const v = i + 1 === missing.length ? value.length : 0;
      checkNodeSize(ctx, 24 + 8 * perms.length + v + child, missing[i]);
    }
  }
  const empty = new Uint8Array(0);
  for (let i = 0; i < missing.length; i++) {
    const last = i + 1 === missing.length;
    const node = new Node(last ? value : empty, perms, 0, last ? [] : [baseName(missing[i + 1])]);
    ctx.access.create(missing[i], node);
    ctx.access.charge(owner, 1);
  }
  ctx.access.modify(parent.path).addChild(baseName(missing[0]));
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
    if (e instanceof XsError && e.errno === "ENOENT" && ctx.access.get(parentOf(path))) return;
    throw e;
  }
  if (path === "/") throw new XsError("EINVAL", "cannot remove /");
  // Only a transaction's view can be this inconsistent: its copy of the
  // node outlived the parent, removed by another connection. cxenstored's
  // _rm reads the parent first and answers EINVAL, before touching the
  // subtree (seen on the real daemon).
  const parentPath = parentOf(path);
  const parent = ctx.access.get(parentPath);
  if (!parent) throw new XsError("EINVAL", `the parent of ${path} is gone`);
  removeSubtree(ctx, path, node);
  // Or its copy of the parent predates another connection creating the
  // node, so the parent does not list it: remove_child_entry fails with
  // EIO, after the subtree is already gone from the view (real daemon).
  if (!parent.hasChild(baseName(path))) {
    throw new XsError("EIO", `${path} is not listed in its parent`);
  }
  ctx.access.modify(parentPath).removeChild(baseName(path));
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
    ctx.access.fire({ path: top.path, exact: top.path !== path, perms: top.node.perms });
    ctx.access.remove(top.path);
    ctx.access.charge(top.node.perms[0].id, -1);
    // cxenstored's delnode_sub answers WALK_TREE_RM_CHILDENTRY: the walk
    // takes each deleted child out of its parent's list (writing the
    // parent) as it goes, so a walk stopped by EIO leaves the children it
    // got through unlisted in a transaction's view (real daemon).
    if (stack.length) {
      ctx.access.modify(stack[stack.length - 1].path).removeChild(baseName(top.path));
    }
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
    throw new XsError("EPERM", "only a privileged domain may change a node's owner");
  }
  const perms = adjustPerms(ctx, newPerms);
  const oldPerms = node.perms;
  checkNodeSize(ctx, node.recordBytes() + 8 * (perms.length - oldPerms.length), path);
  const target = ctx.access.modify(path);
  target.perms = Object.freeze([...perms]);
  ctx.access.charge(oldPerms[0].id, -1);
  ctx.access.charge(perms[0].id, 1);
  ctx.access.fire({ path, exact: false, perms: target.perms, oldPerms });
}
