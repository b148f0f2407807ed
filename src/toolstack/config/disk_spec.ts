/**
 * @module
 * One `disk = [ ... ]` entry, parsed as libxlutil's disk scanner does
 * (`tools/libs/util/libxlu_disk_l.l`, `libxlu_disk.c`;
 * `docs/misc/xl-disk-configuration.txt`). Both syntaxes work:
 *
 * * positional `target,format,vdev,access` (`/img/web.raw,raw,xvda,rw`);
 *   with a deprecated prefix the format slot is skipped
 *   (`phy:/dev/vg/web,xvda,w`, `file:/img/a,hda,w`);
 * * keyed `vdev=,target=,format=,access=,devtype=,backendtype=,script=`, where
 *   `target=` swallows the rest of the string (so a target may contain `,`).
 *
 * The scanner is flex: at each position every rule is tried and the longest
 * match wins, ties going to the earlier rule; rules with trailing context
 * (`phy:/.*`) count the context in their length, which is why a deprecated
 * prefix beats a positional parameter. Worked example, `,hdc:cdrom,r`:
 * `,` is positional 1 → target ""; `hdc:cdrom,` is positional 2, the target
 * is empty so `vdev:devtype` applies → vdev hdc, CD-ROM, format empty;
 * `r` is positional 4 → read-only.
 *
 * xenlab keeps `DiskConfig.format` to the four image formats: an empty
 * CD-ROM drive is `format: "raw"` with `target: ""` (libxl writes
 * `params = ""` for it too).
 */
import type { DiskConfig } from "../domain_config.ts";
import { ConfigError } from "./config_error.ts";
import { virtualDeviceNumber } from "./vdev_number.ts";

/** Longest disk spec accepted. */
export const DISK_SPEC_LENGTH_MAX = 4096;

type Format = DiskConfig["format"] | "empty" | "qed";
type Backend = DiskConfig["backendType"] | "standalone";

interface ScanState {
  target?: string;
  format?: Format;
  vdev?: string;
  script?: string;
  backendType?: Backend;
  backendDomain?: string;
  specification?: "xen" | "virtio";
  readwrite: boolean;
  accessSet: boolean;
  isCdrom: boolean;
  hadDeprPrefix: boolean;
  readonly warnings: string[];
}

type Fail = (message: string, near?: string) => never;

interface Rule {
  /** Sticky regex; group 1, when present, is the head (the rest is trailing context). */
  readonly re: RegExp;
  readonly act: (head: string, s: ScanState, fail: Fail) => void;
}

const stripComma = (t: string) => t.endsWith(",") ? t.slice(0, -1) : t;
const fromEquals = (t: string) => stripComma(t).slice(t.indexOf("=") + 1);

function saveString(s: ScanState, key: "target" | "vdev" | "script", v: string, fail: Fail): void {
  const old = s[key];
  if (old !== undefined && old !== "") fail(`${key} respecified`, v);
  s[key] = v;
}

function setFormat(s: ScanState, v: string, fail: Fail): void {
  const f: Format | undefined = v === "" || v === "raw"
    ? "raw"
    : v === "qcow" || v === "qcow2" || v === "vhd" || v === "empty" || v === "qed"
    ? v
    : undefined;
  if (f === undefined) fail("unknown value for format", v);
  if (s.format !== undefined && s.format !== f) fail("format respecified", v);
  s.format = f;
}

function setAccess(s: ScanState, v: string, fail: Fail): void {
  if (v === "r" || v === "ro") s.readwrite = false;
  else if (v === "rw" || v === "w" || v === "") s.readwrite = true;
  else fail("unknown value for access", v);
}

function setBackendType(s: ScanState, v: string, fail: Fail): void {
  const b: Backend | undefined = v === "phy" || v === "tap" || v === "qdisk" || v === "standalone"
    ? v
    : undefined;
  if (b === undefined) fail("unknown value for backendtype", v);
  if (s.backendType !== undefined && s.backendType !== b) fail("backendtype respecified", v);
  s.backendType = b;
}

/** `<vdev>:<devtype>` in a positional slot; false (doing nothing) without a colon. */
function vdevAndDevtype(s: ScanState, t: string, fail: Fail): boolean {
  const colon = t.lastIndexOf(":");
  if (colon < 0) return false;
  saveString(s, "vdev", t.slice(0, colon), fail);
  const type = t.slice(colon + 1);
  if (type === "cdrom") s.isCdrom = true;
  else if (type === "disk") s.isCdrom = false;
  else fail("unknown deprecated type", type);
  return true;
}

