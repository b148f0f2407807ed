/**
 * @module
 * The errno numbers hypercalls return, negated, as Xen does on x86 (Linux
 * numbering, `xen/include/public/errno.h`). A hypercall's `ret` is ≥ 0 on
 * success or `-errno`; grant-table operations additionally carry a
 * per-operation `GNTST_*` status (see `xen_abi.ts`).
 */

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  E2BIG: 7,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  ENODATA: 61,
  EOVERFLOW: 75,
} as const;

export type ErrnoName = keyof typeof Errno;

const NAMES = new Map<number, ErrnoName>(
  (Object.entries(Errno) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

/** `"-EINVAL"` for -22, `"0"` for 0, the number for anything unknown. */
export function retName(ret: number): string {
  if (ret >= 0) return String(ret);
  const name = NAMES.get(-ret);
  return name === undefined ? String(ret) : `-${name}`;
}
