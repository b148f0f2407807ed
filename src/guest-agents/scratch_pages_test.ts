import assert from "node:assert/strict";
import { Scheduler } from "../sim/scheduler.ts";
import { Rng } from "../sim/rng.ts";
import { NULL_TRACE } from "../sim/trace.ts";
import type { GuestEnv } from "./guest_env.ts";
import { findScratchPages, SCRATCH_SCAN_MAX } from "./scratch_pages.ts";

function memEnv(populated: (pfn: number) => boolean): GuestEnv {
  const sched = new Scheduler();
  return {
    domid: 1,
    clock: sched,
    rng: new Rng(1),
    trace: NULL_TRACE,
    hypercall: (() => Promise.resolve({ ret: 0 })) as GuestEnv["hypercall"],
    attachKernel: () => () => {},
    readPage: (pfn) => Promise.resolve(populated(pfn) ? 0 : -14),
    writePage: () => Promise.resolve(0),
    openXenstore: () => Promise.reject(new Error("no")),
    sleep: (ns) => sched.sleep(ns),
  };
}

Deno.test("scratch pages: the highest free run below the top, skipping the toolstack's pages", async () => {
  const env = memEnv((p) => p < 48);
  // HVM layout: store 47, console 46 at the top.
  assert.equal(await findScratchPages(env, 47, 4, new Set([46, 47])), 42);
  // A hole breaks a run.
  const holey = memEnv((p) => p < 48 && p !== 44);
  assert.equal(await findScratchPages(holey, 47, 4, new Set([46, 47])), 40);
  assert.equal(await findScratchPages(env, 47, 49, new Set()), -1);
});

Deno.test("scratch pages: the search stops after SCRATCH_SCAN_MAX pfns", async () => {
  let probes = 0;
  const env = memEnv(() => (probes++, false));
  assert.equal(await findScratchPages(env, SCRATCH_SCAN_MAX * 2, 1, new Set()), -1);
  assert.equal(probes, SCRATCH_SCAN_MAX);
});
