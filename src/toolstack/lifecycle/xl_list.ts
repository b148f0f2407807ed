/**
 * @module
 * `xl list` output, byte for byte as `tools/xl/xl_info.c` `list_domains`
 * prints it (no options):
 *
 * ```
 * printf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
 * printf("%-40s %5d %5lu %5d     %c%c%c%c%c%c  %8.1f\n", name, domid,
 *        (current_memkb + outstanding_memkb) / 1024, vcpu_online,
 *        r, b, p, s, reason, d, (float)cpu_time / 1e9);
 * ```
 *
 * `current_memkb` is `tot_pages * 4` and `outstanding_memkb` the claimed
 * pages * 4 (libxl `xcinfo2xlinfo`); the six state letters come from the
 * getdomaininfo flags through `hv/domain_info.ts` (`xlStateString`: reason
 * letter from `"-rscwS"`, `-` unless shut down). Rows come in domid order, as
 * `libxl_list_domain` returns them. The time goes through a C `float` and
 * glibc's `%.1f` (exact value, ties to even), which {@link formatFixed1}
 * reproduces: 0.25 s prints as `0.2`, where JavaScript's `toFixed` says 0.3.
 */
import { type DomainInfo, xlStateString } from "../../hv/domain_info.ts";

/** xl's header line (without the newline). */
export const XL_LIST_HEADER =
  "Name                                        ID   Mem VCPUs\tState\tTime(s)";
/** Most rows formatted (Xen's domid space below DOMID_FIRST_RESERVED, 0x7FF0). */
export const XL_LIST_ROWS_MAX = 0x7ff0;

/** One domain: its name (from xenstore) and getdomaininfo. */
export interface XlListRow {
  readonly name: string;
  readonly info: DomainInfo;
  /** Pages claimed but not yet allocated (`outstanding_pages`), default 0. */
  readonly outstandingPages?: number;
}

const enc = new TextEncoder();

/** C `%-Ns`: pad to N bytes (glibc counts bytes, not characters). */
function padRightBytes(s: string, n: number): string {
  return s + " ".repeat(Math.max(0, n - enc.encode(s).length));
}

/** C `%Nd` / `%Nlu` for a non-negative integer. */
function padLeft(n: number, width: number): string {
  return String(n).padStart(width, " ");
}

/** glibc `%.1f` of a double: exact decimal value, ties (exactly representable) to even. */
export function formatFixed1(x: number): string {
  // An exact tie k.d5 is representable only as m/4 with m odd (x*4 is exact).
  const quarter = x * 4;
  if (Number.isInteger(quarter) && Math.abs(quarter % 2) === 1) {
    const tenths = Math.floor(x * 10); // exact here: x*10 = 2.5*m
    const even = tenths % 2 === 0 ? tenths : tenths + 1;
    return (even / 10).toFixed(1);
  }
  return x.toFixed(1);
}

/** C `%8.1f`. */
function fixed1Width8(x: number): string {
  return formatFixed1(x).padStart(8, " ");
}

/** One row of `xl list`, without the newline. */
export function formatXlListRow(row: XlListRow): string {
  const { info } = row;
  const memMb = Math.floor((info.totPages * 4 + (row.outstandingPages ?? 0) * 4) / 1024);
  const seconds = Math.fround(info.cpuTimeNs) / 1e9;
  return `${padRightBytes(row.name, 40)} ${padLeft(info.domain, 5)} ${padLeft(memMb, 5)} ` +
    `${padLeft(info.nrOnlineVcpus, 5)}     ${xlStateString(info.flags)}  ${fixed1Width8(seconds)}`;
}

/**
 * The whole `xl list` output: header and one line per domain in domid
 * order, each ending in a newline. Throws RangeError past
 * {@link XL_LIST_ROWS_MAX} rows.
 *
 * @example
 * ```ts
 * import { formatXlList } from "./xl_list.ts";
 * // Name                                        ID   Mem VCPUs	State	Time(s)
 * // Domain-0                                     0  1024     2     r-----     123.4
 * ```
 */
export function formatXlList(rows: readonly XlListRow[]): string {
  if (rows.length > XL_LIST_ROWS_MAX) {
    throw new RangeError(`xl list: ${rows.length} rows (limit ${XL_LIST_ROWS_MAX})`);
  }
  const sorted = [...rows].sort((a, b) => a.info.domain - b.info.domain);
  return [XL_LIST_HEADER, ...sorted.map(formatXlListRow)].map((l) => l + "\n").join("");
}
