import assert from "node:assert/strict";
import fc from "fast-check";
import { EVENT_QUEUE_COMPACT_MIN, EventQueue, type QueuedEvent } from "./event_queue.ts";

Deno.test("pops in (time, insertion) order", () => {
  const q = new EventQueue();
  const order: string[] = [];
  for (const [t, name] of [[5, "a"], [1, "b"], [5, "c"], [0, "d"], [1, "e"]] as const) {
    q.add(t, () => order.push(name), name);
  }
  for (let e = q.pop(); e !== undefined; e = q.pop()) e.fire();
  assert.deepEqual(order, ["d", "b", "e", "a", "c"]);
  assert.equal(q.size, 0);
});

Deno.test("an event fires once and cancelling it afterwards changes nothing", () => {
  const q = new EventQueue();
  let runs = 0;
  const e = q.add(1, () => runs++);
  assert.equal(e.pending, true);
  q.pop()!.fire();
  assert.equal(e.pending, false);
  e.cancel();
  assert.equal(e.cancelled, false);
  assert.equal(runs, 1);
  assert.equal(q.live, 0);
});

Deno.test("every add and cancel counts as activity", () => {
  const q = new EventQueue();
  const e = q.add(1, () => {});
  q.add(2, () => {});
  e.cancel();
  e.cancel();
  assert.equal(q.activity, 3);
});

Deno.test("cancelled events are skipped and compacted once they outnumber live ones", () => {
  const q = new EventQueue();
  const events = Array.from({ length: 1_000 }, (_, i) => q.add(i, () => {}));
  for (let i = 0; i < 1_000; i += 1) if (i % 10 !== 0) events[i].cancel();
  assert.equal(q.live, 100);
  assert.ok(q.size <= 2 * q.live + EVENT_QUEUE_COMPACT_MIN + 1, `size ${q.size}`);
  const popped: number[] = [];
  for (let e = q.pop(); e !== undefined; e = q.pop()) popped.push(e.atNs);
  assert.deepEqual(popped, Array.from({ length: 100 }, (_, i) => i * 10));
});

Deno.test("up to EVENT_QUEUE_COMPACT_MIN cancelled events wait for lazy removal", () => {
  const q = new EventQueue();
  const events = Array.from({ length: EVENT_QUEUE_COMPACT_MIN + 1 }, (_, i) => q.add(i, () => {}));
  for (const e of events.slice(0, EVENT_QUEUE_COMPACT_MIN)) e.cancel();
  assert.equal(q.size, EVENT_QUEUE_COMPACT_MIN + 1, "not compacted yet");
  events[EVENT_QUEUE_COMPACT_MIN].cancel();
  assert.equal(q.size, 0, "one more cancellation compacts");
});

Deno.test("upcoming lists live events in pop order without removing them", () => {
  const q = new EventQueue();
  q.add(3, () => {}, "c");
  q.add(1, () => {}, "a").cancel();
  q.add(2, () => {}, "b");
  assert.deepEqual(q.upcoming(5).map((e) => e.label), ["b", "c"]);
  assert.equal(q.live, 2);
});

type Op = { kind: "add"; t: number } | { kind: "cancel"; i: number } | { kind: "pop" };

Deno.test("agrees with a sorted-array model over random adds, cancels and pops", () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("add" as const), t: fc.nat(50) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), i: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("pop" as const) }) },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const q = new EventQueue();
      const handles: QueuedEvent[] = [];
      let model: { t: number; seq: number; h: QueuedEvent }[] = [];
      let seq = 0;
      for (const o of ops) {
        if (o.kind === "add") {
          const h = q.add(o.t, () => {});
          handles.push(h);
          model.push({ t: o.t, seq: seq++, h });
        } else if (o.kind === "cancel") {
          if (handles.length === 0) continue;
          const h = handles[o.i % handles.length];
          h.cancel();
          model = model.filter((m) => m.h !== h);
        } else {
          model.sort((a, b) => a.t - b.t || a.seq - b.seq);
          const want = model.shift()?.h;
          const got = q.pop();
          got?.fire();
          assert.equal(got, want);
        }
        assert.equal(q.live, model.length);
        assert.ok(q.size <= 2 * q.live + EVENT_QUEUE_COMPACT_MIN + 1);
      }
    }),
    { numRuns: 300 },
  );
});
