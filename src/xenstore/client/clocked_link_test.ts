import assert from "node:assert/strict";
import { assertRunOk, Scheduler } from "../../sim/scheduler.ts";
import { ScriptedLink } from "./scripted_link.ts";
import { XsClient } from "./client.ts";
import { bytes } from "../wire/message.ts";
import { clockedLink } from "./clocked_link.ts";

Deno.test("clocked link: each hop is a clock event, after the latency, in order", async () => {
  const sched = new Scheduler();
  const seen: number[] = [];
  const server = new ScriptedLink((m, l) => {
    seen.push(sched.nowNs());
    l.answer(m, bytes(`v${m.reqId}`));
  });
  const xs = new XsClient(clockedLink(server, sched, 1000));
  const replies: string[] = [];
  // A long chain of requests completes inside one bounded run.
  const chain = (async () => {
    for (let i = 0; i < 100; i++) replies.push(await xs.readString(`/p${i}`));
  })();
  assertRunOk(await sched.runAsync({ maxEvents: 1000 }));
  await chain;
  assert.equal(replies.length, 100);
  assert.equal(replies[0], "v1");
  assert.deepEqual(seen.slice(0, 2), [1000, 3000]);
  assert.equal(sched.nowNs(), 200_000);
});

Deno.test("clocked link: a negative latency is refused", () => {
  assert.throws(() => clockedLink(new ScriptedLink(() => {}), new Scheduler(), -1), /latencyNs/);
});
