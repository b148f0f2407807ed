/**
 * @module
 * `hvm-s3`: ACPI S3 of an HVM guest without PV drivers through the emulated
 * firmware (lifecycle-and-migration.md §3.9): `xl trigger sleep` presses
 * the sleep button, the OS writes S3 to PM1a_CNT, the device model sets
 * HVM_PARAM_ACPI_S_STATE = 3 and Xen holds the domain (vCPU 0 at
 * F000:FFF0); a suspend now has to be toolstack-imposed (method C); `xl
 * trigger s3resume` is QMP `system_wakeup`: the device model resets its
 * devices and clears the param, the firmware jumps to the OS's wake vector
 * and the OS sets its emulated devices up again. Then it sleeps once more
 * and is saved asleep (method C) and restored: the restored vCPU starts at
 * the reset vector and the firmware wakes the OS in the new domain.
 */
import { HVM_PARAM_ACPI_S_STATE } from "../src/hv/hvm_params.ts";
import { chooseSuspendMethod } from "../src/toolstack/suspend/suspend_domain.ts";
import { HVM_DISK, standardFiles } from "./images.ts";
import type { Scenario } from "./scenario.ts";

export const hvmS3: Scenario = {
  name: "hvm-s3",
  description:
    "ACPI S3 of an HVM guest: sleep button, suspend-to-RAM, s3resume, devices set up again",
  files: standardFiles,
  async run({ host, config, say }) {
    const ts = host.toolstack;
    const d = await host.run(ts.create(config(`name = "hvm-laptop"
type = "hvm"
memory = 32
boot = "c"
disk = [ "${HVM_DISK},raw,hda,w" ]
xenlab_guest = "pv_drivers=0"
`)));
    const agent = host.guests.get(d.domid)!;
    await host.run(agent.ready);
    const sState = () =>
      host.hv.hypercall(0, {
        hc: "hvm_op",
        op: "get_param",
        domid: d.domid,
        index: HVM_PARAM_ACPI_S_STATE,
      }).value;
    ts.trigger(d.domid, "sleep");
    await host.advance(1e9);
    if (agent.state !== "sleeping" || sState() !== 3) {
      throw new Error(`the guest did not enter S3 (${agent.state}, S-state ${sState()})`);
    }
    say(`xl trigger sleep → the OS wrote S3 to PM1a_CNT → ACPI_S_STATE = ${sState()}, domain held`);
    const method = await host.run(chooseSuspendMethod(ts.tc, d.domid));
    say(`while in S3, libxl would suspend it by ${method.method} (method C, §3.1)`);
    say((await host.run(ts.list())).trimEnd());
    const resets = host.deviceModels.get(d.domid)!.devicesReset;
    ts.trigger(d.domid, "s3resume");
    await host.advance(1e9);
    if ((agent.state as string) !== "running" || sState() !== 0) {
      throw new Error("the guest did not wake");
    }
    say(
      `xl trigger s3resume → QMP system_wakeup: ${
        host.deviceModels.get(d.domid)!.devicesReset - resets
      } device reset, ACPI_S_STATE = 0 → firmware → OS wake vector`,
    );
    const woke = agent.console.slice(
      agent.console.indexOf("ACPI: Waking up from system sleep state S3"),
    );
    say(`the OS set its devices up again: ${woke.slice(1).join(" | ")}`);
    try {
      ts.trigger(d.domid, "s3resume");
    } catch (e) {
      say(`a second s3resume is refused: ${(e as Error).message}`);
    }

    ts.trigger(d.domid, "sleep");
    await host.advance(1e9);
    const chunks: Uint8Array[] = [];
    const saved = await host.run(ts.save(d.domid, (c) => void chunks.push(c.slice())));
    say(`asleep again, xl save by ${saved.suspend.method}: ${saved.dataPages} pages`);
    const r = await host.run(ts.restore((async function* () {
      yield* chunks;
    })()));
    const again = host.guests.get(r.domid)!;
    await host.run(again.ready);
    if (!again.console.includes("ACPI: Waking up from system sleep state S3")) {
      throw new Error("the restored guest did not wake from S3");
    }
    say(`xl restore → domain ${r.domid}: the firmware woke the OS from S3 (${again.state})`);
  },
};