function positional(s: ScanState, text: string, fail: Fail): void {
  const t = stripComma(text);
  if (s.target === undefined) {
    saveString(s, "target", t, fail);
  } else if (!s.hadDeprPrefix && s.format === undefined) {
    if (s.target === "" && vdevAndDevtype(s, t, fail)) s.format = "empty";
    else setFormat(s, t, fail);
  } else if (s.vdev === undefined) {
    if (!vdevAndDevtype(s, t, fail)) saveString(s, "vdev", t, fail);
  } else if (!s.accessSet) {
    s.accessSet = true;
    setAccess(s, t, fail);
  } else {
    fail("too many positional parameters", t);
  }
}

const ignored = (what: string) => (_h: string, s: ScanState) => {
  s.warnings.push(`disk: ignoring "${what}" (not modelled by xenlab)`);
};

/** The scanner's rules, in libxlu_disk_l.l order (the order breaks ties). */
const RULES: readonly Rule[] = [
  { re: /([ \t\n]+)(?:[^ \t\n].*)?/y, act: () => {} },
  { re: /format=[^,]*,?/y, act: (t, s, f) => setFormat(s, fromEquals(t), f) },
  { re: /cdrom,?/y, act: (_t, s) => void (s.isCdrom = true) },
  { re: /devtype=cdrom,?/y, act: (_t, s) => void (s.isCdrom = true) },
  { re: /devtype=disk,?/y, act: (_t, s) => void (s.isCdrom = false) },
  { re: /devtype=[^,]*,?/y, act: (t, _s, f) => f("unknown value for type", t) },
  { re: /access=[^,]*,?/y, act: (t, s, f) => setAccess(s, fromEquals(t), f) },
  { re: /backend=[^,]*,?/y, act: (t, s) => void (s.backendDomain = fromEquals(t)) },
  { re: /backendtype=[^,]*,?/y, act: (t, s, f) => setBackendType(s, fromEquals(t), f) },
  {
    re: /specification=[^,]*,?/y,
    act: (t, s, f) => {
      const v = fromEquals(t);
      if (v === "xen" || v === "virtio") s.specification = v;
      else f("unknown value for specification", v);
    },
  },
  { re: /vdev=[^,]*,?/y, act: (t, s, f) => saveString(s, "vdev", fromEquals(t), f) },
  { re: /script=[^,]*,?/y, act: (t, s, f) => saveString(s, "script", fromEquals(t), f) },
  { re: /direct-io-safe,?/y, act: ignored("direct-io-safe") },
  { re: /discard,?/y, act: ignored("discard") },
  { re: /no-discard,?/y, act: ignored("no-discard") },
  { re: /colo,?/y, act: ignored("colo") },
  { re: /no-colo,?/y, act: ignored("no-colo") },
  { re: /colo-host=[^,]*,?/y, act: ignored("colo-host") },
  { re: /colo-port=[^,]*,?/y, act: ignored("colo-port") },
  { re: /colo-export=[^,]*,?/y, act: ignored("colo-export") },
  { re: /active-disk=[^,]*,?/y, act: ignored("active-disk") },
  { re: /hidden-disk=[^,]*,?/y, act: ignored("hidden-disk") },
  { re: /trusted,?/y, act: ignored("trusted") },
  { re: /untrusted,?/y, act: ignored("untrusted") },
  { re: /grant_usage=1,?/y, act: ignored("grant_usage") },
  { re: /grant_usage=0,?/y, act: ignored("grant_usage") },
  { re: /target=.*/y, act: (t, s, f) => saveString(s, "target", fromEquals(t), f) },
  { re: /[a-z][-a-z0-9]*=[^,],?/y, act: (t, _s, f) => f("unknown parameter", t) },
  {
    re: /((?:raw|qcow2?|vhd):).*/y,
    act: (h, s, f) => {
      s.hadDeprPrefix = true;
      setFormat(s, h.slice(0, -1), f);
    },
  },
  {
    re: /((?:iscsi|e?nbd|drbd):).*/y,
    act: (h, s, f) => {
      s.hadDeprPrefix = true;
      saveString(s, "script", `block-${h.slice(0, -1)}`, f);
    },
  },
  ...["tapdisk:", "tap2?:", "aio:", "ioemu:", "file:", "phy:"].map((p): Rule => ({
    re: new RegExp(`(${p}).*`, "y"),
    act: (_h, s) => void (s.hadDeprPrefix = true),
  })),
  {
    re: /([a-z][a-z0-9]*:)(?:[^a-z0-9].*)?/y,
    act: (h, _s, f) => f("unknown deprecated disk prefix", h),
  },
  { re: /[^=,]*,|[^=,]+,?/y, act: (t, s, f) => positional(s, t, f) },
  { re: /.|\n/y, act: (_t, _s, f) => f("bad disk syntax") },
];

