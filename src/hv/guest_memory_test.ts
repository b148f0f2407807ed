import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { GUEST_PFNS_MAX, GuestMemory } from "./guest_memory.ts";
import { MachineMemory } from "./machine_memory.ts";
import { INVALID_MFN, PAGE_SIZE } from "./xen_abi.ts";

function mem(maxPages = 64, frames = 4096): GuestMemory {
  const m = new GuestMemory(new MachineMemory(frames), 5);
  m.maxPages = maxPages;
  return m;
}

Deno.test("guest memory populates within max_pages and counts tot_pages", () => {
  const m = mem(2);
  assert.ok(m.populate(0) >= 0);
  assert.ok(m.populate(7) >= 0);
  assert.equal(m.populate(0), m.mfnOf(0), "populating again keeps the frame");
  assert.equal(m.populate(8), -Errno.ENOMEM, "over max_pages");
  assert.equal(m.totPages, 2);
  assert.equal(m.maxPfn, 7);
  assert.deepEqual(m.populatedPfns(), [0, 7]);
});

Deno.test("guest memory refuses pfns at GUEST_PFNS_MAX and fails when the host is full", () => {
  const m = mem(10, 2);
  assert.equal(m.populate(GUEST_PFNS_MAX), -Errno.EINVAL);
  assert.equal(m.populate(-1), -Errno.EINVAL);
  assert.ok(m.populate(0) >= 0);
  assert.ok(m.populate(1) >= 0);
  assert.equal(m.populate(2), -Errno.ENOMEM, "host out of frames");
});

Deno.test("guest memory read/write fault on holes and out-of-page ranges", () => {
  const m = mem();
  m.populate(1);
  assert.equal(m.write(1, 4090, new Uint8Array([1, 2, 3])), 0);
  const out = new Uint8Array(3);
  assert.equal(m.read(1, 4090, out), 0);
  assert.deepEqual([...out], [1, 2, 3]);
  assert.equal(m.write(2, 0, new Uint8Array(1)), -Errno.EFAULT);
  assert.equal(m.write(1, 4095, new Uint8Array(2)), -Errno.EFAULT);
  assert.equal(m.read(1, -1, out), -Errno.EFAULT);
});

Deno.test("guest writes mark pages dirty only while log-dirty is on", () => {
  const m = mem();
  for (let p = 0; p < 8; p++) m.populate(p);
  m.write(3, 0, new Uint8Array([1]));
  assert.equal(m.enableLogDirty(), 0);
  assert.equal(m.enableLogDirty(), -Errno.EINVAL, "already on");
  m.write(5, 0, new Uint8Array([1]));
  m.write(2, 10, new Uint8Array([1]));
  assert.deepEqual(m.dirtyBitmap!.toArray(false), [2, 5]);
  assert.equal(m.disableLogDirty(), 0);
  assert.equal(m.dirtyBitmap, null);
});

Deno.test("guest memory remove frees the frame; releaseAll frees everything", () => {
  const mm = new MachineMemory(64);
  const m = new GuestMemory(mm, 5);
  m.maxPages = 8;
  for (let p = 0; p < 8; p++) m.populate(p);
  assert.equal(mm.framesUsed, 8);
  assert.equal(m.remove(3), 0);
  assert.equal(m.remove(3), -Errno.EINVAL);
  assert.equal(m.mfnOf(3), INVALID_MFN);
  assert.equal(m.totPages, 7);
  m.releaseAll();
  assert.equal(mm.framesUsed, 0);
  assert.equal(m.totPages, 0);
});

Deno.test("a Xen-heap frame in the physmap is not counted and not freed by remove", () => {
  const mm = new MachineMemory(64);
  const m = new GuestMemory(mm, 5);
  m.maxPages = 8;
  const xen = mm.alloc(5, 0xffffffff);
  m.populate(4);
  assert.equal(m.mapXenFrame(4, xen), 0, "replaces (frees) the page at pfn 4");
  assert.equal(m.totPages, 0);
  assert.equal(mm.framesUsed, 1);
  assert.equal(m.mfnOf(4), xen);
  assert.equal(m.remove(4), 0);
  assert.equal(mm.owner(xen), 5, "still allocated");
});

Deno.test("content hash: same bytes same hash; bytes and pfns both matter", () => {
  const a = mem(), b = mem();
  for (const m of [a, b]) {
    m.populate(0);
    m.populate(9);
    m.write(9, 100, new TextEncoder().encode("hello"));
  }
  assert.equal(a.contentHash(), b.contentHash());
  assert.match(a.contentHash(), /^[0-9a-f]{16}$/);
  b.write(9, 100, new TextEncoder().encode("hellp"));
  assert.notEqual(a.contentHash(), b.contentHash());
  const c = mem();
  c.populate(0);
  c.populate(10);
  c.write(10, 100, new TextEncoder().encode("hello"));
  assert.notEqual(a.contentHash(), c.contentHash(), "same bytes at another pfn");
  const d = mem();
  d.populate(0);
  d.populate(9);
  d.write(9, 100, new TextEncoder().encode("hello"));
  d.populate(20);
  assert.notEqual(a.contentHash(), d.contentHash(), "an extra zero page");
});

Deno.test("content hash of a fixed pattern is stable (golden)", () => {
  const m = mem();
  const page = new Uint8Array(PAGE_SIZE);
  for (let p = 0; p < 4; p++) {
    m.populate(p * 2);
    for (let i = 0; i < PAGE_SIZE; i++) page[i] = (i * 7 + p) & 0xff;
    m.write(p * 2, 0, page);
  }
  assert.equal(m.contentHash(), referenceHash(m));
  assert.equal(m.contentHash(), "878b58ad8e5ced06");
});

// An independent reference of "xenlab-memhash-1" from its definition
// (content_hash.ts): bigint arithmetic, DataView little-endian reads.
function referenceHash(m: GuestMemory): string {
  const M = 0xffffffffn;
  const mul = (a: bigint, b: bigint) => (a * b) & M;
  const rotl = (x: bigint, r: bigint) => ((x << r) | (x >> (32n - r))) & M;
  const step = (h: bigint, k: bigint) => {
    k = mul(rotl(mul(k, 0xcc9e2d51n), 15n), 0x1b873593n);
    return (mul(rotl(h ^ k, 13n), 5n) + 0xe6546b64n) & M;
  };
  const fmix = (h: bigint) => {
    h ^= h >> 16n;
    h = mul(h, 0x85ebca6bn);
    h ^= h >> 13n;
    h = mul(h, 0xc2b2ae35n);
    return h ^ (h >> 16n);
  };
  let a = 0n, b = 0x9747b28cn, pages = 0n;
  const page = new Uint8Array(PAGE_SIZE);
  for (const pfn of m.populatedPfns()) {
    m.read(pfn, 0, page);
    const dv = new DataView(page.buffer);
    a = step(a, BigInt(pfn));
    b = step(b, BigInt(pfn));
    for (let i = 0; i < 1024; i += 2) {
      a = step(a, BigInt(dv.getUint32(i * 4, true)));
      b = step(b, BigInt(dv.getUint32(i * 4 + 4, true)));
    }
    pages++;
  }
  const hex = (x: bigint) => x.toString(16).padStart(8, "0");
  return hex(fmix(a ^ pages)) + hex(fmix(b ^ pages));
}
