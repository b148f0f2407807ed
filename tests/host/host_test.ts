/**
 * A whole host in one process on virtual time: xl.cfg → creation in libxl's
 * order → the guest boots (pygrub, direct kernel or BIOS) and connects its
 * devices → shutdown, reboot and destroy as xl does them.
 */
import assert from "node:assert/strict";
import { Host } from "../../src/host/host.ts";
import { parseXlCfg } from "../../src/toolstack/config/xl_cfg.ts";
import { makeDiskImage } from "../../src/toolstack/boot/tar_image.ts";
import { Rng } from "../../src/sim/rng.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import type { ToolstackEvent } from "../../src/toolstack/toolstack.ts";
import type { ProgressEvent } from "../../src/toolstack/create/progress.ts";

const GRUB_CFG = `set default=0
menuentry 'Debian GNU/Linux' {
  linux /boot/vmlinuz-6.1.0 root=/dev/xvda1 ro quiet
  initrd /boot/initrd.img-6.1.0
}
`;

function files(): Map<string, Uint8Array> {
  const kernel = new Uint8Array(20_000).fill(0x90);
  return new Map([
    [
      "/images/debian.img",
      makeDiskImage({
        "boot/grub/grub.cfg": GRUB_CFG,
        "boot/vmlinuz-6.1.0": kernel,
        "boot/initrd.img-6.1.0": new Uint8Array(9_000).fill(1),
      }),
    ],
    ["/images/win.img", new Uint8Array(4096).fill(7)],
    ["/boot/vmlinuz-direct", kernel],
  ]);
}

const PV_PYGRUB = `name = "web"
type = "pv"
memory = 16
vcpus = 1
bootloader = "pygrub"
disk = [ "/images/debian.img,raw,xvda,w" ]
vif = [ "bridge=xenbr0" ]
`;

async function host(seed = 1, onEvent?: (e: ToolstackEvent) => void) {
  const trace: { t?: MemoryTrace } = {};
  const h = await Host.start({
    seed,
    files: files(),
    trace: (clock) => (trace.t = new MemoryTrace(clock)),
    onEvent,
  });
  return { h, trace: trace.t! };
}

const cfg = (text: string) => parseXlCfg(text, new Rng(9)).config;

Deno.test("host: a PV guest booted by pygrub comes up with its disk, NIC and console connected", async () => {
  const { h } = await host();
  const progress: ProgressEvent[] = [];
  const d = await h.run(h.toolstack.create(cfg(PV_PYGRUB), { progress: (e) => progress.push(e) }));
  const agent = h.guests.get(d.domid)!;
  await h.run(agent.ready);
  const xs = h.dom0Client();
  const dom = `/local/domain/${d.domid}`;
  assert.equal(await h.run(xs.readString(`${dom}/name`)), "web");
  assert.deepEqual(await h.run(xs.getPerms(dom)), [{ id: 0, perm: "n" }, {
    id: d.domid,
    perm: "r",
  }]);
  assert.equal(
    await h.run(xs.readString(`${dom}/control/feature-poweroff`)),
    "1",
    "written by the guest",
  );
  for (
    const [front, back] of [
      [`${dom}/device/vbd/51712`, `/local/domain/0/backend/vbd/${d.domid}/51712`],
      [`${dom}/device/vif/0`, `/local/domain/0/backend/vif/${d.domid}/0`],
    ]
  ) {
    assert.equal(await h.run(xs.readString(`${front}/state`)), "4", `${front} Connected`);
    assert.equal(await h.run(xs.readString(`${back}/state`)), "4", `${back} Connected`);
  }
  assert.match(await h.run(xs.readString(`${dom}/console/tty`)), /^\/dev\/pts\/\d+$/);
  // The kernel pygrub chose, with its arguments, is what the guest got.
  assert.equal(await h.run(xs.readString(`/vm/${d.uuid}/image/cmdline`)), "");
  // xend's phases, in order, ending at 100.
  const phases = [...new Set(progress.map((p) => p.phase))];
  assert.deepEqual(phases, [
    "construct",
    "init",
    "store VM details",
    "store domain details",
    "register watches",
    "refresh shutdown",
  ]);
  assert.equal(progress.at(-1)!.percent, 100);
  assert.ok(
    progress.every((p, i) => i === 0 || p.percent >= progress[i - 1].percent),
    "progress only moves forward",
  );
  await h.stop();
});

