/**
 * The HVM agent (no PV drivers): the BIOS boots from the CMOS boot order,
 * the guest never touches xenstore, and the ACPI power button ends in a
 * shutdown that the device model in dom0 asks Xen for.
 */
import assert from "node:assert/strict";
import {
  HVM_PARAM_ACPI_S_STATE,
  SHUTDOWN_poweroff,
  SHUTDOWN_reboot,
  XEN_DOMCTL_SENDTRIGGER_POWER,
  XEN_DOMCTL_SENDTRIGGER_SLEEP,
} from "../../src/hv/mod.ts";
import { NS_PER_S } from "../../src/sim/clock.ts";
import { startGuestAgent } from "../../src/guest-agents/guest_agent.ts";
import type { HvmAgent } from "../../src/guest-agents/hvm_agent.ts";
import type { BiosDevice } from "../../src/platform/bios_boot.ts";
import {
  buildHvm,
  type BuildOptions,
  callbackIrq,
  guestEvents,
  type GuestHost,
  newHost,
  shutdownCode,
  unpause,
  xenstoreOps,
} from "./guest_host.ts";

const HDA: BiosDevice = { kind: "disk", name: "hda", bootable: true };
const CDROM: BiosDevice = { kind: "cdrom", name: "hdc", bootable: true };
const EMPTY_CDROM: BiosDevice = { kind: "cdrom", name: "hdc", bootable: false };
const NIC: BiosDevice = { kind: "network", name: "vif0", bootable: true };

async function bootHvm(opts: BuildOptions = {}, profile = "well-behaved") {
  const h = await newHost();
  const g = await buildHvm(h, opts);
  let opened = 0;
  const env = {
    ...g.env,
    openXenstore: (f: number, p: number) => (opened++, g.env.openXenstore(f, p)),
  };
  const agent = startGuestAgent(env, { kind: "hvm", profile }) as HvmAgent;
  unpause(h, g.domid);
  await h.run(agent.ready).catch(() => {});
  return { h, g, agent, opened: () => opened };
}

function trigger(h: GuestHost, domid: number, t: number): void {
  const r = h.hv.hypercall(0, { hc: "domctl", op: "sendtrigger", domid, trigger: t, vcpu: 0 });
  assert.equal(r.ret, 0);
}

Deno.test("hvm: the BIOS boots the first working device of the CMOS boot order", async () => {
  const table: [string, BiosDevice[], string, string][] = [
    ["cda", [HDA, CDROM], "hda", "Booting from Hard Disk..."],
    ["dc", [HDA, CDROM], "hdc", "Booting from DVD/CD..."],
    ["dc", [HDA, EMPTY_CDROM], "hda", "Booting from Hard Disk..."],
    ["nc", [HDA, NIC], "vif0", "Booting from ROM..."],
  ];
  for (const [boot, devices, want, line] of table) {
    const { h, g, agent } = await bootHvm({ boot, devices });
    assert.equal(agent.state, "running", `boot=${boot}`);
    assert.equal(agent.bootDevice?.name, want, `boot=${boot}`);
    // Visible to dom0 (serial) and in the trace.
    assert.ok(g.dm!.serial.includes(line), `boot=${boot}: ${g.dm!.serial.join(" | ")}`);
    const ev = guestEvents(h, g.domid, "bios_boot");
    assert.deepEqual(ev.map((e) => e.device), [want]);
  }
});

Deno.test("hvm: nothing bootable: halted, ready rejects; SeaBIOS resets 60 s later (a reboot)", async () => {
  const { h, g, agent } = await bootHvm({ boot: "d", devices: [EMPTY_CDROM] }, "well-behaved");
  await assert.rejects(agent.ready, /No bootable device/);
  assert.equal(agent.state, "halted");
  assert.equal(g.dm!.serial.at(-1), "No bootable device.  Retrying in 60 seconds.");
  assert.deepEqual(guestEvents(h, g.domid, "bios_boot").map((e) => e.device), [null]);
  await h.advance(59 * NS_PER_S);
  assert.equal(shutdownCode(h, g.domid), undefined);
  await h.advance(2 * NS_PER_S);
  assert.equal(shutdownCode(h, g.domid), SHUTDOWN_reboot);
});

