/**
 * @module
 * Watches (xenstore-protocol.md §4): registration with duplicate and quota
 * checks, an index by watched path so that a change at P finds its watchers
 * by looking up P and each ancestor (O(depth), however many connections are
 * idle), and delivery in registration order.
 *
 * Matching: a change at P reaches a watch on W if W is P or an ancestor of P
 * ("subtree"), or only if W equals P ("exact", for the descendants an RM
 * deletes). Special `@` names match by exact string equality (§4.5).
 */
import { isAtOrAbove, parentOf } from "./store/path.ts";

/** One registered watch. */
export interface Watch {
  /** Registration order, global: delivery follows it. */
  readonly seq: number;
  readonly connId: number;
  /** Absolute path or special `@name`. */
  readonly path: string;
  readonly token: string;
  /** Registered with a relative path: events are relative too (§4.2). */
  readonly relative: boolean;
}

/** Most watches one connection may hold, whatever the quota (a hard bound). */
export const WATCHES_PER_CONNECTION_MAX = 65_536;

export class WatchIndex {
  readonly #byPath = new Map<string, Watch[]>();
  readonly #byConn = new Map<number, Watch[]>();
  #seq = 0;

  /** Watches of a connection, in registration order. */
  of(connId: number): readonly Watch[] {
    return this.#byConn.get(connId) ?? [];
  }

  find(connId: number, path: string, token: string): Watch | undefined {
    return this.of(connId).find((w) => w.path === path && w.token === token);
  }

  add(connId: number, path: string, token: string, relative: boolean): Watch {
    const w: Watch = { seq: ++this.#seq, connId, path, token, relative };
    push(this.#byPath, path, w);
    push(this.#byConn, connId, w);
    return w;
  }

  remove(w: Watch): void {
    pull(this.#byPath, w.path, w);
    pull(this.#byConn, w.connId, w);
  }

  /** Drops every watch of a connection; returns how many. */
  removeAll(connId: number): number {
    const ws = this.#byConn.get(connId) ?? [];
    for (const w of ws) pull(this.#byPath, w.path, w);
    this.#byConn.delete(connId);
    return ws.length;
  }

  /** Watches a change at `path` reaches, in registration order. */
  matching(path: string, exact: boolean): Watch[] {
    if (path.startsWith("@") || exact) return [...(this.#byPath.get(path) ?? [])];
    const out: Watch[] = [];
    let p = path;
    for (;;) {
      const ws = this.#byPath.get(p);
      if (ws) { for (const w of ws) if (isAtOrAbove(w.path, path)) out.push(w); }
      if (p === "/") break;
      p = parentOf(p);
    }
    if (out.length > 1) out.sort((a, b) => a.seq - b.seq);
    return out;
  }

  get size(): number {
    let n = 0;
    for (const ws of this.#byConn.values()) n += ws.length;
    return n;
  }
}

function push<K>(m: Map<K, Watch[]>, k: K, w: Watch): void {
  const l = m.get(k);
  if (l) l.push(w);
  else m.set(k, [w]);
}

function pull<K>(m: Map<K, Watch[]>, k: K, w: Watch): void {
  const l = m.get(k);
  if (!l) return;
  const i = l.indexOf(w);
  if (i >= 0) l.splice(i, 1);
  if (l.length === 0) m.delete(k);
}
