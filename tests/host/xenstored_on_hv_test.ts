/**
 * xenstored learns of domain shutdown and death from the emulated
 * hypervisor as Xen's does: VIRQ_DOM_EXC, then domain info; all on virtual
 * time in one process.
 */
import assert from "node:assert/strict";
import { Hypervisor, SHUTDOWN_poweroff, SHUTDOWN_suspend } from "../../src/hv/mod.ts";
import { Rng } from "../../src/sim/rng.ts";
import { assertRunOk, Scheduler } from "../../src/sim/scheduler.ts";
import { XsClient } from "../../src/xenstore/client/client.ts";
import { XsError } from "../../src/xenstore/wire/errno.ts";
import { xenstoredOnHypervisor } from "../../src/host/xenstored_on_hv.ts";

async function setup() {
  const sched = new Scheduler();
  const hv = new Hypervisor({ clock: sched, rng: new Rng(7) });
  const host = xenstoredOnHypervisor(hv);
  const dom0 = new XsClient(host.xenstored.connectInProcess(0));
  const created = hv.hypercall(0, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } });
  assert.equal(created.ret, 0);
  const domid = created.domid!;
  const run = async <T>(p: Promise<T>): Promise<T> => {
    let done = false;
    const r = p.finally(() => (done = true));
    assertRunOk(await sched.runUntilAsync(() => done, { maxEvents: 10_000 }));
    return await r;
  };
  // The toolstack's part: the guest's home, then INTRODUCE (lifecycle-and-migration.md §2.2).
  await run(dom0.mkdir(`/local/domain/${domid}`));
  await run(
    dom0.setPerms(`/local/domain/${domid}`, [{ id: 0, perm: "n" }, { id: domid, perm: "r" }]),
  );
  await run(dom0.write(`/local/domain/${domid}/data`, ""));
  await run(dom0.setPerms(`/local/domain/${domid}/data`, [{ id: domid, perm: "n" }]));
  await run(dom0.introduce(domid, 0, 1));
  const guest = new XsClient(host.xenstored.connectInProcess(domid));
  await run(guest.write("data/state", "up"));
  const releases = await run(dom0.watch("@releaseDomain", "rel"));
  await run(releases.next()); // the initial event
  return { sched, hv, host, dom0, guest, domid, releases, run };
}

Deno.test("hv + xenstored: INTRODUCE of a domain the hypervisor does not have is refused", async () => {
  const { dom0, run } = await setup();
  await assert.rejects(
    run(dom0.introduce(77, 0, 1)),
    (e) => e instanceof XsError && e.errno === "EINVAL",
  );
});

Deno.test("hv + xenstored: a guest's shutdown fires @releaseDomain once, RESUME re-arms it", async () => {
  const { hv, dom0, domid, releases, run, sched } = await setup();
  assert.equal(
    hv.hypercall(domid, { hc: "sched_op", op: "shutdown", reason: SHUTDOWN_suspend }).ret,
    0,
  );
  assert.deepEqual((await run(releases.next())).value, { path: "@releaseDomain", token: "rel" });
  // The node survives a shutdown; only death removes it.
  assert.equal(await run(dom0.readString(`/local/domain/${domid}/data/state`)), "up");
  // Another VIRQ_DOM_EXC (an unrelated domain dies) while the shutdown is
  // already reported: xenstored re-checks and says nothing new.
  let fired = false;
  const next = releases.next().then((r) => ((fired = true), r));
  const other = hv.hypercall(0, { hc: "domctl", op: "createdomain", config: { maxVcpus: 1 } })
    .domid!;
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: other }).ret, 0);
  assertRunOk(await sched.runAsync({ maxEvents: 1000 }));
  assert.equal(fired, false, "no second @releaseDomain for the same shutdown");
  // RESUME clears the reported flag: the next shutdown is reported again.
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "resumedomain", domid }).ret, 0);
  await run(dom0.resume(domid));
  assert.equal(
    hv.hypercall(domid, { hc: "sched_op", op: "shutdown", reason: SHUTDOWN_poweroff }).ret,
    0,
  );
  assert.deepEqual((await run(next)).value, { path: "@releaseDomain", token: "rel" });
});

Deno.test("hv + xenstored: a destroyed domain's connection and owned nodes go, @releaseDomain fires", async () => {
  const { hv, dom0, guest, domid, releases, run } = await setup();
  assert.equal(hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid }).ret, 0);
  assert.deepEqual((await run(releases.next())).value, { path: "@releaseDomain", token: "rel" });
  assert.ok(
    (await run(guest.closed)) !== undefined,
    "the guest's connection was closed by xenstored",
  );
  assert.equal(await run(dom0.isDomainIntroduced(domid)), false);
  await assert.rejects(
    run(dom0.read(`/local/domain/${domid}/data`)),
    (e) => e instanceof XsError && e.errno === "ENOENT",
  );
  // Nodes owned by dom0 stay until the toolstack removes them (§6.6).
  assert.equal(await run(dom0.exists(`/local/domain/${domid}`)), true);
});
