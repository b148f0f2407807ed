import assert from "node:assert/strict";
import { Rng } from "../sim/rng.ts";
import type { Hypercall } from "./hypercall.ts";
import { buildGuest, newHv } from "./testing.ts";
import {
  DOMID_SELF,
  XEN_DOMCTL_SHADOW_OP_CLEAN,
  XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
} from "./xen_abi.ts";

/**
 * A seeded soup of guests doing things: random hypercalls from random
 * domains, guest writes, event deliveries, time passing. Returns the trace
 * and the final memory hashes.
 */
function run(seed: number): { lines: readonly string[]; hashes: string[] } {
  const { hv, sched, trace } = newHv({ seed, eventLatencyNs: 1000 });
  const rng = new Rng(seed).fork("soup");
  const guests = [
    buildGuest(hv, { pages: 8 }),
    buildGuest(hv, { pages: 8, config: { hvm: true } }),
  ];
  for (const g of guests) {
    hv.attachKernel(g, {
      event: (p) => {
        if (rng.chance(1, 2)) hv.hypercall(g, { hc: "event_channel_op", op: "send", port: p });
      },
    });
  }
  hv.hypercall(0, {
    hc: "domctl",
    op: "shadow_op",
    domid: guests[0],
    shadowOp: XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY,
  });
  for (let step = 0; step < 300; step++) {
    const g = guests[rng.int(2)];
    const calls: Hypercall[] = [
      {
        hc: "event_channel_op",
        op: "alloc_unbound",
        dom: DOMID_SELF,
        remoteDom: guests[rng.int(2)],
      },
      {
        hc: "event_channel_op",
        op: "bind_interdomain",
        remoteDom: guests[rng.int(2)],
        remotePort: rng.range(1, 6),
      },
      { hc: "event_channel_op", op: "send", port: rng.range(1, 6) },
      { hc: "event_channel_op", op: "close", port: rng.range(1, 6) },
      {
        hc: "grant_table_op",
        op: "grant_access",
        ref: rng.range(8, 12),
        domid: 0,
        frame: rng.int(8),
        readonly: rng.chance(1, 2),
      },
      { hc: "sched_op", op: "yield" },
    ];
    const call = calls[rng.int(calls.length)];
    hv.hypercall(g, call);
    if (rng.chance(1, 3)) hv.guestWrite(g, rng.int(8), rng.int(4000), rng.bytes(16));
    if (rng.chance(1, 10)) {
      hv.hypercall(0, {
        hc: "domctl",
        op: "shadow_op",
        domid: guests[0],
        shadowOp: XEN_DOMCTL_SHADOW_OP_CLEAN,
      });
    }
    sched.run({ untilNs: sched.nowNs() + rng.int(5000), maxEvents: 10_000 });
  }
  sched.run({ maxEvents: 100_000 });
  return { lines: trace.lines, hashes: guests.map((g) => hv.memoryHash(g)!) };
}

Deno.test("determinism: the same seed gives the same trace, line for line", () => {
  const a = run(7), b = run(7);
  assert.ok(a.lines.length > 300);
  assert.deepEqual(a.lines, b.lines);
  assert.deepEqual(a.hashes, b.hashes);
});

Deno.test("determinism: another seed gives another trace", () => {
  assert.notDeepEqual(run(7).lines, run(8).lines);
});