Deno.test("host: xl shutdown is acknowledged, the guest powers off, on_poweroff destroys it", async () => {
  const events: ToolstackEvent[] = [];
  const { h } = await host(2, (e) => events.push(e));
  const d = await h.run(h.toolstack.create(cfg(PV_PYGRUB)));
  await h.run(h.guests.get(d.domid)!.ready);
  await h.run(h.toolstack.shutdown(d.domid, { wait: true }));
  await h.advance(5e9);
  const kinds = events.map((e) =>
    `${e.kind}${"reason" in e ? ":" + e.reason + ":" + e.action : ""}`
  );
  assert.deepEqual(kinds, ["created", "shutdown:poweroff:destroy", "death"]);
  assert.equal(
    h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: d.domid }).ret < 0,
    true,
    "gone",
  );
  const xs = h.dom0Client();
  assert.equal(await h.run(xs.exists(`/local/domain/${d.domid}`)), false);
  assert.equal(await h.run(xs.exists(`/vm/${d.uuid}`)), false);
  assert.equal(await h.run(xs.exists(`/libxl/${d.domid}`)), false);
  await h.stop();
});

Deno.test("host: a guest reboot restarts the domain from its config (on_reboot=restart)", async () => {
  const events: ToolstackEvent[] = [];
  const { h } = await host(3, (e) => events.push(e));
  const d = await h.run(h.toolstack.create(cfg(PV_PYGRUB)));
  await h.run(h.guests.get(d.domid)!.ready);
  await h.run(h.toolstack.shutdown(d.domid, { reboot: true }));
  await h.advance(10e9);
  const restarted = events.find((e) => e.kind === "restarted");
  assert.ok(
    restarted && restarted.kind === "restarted" && restarted.domid !== d.domid,
    JSON.stringify(events),
  );
  await h.run(h.guests.get(restarted.domid)!.ready);
  assert.equal(
    await h.run(h.dom0Client().readString(`/local/domain/${restarted.domid}/name`)),
    "web",
  );
  await h.stop();
});

Deno.test("host: a vif whose bridge is missing fails creation by name and leaves nothing behind", async () => {
  const { h } = await host(4);
  const bad = cfg(PV_PYGRUB.replace("bridge=xenbr0", "bridge=xenbr9"));
  await assert.rejects(
    h.run(h.toolstack.create(bad)),
    (e: Error) =>
      /during register watches/.test(e.message) &&
      /Could not find bridge device xenbr9/.test(e.message),
  );
  await h.advance(1e9);
  const infos = h.hv.hypercall(0, {
    hc: "sysctl",
    op: "getdomaininfolist",
    firstDomain: 0,
    maxDomains: 100,
  }).infos!;
  assert.deepEqual(infos.map((i) => i.domain), [0], "only dom0 is left (the failed domain died)");
  const xs = h.dom0Client();
  assert.deepEqual(await h.run(xs.directory("/local/domain")), ["0"]);
  assert.deepEqual(await h.run(xs.directory("/vm").catch(() => [])), []);
  assert.deepEqual(await h.run(xs.directory("/libxl").catch(() => [])), []);
  await h.stop();
});

Deno.test("host: the same seed gives the same trace, byte for byte", async () => {
  const runOnce = async (seed: number) => {
    const { h, trace } = await host(seed);
    const d = await h.run(h.toolstack.create(cfg(PV_PYGRUB)));
    await h.run(h.guests.get(d.domid)!.ready);
    await h.run(h.toolstack.shutdown(d.domid, { wait: true }));
    await h.advance(5e9);
    await h.stop();
    return trace.text();
  };
  const a = await runOnce(5), b = await runOnce(5), c = await runOnce(6);
  assert.equal(a, b);
  assert.notEqual(a, c);
});

