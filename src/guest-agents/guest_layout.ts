/**
 * @module
 * Where a xenlab guest kernel of a given size keeps its things — the host
 * passes the same layout to in-process agents, and `deno task guest`
 * derives it from `memory/target`, so a kernel finds them again after a
 * restore: shared_info (PVHVM) at `pages - 3`, the frontends' ring pages
 * just below it, and the kernel record (`kernel_record.ts`) below those.
 */

/** Frontend ring pages each guest gets below its top special pages. */
export const GUEST_RING_PAGES = 16;

/** The layout of a guest of some size. */
export interface GuestLayout {
  readonly ringPfnBase: number;
  readonly ringPages: number;
  readonly sharedInfoPfn: number;
  readonly kernelRecordPfn: number;
}

/** The layout for a domain of `memoryKb` kB (`memory/target`). */
export function guestLayout(memoryKb: number): GuestLayout {
  const pages = Math.floor(memoryKb / 4);
  if (!Number.isSafeInteger(pages) || pages < 4 + GUEST_RING_PAGES + 8) {
    throw new RangeError(`memory ${memoryKb} kB is too small for a guest`);
  }
  return {
    ringPfnBase: pages - 3 - GUEST_RING_PAGES,
    ringPages: GUEST_RING_PAGES,
    sharedInfoPfn: pages - 3,
    kernelRecordPfn: pages - 4 - GUEST_RING_PAGES,
  };
}
