/**
 * @module
 * Xen's `verify-stream-v2` (Debian xen-utils-4.17) as the tests run it:
 * where it is found (installed, or unpacked by
 * ../shared/tools/real-xenstored/start.sh under
 * `${XSD_CACHE:-${TMPDIR:-/tmp}/real-xenstored}/root`), and a run of it on
 * bytes or on a file (`-i FILE`: a bare FILE argument is ignored and stdin
 * read instead).
 */
import type { ImageFormat } from "./images.ts";

const PYTHON = "/usr/bin/python3";

interface Validator {
  script: string;
  pythonPath: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function findValidator(): Promise<Validator | string> {
  if (!(await exists(PYTHON))) return `${PYTHON} is missing`;
  const cache = Deno.env.get("XSD_CACHE") ?? `${Deno.env.get("TMPDIR") ?? "/tmp"}/real-xenstored`;
  const roots = ["/usr/lib/xen-4.17", `${cache}/root/usr/lib/xen-4.17`];
  for (const root of roots) {
    const v = { script: `${root}/bin/verify-stream-v2`, pythonPath: `${root}/lib/python` };
    if (await exists(v.script) && await exists(`${v.pythonPath}/xen/migration/libxc.py`)) return v;
  }
  return `verify-stream-v2 not found under ${roots.join(" or ")}`;
}

/** The validator, or why it is missing. */
export const found: Validator | string = await findValidator();
export const validator: Validator | undefined = typeof found === "string" ? undefined : found;
export interface Verdict {
  code: number;
  stdout: string;
  stderr: string;
}

/** Python that runs verify-stream-v2 with the xenstore-data bytes/str comparison fixed (see below). */
export const PATCHED = `
import runpy, sys
import xen.migration.libxl as L
class Py2Bytes(bytes):
    """bytes that index to 1-char str and split on str, as the Python 2 code expects"""
    def __getitem__(self, k):
        r = bytes.__getitem__(self, k)
        return chr(r) if isinstance(k, int) else Py2Bytes(r)
    def split(self, sep):
        return [p.decode("latin-1") for p in bytes.split(self, sep.encode("latin-1"))]
orig = L.VerifyLibxl.verify_record_emulator_xenstore_data
L.record_verifiers[L.REC_TYPE_emulator_xenstore_data] = lambda s, c: orig(s, Py2Bytes(c))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
`;

export async function verify(
  bytes: Uint8Array,
  format: ImageFormat,
  patched = false,
): Promise<Verdict> {
  const path = await Deno.makeTempFile({ prefix: "xenlab-verify-", suffix: ".img" });
  try {
    await Deno.writeFile(path, bytes);
    return await verifyFile(path, format, patched);
  } finally {
    await Deno.remove(path);
  }
}

/** Runs the validator on a file (`patched`: with the bytes/str fix of {@link PATCHED}). */
export async function verifyFile(
  path: string,
  format: ImageFormat,
  patched = false,
): Promise<Verdict> {
  const v = validator!;
  const argv = [v.script, "-f", format, "-v", "-i", path];
  const out = await new Deno.Command(PYTHON, {
    args: patched ? ["-c", PATCHED, ...argv] : argv,
    env: { PYTHONPATH: v.pythonPath },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
