import assert from "node:assert/strict";
import { assertRunOk, Scheduler } from "../../sim/scheduler.ts";
import { XsClient } from "../../xenstore/client/client.ts";
import { Xenstored } from "../../xenstore/server/xenstored.ts";
import { ClockedXs } from "../../xenstore/client/clocked_xs.ts";
import { waitForNode } from "./wait_for_node.ts";

function setup() {
  const sched = new Scheduler();
  const d = new Xenstored({ clock: sched });
  const xs = new ClockedXs(new XsClient(d.connectInProcess(0)), () => sched.sleep(0));
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const r = p.finally(() => (done = true));
    assertRunOk(await sched.runUntilAsync(() => done, { maxEvents: 10_000 }));
    return await r;
  };
  return { sched, xs, run };
}

Deno.test("waitForNode: a node already there resolves at once", async () => {
  const { sched, xs, run } = setup();
  await run(xs.write("/a", "2"));
  const r = await run(waitForNode(xs, sched, "/a", (v) => v === "2" ? 2 : undefined, 1e9));
  assert.deepEqual(r, { ok: true, value: 2, waitedNs: 0 });
});

Deno.test("waitForNode: resolves when another client writes the value, on its watch", async () => {
  const { sched, xs, run } = setup();
  const waiting = waitForNode(xs, sched, "/b", (v) => v === "go" ? v : undefined, 5e9);
  sched.setTimer(3e9, () => void xs.xs.write("/b", "go"));
  const r = await run(waiting);
  assert.deepEqual(r, { ok: true, value: "go", waitedNs: 3e9 });
});

Deno.test("waitForNode: times out after exactly the timeout with the last value seen", async () => {
  const { sched, xs, run } = setup();
  await run(xs.write("/c", "1"));
  const r = await run(waitForNode(xs, sched, "/c", (v) => v === "2" ? v : undefined, 10e9));
  assert.deepEqual(r, { ok: false, why: "timeout", waitedNs: 10e9, last: "1" });
  assert.equal(sched.nowNs(), 10e9);
});
