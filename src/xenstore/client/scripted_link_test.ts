import assert from "node:assert/strict";
import { nulJoin, watchEvent } from "../wire/message.ts";
import { Op } from "../wire/op.ts";
import { SCRIPTED_LINK_EARLY_MAX, ScriptedLink } from "./scripted_link.ts";

Deno.test("a scripted server sees requests a microtask later and answers through the link", async () => {
  const link = new ScriptedLink((m, l) => l.answer(m, nulJoin(["v"])));
  const got: number[] = [];
  link.onMessage((m) => got.push(m.reqId));
  link.send({ type: Op.READ, reqId: 4, txId: 0, payload: nulJoin(["/a"]) });
  assert.deepEqual(got, []);
  await Promise.resolve();
  assert.deepEqual(got, [4]);
  link.close();
  assert.equal(await link.closed, undefined);
});

Deno.test("more than SCRIPTED_LINK_EARLY_MAX messages without a handler is an error", () => {
  const link = new ScriptedLink(() => {});
  for (let i = 0; i < SCRIPTED_LINK_EARLY_MAX; i++) link.deliver(watchEvent("/a", "t"));
  assert.throws(
    () => link.deliver(watchEvent("/a", "t")),
    /1024 messages delivered with no handler/,
  );
  let n = 0;
  link.onMessage(() => n++);
  assert.equal(n, SCRIPTED_LINK_EARLY_MAX);
});
