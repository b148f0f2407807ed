/**
 * @module
 * `xenstore-chmod [-u] [-r] key perm...` (xenstore-protocol.md §11.8), as
 * Xen 4.17's `do_chmod`: every perm argument is a letter `n r w b` and an
 * `atoi` domid (`x5` is fatal: `Invalid permission specification: 'x'`);
 * one SET_PERMS with all of them; `-u` repeats it on each ancestor (the
 * path cut at its last `/`, stopping at the empty string, and fatal when a
 * relative path has no `/` left); `-r` lists the children and recurses
 * into `<path>/<child>` cut to 255 characters, skipping silently a
 * directory that cannot be listed. A failing SET_PERMS is fatal:
 * `Error occurred setting permissions on '<path>': <strerror>`.
 */
import type { XsPerm, XsPermLetter } from "../xenstore/client/perms.ts";
import { atoi } from "../xenstore/client/perms.ts";
import { errWithErrno, errx, type XsRun } from "./xs_run.ts";

/** `MAX_PATH_LEN` of the C tool: child paths are cut to this minus 1. */
export const CHMOD_CHILD_PATH_MAX = 256;

/** Parses the perm arguments as the tool does, or exits like it. */
export function chmodPerms(run: XsRun, specs: readonly string[]): XsPerm[] {
  return specs.map((spec) => {
    const letter = spec[0] ?? "\0";
    if (!"nrwb".includes(letter)) {
      errx(run, `Invalid permission specification: '${letter}'`);
    }
    return { id: atoi(spec.slice(1)), perm: letter as XsPermLetter };
  });
}

/** Runs chmod in transaction `tx`; returns 0 (every failure exits). */
export async function performChmod(run: XsRun, tx: number): Promise<number> {
  const [path, ...specs] = run.cmd.operands;
  const perms = chmodPerms(run, specs);
  await doChmod(run, path, perms, run.cmd.upto, run.cmd.recurse, tx);
  return 0;
}

async function doChmod(
  run: XsRun,
  path: string,
  perms: readonly XsPerm[],
  upto: boolean,
  recurse: boolean,
  tx: number,
): Promise<void> {
  if (path === "") return;
  try {
    await run.client.setPerms(path, perms, tx);
  } catch (e) {
    errWithErrno(run, `Error occurred setting permissions on '${path}'`, e);
  }
  if (upto) {
    const slash = path.lastIndexOf("/");
    if (slash < 0) errx(run, `Unable to locate path separator '/' in '${path}'`);
    await doChmod(run, path.slice(0, slash), perms, true, false, tx);
  }
  if (recurse) {
    let children: string[];
    try {
      children = await run.client.directory(path, tx);
    } catch {
      return;
    }
    for (const child of children) {
      const sub = `${path}/${child}`.slice(0, CHMOD_CHILD_PATH_MAX - 1);
      await doChmod(run, sub, perms, false, true, tx);
    }
  }
}
