/**
 * One seed, one trace: the same scenario (three guest kinds booting and
 * being shut down, rebooted, crashed) run twice with the same seed gives a
 * byte-identical trace — hypervisor, xenstored and guest lines alike.
 */
import assert from "node:assert/strict";
import { XEN_DOMCTL_SENDTRIGGER_POWER } from "../../src/hv/mod.ts";
import { NS_PER_S } from "../../src/sim/clock.ts";
import { startGuestAgent } from "../../src/guest-agents/guest_agent.ts";
import { buildHvm, buildPv, newHost, unpause } from "./guest_host.ts";

async function scenario(seed: number): Promise<string> {
  const h = await newHost(seed);
  const pv = await buildPv(h);
  const pvhvm = await buildHvm(h);
  const hvm = await buildHvm(h, { boot: "dc" });
  const agents = [
    startGuestAgent(pv.env, { kind: "pv", profile: "slow-ack", slowAckDelayNs: 2 * NS_PER_S }),
    startGuestAgent(pvhvm.env, { kind: "pvhvm", profile: "crash-on-request" }),
    startGuestAgent(hvm.env, { kind: "hvm" }),
  ];
  for (const g of [pv, pvhvm, hvm]) unpause(h, g.domid);
  await h.run(Promise.all(agents.map((a) => a.ready)));
  await h.run(h.dom0.write(`/local/domain/${pv.domid}/control/shutdown`, "reboot"));
  await h.run(h.dom0.write(`/local/domain/${pvhvm.domid}/control/shutdown`, "poweroff"));
  await h.run(h.dom0.write(`/local/domain/${pv.domid}/control/sysrq`, "t"));
  h.hv.hypercall(0, {
    hc: "domctl",
    op: "sendtrigger",
    domid: hvm.domid,
    trigger: XEN_DOMCTL_SENDTRIGGER_POWER,
    vcpu: 0,
  });
  await h.advance(5 * NS_PER_S);
  for (const a of agents) await a.stop();
  assert.ok(!h.trace.overflowed);
  return h.trace.text();
}

Deno.test("guests: a fixed seed gives the same trace twice", async () => {
  const a = await scenario(42);
  const b = await scenario(42);
  assert.ok(a.split("\n").length > 200, "a real trace");
  assert.ok(a.includes('"src":"guest"'));
  assert.equal(a, b);
  const c = await scenario(43);
  assert.notEqual(a, c, "the seed matters (domain handles come from it)");
});
