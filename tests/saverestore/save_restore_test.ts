/**
 * `xl save` / `xl restore` on a simulated host (lifecycle-and-migration.md
 * §5.2, §5.5, §4.2–§4.4), per guest kind: the image, the new domain's
 * memory, the guest's resume in the new domain and its devices.
 */
import assert from "node:assert/strict";
import { Host } from "../../src/host/host.ts";
import { parseXlCfg } from "../../src/toolstack/config/xl_cfg.ts";
import { makeDiskImage } from "../../src/toolstack/boot/tar_image.ts";
import { Rng } from "../../src/sim/rng.ts";
import { decodeDominf } from "../../src/hv/domain_info.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import { fileChunksSync } from "../../src/toolstack/save/save_file.ts";
import { writeFileAtomically } from "../../src/toolstack/saverestore/atomic_file.ts";

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
const PVHVM =
  `name = "pvhvm"\ntype = "hvm"\nmemory = 16\ndisk = [ "/img/hvm.img,raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`;
const HVM =
  `name = "hvm"\ntype = "hvm"\nmemory = 16\ndisk = [ "/img/hvm.img,raw,hda,w" ]\nxenlab_guest = "pv_drivers=0"\n`;

async function boot(text: string) {
  let trace!: MemoryTrace;
  const h = await Host.start({
    seed: 3,
    files: files(),
    trace: (c) => (trace = new MemoryTrace(c)),
  });
  const d = await h.run(h.toolstack.create(parseXlCfg(text, new Rng(1)).config));
  await h.run(h.guests.get(d.domid)!.ready);
  return { h, domid: d.domid, trace: () => trace };
}

/** No such domain, or dying. */
function gone(h: Host, domid: number): boolean {
  const info = h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid }).info;
  return info === undefined || decodeDominf(info.flags).dying;
}

for (const [kind, text] of [["pv", PV], ["pvhvm", PVHVM], ["hvm", HVM]] as const) {
  Deno.test(`save/restore: a ${kind} guest is saved to a file and resumes in a new domain`, async () => {
    const { h, domid } = await boot(text);
    const path = await Deno.makeTempFile({ prefix: `xenlab-${kind}-`, suffix: ".save" });
    try {
      const saved = await h.run(
        writeFileAtomically(path, (sink) => h.toolstack.save(domid, sink), { sync: true }),
      );
      assert.ok(saved.dataPages > 0);
      assert.equal((await Deno.stat(path)).size, saved.bytes);
      assert.equal(gone(h, domid), true, "the saved domain is destroyed");
      using f = await Deno.open(path);
      const r = await h.run(h.toolstack.restore(fileChunksSync(f)));
      assert.notEqual(r.domid, domid);
      const agent = h.guests.get(r.domid)!;
      await h.run(agent.ready);
      assert.equal(agent.state, "running");
      const xs = h.dom0Client();
      assert.equal(await h.run(xs.readString(`/local/domain/${r.domid}/name`)), kind);
      if (kind !== "hvm") {
        const vbd = (await h.run(xs.directory(`/local/domain/${r.domid}/device/vbd`)))[0];
        assert.equal(
          await h.run(xs.readString(`/local/domain/${r.domid}/device/vbd/${vbd}/state`)),
          "4",
        );
      }
      // The restored guest still does what it is asked.
      await h.run(h.toolstack.shutdown(r.domid, { wait: true }));
      await h.advance(1e9);
      assert.equal(gone(h, r.domid), true);
    } finally {
      await Deno.remove(path).catch(() => {});
      await h.stop();
    }
  });
}
