/**
 * @module
 * xenlab's disk image format: a POSIX ustar archive (IEEE Std 1003.1
 * `pax` "ustar Interchange Format"), so a guest "filesystem" is a byte string
 * any `tar -tf` can list and pygrub has files to read. Only regular files
 * and directories; every header has mode 0644/0755, uid/gid 0, mtime 0, so
 * the same files always give the same bytes.
 *
 * Layout: per file a 512-byte header — name[100] mode[8] uid[8] gid[8]
 * size[12] mtime[12] chksum[8] typeflag[1] linkname[100] magic "ustar\0"
 * version "00" uname[32] gname[32] devmajor[8] devminor[8] prefix[155] — then
 * the data padded to 512; the archive ends with two zero blocks. Numbers are
 * octal text; the checksum is the byte sum of the header with the checksum
 * field read as eight spaces. Names over 100 bytes are split at a `/` into
 * prefix and name.
 *
 * Reading is strict and bounded: a bad checksum, a truncated entry, an
 * unsupported entry type (links, pax headers), an unsafe path or a missing
 * end marker is a typed failure naming the offset, never a guess.
 */

/** Size of a tar block. */
export const TAR_BLOCK = 512;
/** Largest image accepted or made (64 MiB). */
export const DISK_IMAGE_BYTES_MAX = 64 * 1024 * 1024;
/** Most entries (files and directories) in one image. */
export const DISK_IMAGE_ENTRIES_MAX = 4096;
/** Longest path, in UTF-8 bytes (ustar's prefix 155 + "/" + name 100 − 1). */
export const DISK_IMAGE_PATH_BYTES_MAX = 255;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Why an image could not be read, and where. */
export interface DiskImageFailure {
  readonly reason: string;
  /** Byte offset of the header (or block) at fault. */
  readonly offset: number;
}

/** A disk image that cannot be made or read; the message names the problem. */
export class DiskImageError extends Error {
  override name = "DiskImageError";
}

/** `/a/b` or `a/b` → `a/b`, refusing empty, `.` and `..` components. */
function relativePath(path: string): string | undefined {
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.length === 0 || parts.some((p) => p === "." || p === ".." || p.includes("\0"))) {
    return undefined;
  }
  return parts.join("/");
}

function putString(h: Uint8Array, at: number, len: number, s: string | Uint8Array): void {
  const b = typeof s === "string" ? enc.encode(s) : s;
  h.set(b.subarray(0, len), at);
}

function putOctal(h: Uint8Array, at: number, len: number, n: number): void {
  putString(h, at, len, n.toString(8).padStart(len - 1, "0") + "\0");
}

/** Splits a path into (prefix, name) fields, or undefined if it cannot fit. */
function splitName(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (path.length <= 100) return { prefix: new Uint8Array(0), name: path };
  for (let i = Math.min(path.length - 1, 155); i > 0; i--) {
    if (path[i] === 0x2f && path.length - i - 1 <= 100 && path.length - i - 1 > 0) {
      return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
    }
  }
  return undefined;
}

function header(path: Uint8Array, size: number, dir: boolean): Uint8Array {
  const h = new Uint8Array(TAR_BLOCK);
  const split = splitName(path);
  if (!split) {
    throw new DiskImageError(`disk image: path "${dec.decode(path)}" cannot be stored in ustar`);
  }
  putString(h, 0, 100, split.name);
  putOctal(h, 100, 8, dir ? 0o755 : 0o644);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 0);
  h[156] = dir ? 0x35 : 0x30; // '5' directory, '0' regular file
  putString(h, 257, 6, "ustar\0");
  putString(h, 263, 2, "00");
  putString(h, 265, 32, "root");
  putString(h, 297, 32, "root");
  putString(h, 345, 155, split.prefix);
  h.fill(0x20, 148, 156);
  const sum = h.reduce((a, b) => a + b, 0);
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/**
 * Makes an image holding `files` (path → bytes or UTF-8 text), with a
 * directory entry for every parent directory, in the order given.
 *
 * @example
 * ```ts
 * import { makeDiskImage, readDiskImage } from "./tar_image.ts";
 * const img = makeDiskImage({ "/boot/grub/grub.cfg": "set default=0\n" });
 * readDiskImage(img).get("/boot/grub/grub.cfg"); // the bytes back
 * ```
 */
export function makeDiskImage(files: Readonly<Record<string, Uint8Array | string>>): Uint8Array {
  const blocks: Uint8Array[] = [];
  const dirs = new Set<string>();
  let total = 2 * TAR_BLOCK;
  const add = (b: Uint8Array) => {
    total += b.length;
    if (total > DISK_IMAGE_BYTES_MAX || blocks.length >= 2 * DISK_IMAGE_ENTRIES_MAX) {
      throw new DiskImageError(
        `disk image: over ${DISK_IMAGE_BYTES_MAX} bytes or ${DISK_IMAGE_ENTRIES_MAX} entries`,
      );
    }
    blocks.push(b);
  };
  for (const [path, content] of Object.entries(files)) {
    const rel = relativePath(path);
    const relBytes = rel === undefined ? undefined : enc.encode(rel);
    if (relBytes === undefined || relBytes.length > DISK_IMAGE_PATH_BYTES_MAX) {
      throw new DiskImageError(`disk image: unusable path "${path}"`);
    }
    const parts = rel!.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        add(header(enc.encode(d + "/"), 0, true));
      }
    }
    const data = typeof content === "string" ? enc.encode(content) : content;
    add(header(relBytes, data.length, false));
    const padded = new Uint8Array(Math.ceil(data.length / TAR_BLOCK) * TAR_BLOCK);
    padded.set(data);
    add(padded);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out; // the two end-of-archive blocks are the zeros left at the end
}

