/**
 * @module
 * `boot-modes`: the three boot modes of the seeds (libvirt's and the Xen
 * API's): a PV guest whose kernel pygrub picks from its disk image, a PV
 * guest booted directly from a kernel in dom0, and an HVM guest whose BIOS
 * follows the boot order (`boot="dc"`: the empty CD first, then the disk).
 */
import { DEBIAN_IMAGE, DIRECT_KERNEL, HVM_DISK, standardFiles } from "./images.ts";
import type { Scenario } from "./scenario.ts";

export const bootModes: Scenario = {
  name: "boot-modes",
  description: "PV via pygrub, PV direct kernel, HVM BIOS boot order",
  files: standardFiles,
  async run({ host, config, say }) {
    const xs = host.dom0Client();
    const pygrub = await host.run(host.toolstack.create(config(`name = "pygrub-pv"
memory = 32
bootloader = "pygrub"
extra = "console=hvc0"
disk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]
vif = [ "bridge=xenbr0" ]
`)));
    await host.run(host.guests.get(pygrub.domid)!.ready);
    say(
      `pygrub-pv (domain ${pygrub.domid}): pygrub chose the menu's default entry; the guest's command line is ` +
        JSON.stringify(
          host.guests.get(pygrub.domid)!.console.find((l) => l.includes("Command line")) ?? "",
        ),
    );
    const direct = await host.run(host.toolstack.create(config(`name = "direct-pv"
memory = 32
kernel = "${DIRECT_KERNEL}"
root = "/dev/xvda1"
extra = "console=hvc0"
`)));
    await host.run(host.guests.get(direct.domid)!.ready);
    const kernel = await host.run(xs.readString(`/vm/${direct.uuid}/image/kernel`));
    const cmdline = await host.run(xs.readString(`/vm/${direct.uuid}/image/cmdline`));
    say(
      `direct-pv (domain ${direct.domid}): kernel ${kernel} from dom0, command line ${
        JSON.stringify(cmdline)
      }`,
    );
    const hvm = await host.run(host.toolstack.create(config(`name = "bios-hvm"
type = "hvm"
memory = 32
boot = "dc"
disk = [ "${HVM_DISK},raw,hda,w", ",raw,hdc,r,devtype=cdrom" ]
xenlab_guest = "pv_drivers=0"
`)));
    await host.run(host.guests.get(hvm.domid)!.ready);
    const serial = host.deviceModels.get(hvm.domid)?.serial ?? [];
    say(
      `bios-hvm (domain ${hvm.domid}): boot order "dc" → BIOS said: ${
        serial.filter((l) => /Boot|boot/.test(l)).join(" | ")
      }`,
    );
    say(await host.run(host.toolstack.list()));
  },
};
