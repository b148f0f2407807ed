/**
 * @module
 * One `vif = [ ... ]` entry, as xl's `parse_nic_config` reads it
 * (`tools/xl/xl_parse.c`): comma-separated `key=value` pairs, leading blanks
 * skipped, an empty spec meaning "all defaults". Defaults follow libxl's
 * `libxl__device_nic_setdefault`: bridge `xenbr0`, script `vif-bridge`, type
 * `vif_ioemu` for HVM guests and `vif` otherwise, and a MAC in Xen's OUI
 * `00:16:3e` whose last three bytes are random with the top bit of the
 * fourth cleared (`r[0] & 0x7f`) — drawn here from the injected Rng so a seed
 * always gives the same MACs.
 *
 * Like xl, an unrecognised key is reported and ignored (a warning here); a
 * malformed value of a known key is refused.
 */
import type { Rng } from "../../sim/rng.ts";
import type { DomainType, VifConfig } from "../domain_config.ts";
import { ConfigError } from "./config_error.ts";

/** Longest vif spec accepted. */
export const VIF_SPEC_LENGTH_MAX = 4096;
/** Largest `mtu=` accepted (an IPv4 datagram's limit). */
export const VIF_MTU_MAX = 65535;

/** Xen's MAC prefix (OUI 00:16:3e). */
export const XEN_OUI = [0x00, 0x16, 0x3e] as const;

/** Keys xl knows but xenlab does not model (accepted with a warning). */
const XL_KNOWN_UNMODELLED = new Set([
  "model",
  "rate",
  "gatewaydev",
  "netdev",
  "backend",
  "accel",
  "forwarddev",
]);

const hex2 = (b: number) => b.toString(16).padStart(2, "0");

/** A random MAC in Xen's OUI, as libxl draws it (one u32 of `rng`). */
export function generateXenMac(rng: Pick<Rng, "u32">): string {
  const r = rng.u32();
  return [...XEN_OUI, (r & 0xff) & 0x7f, (r >>> 8) & 0xff, (r >>> 16) & 0xff].map(hex2).join(":");
}

/** `aa:bb:...` (or `-` separated, one or two hex digits each) → canonical lower case, or undefined. */
export function normaliseMac(text: string): string | undefined {
  if (!/^[0-9a-fA-F]{1,2}(?:[:-][0-9a-fA-F]{1,2}){5}$/.test(text)) return undefined;
  return text.split(/[:-]/).map((o) => hex2(parseInt(o, 16))).join(":");
}

/** A vif spec parsed, before defaults (the MAC is filled in by {@link parseVifSpec}). */
interface VifFields {
  devid?: number;
  mac?: string;
  bridge?: string;
  script?: string;
  type?: VifConfig["type"];
  ip?: string;
  mtu?: number;
  vifname?: string;
}

function parseUlong(key: string, v: string, fail: (m: string) => never): number {
  if (!/^[0-9]+$/.test(v)) fail(`${key}: expected a number, got "${v}"`);
  return Number(v);
}

function readPairs(spec: string, fail: (m: string) => never, warnings: string[]): VifFields {
  const f: VifFields = {};
  for (const raw of spec.split(",")) {
    const token = raw.replace(/^ +/, "");
    if (token === "") continue; // strtok skips empty fields
    const eq = token.indexOf("=");
    const key = eq < 0 ? token : token.slice(0, eq);
    const v = eq < 0 ? "" : token.slice(eq + 1);
    if (eq < 0) {
      warnings.push(`vif: unrecognized argument "${token}" ignored`);
      continue;
    }
    switch (key) {
      case "mac": {
        const mac = normaliseMac(v);
        if (mac === undefined) {
          fail(`mac: expected six hex octets like 00:16:3e:12:34:56, got "${v}"`);
        }
        f.mac = mac;
        break;
      }
      case "bridge":
        f.bridge = v;
        break;
      case "script":
        f.script = v;
        break;
      case "ip":
        f.ip = v;
        break;
      case "vifname":
        f.vifname = v;
        break;
      case "type":
        if (v === "vif") f.type = "vif";
        else if (v === "ioemu" || v === "vif_ioemu") f.type = "vif_ioemu";
        else fail(`type: expected vif or ioemu, got "${v}"`);
        break;
      case "mtu": {
        const mtu = parseUlong("mtu", v, fail);
        if (mtu < 68 || mtu > VIF_MTU_MAX) fail(`mtu: ${mtu} is outside 68..${VIF_MTU_MAX}`);
        f.mtu = mtu;
        break;
      }
      case "devid":
        f.devid = parseUlong("devid", v, fail);
        break;
      default:
        warnings.push(
          XL_KNOWN_UNMODELLED.has(key) || key.startsWith("colo_")
            ? `vif: ignoring "${key}" (not modelled by xenlab)`
            : `vif: unrecognized argument "${token}" ignored`,
        );
    }
  }
  return f;
}

/**
 * Parses one vif spec. `index` is the entry's position in the list (its
 * default devid); `rng` supplies the MAC when none is given.
 *
 * @example
 * ```ts
 * import { Rng } from "../../sim/rng.ts";
 * import { parseVifSpec } from "./vif_spec.ts";
 * parseVifSpec("bridge=xenbr1, mac=00:16:3E:00:00:01", 0, "pv", new Rng(1)).vif;
 * // { devid: 0, mac: "00:16:3e:00:00:01", bridge: "xenbr1", script: "vif-bridge", type: "vif" }
 * ```
 */
export function parseVifSpec(
  spec: string,
  index: number,
  domainType: DomainType,
  rng: Pick<Rng, "u32">,
  line?: number,
): { vif: VifConfig; warnings: string[] } {
  const fail = (m: string): never => {
    throw new ConfigError(line, `vif: ${m} in "${spec}"`);
  };
  if (spec.length > VIF_SPEC_LENGTH_MAX) {
    throw new ConfigError(line, `vif: spec is ${spec.length} chars (limit ${VIF_SPEC_LENGTH_MAX})`);
  }
  const warnings: string[] = [];
  const f = readPairs(spec, fail, warnings);
  const vif: VifConfig = {
    devid: f.devid ?? index,
    mac: f.mac ?? generateXenMac(rng),
    bridge: f.bridge ?? "xenbr0",
    script: f.script ?? "vif-bridge",
    type: f.type ?? (domainType === "hvm" ? "vif_ioemu" : "vif"),
    ...(f.ip === undefined ? {} : { ip: f.ip }),
    ...(f.mtu === undefined ? {} : { mtu: f.mtu }),
    ...(f.vifname === undefined ? {} : { vifname: f.vifname }),
  };
  return { vif, warnings };
}
