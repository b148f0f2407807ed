/**
 * @module
 * A readable timeline from trace lines: who wrote what where in xenstore,
 * which hypercall with which arguments and result, which state change. One
 * line per event, virtual seconds first. Reads (READ, DIRECTORY, GET_PERMS)
 * and watch bookkeeping are left out unless `verbose`.
 */

const QUIET_XS = new Set([
  "READ",
  "DIRECTORY",
  "DIRECTORY_PART",
  "GET_PERMS",
  "WATCH",
  "UNWATCH",
  "GET_DOMAIN_PATH",
  "IS_DOMAIN_INTRODUCED",
]);

function compact(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 120 ? s.slice(0, 117) + "..." : s;
}

function rest(e: Record<string, unknown>, skip: string[]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(e)) {
    if (["t", "src", "dom", ...skip].includes(k)) continue;
    parts.push(`${k}=${typeof v === "string" ? v : compact(v)}`);
  }
  return parts.join(" ");
}

/** One trace line as a timeline line, or undefined if it is left out. */
export function timelineLine(line: string, verbose = false): string | undefined {
  const e = JSON.parse(line) as Record<string, unknown>;
  const t = (Number(e.t) / 1e9).toFixed(6).padStart(11);
  const who = e.dom === undefined ? String(e.src) : `${e.src}:d${e.dom}`;
  const head = `${t}  ${who.padEnd(14)}`;
  switch (e.src) {
    case "xenstored": {
      if (!verbose && QUIET_XS.has(String(e.op))) return undefined;
      const value = e.value !== undefined ? ` = ${JSON.stringify(e.value)}` : "";
      const args = Array.isArray(e.args) ? ` ${(e.args as string[]).join(" ")}` : "";
      const tx = e.tx ? ` [tx ${e.tx}]` : "";
      return `${head}xs ${e.op} ${e.path ?? ""}${value}${args}${tx} -> ${e.reply}`;
    }
    case "hv": {
      if (e.hc !== undefined) {
        const a = (e.args ?? {}) as Record<string, unknown>;
        const { op, ...more } = a;
        return `${head}${e.hc} ${op ?? ""} ${
          Object.keys(more).length ? compact(more) : ""
        } -> ${e.ret}`;
      }
      if (!verbose && (e.ev === "upcall" || e.ev === "foreign_map" || e.ev === "foreign_unmap")) {
        return undefined;
      }
      return `${head}${e.ev} ${rest(e, ["ev"])}`;
    }
    default:
      return `${head}${rest(e, [])}`;
  }
}

/** The timeline of a whole trace. */
export function formatTimeline(lines: readonly string[], verbose = false): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const f = timelineLine(l, verbose);
    if (f !== undefined) out.push(f);
  }
  return out;
}
