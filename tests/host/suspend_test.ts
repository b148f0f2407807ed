/**
 * Suspend and resume of the same domain (lifecycle-and-migration.md §3, §4.1)
 * on a simulated host: the method libxl picks per guest kind, the guest's
 * Linux sequence, fast resume (the hypercall returns 1), and the failures
 * users hit, each by name with virtual time.
 */
import assert from "node:assert/strict";
import { Host } from "../../src/host/host.ts";
import { parseXlCfg } from "../../src/toolstack/config/xl_cfg.ts";
import { makeDiskImage } from "../../src/toolstack/boot/tar_image.ts";
import { Rng } from "../../src/sim/rng.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import { decodeDominf } from "../../src/hv/domain_info.ts";
import { SuspendError } from "../../src/toolstack/suspend/suspend_domain.ts";
import type { SuspendHook } from "../../src/guest-agents/suspend_hook.ts";

const files = () =>
  new Map([
    [
      "/img/pv.img",
      makeDiskImage({
        "boot/grub/menu.lst": "default 0\ntitle Linux\n kernel /boot/vmlinuz root=/dev/xvda1\n",
        "boot/vmlinuz": new Uint8Array(10_000).fill(0x90),
      }),
    ],
    ["/img/hvm.img", new Uint8Array(4096).fill(1)],
  ]);

const PV =
  `name = "pv"\nmemory = 16\nbootloader = "pygrub"\ndisk = [ "/img/pv.img,raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`;
const PVHVM = `name = "pvhvm"\ntype = "hvm"\nmemory = 16\ndisk = [ "/img/hvm.img,raw,xvda,w" ]\n`;
const HVM =
  `name = "hvm"\ntype = "hvm"\nmemory = 16\ndisk = [ "/img/hvm.img,raw,hda,w" ]\nxenlab_guest = "pv_drivers=0"\n`;

async function boot(text: string, opts: { seed?: number; guestSuspend?: SuspendHook } = {}) {
  let trace!: MemoryTrace;
  const h = await Host.start({
    seed: opts.seed ?? 1,
    files: files(),
    guestSuspend: opts.guestSuspend,
    trace: (c) => (trace = new MemoryTrace(c)),
  });
  const d = await h.run(h.toolstack.create(parseXlCfg(text, new Rng(1)).config));
  await h.run(h.guests.get(d.domid)!.ready);
  return { h, domid: d.domid, trace };
}

function shutdownCode(h: Host, domid: number): number | undefined {
  const f = decodeDominf(
    h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid }).info!.flags,
  );
  return f.shutdown ? f.shutdownCode : undefined;
}

for (
  const [kind, text, method] of [["PV", PV, "xenstore"], ["PVHVM", PVHVM, "xenstore"], [
    "HVM",
    HVM,
    "remote-shutdown",
  ]] as const
) {
  Deno.test(`suspend: ${kind} suspends by ${method}, fast resume returns 1 and the guest runs on`, async () => {
    const { h, domid, trace } = await boot(text);
    const xs = h.dom0Client();
    const ringBefore = kind === "PV"
      ? await h.run(xs.readString(`/local/domain/${domid}/device/vbd/51712/ring-ref`))
      : "";
    const r = await h.run(h.toolstack.suspend(domid));
    assert.equal(r.method, method);
    assert.equal(shutdownCode(h, domid), 2, "shut down with reason suspend");
    assert.match(
      (await h.run(h.toolstack.list())).split("\n").find((l) => l.startsWith(kind.toLowerCase()))!,
      /---ss-/,
    );
    await assert.rejects(h.run(h.toolstack.pause(domid)), /is Suspended/);
    await h.run(h.toolstack.resume(domid));
    await h.advance(1e9);
    assert.equal(shutdownCode(h, domid), undefined, "running again");
    if (kind !== "HVM") {
      const returned = trace.lines.filter((l) => l.includes('"step":"returned"'));
      assert.equal(returned.length, 1);
      assert.match(returned[0], /"rax":1,"cancelled":true/);
      if (kind === "PV") {
        // Cancelled: the guest keeps its rings (THAW), start_info has MFNs again.
        assert.equal(
          await h.run(xs.readString(`/local/domain/${domid}/device/vbd/51712/ring-ref`)),
          ringBefore,
        );
      }
      // The guest still answers the toolstack after the resume.
      await h.run(h.toolstack.shutdown(domid, { wait: true }));
      await h.advance(2e9);
      assert.ok(
        h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid }).ret < 0,
        "powered off and destroyed",
      );
    }
    await h.stop();
  });
}

Deno.test("suspend: a guest that never acknowledges is cancelled after 60 s, by name", async () => {
  const { h, domid } = await boot(PV + `xenlab_guest = "profile=no-suspend"\n`);
  const t0 = h.clock.nowNs();
  await assert.rejects(h.run(h.toolstack.suspend(domid)), (e) => {
    assert.ok(e instanceof SuspendError);
    assert.equal(e.step, "ack");
    assert.equal(e.cancelled, true);
    assert.equal(e.waitedNs, 60e9);
    assert.match(e.message, /guest didn't acknowledge suspend, cancelling request/);
    return true;
  });
  assert.equal(h.clock.nowNs() - t0, 60e9, "exactly libxl's 60 s of virtual time");
  assert.equal(
    await h.run(h.dom0Client().readString(`/local/domain/${domid}/control/shutdown`)),
    "",
    "request withdrawn",
  );
  assert.equal(shutdownCode(h, domid), undefined, "still running");
  await h.stop();
});

Deno.test("suspend: a guest that acknowledges but never suspends times out (ERROR_GUEST_TIMEDOUT)", async () => {
  const never: SuspendHook = () => new Promise(() => {}); // acks, then hangs before the hypercall
  const { h, domid } = await boot(PV, { guestSuspend: never });
  await assert.rejects(h.run(h.toolstack.suspend(domid)), (e) => {
    assert.ok(e instanceof SuspendError);
    assert.equal(e.code, "ERROR_GUEST_TIMEDOUT");
    assert.equal(e.step, "shutdown");
    assert.match(e.message, /guest did not suspend, timed out/);
    return true;
  });
  await h.stop();
});

Deno.test("suspend: a guest that crashes instead fails the suspend (ERROR_FAIL)", async () => {
  const crash: SuspendHook = async (ctx) => {
    await ctx.env.hypercall({ hc: "sched_op", op: "shutdown", reason: 3 });
  };
  const { h, domid } = await boot(PV, { guestSuspend: crash });
  await assert.rejects(h.run(h.toolstack.suspend(domid)), /another reason \(3\)|destroyed/);
  await h.stop();
});
