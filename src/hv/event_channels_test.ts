import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import { EventChannels } from "./event_channels.ts";
import { SharedInfoPage } from "./shared_info.ts";
import {
  EVTCHN_2L_NR_CHANNELS,
  EVTCHNSTAT_closed,
  EVTCHNSTAT_interdomain,
  EVTCHNSTAT_unbound,
  EVTCHNSTAT_virq,
  PAGE_SIZE,
  VIRQ_DOM_EXC,
} from "./xen_abi.ts";

function table(maxPort = 8) {
  const shared = new SharedInfoPage(new Uint8Array(PAGE_SIZE));
  return { ev: new EventChannels(maxPort, shared), shared };
}

Deno.test("evtchn allocates the lowest free port from 1 and -ENOSPC past max_evtchn_port", () => {
  const { ev } = table(3);
  const ports = [];
  for (let i = 0; i < 3; i++) {
    const p = ev.allocPort();
    ev.setUnbound(p, 0);
    ports.push(p);
  }
  assert.deepEqual(ports, [1, 2, 3]);
  assert.equal(ev.allocPort(), -Errno.ENOSPC);
  ev.free(2);
  assert.equal(ev.allocPort(), 2, "a freed port is reused first");
  assert.equal(ev.openCount, 2);
});

Deno.test("evtchn refuses a max port beyond the 2-level ABI", () => {
  assert.throws(() => table(EVTCHN_2L_NR_CHANNELS), /bad max port/);
  assert.throws(() => table(0), /bad max port/);
  assert.equal(table(EVTCHN_2L_NR_CHANNELS - 1).ev.maxPort, 4095);
});

Deno.test("evtchn status reports each kind of port", () => {
  const { ev } = table();
  ev.setUnbound(ev.allocPort(), 7);
  ev.setInterdomain(ev.allocPort(), 3, 11);
  ev.setVirq(ev.allocPort(), VIRQ_DOM_EXC, 0);
  assert.deepEqual(ev.status(1), { status: EVTCHNSTAT_unbound, vcpu: 0, remoteDom: 7 });
  assert.deepEqual(ev.status(2), { status: EVTCHNSTAT_interdomain, vcpu: 0, dom: 3, port: 11 });
  assert.deepEqual(ev.status(3), { status: EVTCHNSTAT_virq, vcpu: 0, virq: VIRQ_DOM_EXC });
  assert.deepEqual(ev.status(4), { status: EVTCHNSTAT_closed, vcpu: 0 });
  assert.equal(ev.virqPort(VIRQ_DOM_EXC, 0), 3);
  ev.free(3);
  assert.equal(ev.virqPort(VIRQ_DOM_EXC, 0), 0);
});

Deno.test("evtchn pending and mask bits live in shared_info and coalesce", () => {
  const { ev, shared } = table();
  const p = ev.allocPort();
  ev.setIpi(p, 0);
  assert.equal(ev.setPending(p), true, "newly pending and unmasked: upcall");
  assert.equal(ev.setPending(p), false, "already pending: coalesced");
  assert.equal(shared.bytes[2048], 1 << p, "evtchn_pending at offset 2048");
  assert.equal(shared.bytes[0], 1, "vcpu0 evtchn_upcall_pending");
  shared.clearPending(p);
  ev.mask(p);
  assert.equal(shared.bytes[2560], 1 << p, "evtchn_mask at offset 2560");
  assert.equal(ev.setPending(p), false, "masked: no upcall");
  assert.deepEqual(shared.deliverable(8), []);
  assert.equal(ev.unmask(p), true, "unmasking a pending port calls for an upcall");
  assert.deepEqual(shared.deliverable(8), [p]);
});

Deno.test("shared_info deliverable scans ports across words", () => {
  const shared = new SharedInfoPage(new Uint8Array(PAGE_SIZE));
  for (const p of [1, 31, 32, 33, 100, 4095]) shared.testAndSetPending(p);
  shared.setMask(33);
  assert.deepEqual(shared.deliverable(4095), [1, 31, 32, 100, 4095]);
  assert.deepEqual(shared.deliverable(99), [1, 31, 32]);
});
