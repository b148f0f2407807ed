/**
 * @module
 * Suspend and resume of the same domain (lifecycle-and-migration.md §3,
 * §4.1): `suspend-resume --kind pv|pvhvm|hvm` suspends a booted guest by
 * the method libxl picks for its kind and resumes it fast (the suspend
 * hypercall returns 1: "cancelled"); the failure cases users hit are
 * scenarios of their own.
 */
import { SuspendError } from "../src/toolstack/suspend/suspend_domain.ts";
import { kindConfig, parseKind, standardFiles } from "./images.ts";
import type { Scenario } from "./scenario.ts";

export const suspendResume: Scenario = {
  name: "suspend-resume",
  description: "suspend a guest (--kind pv|pvhvm|hvm, default pv) and resume it fast",
  files: standardFiles,
  async run({ host, config, say, args }) {
    const kind = parseKind(args.kind);
    const text = kindConfig(kind);
    const d = await host.run(host.toolstack.create(config(text)));
    await host.run(host.guests.get(d.domid)!.ready);
    const r = await host.run(host.toolstack.suspend(d.domid));
    say(
      `${kind}: suspended by ${r.method} in ${r.tookNs / 1e9} s (${
        host.sched ? "virtual" : "real"
      } time)`,
    );
    say((await host.run(host.toolstack.list())).trimEnd());
    await host.run(host.toolstack.resume(d.domid));
    await host.advance(1e9);
    say(`${kind}: resumed fast (the suspend hypercall returned 1: cancelled; devices kept)`);
    say((await host.run(host.toolstack.list())).trimEnd());
  },
};

/** libxl's cancel after its 60 s ack wait, for a guest of `profile`. */
async function cancelledSuspend(
  { host, config, say }: Parameters<Scenario["run"]>[0],
  profile: string,
): Promise<void> {
  const d = await host.run(
    host.toolstack.create(config(kindConfig("pv") + `xenlab_guest = "profile=${profile}"\n`)),
  );
  await host.run(host.guests.get(d.domid)!.ready);
  const feature = await host.run(
    host.dom0Client().readString(`/local/domain/${d.domid}/control/feature-suspend`),
  );
  say(`control/feature-suspend = "${feature}"`);
  try {
    await host.run(host.toolstack.suspend(d.domid));
    throw new Error("the guest acknowledged");
  } catch (e) {
    if (!(e instanceof SuspendError) || !e.cancelled) throw e;
    say(`${e.code} at ${e.step} after ${e.waitedNs / 1e9} s: ${e.message}`);
  }
  await host.advance(1e9);
  say(`the guest runs on: ${(await host.run(host.toolstack.list())).split("\n").at(-2)}`);
}

export const suspendNoSupport: Scenario = {
  name: "suspend-no-support",
  description: "suspend of a guest whose kernel has no suspend support: cancelled after 60 s",
  files: standardFiles,
  run: (ctx) => cancelledSuspend(ctx, "no-suspend"),
};

export const suspendNeverAck: Scenario = {
  name: "suspend-never-ack",
  description: "suspend of a guest that never acknowledges: cancelled after 60 s",
  files: standardFiles,
  run: (ctx) => cancelledSuspend(ctx, "never-ack"),
};

export const suspendNoShutdown: Scenario = {
  name: "suspend-no-shutdown",
  description: "a guest that acknowledges suspend but never suspends: ERROR_GUEST_TIMEDOUT",
  files: standardFiles,
  hostOptions: () => ({ guestSuspend: () => new Promise<void>(() => {}) }),
  async run({ host, config, say }) {
    const d = await host.run(host.toolstack.create(config(kindConfig("pv"))));
    await host.run(host.guests.get(d.domid)!.ready);
    try {
      await host.run(host.toolstack.suspend(d.domid));
      throw new Error("the suspend completed");
    } catch (e) {
      if (!(e instanceof SuspendError) || e.code !== "ERROR_GUEST_TIMEDOUT") throw e;
      say(`${e.code} at ${e.step} after ${e.waitedNs / 1e9} s: ${e.message}`);
    }
  },
};

export const suspendCrash: Scenario = {
  name: "suspend-crash",
  description: "a guest that crashes while suspending: ERROR_FAIL, then on_crash=destroy",
  files: standardFiles,
  hostOptions: () => ({
    guestSuspend: async (ctx) => {
      ctx.trace("suspend", { step: "panic" });
      await ctx.env.hypercall({ hc: "sched_op", op: "shutdown", reason: 3 }); // SHUTDOWN_crash
    },
  }),
  async run({ host, config, say }) {
    const d = await host.run(host.toolstack.create(config(kindConfig("pv"))));
    await host.run(host.guests.get(d.domid)!.ready);
    try {
      await host.run(host.toolstack.suspend(d.domid));
      throw new Error("the suspend completed");
    } catch (e) {
      if (!(e instanceof SuspendError) || e.code !== "ERROR_FAIL") throw e;
      say(`${e.code} at ${e.step}: ${e.message}`);
    }
    await host.advance(2e9);
    const gone =
      host.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid: d.domid }).ret < 0;
    say(`on_crash=destroy → domain ${d.domid} ${gone ? "destroyed" : "still there"}`);
    if (!gone) throw new Error("the crashed domain was not destroyed");
  },
};
