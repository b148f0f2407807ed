import assert from "node:assert/strict";
import {
  DOMAIN_LOOKUP_MAX,
  DomainLookupError,
  type DomainRef,
  lookupDomain,
} from "./domain_lookup.ts";

const U = (n: number) => `${String(n).padStart(8, "0")}-aaaa-bbbb-cccc-0123456789ab`;
const DOMS: DomainRef[] = [
  { domid: 0, name: "Domain-0", uuid: U(0) },
  { domid: 3, name: "web", uuid: U(3) },
  { domid: 7, name: "db", uuid: U(7) },
  { domid: 9, name: "3", uuid: U(9) }, // a domain whose name is another's domid
];

function refused(kind: "unknown" | "ambiguous", re: RegExp, fn: () => unknown) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DomainLookupError);
    assert.equal(e.kind, kind);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("lookup (xend): name, then domid, then UUID", () => {
  assert.equal(lookupDomain("web", DOMS).domid, 3);
  assert.equal(lookupDomain("7", DOMS).name, "db");
  assert.equal(lookupDomain(U(7), DOMS).name, "db");
  assert.equal(lookupDomain(U(7).toUpperCase(), DOMS).name, "db");
  assert.equal(lookupDomain("0", DOMS).name, "Domain-0");
  // Name before domid: "3" is the domain named "3" (domid 9), not domid 3.
  assert.equal(lookupDomain("3", DOMS).domid, 9);
});

Deno.test("lookup (xl): all digits is a domid, anything else a name; no UUIDs", () => {
  assert.equal(lookupDomain("3", DOMS, "xl").name, "web");
  assert.equal(lookupDomain("db", DOMS, "xl").domid, 7);
  refused(
    "unknown",
    /^00000007-aaaa-.* is an invalid domain identifier: no domain has that name/,
    () => lookupDomain(U(7), DOMS, "xl"),
  );
  refused(
    "unknown",
    /^42 is an invalid domain identifier: no domain has that domid \(see xl list\)$/,
    () => lookupDomain("42", DOMS, "xl"),
  );
});

Deno.test("lookup: unknown arguments are named errors", () => {
  refused(
    "unknown",
    /^Domain 'mail' does not exist \(no domain has that name, domid or UUID; see xm list\)$/,
    () => lookupDomain("mail", DOMS),
  );
  refused("unknown", /Domain '42' does not exist/, () => lookupDomain("42", DOMS));
  refused("unknown", /Domain '' does not exist/, () => lookupDomain("", DOMS));
  refused("unknown", /Domain '-1' does not exist/, () => lookupDomain("-1", DOMS));
});

Deno.test("lookup: ambiguous names and UUIDs are named errors that say what to use", () => {
  const twins = [...DOMS, { domid: 11, name: "web", uuid: U(11) }, {
    domid: 12,
    name: "x",
    uuid: U(3),
  }];
  refused(
    "ambiguous",
    /^domain name "web" is ambiguous: it matches domids 3, 11; use a domid or UUID instead$/,
    () => lookupDomain("web", twins),
  );
  refused("ambiguous", /domain name "web" is ambiguous/, () => lookupDomain("web", twins, "xl"));
  refused(
    "ambiguous",
    /domain UUID ".*" is ambiguous: it matches domids 3, 12/,
    () => lookupDomain(U(3), twins),
  );
  // A unique domid still resolves although names collide.
  assert.equal(lookupDomain("11", twins).domid, 11);
});

Deno.test("lookup: more domains than the domid space is refused", () => {
  const many = Array.from(
    { length: DOMAIN_LOOKUP_MAX },
    (_, i) => ({ domid: i, name: `d${i}`, uuid: U(i) }),
  );
  assert.equal(lookupDomain(`d${DOMAIN_LOOKUP_MAX - 1}`, many).domid, DOMAIN_LOOKUP_MAX - 1);
  many.push({ domid: DOMAIN_LOOKUP_MAX, name: "over", uuid: U(1) });
  assert.throws(() => lookupDomain("over", many), /32753 domains \(limit 32752\)/);
});
