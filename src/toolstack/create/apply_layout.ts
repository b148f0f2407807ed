/**
 * @module
 * Writes {@link LayoutEntry}s inside one xenstore transaction, in order:
 * rm first where libxl does, mkdir or write, then the permissions.
 */
import type { XsClient } from "../../xenstore/client/client.ts";
import { XsError } from "../../xenstore/wire/errno.ts";
import type { LayoutEntry } from "./xenstore_layout.ts";

export async function applyLayout(
  xs: XsClient,
  tx: number,
  entries: readonly LayoutEntry[],
): Promise<void> {
  for (const e of entries) {
    // libxl__xs_rm_checked: a path (or parent) that is not there is fine.
    if (e.fresh) {
      await xs.rm(e.path, tx).catch((err) => {
        if (!(err instanceof XsError && err.errno === "ENOENT")) throw err;
      });
    }
    if (e.value === undefined) await xs.mkdir(e.path, tx);
    else await xs.write(e.path, e.value, tx);
    if (e.perms) await xs.setPerms(e.path, e.perms, tx);
  }
}
