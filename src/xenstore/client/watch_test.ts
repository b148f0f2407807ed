import assert from "node:assert/strict";
import {
  WATCH_QUEUE_MAX,
  watchPathMatches,
  WatchRegistry,
  type WatchRequester,
  XsWatch,
  XsWatchOverflowError,
} from "./watch.ts";
import { XsError } from "../wire/errno.ts";

function fakeClient(fail?: (op: string, path: string) => XsError | undefined) {
  const calls: string[] = [];
  const client: WatchRequester & { calls: string[] } = {
    calls,
    registry: new WatchRegistry(),
    watchRequest(op, path, token) {
      calls.push(`${op} ${path} ${token}`);
      const e = fail?.(op, path);
      return e ? Promise.reject(e) : Promise.resolve();
    },
  };
  return client;
}

Deno.test("watch paths match themselves and their subtree, @ paths only exactly", () => {
  const table: [string, string, boolean][] = [
    ["/a", "/a", true],
    ["/a", "/a/b/c", true],
    ["/a", "/ab", false],
    ["/a/b", "/a", false],
    ["/", "/", true],
    ["/", "/anything/below", true],
    ["@releaseDomain", "@releaseDomain", true],
    ["@releaseDomain", "@releaseDomain/5", false],
    ["device", "device/vif/0", true], // relative watch, relative events (§4.2)
    ["device", "devices", false],
  ];
  for (const [w, e, want] of table) assert.equal(watchPathMatches(w, e), want, `${w} vs ${e}`);
});

Deno.test("a handle with several registrations yields their events in arrival order", async () => {
  const c = fakeClient();
  const h = new XsWatch(c);
  await h.add("/a", "/a");
  await h.add("/b", "/b");
  c.registry.dispatch({ path: "/b", token: "/b" });
  c.registry.dispatch({ path: "/a/x", token: "/a" });
  c.registry.dispatch({ path: "/b/y", token: "/b" });
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await h.next()).value.path);
  assert.deepEqual(got, ["/b", "/a/x", "/b/y"]);
  assert.deepEqual(h.registrations, [{ path: "/a", token: "/a" }, { path: "/b", token: "/b" }]);
  await h.close();
  assert.deepEqual(c.calls.slice(2).sort(), ["UNWATCH /a /a", "UNWATCH /b /b"]);
});

Deno.test("a waiting next() is resolved by the next event", async () => {
  const c = fakeClient();
  const h = new XsWatch(c);
  await h.add("/a", "t");
  const p = h.next();
  c.registry.dispatch({ path: "/a", token: "t" });
  assert.deepEqual(await p, { value: { path: "/a", token: "t" }, done: false });
  await assert.rejects(async () => {
    const q = h.next();
    await Promise.all([q, h.next()]);
  }, /another next\(\) is pending/);
});

Deno.test("more than WATCH_QUEUE_MAX unconsumed events: queued ones first, then overflow, then done", async () => {
  const c = fakeClient();
  const h = new XsWatch(c);
  assert.equal(h.queueMax, WATCH_QUEUE_MAX);
  await h.add("/a", "t");
  for (let i = 0; i <= WATCH_QUEUE_MAX; i++) c.registry.dispatch({ path: `/a/${i}`, token: "t" });
  for (let i = 0; i < WATCH_QUEUE_MAX; i++) {
    assert.equal((await h.next()).value.path, `/a/${i}`);
  }
  await assert.rejects(h.next(), XsWatchOverflowError);
  assert.equal((await h.next()).done, true);
  assert.ok(c.calls.includes("UNWATCH /a t"), "an overflowed handle unwatches");
  assert.equal(c.registry.dispatch({ path: "/a", token: "t" }), 0);
});

Deno.test("a failed add removes only its own registration", async () => {
  const c = fakeClient((
    op,
    path,
  ) => (op === "WATCH" && path === "/dup" ? new XsError("EEXIST") : undefined));
  const first = new XsWatch(c);
  await first.add("/x", "/dup");
  const second = new XsWatch(c);
  await assert.rejects(
    second.add("/dup", "/dup"),
    (e: unknown) => e instanceof XsError && e.errno === "EEXIST",
  );
  assert.equal(c.registry.dispatch({ path: "/x", token: "/dup" }), 1);
  assert.deepEqual(second.registrations, []);
});

Deno.test("for await ... break unwatches through return()", async () => {
  const c = fakeClient();
  const h = new XsWatch(c);
  await h.add("/a", "t");
  c.registry.dispatch({ path: "/a", token: "t" });
  for await (const ev of h) {
    assert.equal(ev.path, "/a");
    break;
  }
  assert.ok(c.calls.includes("UNWATCH /a t"));
  await assert.rejects(h.add("/b", "u"), /closed watch/);
});

Deno.test("close tolerates a watch the server already forgot (ENOENT)", async () => {
  const c = fakeClient((op) => (op === "UNWATCH" ? new XsError("ENOENT") : undefined));
  const h = new XsWatch(c);
  await h.add("/a", "t");
  await h.close();
});