/** An octal field (leading blanks, digits, then NUL/space); undefined if malformed. */
function readOctal(h: Uint8Array, at: number, len: number): number | undefined {
  const field = h.subarray(at, at + len);
  if (field[0] & 0x80) return undefined; // GNU base-256: files over 8 GiB
  const text = String.fromCharCode(...field).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : text === "" ? 0 : undefined;
}

function cString(h: Uint8Array, at: number, len: number): Uint8Array {
  const f = h.subarray(at, at + len);
  const nul = f.indexOf(0);
  return nul < 0 ? f : f.subarray(0, nul);
}

function isZeroBlock(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

type Entry = { kind: "file" | "dir"; path: string; size: number } | DiskImageFailure;

function parseHeader(h: Uint8Array, offset: number): Entry {
  const fail = (reason: string): DiskImageFailure => ({ reason, offset });
  const magic = String.fromCharCode(...h.subarray(257, 263));
  if (magic !== "ustar\0" && magic !== "ustar ") return fail("not a ustar header (bad magic)");
  const want = readOctal(h, 148, 8);
  const copy = h.slice();
  copy.fill(0x20, 148, 156);
  const sum = copy.reduce((a, b) => a + b, 0);
  if (want === undefined || want !== sum) {
    return fail(`header checksum mismatch (stored ${want ?? "garbage"}, computed ${sum})`);
  }
  const size = readOctal(h, 124, 12);
  if (size === undefined) return fail("size field is not octal (base-256 sizes are not supported)");
  const type = String.fromCharCode(h[156]);
  if (type !== "0" && type !== "\0" && type !== "5") {
    return fail(
      `unsupported entry type '${type === "\0" ? "\\0" : type}' (only files and directories)`,
    );
  }
  let name: string;
  try {
    const prefix = dec.decode(cString(h, 345, 155));
    const base = dec.decode(cString(h, 0, 100));
    name = prefix === "" ? base : `${prefix}/${base}`;
  } catch {
    return fail("entry name is not UTF-8");
  }
  const rel = relativePath(name);
  if (rel === undefined) return fail(`unsafe or empty path "${name}"`);
  return { kind: type === "5" ? "dir" : "file", path: `/${rel}`, size };
}

/**
 * Reads an image: its files by absolute path (`/boot/grub/grub.cfg`), or a
 * typed failure. Directories are checked but not returned.
 */
export function decodeDiskImage(
  bytes: Uint8Array,
): { ok: true; files: Map<string, Uint8Array> } | { ok: false; error: DiskImageFailure } {
  const fail = (reason: string, offset: number) => ({
    ok: false as const,
    error: { reason, offset },
  });
  if (bytes.length > DISK_IMAGE_BYTES_MAX) {
    return fail(`image is ${bytes.length} bytes (limit ${DISK_IMAGE_BYTES_MAX})`, 0);
  }
  if (bytes.length % TAR_BLOCK !== 0) {
    return fail(`truncated: ${bytes.length} bytes is not a whole number of 512-byte blocks`, 0);
  }
  const files = new Map<string, Uint8Array>();
  const seen = new Set<string>();
  for (let off = 0, entries = 0; off < bytes.length;) {
    const h = bytes.subarray(off, off + TAR_BLOCK);
    if (isZeroBlock(h)) {
      const next = bytes.subarray(off + TAR_BLOCK, off + 2 * TAR_BLOCK);
      if (next.length === TAR_BLOCK && isZeroBlock(next)) return { ok: true, files };
      return fail("missing second end-of-archive block", off);
    }
    if (++entries > DISK_IMAGE_ENTRIES_MAX) {
      return fail(`more than ${DISK_IMAGE_ENTRIES_MAX} entries`, off);
    }
    const e = parseHeader(h, off);
    if ("reason" in e) return { ok: false, error: e };
    if (seen.has(e.path)) return fail(`duplicate entry "${e.path}"`, off);
    seen.add(e.path);
    const dataAt = off + TAR_BLOCK;
    if (e.size > bytes.length - dataAt) {
      return fail(
        `truncated: "${e.path}" needs ${e.size} bytes of data, ${bytes.length - dataAt} left`,
        off,
      );
    }
    if (e.kind === "file") files.set(e.path, bytes.slice(dataAt, dataAt + e.size));
    off = dataAt + Math.ceil(e.size / TAR_BLOCK) * TAR_BLOCK;
  }
  return fail("truncated: no end-of-archive marker", bytes.length);
}

/** {@link decodeDiskImage}, throwing {@link DiskImageError} on a bad image. */
export function readDiskImage(bytes: Uint8Array): Map<string, Uint8Array> {
  const r = decodeDiskImage(bytes);
  if (!r.ok) {
    throw new DiskImageError(`disk image: ${r.error.reason} (at byte ${r.error.offset})`);
  }
  return r.files;
}
