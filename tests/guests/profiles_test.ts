/**
 * Behaviour profiles end to end: what a toolstack writing control/shutdown
 * (or pressing the ACPI power button) sees from each, on virtual time.
 */
import assert from "node:assert/strict";
import {
  SHUTDOWN_crash,
  SHUTDOWN_poweroff,
  XEN_DOMCTL_SENDTRIGGER_POWER,
} from "../../src/hv/mod.ts";
import { NS_PER_MS, NS_PER_S } from "../../src/sim/clock.ts";
import { startGuestAgent } from "../../src/guest-agents/guest_agent.ts";
import { ORDERLY_SHUTDOWN_NS_DEFAULT } from "../../src/guest-agents/agent_core.ts";
import { SLOW_ACK_DELAY_NS_DEFAULT } from "../../src/guest-agents/profiles.ts";
import {
  buildHvm,
  buildPv,
  controlNodes,
  guestEvents,
  type GuestHost,
  newHost,
  shutdownCode,
  unpause,
} from "./guest_host.ts";

async function boot(kind: "pv" | "pvhvm", profile: string, slowAckDelayNs?: number) {
  const h = await newHost();
  const g = kind === "pv" ? await buildPv(h) : await buildHvm(h);
  const agent = startGuestAgent(g.env, {
    kind,
    profile,
    slowAckDelayNs,
    suspend: async () => {},
  });
  unpause(h, g.domid);
  await h.run(agent.ready);
  return { h, g, agent };
}

/** Virtual time from now until the guest clears control/shutdown (bounded by `limitNs`). */
async function ackAfter(h: GuestHost, domid: number, value: string, limitNs: number) {
  const path = `/local/domain/${domid}/control/shutdown`;
  await h.run(h.dom0.write(path, value));
  const t0 = h.sched.nowNs();
  const step = 100 * NS_PER_MS;
  for (let waited = 0; waited <= limitNs; waited += step) {
    if ((await h.run(h.dom0.readString(path))) === "") return h.sched.nowNs() - t0;
    await h.advance(step);
  }
  return undefined;
}

Deno.test("slow-ack: acknowledges 30 s late by default, inside libxl's 60 s", async () => {
  const { h, g } = await boot("pv", "slow-ack");
  const took = await ackAfter(h, g.domid, "poweroff", 60 * NS_PER_S);
  assert.ok(took !== undefined, "acknowledged within 60 s");
  assert.ok(
    took >= SLOW_ACK_DELAY_NS_DEFAULT && took < SLOW_ACK_DELAY_NS_DEFAULT + NS_PER_S,
    `${took}`,
  );
  await h.advance(ORDERLY_SHUTDOWN_NS_DEFAULT + NS_PER_MS);
  assert.equal(shutdownCode(h, g.domid), SHUTDOWN_poweroff);
});

Deno.test("slow-ack: the delay is configurable", async () => {
  const { h, g } = await boot("pv", "slow-ack", 5 * NS_PER_S);
  const took = await ackAfter(h, g.domid, "reboot", 60 * NS_PER_S);
  assert.ok(took !== undefined && took >= 5 * NS_PER_S && took < 6 * NS_PER_S, `${took}`);
});

Deno.test("slow-ack: a request the toolstack withdrew meanwhile is not acted on", async () => {
  const { h, g } = await boot("pv", "slow-ack");
  const path = `/local/domain/${g.domid}/control/shutdown`;
  await h.run(h.dom0.write(path, "poweroff"));
  await h.advance(10 * NS_PER_S);
  await h.run(h.dom0.write(path, "")); // libxl's cancel after its timeout
  await h.advance(60 * NS_PER_S);
  assert.equal(shutdownCode(h, g.domid), undefined);
  assert.deepEqual(guestEvents(h, g.domid, "ack"), []);
});

Deno.test("never-ack: reads the request and does nothing", async () => {
  const { h, g, agent } = await boot("pv", "never-ack");
  assert.equal(await ackAfter(h, g.domid, "poweroff", 70 * NS_PER_S), undefined);
  assert.deepEqual(guestEvents(h, g.domid, "never_ack").map((e) => e.value), ["poweroff"]);
  assert.equal(shutdownCode(h, g.domid), undefined);
  assert.equal(agent.state, "running");
});

for (const kind of ["pv", "pvhvm"] as const) {
  Deno.test(`crash-on-request (${kind}): acknowledges, then SHUTDOWN_crash`, async () => {
    const { h, g, agent } = await boot(kind, "crash-on-request");
    const took = await ackAfter(h, g.domid, "reboot", NS_PER_S);
    assert.ok(took !== undefined);
    await h.advance(NS_PER_MS);
    assert.equal(shutdownCode(h, g.domid), SHUTDOWN_crash);
    assert.equal(agent.state, "crashed");
  });
}

Deno.test("no-suspend: feature-suspend=0 and 'suspend' is never acknowledged", async () => {
  const { h, g } = await boot("pv", "no-suspend");
  assert.deepEqual(await controlNodes(h, g.domid, ["feature-poweroff", "feature-suspend"]), {
    "feature-poweroff": "1",
    "feature-suspend": "0",
  });
  assert.equal(await ackAfter(h, g.domid, "suspend", 5 * NS_PER_S), undefined);
  assert.deepEqual(guestEvents(h, g.domid, "ignore").map((e) => e.value), ["suspend"]);
  // Poweroff still works.
  assert.ok((await ackAfter(h, g.domid, "poweroff", NS_PER_S)) !== undefined);
});

Deno.test("well-behaved with a suspend hook offers suspend", async () => {
  const { h, g } = await boot("pvhvm", "well-behaved");
  assert.equal((await controlNodes(h, g.domid, ["feature-suspend"]))["feature-suspend"], "1");
});

Deno.test("profiles on HVM: never-ack ignores the power button, slow-ack presses it late", async () => {
  const h = await newHost();
  const quiet = await buildHvm(h);
  const slow = await buildHvm(h);
  const a = startGuestAgent(quiet.env, { kind: "hvm", profile: "never-ack" });
  const b = startGuestAgent(slow.env, { kind: "hvm", profile: "slow-ack" });
  unpause(h, quiet.domid);
  unpause(h, slow.domid);
  await h.run(Promise.all([a.ready, b.ready]));
  for (const d of [quiet.domid, slow.domid]) {
    const r = h.hv.hypercall(0, {
      hc: "domctl",
      op: "sendtrigger",
      domid: d,
      trigger: XEN_DOMCTL_SENDTRIGGER_POWER,
      vcpu: 0,
    });
    assert.equal(r.ret, 0);
  }
  await h.advance(SLOW_ACK_DELAY_NS_DEFAULT - NS_PER_S);
  assert.equal(shutdownCode(h, slow.domid), undefined);
  await h.advance(2 * NS_PER_S);
  assert.equal(shutdownCode(h, slow.domid), SHUTDOWN_poweroff);
  await h.advance(60 * NS_PER_S);
  assert.equal(shutdownCode(h, quiet.domid), undefined);
  assert.equal(a.state, "running");
});
