import assert from "node:assert/strict";
import { PAGE_SIZE } from "../hv/xen_abi.ts";
import { Scheduler } from "../sim/scheduler.ts";
import { Rng } from "../sim/rng.ts";
import { NULL_TRACE } from "../sim/trace.ts";
import {
  ConsoleRing,
  readConsoleOut,
  XENCONS_OUT_CONS,
  XENCONS_OUT_PROD,
  XENCONS_OUT_SIZE,
} from "./console_ring.ts";
import type { GuestEnv } from "./guest_env.ts";

function pageEnv(page: Uint8Array, sends: number[]): GuestEnv {
  const sched = new Scheduler();
  return {
    domid: 3,
    clock: sched,
    rng: new Rng(1),
    trace: NULL_TRACE,
    hypercall: ((call: { op: string; port?: number }) => {
      if (call.op === "send") sends.push(call.port!);
      return Promise.resolve({ ret: 0 });
    }) as GuestEnv["hypercall"],
    attachKernel: () => () => {},
    readPage: (pfn, off, out) => {
      if (pfn !== 7) return Promise.resolve(-14);
      out.set(page.subarray(off, off + out.length));
      return Promise.resolve(out.length);
    },
    writePage: (pfn, off, data) => {
      if (pfn !== 7) return Promise.resolve(-14);
      page.set(data, off);
      return Promise.resolve(data.length);
    },
    openXenstore: () => Promise.reject(new Error("no")),
    sleep: (ns) => sched.sleep(ns),
  };
}

function setU32(page: Uint8Array, off: number, v: number): void {
  new DataView(page.buffer).setUint32(off, v >>> 0, true);
}

Deno.test("console ring: output lands between out_cons and out_prod and the backend is notified", async () => {
  const page = new Uint8Array(PAGE_SIZE);
  const sends: number[] = [];
  const ring = new ConsoleRing(pageEnv(page, sends), 7, 12);
  assert.equal(await ring.refresh(), true);
  assert.equal(ring.write("hello\n"), 6);
  assert.equal(ring.write("world\n"), 6);
  assert.equal(readConsoleOut(page), "hello\nworld\n");
  assert.deepEqual(sends, [12, 12]);
});

Deno.test("console ring: indices wrap as free-running u32s", async () => {
  const page = new Uint8Array(PAGE_SIZE);
  setU32(page, XENCONS_OUT_CONS, 0xfffffffe);
  setU32(page, XENCONS_OUT_PROD, 0xfffffffe);
  const ring = new ConsoleRing(pageEnv(page, []), 7, 1);
  await ring.refresh();
  assert.equal(ring.write("abcd"), 4);
  assert.equal(new DataView(page.buffer).getUint32(XENCONS_OUT_PROD, true), 2);
  assert.equal(readConsoleOut(page), "abcd");
});

Deno.test("console ring: a full ring drops what does not fit, and counts it", async () => {
  const page = new Uint8Array(PAGE_SIZE);
  const ring = new ConsoleRing(pageEnv(page, []), 7, 1);
  await ring.refresh();
  assert.equal(ring.write("x".repeat(XENCONS_OUT_SIZE - 2)), XENCONS_OUT_SIZE - 2);
  assert.equal(ring.write("12345"), 2);
  assert.equal(ring.dropped, 3);
  assert.equal(ring.write("more"), 0);
  assert.equal(ring.dropped, 7);
  // The backend consumes everything: the guest sees the room once it looks again.
  setU32(page, XENCONS_OUT_CONS, XENCONS_OUT_SIZE);
  assert.equal(await ring.refresh(), true);
  assert.equal(ring.write("ok"), 2);
  assert.equal(readConsoleOut(page), "ok");
});

Deno.test("console ring: an unreadable page writes nothing", async () => {
  const ring = new ConsoleRing(pageEnv(new Uint8Array(PAGE_SIZE), []), 8, 1);
  assert.equal(ring.write("lost"), -1);
  assert.equal(await ring.refresh(), false);
  assert.equal(ring.write("lost"), -1);
});

Deno.test("console ring: a write made before the page was read is refused, then the ring works", async () => {
  const page = new Uint8Array(PAGE_SIZE);
  setU32(page, XENCONS_OUT_CONS, 5);
  setU32(page, XENCONS_OUT_PROD, 9);
  const ring = new ConsoleRing(pageEnv(page, []), 7, 1);
  assert.equal(ring.write("early"), -1);
  await ring.refresh();
  assert.equal(ring.write("late"), 4);
  assert.equal(new DataView(page.buffer).getUint32(XENCONS_OUT_PROD, true), 13);
  // A refresh that overlapped the write keeps the guest's own producer index.
  const pending = ring.refresh();
  assert.equal(ring.write("!"), 1);
  await pending;
  assert.equal(ring.write("?"), 1);
  assert.equal(new DataView(page.buffer).getUint32(XENCONS_OUT_PROD, true), 15);
});
