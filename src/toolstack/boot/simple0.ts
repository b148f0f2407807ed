/**
 * @module
 * pygrub's `--output-format=simple0`, the bootloader → libxl handoff
 * (lifecycle-and-migration.md §2.3): NUL-terminated `key value` records,
 *
 * ```
 * kernel <path>\0[ramdisk <path>\0][args <string>\0]\0
 * ```
 *
 * written by pygrub's `format_simple` (ramdisk and args only when set, an
 * extra NUL at the end) and read back by libxl's `parse_bootloader_result`:
 * records split at NUL, empty records skipped, unknown records warned about,
 * a record longer than libxl's buffer (`PATH_MAX * 2`) refused, and no
 * `kernel` record an error ("bootloader did not return a kernel").
 */

/** libxl's record buffer, `PATH_MAX * 2` bytes (the last byte holds the NUL). */
export const SIMPLE0_RECORD_BYTES_MAX = 4096 * 2 - 1;
/** Largest output read: libxl's bootloader output buffer, 64 KiB (§2.3). */
export const SIMPLE0_BYTES_MAX = 64 * 1024;

/** What a bootloader hands back. Paths are as the bootloader wrote them. */
export interface BootloaderOutput {
  readonly kernel: string;
  readonly ramdisk?: string;
  readonly args?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * pygrub's `format_simple(kernel, ramdisk, args, "\0")`.
 *
 * @example
 * ```ts
 * import { formatSimple0 } from "./simple0.ts";
 * formatSimple0({ kernel: "/boot/vmlinuz", args: "ro quiet" });
 * // bytes of "kernel /boot/vmlinuz\0args ro quiet\0\0"
 * ```
 */
export function formatSimple0(out: BootloaderOutput): Uint8Array {
  let s = `kernel ${out.kernel}\0`;
  if (out.ramdisk) s += `ramdisk ${out.ramdisk}\0`;
  if (out.args) s += `args ${out.args}\0`;
  return enc.encode(s + "\0");
}

export type Simple0Result =
  | { readonly ok: true; readonly output: BootloaderOutput; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** libxl's reading of simple0 output; never throws. */
export function parseSimple0(bytes: Uint8Array): Simple0Result {
  if (bytes.length > SIMPLE0_BYTES_MAX) {
    return {
      ok: false,
      reason: `bootloader output is ${bytes.length} bytes (limit ${SIMPLE0_BYTES_MAX})`,
    };
  }
  let kernel: string | undefined, ramdisk: string | undefined, args: string | undefined;
  const warnings: string[] = [];
  for (const raw of dec.decode(bytes).split("\0")) {
    if (enc.encode(raw).length > SIMPLE0_RECORD_BYTES_MAX) {
      return { ok: false, reason: `bootloader output record too long (${raw.slice(0, 20)}...)` };
    }
    if (raw === "") continue;
    if (raw.startsWith("kernel ")) kernel = raw.slice(7);
    else if (raw.startsWith("ramdisk ")) ramdisk = raw.slice(8);
    else if (raw.startsWith("args ")) args = raw.slice(5);
    else warnings.push(`unexpected output from bootloader: \`${raw}'`);
  }
  if (kernel === undefined) return { ok: false, reason: "bootloader did not return a kernel" };
  return {
    ok: true,
    output: {
      kernel,
      ...(ramdisk === undefined ? {} : { ramdisk }),
      ...(args === undefined ? {} : { args }),
    },
    warnings,
  };
}
