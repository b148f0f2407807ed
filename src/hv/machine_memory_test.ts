import assert from "node:assert/strict";
import { CHUNK_FRAMES, MACHINE_FRAMES_MAX, MachineMemory } from "./machine_memory.ts";
import { DOMID_INVALID, PAGE_SIZE } from "./xen_abi.ts";

Deno.test("machine memory hands out ascending fresh frames and records owner and m2p", () => {
  const mm = new MachineMemory(1024);
  assert.deepEqual([mm.alloc(3, 10), mm.alloc(3, 11), mm.alloc(4, 0)], [0, 1, 2]);
  assert.equal(mm.owner(1), 3);
  assert.equal(mm.m2p(1), 11);
  assert.equal(mm.owner(500), DOMID_INVALID);
  assert.equal(mm.framesUsed, 3);
});

Deno.test("machine memory scrubs freed frames and recycles them once fresh ones run out", () => {
  const mm = new MachineMemory(4);
  const a = mm.alloc(1, 0);
  mm.alloc(1, 1);
  mm.page(a).fill(0xaa);
  mm.free(a);
  assert.equal(mm.owner(a), DOMID_INVALID);
  assert.equal(mm.alloc(1, 2), 2);
  assert.equal(mm.alloc(1, 3), 3);
  assert.equal(mm.alloc(1, 4), a, "recycled once fresh frames are used up");
  assert.ok(mm.page(a).every((b) => b === 0), "scrubbed");
});

Deno.test("machine memory is exhausted at framesMax and refuses bad sizes", () => {
  const mm = new MachineMemory(2);
  assert.equal(mm.alloc(1, 0), 0);
  assert.equal(mm.alloc(1, 1), 1);
  assert.equal(mm.alloc(1, 2), -1);
  assert.throws(() => new MachineMemory(MACHINE_FRAMES_MAX + 1), /bad framesMax/);
  assert.throws(() => new MachineMemory(0), /bad framesMax/);
});

Deno.test("machine memory drops a chunk when its last frame is freed", () => {
  const mm = new MachineMemory(4 * CHUNK_FRAMES);
  const mfns = Array.from({ length: CHUNK_FRAMES + 1 }, (_, i) => mm.alloc(1, i));
  assert.equal(mm.chunksLive, 2);
  for (const m of mfns.slice(0, CHUNK_FRAMES)) mm.free(m);
  assert.equal(mm.chunksLive, 1);
  assert.throws(() => mm.free(mfns[0]), /is free/);
});

Deno.test("machine memory copyOut coalesces runs and zero-fills frames of other owners", () => {
  const mm = new MachineMemory(4 * CHUNK_FRAMES);
  const mfns = new Uint32Array(CHUNK_FRAMES + 4);
  for (let i = 0; i < mfns.length; i++) {
    mfns[i] = mm.alloc(7, i);
    mm.page(mfns[i]).fill(i & 0xff);
  }
  const other = mm.alloc(8, 0);
  mm.page(other).fill(0xee);
  const pick = new Uint32Array([...mfns, other]);
  const out = new Uint8Array(pick.length * PAGE_SIZE);
  mm.copyOut(pick, pick.length, out, 0, 7);
  for (let i = 0; i < mfns.length; i++) assert.equal(out[i * PAGE_SIZE + 100], i & 0xff);
  assert.equal(out[mfns.length * PAGE_SIZE + 5], 0, "not owned by 7: zero page");
  const all = new Uint8Array(pick.length * PAGE_SIZE);
  mm.copyOut(pick, pick.length, all, 0);
  assert.equal(all[mfns.length * PAGE_SIZE + 5], 0xee);
});
