/**
 * @module
 * {@link bringUpFrontends}: what a PV-aware guest kernel's xenbus does at
 * boot (Linux `xenbus_probe_frontend`): list its devices under
 * `device/<kind>/<devid>` (relative to its home), start a driver for each
 * kind it knows — netfront for `vif`, blkfront for `vbd` — plus console 0
 * at `~/console`, and let each follow its backend. Ring pages come from a
 * page allocator over the guest's own pfns (by default the top
 * {@link RING_PAGES_DEFAULT} pages of its memory), grant refs from its own
 * table.
 *
 * @example
 * ```ts ignore
 * const xs = new XsClient(await env.openXenstore(storeFrame, storePort));
 * const devices = await bringUpFrontends(xs, env, { ringPfnBase: 0x3f00, waitConnectedNs: 30e9 });
 * ```
 */
import { DOMID_SELF, GRANT_ENTRIES_PER_FRAME } from "../../hv/xen_abi.ts";
import type { XsClient } from "../../xenstore/client/client.ts";
import type { GuestEnv } from "../guest_env.ts";
import { Blkfront } from "./blkfront.ts";
import { ConsoleFrontend, type ConsoleLocation } from "./console_frontend.ts";
import type { Frontend } from "./frontend.ts";
import { GrantRefAllocator } from "./grant_refs.ts";
import { GuestRings } from "./guest_rings.ts";
import { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { Netfront } from "./netfront.ts";
import { PageAllocator, RING_PAGES_DEFAULT } from "./page_allocator.ts";
import { XenbusFrontend } from "./xenbus_frontend.ts";
import { XenbusState } from "../../platform/xenbus_state.ts";

/** Most devices of one kind brought up. */
export const FRONTENDS_PER_KIND_MAX = 64;

/** Options of {@link bringUpFrontends}. */
export interface FrontendOptions {
  /** First pfn of the ring pages (default: the top `ringPages` pages of the domain). */
  readonly ringPfnBase?: number;
  /** Pages for rings (default {@link RING_PAGES_DEFAULT}). */
  readonly ringPages?: number;
  /** Allocators shared with other users of the guest's pages and grant refs. */
  readonly pages?: PageAllocator;
  readonly grantRefs?: GrantRefAllocator;
  /** Console 0's ring pfn and port from start_info; default `~/console`; false: none. */
  readonly console?: ConsoleLocation | false;
  /** Resolve only once every xenbus device is Connected, or this much time passed. */
  readonly waitConnectedNs?: number;
}

/** The guest's grant table size in entries (`query_size` frames × 512 v1 entries). */
async function grantEntries(env: GuestEnv): Promise<number> {
  const r = await env.hypercall({ hc: "grant_table_op", op: "query_size", dom: DOMID_SELF });
  return (r.nrFrames ?? 1) * GRANT_ENTRIES_PER_FRAME;
}

/** The default ring page range: the top of the domain's memory. */
async function defaultPages(env: GuestEnv, count: number): Promise<PageAllocator> {
  const max = (await env.hypercall({ hc: "memory_op", op: "maximum_gpfn", domid: DOMID_SELF }))
    .ret;
  return new PageAllocator(Math.max(0, max - count + 1), count);
}

/** The ring pages and grant refs the frontends draw from: given, or the defaults. */
async function allocators(
  env: GuestEnv,
  opts: FrontendOptions,
): Promise<{ pages: PageAllocator; refs: GrantRefAllocator }> {
  const count = opts.ringPages ?? RING_PAGES_DEFAULT;
  const pages = opts.pages ??
    (opts.ringPfnBase !== undefined
      ? new PageAllocator(opts.ringPfnBase, count)
      : await defaultPages(env, count));
  const refs = opts.grantRefs ?? new GrantRefAllocator(await grantEntries(env));
  return { pages, refs };
}

/** Linux's `wait_for_devices`: every xenbus frontend Connected, or `ns` passed. */
async function waitConnected(out: readonly Frontend[], ns: number | undefined): Promise<void> {
  if (ns === undefined) return;
  const xenbus = out.filter((f): f is XenbusFrontend => f instanceof XenbusFrontend);
  await Promise.all(xenbus.map((f) => f.waitForState(XenbusState.Connected, ns)));
}

/**
 * Starts the frontends of the guest's devices; resolves with them (see the
 * module doc). Devices of unknown kinds are left alone.
 */
export async function bringUpFrontends(
  xs: XsClient,
  env: GuestEnv,
  opts: FrontendOptions = {},
): Promise<Frontend[]> {
  const gxs = new ClockedXs(xs, () => env.sleep(0));
  const { pages, refs } = await allocators(env, opts);
  const out: Frontend[] = [];
  for (const kind of await gxs.directory("device")) {
    if (kind !== "vif" && kind !== "vbd") continue;
    const devids = (await gxs.directory(`device/${kind}`)).filter((d) => /^\d+$/.test(d))
      .map(Number).sort((a, b) => a - b).slice(0, FRONTENDS_PER_KIND_MAX);
    for (const devid of devids) {
      const rings = new GuestRings(env, pages, refs);
      const fe = kind === "vif"
        ? new Netfront(gxs, env, devid, rings)
        : new Blkfront(gxs, env, devid, rings);
      await fe.start();
      out.push(fe);
    }
  }
  if (opts.console !== false && (opts.console !== undefined || await gxs.exists("console"))) {
    const c = new ConsoleFrontend(xs, env, opts.console);
    await c.start();
    out.push(c);
  }
  await waitConnected(out, opts.waitConnectedNs);
  return out;
}

/**
 * The frontends of a kernel that resumed in a new domain (xenbus RESTORE,
 * lifecycle-and-migration.md §4.4): one per device it had (from its kernel
 * record), each reset to Initialising and renegotiating with the backend
 * the restore toolstack re-created — new ring pages, grant refs and event
 * channels (`XenbusFrontend.resume(true)`); console 0 on the new port.
 */
export async function resumeFrontends(
  xs: XsClient,
  env: GuestEnv,
  devices: readonly { kind: "vif" | "vbd"; devid: number }[],
  opts: FrontendOptions = {},
): Promise<Frontend[]> {
  const gxs = new ClockedXs(xs, () => env.sleep(0));
  const { pages, refs } = await allocators(env, opts);
  const out: Frontend[] = [];
  for (const d of devices.slice(0, 2 * FRONTENDS_PER_KIND_MAX)) {
    const rings = new GuestRings(env, pages, refs);
    const fe = d.kind === "vif"
      ? new Netfront(gxs, env, d.devid, rings)
      : new Blkfront(gxs, env, d.devid, rings);
    await fe.resume(true);
    out.push(fe);
  }
  if (opts.console !== false && opts.console !== undefined) {
    const c = new ConsoleFrontend(xs, env, opts.console);
    await c.start();
    out.push(c);
  }
  await waitConnected(out, opts.waitConnectedNs);
  return out;
}
