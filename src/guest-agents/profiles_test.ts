import assert from "node:assert/strict";
import {
  GUEST_PROFILE_NAMES,
  guestProfile,
  isGuestProfileName,
  SLOW_ACK_DELAY_NS_DEFAULT,
  SLOW_ACK_DELAY_NS_MAX,
} from "./profiles.ts";
import { NS_PER_S } from "../sim/clock.ts";

Deno.test("profiles: each name maps to its flags", () => {
  const table = GUEST_PROFILE_NAMES.map((n) => {
    const { name, ackDelayNs, acknowledges, crashOnRequest, suspendable } = guestProfile(n);
    return [name, ackDelayNs, acknowledges, crashOnRequest, suspendable];
  });
  assert.deepEqual(table, [
    ["well-behaved", 0, true, false, true],
    ["slow-ack", SLOW_ACK_DELAY_NS_DEFAULT, true, false, true],
    ["never-ack", 0, false, false, true],
    ["crash-on-request", 0, true, true, true],
    ["no-suspend", 0, true, false, false],
  ]);
});

Deno.test("profiles: slow-ack defaults to 30 s, within libxl's 60 s, and takes a delay", () => {
  assert.equal(SLOW_ACK_DELAY_NS_DEFAULT, 30 * NS_PER_S);
  assert.equal(guestProfile("slow-ack", { slowAckDelayNs: 5 }).ackDelayNs, 5);
  // Only slow-ack is slow.
  assert.equal(guestProfile("well-behaved", { slowAckDelayNs: 5 }).ackDelayNs, 0);
});

Deno.test("profiles: an unknown name or a delay over the bound is refused with the way out", () => {
  assert.equal(isGuestProfileName("sluggish"), false);
  assert.throws(() => guestProfile("sluggish"), /unknown guest profile "sluggish"; use one of/);
  assert.throws(
    () => guestProfile("slow-ack", { slowAckDelayNs: SLOW_ACK_DELAY_NS_MAX + 1 }),
    /slowAckDelayNs/,
  );
  assert.throws(() => guestProfile("slow-ack", { slowAckDelayNs: -1 }), /slowAckDelayNs/);
});
