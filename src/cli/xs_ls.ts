/**
 * @module
 * `xenstore-ls [-f] [-p] [path...]` (xenstore-protocol.md §11.10): the
 * recursive walk of Xen 4.17's `do_ls`. Per child, in server order: READ,
 * GET_PERMS (with `-p`), print the line (`xs_ls_format.ts`), then recurse.
 * No transaction. A DIRECTORY failure is fatal
 * (`xs_directory (<path>): <strerror>`) except `ENOENT` below the top level
 * (a node that vanished meanwhile); a GET_PERMS failure only warns. Lines
 * go to stdout as they are made, like `printf`.
 */
import { formatPermList } from "../xenstore/client/perms.ts";
import { XsError } from "../xenstore/wire/errno.ts";
import { type LsLayout, lsLine } from "./xs_ls_format.ts";
import { errnoText, errWithErrno, type XsRun } from "./xs_run.ts";

/** `STRING_MAX` of the C tool: a longer child path is not even read. */
export const LS_PATH_MAX = 3072 + 1024;

/** Lists every operand (default `/`); returns 0 (failures exit). */
export async function performLs(run: XsRun, layout: LsLayout): Promise<number> {
  const paths = run.cmd.operands.length > 0 ? run.cmd.operands : ["/"];
  for (const path of paths) await doLs(run, layout, path, 0);
  return 0;
}

async function doLs(run: XsRun, layout: LsLayout, path: string, depth: number): Promise<void> {
  let names: string[];
  try {
    names = await run.client.directory(path);
  } catch (e) {
    if (depth > 0 && e instanceof XsError && e.errno === "ENOENT") return;
    errWithErrno(run, `xs_directory (${path})`, e);
  }
  for (const name of names) {
    const fullPath = `${path}${path.endsWith("/") ? "" : "/"}${name}`;
    let value: Uint8Array | undefined;
    if (fullPath.length < LS_PATH_MAX) {
      try {
        value = await run.client.read(fullPath);
      } catch {
        value = undefined;
      }
    }
    let perms: string | undefined;
    if (layout.showPerms) {
      try {
        perms = formatPermList(await run.client.getPerms(fullPath));
      } catch (e) {
        run.warn(`\ncould not access permissions for ${name}: ${errnoText(e)}`);
      }
    }
    await run.stdout(lsLine(layout, { depth, name, fullPath, value, perms }));
    await doLs(run, layout, fullPath, depth + 1);
  }
}
