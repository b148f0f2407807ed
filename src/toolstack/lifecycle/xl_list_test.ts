import assert from "node:assert/strict";
import type { DomainInfo } from "../../hv/domain_info.ts";
import {
  XEN_DOMINF_blocked,
  XEN_DOMINF_dying,
  XEN_DOMINF_paused,
  XEN_DOMINF_running,
  XEN_DOMINF_shutdown,
  XEN_DOMINF_shutdownshift,
} from "../../hv/xen_abi.ts";
import {
  formatFixed1,
  formatXlList,
  formatXlListRow,
  XL_LIST_HEADER,
  XL_LIST_ROWS_MAX,
  type XlListRow,
} from "./xl_list.ts";

const R = XEN_DOMINF_running, B = XEN_DOMINF_blocked, P = XEN_DOMINF_paused;
const S = (code: number) => XEN_DOMINF_shutdown | (code << XEN_DOMINF_shutdownshift);

function row(
  name: string,
  domain: number,
  totPages: number,
  nrOnlineVcpus: number,
  flags: number,
  cpuTimeNs: number,
  outstandingPages = 0,
): XlListRow {
  const info: DomainInfo = {
    domain,
    flags: flags >>> 0,
    totPages,
    maxPages: totPages,
    sharedInfoFrame: 0,
    cpuTimeNs,
    nrOnlineVcpus,
    maxVcpuId: Math.max(0, nrOnlineVcpus - 1),
    handle: "00000000-0000-0000-0000-000000000000",
  };
  return { name, info, outstandingPages };
}

/**
 * The golden lines were printed by xl_info.c's own format string, compiled
 * with gcc against glibc, for the same values (the float cast and `%8.1f`
 * rounding included).
 */
const GOLDEN: [XlListRow, string][] = [
  [
    row("Domain-0", 0, 262144, 2, R, 123456789000),
    "Domain-0                                     0  1024     2     r-----     123.5",
  ],
  [
    row("web", 3, 131072, 1, B, 250000000, 256),
    "web                                          3   513     1     -b----       0.2",
  ],
  [
    row("db", 7, 65536, 4, P, 750000000),
    "db                                           7   256     4     --p---       0.8",
  ],
  [
    row("suspended-guest", 9, 1000, 1, P | S(2), 0),
    "suspended-guest                              9     3     1     --pss-       0.0",
  ],
  [
    row("crashed", 12, 4096, 1, S(3), 1250000000),
    "crashed                                     12    16     1     ---sc-       1.2",
  ],
  [
    row("dying", 13, 0, 0, P | S(0) | XEN_DOMINF_dying, 5),
    "dying                                       13     0     0     --ps-d       0.0",
  ],
  [
    row("watchdog", 14, 75, 1, S(4), 99999999),
    "watchdog                                    14     0     1     ---sw-       0.1",
  ],
  [
    row("soft", 15, 1250, 1, S(5), 2000000050000000),
    "soft                                        15     4     1     ---sS-  2000000.1",
  ],
  [
    row("weird-reason", 16, 1250, 1, S(9), 16777217000),
    "weird-reason                                16     4     1     ---s?-      16.8",
  ],
  [
    row(
      "a-name-that-is-much-longer-than-forty-characters",
      100000,
      1250,
      123456,
      R | B,
      123456789012345,
    ),
    "a-name-that-is-much-longer-than-forty-characters 100000     4 123456     rb----  123456.8",
  ],
  [
    row("ünïcode", 17, 1024, 1, B, 50000000),
    "ünïcode                                   17     4     1     -b----       0.1",
  ],
];

Deno.test("xl list: each row is byte-for-byte what xl_info.c prints (golden from C printf)", () => {
  for (const [r, line] of GOLDEN) assert.equal(formatXlListRow(r), line, r.name);
});

Deno.test("xl list: header first, rows in domid order, every line newline-terminated", () => {
  const out = formatXlList([GOLDEN[2][0], GOLDEN[0][0], GOLDEN[1][0]]);
  assert.equal(
    out,
    "Name                                        ID   Mem VCPUs\tState\tTime(s)\n" +
      "Domain-0                                     0  1024     2     r-----     123.5\n" +
      "web                                          3   513     1     -b----       0.2\n" +
      "db                                           7   256     4     --p---       0.8\n",
  );
  assert.equal(formatXlList([]), XL_LIST_HEADER + "\n");
});

Deno.test("xl list: %.1f rounds exact ties to even, like glibc", () => {
  assert.deepEqual(
    [0.25, 0.75, 1.25, 0.35, 0.05, 2.5, 0.5, 0, 99.95, 0.125].map(formatFixed1),
    ["0.2", "0.8", "1.2", "0.3", "0.1", "2.5", "0.5", "0.0", "100.0", "0.1"],
  );
});

Deno.test("xl list: more rows than the domid space is refused", () => {
  const one = GOLDEN[0][0];
  const rows = Array.from({ length: XL_LIST_ROWS_MAX + 1 }, () => one);
  assert.throws(() => formatXlList(rows), /xl list: 32753 rows \(limit 32752\)/);
  assert.equal(formatXlList(rows.slice(1)).split("\n").length, XL_LIST_ROWS_MAX + 2);
});
