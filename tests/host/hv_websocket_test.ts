/**
 * Hypercalls over the host's WebSocket endpoint family, bound to the
 * domain's secret: a guest process can make only its own hypercalls.
 */
import assert from "node:assert/strict";
import { Hypervisor } from "../../src/hv/mod.ts";
import { EPERM_RET } from "./hv_ws_support.ts";
import { Rng } from "../../src/sim/rng.ts";
import { SystemClock } from "../../src/sim/system_clock.ts";
import { Credentials } from "../../src/xenstore/server/credentials.ts";
import { WebSocketTransport } from "../../src/xenstore/server/websocket_transport.ts";
import { Xenstored } from "../../src/xenstore/server/xenstored.ts";
import { hvWebSocketRoute } from "../../src/host/hv_websocket.ts";
import { buildGuest } from "../../src/hv/testing.ts";

async function open(url: string, credential: string) {
  const ws = new WebSocket(url);
  const inbox: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  const closed = new Promise<number>((r) => (ws.onclose = (e) => r(e.code)));
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => ws.send(credential);
    ws.onmessage = (
      e,
    ) => (String(e.data).startsWith("ok ") ? resolve() : reject(new Error(String(e.data))));
    closed.then((code) => reject(new Error(`closed ${code}`)));
  });
  // Replies carry the request's id; upcalls (vcpuRun, event) come unasked,
  // possibly before the reply of the call that caused them.
  const calls = new Map<number, (m: unknown) => void>();
  ws.onmessage = (e) => {
    const m = JSON.parse(String(e.data));
    if (typeof m.id === "number" && calls.has(m.id)) {
      calls.get(m.id)!(m);
      calls.delete(m.id);
      return;
    }
    const w = waiters.shift();
    if (w) w(m);
    else inbox.push(m);
  };
  let id = 0;
  /** The next upcall. */
  const next =
    () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiters.push(r)));
  return {
    ws,
    closed,
    next,
    // deno-lint-ignore no-explicit-any
    call(m: Record<string, unknown>): Promise<any> {
      const my = ++id;
      const reply = new Promise((r) => calls.set(my, r));
      ws.send(JSON.stringify({ id: my, ...m }));
      return reply;
    },
  };
}

Deno.test("hv over WebSocket: a guest's secret binds its hypercalls to its own domain", async () => {
  const hv = new Hypervisor({ clock: new SystemClock(), rng: new Rng(3) });
  const server = new Xenstored();
  const credentials = new Credentials();
  const ws = new WebSocketTransport(server, credentials, "127.0.0.1:0", {
    "/hv": hvWebSocketRoute(hv),
  });
  await ws.start();
  try {
    const domid = buildGuest(hv); // running: upcalls reach only a domain that can run
    const secret = credentials.issue(domid);
    const url = ws.url + "hv";

    await assert.rejects(open(url, "wrong"), /closed 4401/);

    const g = await open(url, secret);
    const own = await g.call({ op: "hypercall", call: { hc: "sched_op", op: "yield" } });
    assert.equal(own.result.ret, 0);
    const priv = await g.call({
      op: "hypercall",
      call: { hc: "domctl", op: "pausedomain", domid },
    });
    assert.equal(priv.result.ret, EPERM_RET, "a guest gets EPERM for a privileged domctl");
    const bad = await g.call({ op: "frobnicate" });
    assert.match(bad.error, /unknown op "frobnicate"/);

    // An upcall: dom0 binds to a port the guest allocated, and notifies it.
    assert.deepEqual(await g.call({ op: "attach" }), { id: 4, result: true });
    const port = (await g.call({
      op: "hypercall",
      call: { hc: "event_channel_op", op: "alloc_unbound", dom: 0x7ff0, remoteDom: 0 },
    })).result.port;
    const local = hv.hypercall(0, {
      hc: "event_channel_op",
      op: "bind_interdomain",
      remoteDom: domid,
      remotePort: port,
    }).localPort!;
    hv.hypercall(0, { hc: "event_channel_op", op: "send", port: local });
    const first = (await g.next()) as { upcall: string; vcpu: number };
    assert.deepEqual(
      [first.upcall, first.vcpu],
      ["vcpuRun", 0],
      "vCPU 0 runs once the kernel is attached",
    );
    assert.deepEqual(await g.next(), { upcall: "event", port });
    g.ws.close();
    await g.closed;
  } finally {
    await ws.stop();
  }
});