Deno.test("hvm: nothing bootable under ROMBIOS: halted for good", async () => {
  const { h, g, agent } = await bootHvm({ boot: "d", devices: [EMPTY_CDROM], bios: "rombios" });
  await assert.rejects(agent.ready, /No bootable device/);
  assert.equal(g.dm!.serial.at(-1), "No bootable device.");
  await h.advance(120 * NS_PER_S);
  assert.equal(shutdownCode(h, g.domid), undefined);
});

Deno.test("hvm: never touches xenstore, PV devices or the callback param", async () => {
  const { h, g, opened } = await bootHvm();
  await h.advance(NS_PER_S);
  assert.equal(opened(), 0);
  assert.deepEqual(xenstoreOps(h, g.domid), []);
  assert.equal(callbackIrq(h, g.domid), 0);
  const guestHypercalls = h.trace.lines.filter((l) =>
    l.includes(`"src":"hv","dom":${g.domid},"hc"`)
  );
  assert.deepEqual(guestHypercalls, []);
});

Deno.test("hvm: POWER trigger → orderly S5 → the device model's remote shutdown (poweroff)", async () => {
  const { h, g, agent } = await bootHvm();
  trigger(h, g.domid, XEN_DOMCTL_SENDTRIGGER_POWER);
  await h.advance(NS_PER_S);
  assert.equal(shutdownCode(h, g.domid), SHUTDOWN_poweroff);
  assert.equal(agent.state, "shutdown");
  // The shutdown came from dom0 (QEMU), not from the guest.
  const remote = h.trace.lines.filter((l) => l.includes('"op":"remote_shutdown"'));
  assert.equal(remote.length, 1);
  assert.match(remote[0], /"src":"hv","dom":0,/);
  assert.deepEqual(guestEvents(h, g.domid, "acpi_sleep").map((e) => [e.state, e.pm1aCnt]), [[
    "S5",
    0x2000,
  ]]);
});

Deno.test("hvm: SLEEP trigger → S3; s3resume wakes the OS where it was", async () => {
  const { h, g, agent } = await bootHvm();
  trigger(h, g.domid, XEN_DOMCTL_SENDTRIGGER_SLEEP);
  await h.advance(NS_PER_S);
  assert.equal(agent.state, "sleeping");
  const s = h.hv.hypercall(0, {
    hc: "hvm_op",
    op: "get_param",
    domid: g.domid,
    index: HVM_PARAM_ACPI_S_STATE,
  });
  assert.equal(s.value, 3);
  // xl trigger s3resume: QEMU's system_wakeup sets the param to 0.
  h.hv.hypercall(0, {
    hc: "hvm_op",
    op: "set_param",
    domid: g.domid,
    index: HVM_PARAM_ACPI_S_STATE,
    value: 0,
  });
  await h.advance(NS_PER_S);
  assert.equal(agent.state, "running");
  assert.equal(guestEvents(h, g.domid, "acpi_wake").length, 1);
  assert.equal(guestEvents(h, g.domid, "bios_boot").length, 1, "no second boot");
});

Deno.test("hvm: crash-on-request panics on the power button and hangs (nothing tells Xen)", async () => {
  const { h, g, agent } = await bootHvm({}, "crash-on-request");
  trigger(h, g.domid, XEN_DOMCTL_SENDTRIGGER_POWER);
  await h.advance(NS_PER_S);
  assert.equal(agent.state, "crashed");
  assert.equal(shutdownCode(h, g.domid), undefined);
  assert.ok(g.dm!.serial.some((l) => l.startsWith("Kernel panic")));
});

Deno.test("hvm: without a device model it cannot boot", async () => {
  const { agent } = await bootHvm({ noPlatform: true });
  await assert.rejects(agent.ready, /no emulated platform/);
  assert.equal(agent.state, "failed");
});
