/**
 * Booting with devices: the agent brings its frontends up (frontends/) and
 * is ready once they are connected — against a minimal blkback written in
 * the test (InitWait, then Connected once the frontend is Initialised).
 */
import assert from "node:assert/strict";
import { NS_PER_S } from "../../src/sim/clock.ts";
import { startGuestAgent } from "../../src/guest-agents/guest_agent.ts";
import type { PvAgent } from "../../src/guest-agents/pv_agent.ts";
import type { PvhvmAgent } from "../../src/guest-agents/pvhvm_agent.ts";
import {
  buildHvm,
  buildPv,
  type BuiltGuest,
  guestEvents,
  type GuestHost,
  newHost,
  unpause,
} from "./guest_host.ts";

const VDEV = 51712; // xvda

/** The toolstack's vbd entries (xenstore-protocol.md §8.3) and a backend that connects. */
async function addDisk(h: GuestHost, g: BuiltGuest, connect = true): Promise<void> {
  const fe = `/local/domain/${g.domid}/device/vbd/${VDEV}`;
  const be = `/local/domain/0/backend/vbd/${g.domid}/${VDEV}`;
  const xs = h.dom0;
  await h.run(xs.transaction(async (tx) => {
    // Directories first: the keys inherit their permissions.
    await xs.mkdir(fe, tx);
    await xs.setPerms(fe, [{ id: g.domid, perm: "n" }, { id: 0, perm: "r" }], tx);
    await xs.mkdir(be, tx);
    await xs.setPerms(be, [{ id: 0, perm: "n" }, { id: g.domid, perm: "r" }], tx);
    for (
      const [k, v] of [
        ["backend", be],
        ["backend-id", "0"],
        ["state", "1"],
        ["virtual-device", String(VDEV)],
      ]
    ) await xs.write(`${fe}/${k}`, v, tx);
    for (
      const [k, v] of [
        ["frontend", fe],
        ["frontend-id", String(g.domid)],
        ["online", "1"],
        ["state", "2"], // InitWait: blkback probed, hotplug done
        ["sectors", "2097152"],
        ["info", "0"],
        ["sector-size", "512"],
      ]
    ) await xs.write(`${be}/${k}`, v, tx);
  }));
  if (!connect) return;
  // blkback: frontend Initialised → map the ring (not modelled here) → Connected.
  const w = await h.run(xs.watch(`${fe}/state`, "blkback"));
  (async () => {
    for await (const _ of w) {
      const s = await xs.readString(`${fe}/state`).catch(() => "");
      if (s === "3") await xs.write(`${be}/state`, "4");
    }
  })().catch(() => {});
}

for (const kind of ["pv", "pvhvm"] as const) {
  Deno.test(`${kind}: ready once the vbd frontend is Connected`, async () => {
    const h = await newHost();
    const g = kind === "pv" ? await buildPv(h) : await buildHvm(h);
    await addDisk(h, g);
    const agent = startGuestAgent(g.env, { kind }) as PvAgent | PvhvmAgent;
    unpause(h, g.domid);
    await h.run(agent.ready);
    const fronts = agent.drivers!.frontends.map((f) => [f.kind, f.devid, f.state]);
    assert.deepEqual(fronts, [["vbd", VDEV, 4], ["console", 0, 4]]);
    const fe = `/local/domain/${g.domid}/device/vbd/${VDEV}`;
    assert.equal(await h.run(h.dom0.readString(`${fe}/state`)), "4");
    assert.match(await h.run(h.dom0.readString(`${fe}/ring-ref`)), /^\d+$/);
    // The ring pages the agent gave the frontends are its own, clear of the toolstack's pages.
    const layout = guestEvents(h, g.domid, "layout")[0];
    assert.ok((layout.ringPfnBase as number) > 4);
  });
}

Deno.test("pv: a device whose backend never connects delays the boot by Linux's bound, then it goes on", async () => {
  const h = await newHost();
  const g = await buildPv(h);
  await addDisk(h, g, false);
  const agent = startGuestAgent(g.env, { kind: "pv", waitDevicesNs: 30 * NS_PER_S });
  unpause(h, g.domid);
  const t0 = h.sched.nowNs();
  await h.run(agent.ready);
  const waited = h.sched.nowNs() - t0;
  assert.ok(waited >= 30 * NS_PER_S && waited < 31 * NS_PER_S, `${waited}`);
  assert.equal(agent.state, "running");
});
