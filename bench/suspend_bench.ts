/**
 * Suspend → fast resume of each guest kind on a simulated host: wall time
 * per cycle (Deno.bench), and the virtual time the cycle takes, printed
 * once. Every xenstore message takes {@link XS_ONE_WAY_NS} of virtual time
 * one way (a ring write, an event channel notification, the other side's
 * wake-up), so the virtual figure is the protocol's chain of sequential
 * xenstore round trips; hypercalls and the guest's own work take none.
 * `deno bench -A bench/suspend_bench.ts`
 */
import { Host } from "../src/host/host.ts";
import { parseXlCfg } from "../src/toolstack/config/xl_cfg.ts";
import { Rng } from "../src/sim/rng.ts";
import { DEBIAN_IMAGE, HVM_DISK, standardFiles } from "../scenarios/images.ts";

const CONFIGS = {
  pv:
    `name = "pv"\nmemory = 32\nbootloader = "pygrub"\ndisk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`,
  pvhvm: `name = "pvhvm"\ntype = "hvm"\nmemory = 32\ndisk = [ "${HVM_DISK},raw,xvda,w" ]\n`,
  hvm:
    `name = "hvm"\ntype = "hvm"\nmemory = 32\ndisk = [ "${HVM_DISK},raw,hda,w" ]\nxenlab_guest = "pv_drivers=0"\n`,
};

/** Assumed one-way xenstore message latency (ring + event channel + wake-up). */
const XS_ONE_WAY_NS = 10_000;

for (const [kind, text] of Object.entries(CONFIGS)) {
  const h = await Host.start({ seed: 1, files: standardFiles(), xenstoreLatencyNs: XS_ONE_WAY_NS });
  const d = await h.run(h.toolstack.create(parseXlCfg(text, new Rng(1)).config));
  await h.run(h.guests.get(d.domid)!.ready);
  const cycle = async () => {
    const t0 = h.clock.nowNs();
    await h.run(h.toolstack.suspend(d.domid));
    await h.run(h.toolstack.resume(d.domid));
    const took = h.clock.nowNs() - t0;
    await h.advance(1_000_000); // let the guest run again
    return took;
  };
  console.log(
    `${kind}: suspend → fast resume takes ${(await cycle()) / 1e3} µs of virtual time ` +
      `(${XS_ONE_WAY_NS / 1e3} µs per xenstore message one way)`,
  );
  Deno.bench({
    name: `${kind}: suspend → fast resume (wall time per cycle)`,
    group: "suspend-resume",
  }, async () => {
    await cycle();
  });
}
