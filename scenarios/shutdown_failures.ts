/**
 * @module
 * What users hit when a guest does not cooperate with `xl shutdown`
 * (lifecycle-and-migration.md §7.1): a guest that never acknowledges
 * (libxl gives up after 60 s: "guest didn't acknowledge control request"),
 * and one that crashes when asked (on_crash=destroy).
 */
import { ControlRequestError } from "../src/toolstack/control_request.ts";
import { DEBIAN_IMAGE, standardFiles } from "./images.ts";
import type { Scenario } from "./scenario.ts";

const cfg = (name: string, profile: string) =>
  `name = "${name}"
memory = 32
bootloader = "pygrub"
disk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]
xenlab_guest = "profile=${profile}"
`;

export const shutdownNeverAck: Scenario = {
  name: "shutdown-never-ack",
  description: "xl shutdown of a guest that never acknowledges: ERROR_TIMEDOUT after libxl's 60 s",
  files: standardFiles,
  async run({ host, config, say }) {
    const d = await host.run(host.toolstack.create(config(cfg("stubborn", "never-ack"))));
    await host.run(host.guests.get(d.domid)!.ready);
    const start = host.clock.nowNs();
    try {
      await host.run(host.toolstack.shutdown(d.domid));
      throw new Error("the shutdown was acknowledged by a never-ack guest");
    } catch (e) {
      if (!(e instanceof ControlRequestError) || e.code !== "ERROR_TIMEDOUT") throw e;
      say(`after ${(host.clock.nowNs() - start) / 1e9} s of virtual time: ${e.code}: ${e.message}`);
    }
    say(await host.run(host.toolstack.list()));
  },
};

export const crashOnRequest: Scenario = {
  name: "crash-on-request",
  description: "xl shutdown of a guest that crashes instead: SHUTDOWN_crash, on_crash=destroy",
  files: standardFiles,
  async run({ host, config, say }) {
    const d = await host.run(host.toolstack.create(config(cfg("fragile", "crash-on-request"))));
    await host.run(host.guests.get(d.domid)!.ready);
    await host.run(host.toolstack.shutdown(d.domid, { wait: true }));
    await host.advance(2e9);
    const gone =
      host.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: d.domid }).ret < 0;
    say(
      `domain ${d.domid} acknowledged, then crashed; on_crash=destroy → ${
        gone ? "destroyed" : "still there"
      }`,
    );
    if (!gone) throw new Error("the crashed domain was not destroyed");
  },
};

export const hotplugFailure: Scenario = {
  name: "hotplug-failure",
  description: "a vif on a bridge dom0 does not have: creation fails by name, nothing is left",
  files: standardFiles,
  async run({ host, config, say }) {
    try {
      await host.run(host.toolstack.create(config(`name = "lost"
memory = 32
bootloader = "pygrub"
disk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]
vif = [ "bridge=xenbr9" ]
`)));
      throw new Error("creation succeeded on a missing bridge");
    } catch (e) {
      if (!/Could not find bridge device xenbr9/.test(String(e))) throw e;
      say(String((e as Error).message));
    }
    await host.advance(1e9);
    say(await host.run(host.toolstack.list()));
  },
};

export const reboot: Scenario = {
  name: "reboot",
  description: "xl reboot: the guest acknowledges and reboots; on_reboot=restart builds it again",
  files: standardFiles,
  async run({ host, config, say }) {
    const events: string[] = [];
    const d = await host.run(host.toolstack.create(config(cfg("phoenix", "well-behaved"))));
    await host.run(host.guests.get(d.domid)!.ready);
    await host.run(host.toolstack.shutdown(d.domid, { reboot: true }));
    await host.advance(5e9);
    const again = await host.run(host.toolstack.lookup("phoenix"));
    events.push(`domain ${d.domid} rebooted as domain ${again}`);
    await host.run(host.guests.get(again)!.ready);
    say(events.join("; "));
    say(await host.run(host.toolstack.list()));
  },
};