Deno.test("host: xl list, lookup by name, domid or uuid, pause/unpause, and an illegal request refused with the allowed ops", async () => {
  const { h } = await host(7);
  const d = await h.run(h.toolstack.create(cfg(PV_PYGRUB)));
  await h.run(h.guests.get(d.domid)!.ready);
  const ts = h.toolstack;
  for (const arg of ["web", String(d.domid), d.uuid]) {
    assert.equal(await h.run(ts.lookup(arg)), d.domid, arg);
  }
  await assert.rejects(h.run(ts.lookup("nope")), /Domain 'nope' does not exist/);
  await h.run(ts.pause(d.domid));
  const listed = await h.run(ts.list());
  const lines = listed.trimEnd().split("\n");
  assert.match(lines[0], /^Name\s+ID\s+Mem VCPUs\s+State\s+Time\(s\)$/);
  assert.match(lines[1], /^Domain-0\s+0\s/);
  assert.match(lines[2], new RegExp(`^web\\s+${d.domid}\\s+16\\s+1\\s+--p---`));
  await assert.rejects(
    h.run(ts.pause(d.domid)),
    /cannot pause: domain "web" is Paused; allowed: .*unpause/,
  );
  await assert.rejects(
    h.run(ts.shutdown(d.domid)),
    /cannot clean_shutdown: domain "web" is Paused/,
  );
  await h.run(ts.unpause(d.domid));
  assert.match((await h.run(ts.list())).split("\n")[2], /\s-b----|\sr-----/);
  await h.stop();
});

Deno.test("host: HVM with BIOS boot order and PV direct-kernel boot show in what the guest receives", async () => {
  const { h, trace } = await host(8);
  const hvm = await h.run(h.toolstack.create(cfg(`name = "win"
type = "hvm"
memory = 16
boot = "dc"
disk = [ "/images/win.img,raw,hda,w", ",raw,hdc,r,devtype=cdrom" ]
xenlab_guest = "pv_drivers=0"
`)));
  await h.run(h.guests.get(hvm.domid)!.ready);
  const boots = trace.lines.filter((l) => l.includes('"bios_boot"'));
  assert.equal(boots.length, 1, boots.join("\n"));
  assert.match(boots[0], /"device":"hda"/, "the empty CD fails, the disk boots (order d then c)");
  const pv = await h.run(h.toolstack.create(cfg(`name = "direct"
memory = 16
kernel = "/boot/vmlinuz-direct"
extra = "console=hvc0"
root = "/dev/xvda1"
`)));
  await h.run(h.guests.get(pv.domid)!.ready);
  const xs = h.dom0Client();
  assert.equal(
    await h.run(xs.readString(`/vm/${pv.uuid}/image/kernel`)),
    "/boot/vmlinuz-direct",
  );
  assert.equal(
    await h.run(xs.readString(`/vm/${pv.uuid}/image/cmdline`)),
    "root=/dev/xvda1 console=hvc0",
  );
  await h.stop();
});

Deno.test("host: the guest brings up the vCPUs marked online (vcpus=2 of maxvcpus=4), as Linux's SMP bring-up", async () => {
  const { h, trace } = await host(9);
  const d = await h.run(
    h.toolstack.create(cfg(PV_PYGRUB.replace("vcpus = 1", "vcpus = 2\nmaxvcpus = 4"))),
  );
  await h.run(h.guests.get(d.domid)!.ready);
  const row = (await h.run(h.toolstack.list())).split("\n").find((l) => l.startsWith("web"))!;
  assert.match(row, /^web\s+\d+\s+16\s+2\s/, "two vCPUs online");
  const vcpuEvents = trace.lines.filter((l) =>
    l.includes('"src":"guest"') && l.includes('"ev":"vcpu"')
  );
  assert.deepEqual(vcpuEvents.map((l) => [JSON.parse(l).vcpu, JSON.parse(l).state]), [[1, "up"], [
    2,
    "offline",
  ], [3, "offline"]]);
  await h.stop();
});
