/**
 * @module
 * {@link runConformance}: registers the whole conformance suite against one
 * kind of target — one `Deno.test` per topic, one step per case. Cases with
 * the same daemon options share a daemon; cases that need other options or a
 * fresh daemon get their own. After each case, the guests it created are
 * destroyed and its connections closed, so nothing it started can reach the
 * next case.
 *
 * @example
 * ```ts ignore
 * // tests/conformance/conformance_ours_test.ts
 * import { runConformance } from "./suite.ts";
 * runConformance(startOurUnixTarget, "ours-unix");
 * ```
 */
import type { CaseGroup, CaseNeeds, ConformanceCase } from "./case.ts";
import { EXISTING_DOMAINS } from "./case.ts";
import type { MakeTarget, RawConn, Target, TargetOptions } from "./target.ts";
import { directoryPartCases } from "./cases/directory_part.ts";
import { domainCases } from "./cases/domains.ts";
import { pathCases } from "./cases/paths.ts";
import { permissionCases } from "./cases/permissions.ts";
import { protocolCases } from "./cases/protocol.ts";
import { memoryQuotaCases } from "./cases/memory_quota.ts";
import { quotaCases } from "./cases/quotas.ts";
import { transactionCases } from "./cases/transactions.ts";
import { treeCases } from "./cases/tree.ts";
import { watchCases } from "./cases/watches.ts";

/** Every group of the suite, in the order they run. */
export const GROUPS: readonly CaseGroup[] = [
  { name: "paths", cases: pathCases },
  { name: "protocol and bad input", cases: protocolCases },
  { name: "tree operations", cases: treeCases },
  { name: "directory_part", cases: directoryPartCases },
  { name: "permissions", cases: permissionCases },
  { name: "watches", cases: watchCases },
  { name: "transactions", cases: transactionCases },
  { name: "domains", cases: domainCases },
  { name: "quotas", cases: quotaCases },
  { name: "memory quota", cases: memoryQuotaCases },
];

/** The target a case sees: tracks what it opens so it can be cleaned up. */
class CaseScope implements Target {
  readonly #inner: Target;
  readonly #conns: RawConn[] = [];
  readonly #guests = new Set<number>();

  constructor(inner: Target) {
    this.#inner = inner;
  }

  get name(): string {
    return this.#inner.name;
  }

  async dom0(): Promise<RawConn> {
    const c = await this.#inner.dom0();
    this.#conns.push(c);
    return c;
  }

  async guest(domid: number): Promise<RawConn> {
    this.#guests.add(domid);
    const c = await this.#inner.guest(domid);
    this.#conns.push(c);
    return c;
  }

  async destroyGuest(domid: number): Promise<void> {
    this.#guests.delete(domid);
    await this.#inner.destroyGuest(domid);
  }

  stop(): Promise<void> {
    return Promise.reject(new Error("a case must not stop a shared target"));
  }

  /** Destroys the case's remaining guests and closes its connections. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    // Newest first: a device model (SET_TARGET) keeps its target alive.
    for (const domid of [...this.#guests].reverse()) {
      await this.#inner.destroyGuest(domid).catch((e) => errors.push(e));
    }
    this.#guests.clear();
    for (const c of this.#conns) c.close();
    await Promise.all(this.#conns.map((c) => c.closed));
    if (errors.length) throw errors[0];
  }
}

function optionsOf(needs: CaseNeeds | undefined): TargetOptions {
  return {
    existingDomains: needs?.existingDomains ?? EXISTING_DOMAINS,
    daemonArgs: needs?.daemonArgs ?? [],
  };
}

/** Options of `runConformance`. */
export interface RunOptions {
  /** Registers the tests as ignored (e.g. the real daemon is unavailable). */
  readonly ignore?: boolean;
  /** Runs only cases whose name contains this text (env CONFORMANCE_FILTER). */
  readonly filter?: string;
}

/**
 * Registers the conformance suite against targets made by `makeTarget`;
 * test names start with `label`.
 */
export function runConformance(
  makeTarget: MakeTarget,
  label: string,
  opts: RunOptions = {},
): void {
  const filter = opts.filter ?? Deno.env.get("CONFORMANCE_FILTER") ?? "";
  for (const group of GROUPS) {
    const cases = group.cases.filter((c) => c.name.includes(filter));
    if (cases.length === 0) continue;
    Deno.test({
      name: `${label} conformance: ${group.name}`,
      ignore: opts.ignore,
      async fn(t) {
        const shared = new Map<string, Promise<Target>>();
        const targetFor = (needs: CaseNeeds | undefined): Promise<Target> => {
          const o = optionsOf(needs);
          const key = JSON.stringify(o);
          if (!shared.has(key)) shared.set(key, makeTarget(o));
          return shared.get(key)!;
        };
        try {
          for (const c of cases) await runCase(t, c, makeTarget, targetFor);
        } finally {
          for (const p of shared.values()) await (await p.catch(() => null))?.stop();
        }
      },
    });
  }
}

async function runCase(
  t: Deno.TestContext,
  c: ConformanceCase,
  makeTarget: MakeTarget,
  targetFor: (needs: CaseNeeds | undefined) => Promise<Target>,
): Promise<void> {
  await t.step({
    name: c.name,
    // Connections and daemons outlive a step; the group checks for leaks.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const fresh = c.needs?.fresh ? await makeTarget(optionsOf(c.needs)) : null;
      const scope = new CaseScope(fresh ?? await targetFor(c.needs));
      try {
        await c.run(scope);
      } finally {
        try {
          await scope.cleanup();
        } finally {
          await fresh?.stop();
        }
      }
    },
  });
}
