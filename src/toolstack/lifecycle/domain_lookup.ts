/**
 * @module
 * Resolving the domain a user names on a command line.
 *
 * * `xend` style (default), as Xend's `XendDomain.domain_lookup_nr`
 *   (lifecycle-and-migration.md §2.6): by **name**, then by **domid** (the
 *   argument read as an integer), then by **UUID**. A domain named `"7"`
 *   therefore wins over domain 7.
 * * `xl` style, as xl's `find_domain` → `libxl_domain_qualifier_to_domid`:
 *   an all-digit argument is a domid, anything else a name; no UUIDs.
 *
 * Unknown and ambiguous arguments are {@link DomainLookupError}s that say
 * what to type instead. UUIDs compare case-insensitively.
 */

/** What lookup needs to know of a domain. */
export interface DomainRef {
  readonly domid: number;
  readonly name: string;
  readonly uuid: string;
}

export type LookupStyle = "xend" | "xl";

/** Most domains searched (Xen's domids stop below DOMID_FIRST_RESERVED, 0x7FF0). */
export const DOMAIN_LOOKUP_MAX = 0x7ff0;

/** An argument that names no domain, or more than one. */
export class DomainLookupError extends Error {
  override name = "DomainLookupError";
  constructor(
    readonly kind: "unknown" | "ambiguous",
    readonly query: string,
    message: string,
  ) {
    super(message);
  }
}

const DIGITS = /^[0-9]+$/;

function one<T extends DomainRef>(
  query: string,
  by: "name" | "domid" | "UUID",
  found: readonly T[],
): T | undefined {
  if (found.length <= 1) return found[0];
  throw new DomainLookupError(
    "ambiguous",
    query,
    `domain ${by} "${query}" is ambiguous: it matches domids ` +
      `${found.map((d) => d.domid).join(", ")}; use a domid or UUID instead`,
  );
}

/**
 * The domain `query` names among `domains`.
 *
 * @example
 * ```ts
 * import { lookupDomain } from "./domain_lookup.ts";
 * const doms = [{ domid: 0, name: "Domain-0", uuid: "00000000-0000-0000-0000-000000000000" }];
 * lookupDomain("Domain-0", doms).domid; // 0
 * lookupDomain("0", doms).name; // "Domain-0"
 * ```
 */
export function lookupDomain<T extends DomainRef>(
  query: string,
  domains: readonly T[],
  style: LookupStyle = "xend",
): T {
  if (domains.length > DOMAIN_LOOKUP_MAX) {
    throw new RangeError(`domain lookup: ${domains.length} domains (limit ${DOMAIN_LOOKUP_MAX})`);
  }
  const byName = () => one(query, "name", domains.filter((d) => d.name === query));
  const byDomid = () =>
    DIGITS.test(query)
      ? one(query, "domid", domains.filter((d) => d.domid === Number(query)))
      : undefined;
  const byUuid = () =>
    one(query, "UUID", domains.filter((d) => d.uuid.toLowerCase() === query.toLowerCase()));
  const found = style === "xl"
    ? (DIGITS.test(query) ? byDomid() : byName())
    : byName() ?? byDomid() ?? byUuid();
  if (found !== undefined) return found;
  throw new DomainLookupError(
    "unknown",
    query,
    style === "xl"
      ? `${query} is an invalid domain identifier: no domain has that ` +
        `${DIGITS.test(query) ? "domid" : "name"} (see xl list)`
      : `Domain '${query}' does not exist (no domain has that name, domid or UUID; see xm list)`,
  );
}
