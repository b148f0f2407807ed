import assert from "node:assert/strict";
import { domainInfoSource } from "./domain_info_source.ts";
import { buildGuest, newHv } from "./testing.ts";
import { SHUTDOWN_suspend, VIRQ_DOM_EXC } from "./xen_abi.ts";

Deno.test("domainInfoSource reports shutdown, dying and gone as xenstored needs", () => {
  const { hv, sched } = newHv();
  const src = domainInfoSource(hv);
  const g = buildGuest(hv);
  let exc = 0;
  const off = src.onDomExc(() => exc++);
  assert.deepEqual(src.info(g), { dying: false, shutdown: false });
  hv.hypercall(g, { hc: "sched_op", op: "shutdown", reason: SHUTDOWN_suspend });
  sched.run();
  assert.equal(exc, 1);
  assert.deepEqual(src.info(g), { dying: false, shutdown: true, shutdownReason: SHUTDOWN_suspend });
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g });
  assert.deepEqual(src.info(g), { dying: true, shutdown: true, shutdownReason: SHUTDOWN_suspend });
  sched.run();
  assert.equal(src.info(g), undefined);
  assert.equal(exc, 2);
  off();
  const st = hv.hypercall(0, { hc: "event_channel_op", op: "status", dom: 0, port: 1 }).status!;
  assert.equal(st.status, 0, "the adapter closed the VIRQ port it bound");
});

Deno.test("domainInfoSource shares a VIRQ_DOM_EXC binding xenstored already made", () => {
  const { hv, sched } = newHv();
  hv.hypercall(0, { hc: "event_channel_op", op: "bind_ipi", vcpu: 0 }); // port 1
  const port = hv.hypercall(0, {
    hc: "event_channel_op",
    op: "bind_virq",
    virq: VIRQ_DOM_EXC,
    vcpu: 0,
  }).port!;
  const own: number[] = [];
  hv.onPort(0, port, (p) => own.push(p));
  const src = domainInfoSource(hv);
  let exc = 0;
  const off = src.onDomExc(() => exc++);
  const g = buildGuest(hv);
  hv.hypercall(0, { hc: "domctl", op: "destroydomain", domid: g });
  sched.run();
  assert.deepEqual([exc, own], [1, [port]]);
  off();
  assert.equal(
    hv.hypercall(0, { hc: "event_channel_op", op: "status", dom: 0, port }).status!.virq,
    VIRQ_DOM_EXC,
    "left bound",
  );
});