/** Runs the scanner over `spec` (each step consumes at least one character). */
function scan(spec: string, fail: (message: string, near?: string) => never): ScanState {
  const s: ScanState = {
    readwrite: true,
    accessSet: false,
    isCdrom: false,
    hadDeprPrefix: false,
    warnings: [],
  };
  let pos = 0;
  while (pos < spec.length) {
    let best: { rule: Rule; m: RegExpExecArray } | undefined;
    for (const rule of RULES) {
      rule.re.lastIndex = pos;
      const m = rule.re.exec(spec);
      if (m && (best === undefined || m[0].length > best.m[0].length)) best = { rule, m };
    }
    // The last rule matches any character, so there is always a match.
    const head = best!.m[1] ?? best!.m[0];
    const near = (n?: string) => n ?? spec.slice(pos);
    best!.rule.act(head, s, (msg, n) => fail(msg, near(n)));
    pos += head.length;
  }
  return s;
}

/**
 * Parses one xl disk spec. Errors are {@link ConfigError}s on `line`, worded
 * like libxlu's (`unknown value for format near "qcow3" in "..."`).
 *
 * @example
 * ```ts
 * import { parseDiskSpec } from "./disk_spec.ts";
 * parseDiskSpec("phy:/dev/vg/web,xvda,w").disk;
 * // { vdev: "xvda", devid: 51712, target: "/dev/vg/web", format: "raw", access: "w", ... }
 * ```
 */
export function parseDiskSpec(
  spec: string,
  line?: number,
): { disk: DiskConfig; warnings: string[] } {
  const fail = (message: string, near?: string): never => {
    const at = near === undefined ? "" : ` near "${near}"`;
    throw new ConfigError(line, `disk: ${message}${at} in "${spec}"`);
  };
  if (spec.length > DISK_SPEC_LENGTH_MAX) {
    throw new ConfigError(
      line,
      `disk: spec is ${spec.length} chars (limit ${DISK_SPEC_LENGTH_MAX})`,
    );
  }
  const s = scan(spec, fail);
  let format: Format = s.format ?? "raw";
  if (s.isCdrom) {
    s.readwrite = false;
    if (s.target === undefined || s.target === "") format = "empty";
  }
  if (s.vdev === undefined) fail("no vdev specified");
  if (s.target === undefined && !s.isCdrom) fail("no target specified (and device not removable)");
  if (format === "qed") fail("format qed is not supported by xenlab", "qed");
  if (s.backendType === "standalone") fail("backendtype standalone is not supported by xenlab");
  if (s.specification === "virtio") fail("specification=virtio is not supported by xenlab");
  if (s.backendDomain !== undefined) {
    fail("driver domains (backend=) are not supported by xenlab", s.backendDomain);
  }
  const vdev = s.vdev!;
  const devid = virtualDeviceNumber(vdev);
  if (devid === undefined) fail("invalid or unsupported virtual disk identifier", vdev);
  const imageFormat = format === "empty" ? "raw" : format as DiskConfig["format"];
  const disk: DiskConfig = {
    vdev,
    devid: devid!,
    target: s.target ?? "",
    format: imageFormat,
    access: s.readwrite ? "w" : "r",
    deviceType: s.isCdrom ? "cdrom" : "disk",
    backendType: (s.backendType as DiskConfig["backendType"] | undefined) ??
      (imageFormat === "raw" ? "phy" : "qdisk"),
    ...(s.script === undefined ? {} : { script: s.script }),
  };
  return { disk, warnings: s.warnings };
}
