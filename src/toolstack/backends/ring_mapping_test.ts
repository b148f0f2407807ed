import assert from "node:assert/strict";
import { buildGuest, newHv } from "../../hv/testing.ts";
import { EVTCHNSTAT_interdomain, EVTCHNSTAT_unbound } from "../../hv/xen_abi.ts";
import { RING_GRANTS_MAX, RingError, RingMapping } from "./ring_mapping.ts";
import type { BackendEnv } from "./backend_env.ts";

function setup() {
  const { hv } = newHv();
  const domid = buildGuest(hv, { pages: 4 });
  const env: Pick<BackendEnv, "hypercall"> = { hypercall: (c) => hv.hypercall(0, c) };
  const grant = (ref: number) =>
    hv.hypercall(domid, {
      hc: "grant_table_op",
      op: "grant_access",
      ref,
      domid: 0,
      frame: 1,
      readonly: false,
    });
  return { hv, domid, env, grant };
}

Deno.test("ring mapping: maps and binds with real hypercalls, release undoes both", () => {
  const { hv, domid, env, grant } = setup();
  assert.equal(grant(8).ret, 0);
  const port = hv.hypercall(domid, {
    hc: "event_channel_op",
    op: "alloc_unbound",
    dom: domid,
    remoteDom: 0,
  }).port!;
  const rings = new RingMapping(env);
  const handle = rings.map(domid, 8);
  assert.ok(hv.grantPage(0, handle) !== undefined);
  rings.bind(domid, port);
  const st = () =>
    hv.hypercall(0, { hc: "event_channel_op", op: "status", dom: domid, port }).status?.status;
  assert.equal(st(), EVTCHNSTAT_interdomain);
  assert.deepEqual(rings.release(), { grants: 1, ports: 1 });
  assert.equal(hv.grantPage(0, handle), undefined);
  assert.equal(st(), EVTCHNSTAT_unbound);
  assert.equal(hv.hypercall(domid, { hc: "grant_table_op", op: "end_access", ref: 8 }).ret, 0);
});

Deno.test("ring mapping: a grant not given to us or a bad port is a RingError; the grant bound holds", () => {
  const { domid, env, grant } = setup();
  const rings = new RingMapping(env);
  assert.throws(() => rings.map(domid, 20), RingError);
  assert.throws(() => rings.bind(domid, 77), RingError);
  for (let i = 0; i < RING_GRANTS_MAX; i++) {
    assert.equal(grant(8 + i).ret, 0);
    rings.map(domid, 8 + i);
  }
  assert.equal(grant(8 + RING_GRANTS_MAX).ret, 0);
  assert.throws(() => rings.map(domid, 8 + RING_GRANTS_MAX), /more than 64 ring grants/);
  assert.equal(rings.release().grants, RING_GRANTS_MAX);
});
