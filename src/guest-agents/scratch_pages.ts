/**
 * @module
 * Where a guest agent keeps pages of its own (frontend rings, the PVHVM
 * shared_info mapping): a run of consecutive populated pfns at the top of
 * its RAM that the toolstack did not give a role (start_info, store and
 * console rings). The builder puts those low for PV and in the top pages for
 * HVM (lifecycle-and-migration.md §2.3, §2.4), so the search walks down from
 * the top and skips them. The guest only looks at its own memory
 * (`readPage` fails on a hole).
 */
import type { GuestEnv } from "./guest_env.ts";

/** Pages set aside for frontend rings by default. */
export const SCRATCH_PAGES_DEFAULT = 16;
/** Bound on pfns examined in one search. */
export const SCRATCH_SCAN_MAX = 1 << 16;
/**
 * Pages probed at once: a probe is a round trip for a guest over WebSocket,
 * so they go out in batches (a divisor of {@link SCRATCH_SCAN_MAX}).
 */
export const SCRATCH_PROBE_BATCH = 64;

/**
 * The lowest pfn of the highest run of `count` consecutive populated pfns
 * at or below `topPfn` that avoids `reserved`; -1 if none within
 * {@link SCRATCH_SCAN_MAX} pfns.
 */
export async function findScratchPages(
  env: GuestEnv,
  topPfn: number,
  count: number,
  reserved: ReadonlySet<number>,
): Promise<number> {
  let run = 0;
  const bottom = Math.max(0, topPfn - SCRATCH_SCAN_MAX + 1);
  for (let hi = topPfn; hi >= bottom; hi -= SCRATCH_PROBE_BATCH) {
    const lo = Math.max(bottom, hi - SCRATCH_PROBE_BATCH + 1);
    const probes: Promise<boolean>[] = [];
    for (let pfn = hi; pfn >= lo; pfn--) {
      probes.push(
        reserved.has(pfn)
          ? Promise.resolve(false)
          : env.readPage(pfn, 0, new Uint8Array(1)).then((r) => r >= 0),
      );
    }
    const usable = await Promise.all(probes);
    for (let i = 0; i < usable.length; i++) {
      run = usable[i] ? run + 1 : 0;
      if (run === count) return hi - i;
    }
  }
  return -1;
}
