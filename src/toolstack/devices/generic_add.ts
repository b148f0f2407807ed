/**
 * @module
 * libxl's two xenstore primitives for devices (`libxl_device.c`):
 *
 * * {@link deviceGenericAdd} — `libxl__device_generic_add` preceded by the
 *   `libxl__device_exists` check, in ONE transaction (retried on EAGAIN,
 *   bounded): libxl mirror, frontend directory with its permissions and
 *   keys, backend directory with its permissions and keys, and the copy of
 *   the backend keys in the mirror;
 * * {@link deviceDestroy} — `libxl__device_destroy`: frontend, backend and
 *   mirror removed in one transaction, each with `libxl__xs_path_cleanup`
 *   (which also removes parents left empty).
 */
import type { XsPerm } from "../../xenstore/client/perms.ts";
import type { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import type { DeviceEntries } from "./device_entries.ts";
import { DeviceError } from "./device_error.ts";
import { backendPath, type DeviceRef, frontendPath, libxlPath } from "./device_paths.ts";

/** Retries of a device transaction after EAGAIN at commit. */
export const DEVICE_TRANSACTION_RETRIES_MAX = 16;
/** Most path components {@link xsPathCleanup} walks up. */
export const PATH_CLEANUP_DEPTH_MAX = 32;

/** Frontend perms: the guest owns it, the backend may read (§2.5). */
export function frontendPerms(dev: DeviceRef): XsPerm[] {
  return [{ id: dev.domid, perm: "n" }, { id: dev.backendDomid, perm: "r" }];
}

/** Backend perms, also console 0's read-only frontend keys: backend owns, guest reads. */
export function backendPerms(dev: DeviceRef): XsPerm[] {
  return [{ id: dev.backendDomid, perm: "n" }, { id: dev.domid, perm: "r" }];
}

/** Console 0 (and vuart) frontends are read-only to the guest (libxl special case). */
function frontendDirPerms(dev: DeviceRef): XsPerm[] {
  return dev.kind === "console" && dev.devid === 0 ? backendPerms(dev) : frontendPerms(dev);
}

/**
 * Writes a device's entries in one transaction; a device whose mirror or
 * backend directory already exists is a {@link DeviceError} (`exists`) and
 * nothing is written.
 */
export async function deviceGenericAdd(xs: ClockedXs, e: DeviceEntries): Promise<void> {
  const { dev } = e;
  const fe = frontendPath(dev), be = backendPath(dev), lx = libxlPath(dev);
  await xs.transaction(async (tx) => {
    const [haveLibxl, haveBackend] = await Promise.all([xs.exists(lx, tx), xs.exists(be, tx)]);
    if (haveLibxl || haveBackend) {
      throw new DeviceError(
        { kind: dev.kind, devid: dev.devid, domid: dev.domid, step: "exists", waitedNs: 0 },
        `device already exists in xenstore (${haveLibxl ? lx : be}); remove it first`,
      );
    }
    await Promise.all([xs.rm(lx, tx), xs.rm(fe, tx), xs.rm(be, tx)]);
    await Promise.all([xs.mkdir(fe, tx), xs.mkdir(be, tx)]);
    await Promise.all([
      xs.setPerms(fe, frontendDirPerms(dev), tx),
      xs.setPerms(be, backendPerms(dev), tx),
    ]);
    await Promise.all([
      xs.writeAll(lx, [["frontend", fe], ["backend", be]], tx),
      xs.write(`${fe}/backend`, be, tx),
      xs.writeAllWithPerms(fe, e.front, frontendPerms(dev), tx),
      xs.writeAllWithPerms(fe, e.roFront, backendPerms(dev), tx),
      xs.write(`${be}/frontend`, fe, tx),
      xs.writeAll(be, e.back, tx),
      xs.writeAll(lx, e.back, tx),
    ]);
  }, { retriesMax: DEVICE_TRANSACTION_RETRIES_MAX });
}

/**
 * `libxl__xs_path_cleanup`: removes `path`, then each parent that is left
 * with no children, stopping at the first one that still has some.
 */
export async function xsPathCleanup(xs: ClockedXs, tx: number, path: string): Promise<void> {
  await xs.rm(path, tx);
  let p = path;
  for (let i = 0; i < PATH_CLEANUP_DEPTH_MAX; i++) {
    const slash = p.lastIndexOf("/");
    if (slash <= 0) return;
    p = p.slice(0, slash);
    if (!(await xs.exists(p, tx))) return;
    if ((await xs.directory(p, tx)).length !== 0) return;
    await xs.rm(p, tx);
  }
}

/** Removes a device's frontend, backend and mirror directories (one transaction). */
export async function deviceDestroy(xs: ClockedXs, dev: DeviceRef): Promise<void> {
  await xs.transaction(async (tx) => {
    await xsPathCleanup(xs, tx, frontendPath(dev));
    await xsPathCleanup(xs, tx, libxlPath(dev));
    await xsPathCleanup(xs, tx, backendPath(dev));
  }, { retriesMax: DEVICE_TRANSACTION_RETRIES_MAX });
}
