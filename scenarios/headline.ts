/**
 * @module
 * `headline`: the demo's host part. Boots a PV guest (pygrub), a PVHVM
 * guest and an HVM guest without PV drivers, lists them, then shows the
 * three ways they stop: a clean `xl shutdown` (acknowledged, poweroff,
 * on_poweroff=destroy), `xl reboot` (on_reboot=restart: a new domain), and
 * the ACPI power button for the guest that has no PV drivers (`-F`).
 * Each is also suspended (by the method libxl picks for its kind) and
 * resumed fast; the PV guest is checkpointed (`xl save -c`: it runs on)
 * and the PVHVM guest saved and restored into a new domain (`xl save`,
 * `xl restore`: its memory identical, its devices reconnected).
 */
import { DEBIAN_IMAGE, HVM_DISK, standardFiles } from "./images.ts";
import { restoreFromFile, saveToFile } from "./save_restore.ts";
import type { Scenario } from "./scenario.ts";

export const headline: Scenario = {
  name: "headline",
  description:
    "boot PV, PVHVM and HVM guests; suspend/resume each; shutdown, reboot, ACPI power button",
  files: standardFiles,
  async run({ host, config, say }) {
    const ts = host.toolstack;
    const pv = await host.run(ts.create(config(`name = "pv-web"
memory = 32
bootloader = "pygrub"
disk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]
vif = [ "bridge=xenbr0" ]
`)));
    const pvhvm = await host.run(ts.create(config(`name = "pvhvm-db"
type = "hvm"
memory = 32
disk = [ "${HVM_DISK},raw,xvda,w" ]
vif = [ "bridge=xenbr0" ]
`)));
    const hvm = await host.run(ts.create(config(`name = "hvm-legacy"
type = "hvm"
memory = 32
boot = "c"
disk = [ "${HVM_DISK},raw,hda,w" ]
xenlab_guest = "pv_drivers=0"
`)));
    for (const d of [pv, pvhvm, hvm]) await host.run(host.guests.get(d.domid)!.ready);
    say("three guests booted:");
    say((await host.run(ts.list())).trimEnd());
    for (const d of [pv, pvhvm, hvm]) {
      const r = await host.run(ts.suspend(d.domid));
      await host.run(ts.resume(d.domid));
      const pvDrivers = host.guests.get(d.domid)?.kind !== "hvm";
      say(
        `${d.config.name}: suspended by ${r.method}, resumed fast ${
          pvDrivers
            ? "(the suspend hypercall returned 1)"
            : "(no PV drivers: nothing to patch, it continues where it stopped)"
        }`,
      );
    }
    await host.advance(1e9);

    const dir = Deno.makeTempDirSync({ prefix: "xenlab-headline-" });
    let db = pvhvm.domid;
    try {
      const cp = await saveToFile(host, pv.domid, `${dir}/pv-web.checkpoint`, true);
      say(
        `pv-web: xl save -c → checkpoint of ${cp.result.dataPages} pages (${
          (cp.result.bytes / 2 ** 20).toFixed(1)
        } MiB); the guest saw its suspend cancelled and runs on`,
      );
      const saved = await saveToFile(host, pvhvm.domid, `${dir}/pvhvm-db.save`, false);
      const r = await restoreFromFile(host, `${dir}/pvhvm-db.save`, saved);
      db = r.domid;
      say(
        `pvhvm-db: xl save → domain ${pvhvm.domid} destroyed; xl restore → domain ${r.domid}, ` +
          `memory identical (${r.memory.pages} pages, hash ${r.memory.hash}), resumed with 0, ` +
          `devices reconnected: ${r.devices.join(" ")}`,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
    await host.run(ts.shutdown(pv.domid, { wait: true }));
    say(`pv-web: xl shutdown → acknowledged → SHUTDOWN_poweroff → on_poweroff=destroy`);
    await host.run(ts.shutdown(db, { reboot: true }));
    await host.advance(5e9);
    say(
      `pvhvm-db: xl reboot → SHUTDOWN_reboot → on_reboot=restart as domain ${await host.run(
        ts.lookup("pvhvm-db"),
      )}`,
    );
    await host.run(ts.shutdown(hvm.domid, { force: true }));
    await host.advance(5e9);
    say(
      `hvm-legacy: no PV drivers, so xl shutdown -F pressed the ACPI power button → S5 → device model → poweroff`,
    );
    say((await host.run(ts.list())).trimEnd());
  },
};
