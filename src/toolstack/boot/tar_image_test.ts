import assert from "node:assert/strict";
import {
  decodeDiskImage,
  DISK_IMAGE_BYTES_MAX,
  DISK_IMAGE_ENTRIES_MAX,
  DISK_IMAGE_PATH_BYTES_MAX,
  DiskImageError,
  makeDiskImage,
  readDiskImage,
  TAR_BLOCK,
} from "./tar_image.ts";

const enc = new TextEncoder();

function reason(bytes: Uint8Array): string {
  const r = decodeDiskImage(bytes);
  assert.ok(!r.ok, "expected a failure");
  return `${r.error.reason} @${r.error.offset}`;
}

Deno.test("tar image: round trip of text, binary, empty and long-path files", () => {
  const long = `/${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(90)}`;
  const bin = Uint8Array.from({ length: 1500 }, (_, i) => (i * 7) & 0xff);
  const files = {
    "/boot/grub/grub.cfg": "set default=0\n",
    "boot/vmlinuz": bin,
    "/empty": new Uint8Array(0),
    [long]: "deep",
    "/é/ünïcode": "ok",
  };
  const img = makeDiskImage(files);
  assert.equal(img.length % TAR_BLOCK, 0);
  const back = readDiskImage(img);
  assert.deepEqual([...back.keys()], [
    "/boot/grub/grub.cfg",
    "/boot/vmlinuz",
    "/empty",
    long,
    "/é/ünïcode",
  ]);
  assert.deepEqual(back.get("/boot/vmlinuz"), bin);
  assert.equal(new TextDecoder().decode(back.get("/boot/grub/grub.cfg")), "set default=0\n");
  assert.equal(back.get("/empty")!.length, 0);
  assert.equal(new TextDecoder().decode(back.get(long)), "deep");
  // Deterministic: the same files give the same bytes.
  assert.deepEqual(makeDiskImage(files), img);
});

Deno.test("tar image: the header is ustar as tar(1) writes it (golden fields)", () => {
  const img = makeDiskImage({ "/a.txt": "hi" });
  const text = (a: number, n: number) => new TextDecoder().decode(img.subarray(a, a + n));
  assert.equal(text(0, 6), "a.txt\0");
  assert.equal(text(100, 8), "0000644\0");
  assert.equal(text(124, 12), "00000000002\0");
  assert.equal(text(156, 1), "0");
  assert.equal(text(257, 8), "ustar\x0000");
  assert.equal(text(154, 2), "\0 ");
  assert.equal(text(512, 2), "hi");
  assert.equal(img.length, 4 * TAR_BLOCK); // header, data, two zero blocks
});

Deno.test("tar image: corrupt input is refused with the reason and the offset", () => {
  const img = makeDiskImage({ "/vmlinuz": "kernel" });
  const flip = (at: number) => {
    const c = img.slice();
    c[at] ^= 0x01;
    return c;
  };
  assert.match(reason(flip(0)), /^header checksum mismatch \(stored \d+, computed \d+\) @0$/);
  assert.match(reason(flip(257)), /^not a ustar header \(bad magic\) @0$/);
  assert.match(reason(img.subarray(0, img.length - 1)), /not a whole number of 512-byte blocks/);
  assert.match(reason(img.subarray(0, 3 * TAR_BLOCK)), /missing second end-of-archive block @1024/);
  assert.match(reason(img.subarray(0, 2 * TAR_BLOCK)), /truncated: no end-of-archive marker @1024/);
  const big = makeDiskImage({ "/f": new Uint8Array(2000) });
  assert.match(
    reason(big.subarray(0, 2 * TAR_BLOCK)),
    /truncated: "\/f" needs 2000 bytes of data, 512 left @0/,
  );
  assert.match(reason(new Uint8Array(TAR_BLOCK).fill(0x41)), /bad magic/);
  assert.throws(() => readDiskImage(flip(0)), DiskImageError);
  assert.throws(
    () => readDiskImage(flip(0)),
    /^DiskImageError: disk image: header checksum mismatch/,
  );
});

/** Rewrites one header field of a one-file image and fixes the checksum. */
function patched(field: number, value: string, img = makeDiskImage({ "/f": "x" })): Uint8Array {
  const c = img.slice();
  c.set(enc.encode(value), field);
  c.fill(0x20, 148, 156);
  const sum = c.subarray(0, TAR_BLOCK).reduce((a, b) => a + b, 0);
  c.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return c;
}

Deno.test("tar image: links, pax headers, unsafe paths, bad sizes and duplicates are refused", () => {
  assert.match(
    reason(patched(156, "2")),
    /unsupported entry type '2' \(only files and directories\)/,
  );
  assert.match(reason(patched(156, "x")), /unsupported entry type 'x'/);
  assert.match(reason(patched(0, "../etc/passwd\0")), /unsafe or empty path "..\/etc\/passwd"/);
  assert.match(reason(patched(124, "0000000009x\0")), /size field is not octal/);
  const twice = new Uint8Array([
    ...makeDiskImage({ "/f": "a" }).subarray(0, 2 * TAR_BLOCK),
    ...makeDiskImage({ "/f": "b" }),
  ]);
  assert.match(reason(twice), /duplicate entry "\/f" @1024/);
  assert.throws(() => makeDiskImage({ "/a/../b": "x" }), /unusable path "\/a\/..\/b"/);
  assert.throws(() => makeDiskImage({ "/": "x" }), /unusable path/);
  assert.throws(() => makeDiskImage({ [`/${"x".repeat(101)}`]: "x" }), /cannot be stored in ustar/);
});

Deno.test("tar image: more entries than the limit are refused, both ways", () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < DISK_IMAGE_ENTRIES_MAX; i++) files[`/f${i}`] = "";
  const full = makeDiskImage(files);
  assert.equal(readDiskImage(full).size, DISK_IMAGE_ENTRIES_MAX);
  // One more header, built by hand (makeDiskImage refuses it too).
  const one = makeDiskImage({ "/extra": "" }).subarray(0, TAR_BLOCK);
  const over = new Uint8Array(full.length + TAR_BLOCK);
  over.set(full.subarray(0, full.length - 2 * TAR_BLOCK));
  over.set(one, full.length - 2 * TAR_BLOCK);
  assert.match(reason(over), /more than 4096 entries/);
  files["/one-more"] = "";
  assert.throws(() => makeDiskImage(files), /over \d+ bytes or 4096 entries/);
});

Deno.test("tar image: images over the byte limit and paths over the path limit are refused", () => {
  assert.throws(
    () => makeDiskImage({ "/big": new Uint8Array(DISK_IMAGE_BYTES_MAX) }),
    /over 67108864 bytes/,
  );
  assert.match(
    reason(new Uint8Array(DISK_IMAGE_BYTES_MAX + TAR_BLOCK)),
    /image is 67109376 bytes \(limit 67108864\) @0/,
  );
  const fits = makeDiskImage({ "/ok": new Uint8Array(DISK_IMAGE_BYTES_MAX - 4 * TAR_BLOCK) });
  assert.equal(fits.length, DISK_IMAGE_BYTES_MAX - TAR_BLOCK);
  const path = (n: number) => "/" + Array.from({ length: n / 10 }, () => "ddddddddd").join("/");
  assert.equal(path(250).length, 250);
  assert.equal(readDiskImage(makeDiskImage({ [path(250)]: "x" })).size, 1);
  assert.throws(() => makeDiskImage({ [path(260)]: "x" }), /unusable path/);
  assert.ok(path(260).length - 1 > DISK_IMAGE_PATH_BYTES_MAX);
});
