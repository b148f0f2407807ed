/**
 * @module
 * Per-domain quotas of the C daemon 4.17 with its defaults
 * (xenstore-protocol.md §7.1). They bind unprivileged domains only; dom0
 * and socket connections are exempt. Names follow `xenstore-control quota`.
 */

export interface Quotas {
  /** `nodes` (-E): nodes a domain may own. */
  readonly nodes: number;
  /** `node-size` (-S): node record size; a record of this size or more is refused. */
  readonly nodeSize: number;
  /** `watches` (-W): a domain may hold this many + 1 (check is "> quota"). */
  readonly watches: number;
  /** `transactions` (-t): open transactions per connection, this many + 1. */
  readonly transactions: number;
  /** `transaction-nodes`: distinct nodes one transaction may touch. */
  readonly transactionNodes: number;
  /** `permissions` (-A): entries in one SET_PERMS. */
  readonly permissions: number;
  /** `path-max` (-M, at most 2048): bytes after a `/local/domain/N/` prefix. */
  readonly pathMax: number;
  /** `outstanding`: replies and events not yet written before input stalls. */
  readonly outstanding: number;
  /** `memory` (hard): bytes of xenstored memory per domain. */
  readonly memory: number;
}

export const DEFAULT_QUOTAS: Quotas = Object.freeze({
  nodes: 1000,
  nodeSize: 2048,
  watches: 128,
  transactions: 10,
  transactionNodes: 1024,
  permissions: 5,
  pathMax: 2048,
  outstanding: 20,
  memory: 2_621_440,
});

/** `xenstore-control quota` names, in the real daemon's order, with their help text. */
export const QUOTA_NAMES: readonly (readonly [string, keyof Quotas, string])[] = [
  ["nodes", "nodes", "Nodes per domain"],
  ["watches", "watches", "Watches per domain"],
  ["transactions", "transactions", "Transactions per domain"],
  ["outstanding", "outstanding", "Outstanding requests per domain"],
  ["transaction-nodes", "transactionNodes", "Max. number of accessed nodes per transaction"],
  ["memory", "memory", "Total Xenstore memory per domain (error level)"],
  ["node-size", "nodeSize", "Max. size of a node"],
  ["path-max", "pathMax", "Max. length of a node path"],
  ["permissions", "permissions", "Max. number of permissions per node"],
];

/** Looks up a quota by its control name (`node-size`, ...). */
export function quotaKey(name: string): keyof Quotas | undefined {
  return QUOTA_NAMES.find(([n]) => n === name)?.[1];
}
