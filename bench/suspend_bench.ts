/**
 * Suspend → fast resume of each guest kind on a simulated host: wall time
 * per cycle (Deno.bench), and the virtual time the cycle takes, printed
 * once. `deno bench -A bench/suspend_bench.ts`
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

for (const [kind, text] of Object.entries(CONFIGS)) {
  const h = await Host.start({ seed: 1, files: standardFiles() });
  const d = await h.run(h.toolstack.create(parseXlCfg(text, new Rng(1)).config));
  await h.run(h.guests.get(d.domid)!.ready);
  const cycle = async () => {
    const t0 = h.clock.nowNs();
    await h.run(h.toolstack.suspend(d.domid));
    await h.run(h.toolstack.resume(d.domid));
    await h.advance(1_000_000); // let the guest run again
    return h.clock.nowNs() - t0;
  };
  console.log(
    `${kind}: suspend → fast resume takes ${
      (await cycle()) / 1e6
    } ms of virtual time (incl. 1 ms run)`,
  );
  Deno.bench({
    name: `${kind}: suspend → fast resume (wall time per cycle)`,
    group: "suspend-resume",
  }, async () => {
    await cycle();
  });
}
