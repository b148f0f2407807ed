/**
 * @module
 * `xl save` / `xl restore` and checkpoints as scenarios
 * (lifecycle-and-migration.md §5.2, §5.5, §4.2–§4.4):
 *
 * * `save-restore [--kind pv|pvhvm|hvm] [--save-file FILE]`: boot, save to
 *   a file (kept at FILE if given), restore into a new domain; the memory
 *   is shown identical, the guest resumes with 0 and its devices reconnect.
 * * `checkpoint`: `xl save -c` while the guest runs on (it sees a cancelled
 *   suspend); later the guest is lost and the checkpoint brings it back as
 *   it was.
 * * `restore-hotplug-failure`: the image is restored after dom0's bridge
 *   went away; vif-bridge fails, the restore is refused by name and leaves
 *   nothing behind.
 *
 * Files are written and read with blocking calls: on virtual time, waiting
 * on real I/O would stall the simulation.
 */
import type { Host } from "../src/host/host.ts";
import { decodeDominf } from "../src/hv/domain_info.ts";
import { fileChunksSync } from "../src/toolstack/save/save_file.ts";
import { writeFileAtomically } from "../src/toolstack/saverestore/atomic_file.ts";
import type { SaveDomainResult } from "../src/toolstack/saverestore/save_domain.ts";
import { RestoreError } from "../src/toolstack/saverestore/restore_domain.ts";
import type { ManagedDomain } from "../src/toolstack/toolstack.ts";
import { kindConfig, parseKind, standardFiles } from "./images.ts";
import { type MemorySnapshot, memorySnapshot } from "./memory_snapshot.ts";
import type { Scenario } from "./scenario.ts";

/** The file to save to: `--save-file`, or a temporary one removed afterwards. */
function saveFile(arg: string | undefined): { path: string; cleanup(): void } {
  if (arg !== undefined) return { path: arg, cleanup: () => {} };
  const path = Deno.makeTempFileSync({ prefix: "xenlab-scenario-", suffix: ".save" });
  return { path, cleanup: () => Deno.removeSync(path) };
}

/** `xl save [-c]`, with a memory snapshot taken right after the suspend callback. */
export async function saveToFile(
  host: Host,
  domid: number,
  path: string,
  checkpoint: boolean,
): Promise<{ result: SaveDomainResult; before: MemorySnapshot; startInfoPfn?: number }> {
  let before: MemorySnapshot | undefined;
  let startInfoPfn: number | undefined;
  const result = await host.run(
    writeFileAtomically(path, (sink) =>
      host.toolstack.save(domid, sink, {
        checkpoint,
        progress: (p) => {
          if (p.step !== "memory" || p.sent !== 0) return;
          // PV: start_info is rewritten by the restorer (new ports and frames).
          const ctx = host.hv.hypercall(0, { hc: "domctl", op: "getvcpucontext", domid, vcpu: 0 })
            .ctx;
          const info = host.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid }).info!;
          if (!decodeDominf(info.flags).hvm && ctx) {
            const pfn = host.hv.hypercall(0, {
              hc: "memory_op",
              op: "machphys_lookup",
              mfns: [ctx.rdx],
            }).pfns?.[0];
            if (pfn !== undefined && pfn >= 0) startInfoPfn = pfn;
          }
          before = memorySnapshot(host, domid, startInfoSkip(startInfoPfn));
        },
      }), { sync: true }),
  );
  return { result, before: before!, startInfoPfn };
}

/** The pages a restore rewrites by design: PV start_info (§4.2). */
function startInfoSkip(pfn: number | undefined): Set<number> {
  return new Set(pfn === undefined ? [] : [pfn]);
}

async function restore(host: Host, path: string, paused = false): Promise<ManagedDomain> {
  using f = Deno.openSync(path);
  return await host.run(host.toolstack.restore(fileChunksSync(f), { paused }));
}

/**
 * `xl restore -p`, the memory compared with what was saved (an Error if it
 * differs), unpaused, the guest's resume awaited, its xenbus devices
 * required Connected.
 */
export async function restoreFromFile(
  host: Host,
  path: string,
  saved: { before: MemorySnapshot; startInfoPfn?: number },
): Promise<{ domid: number; memory: MemorySnapshot; devices: string[] }> {
  const r = await restore(host, path, true);
  const memory = memorySnapshot(host, r.domid, startInfoSkip(saved.startInfoPfn));
  if (memory.hash !== saved.before.hash || memory.pages !== saved.before.pages) {
    throw new Error(
      `restored memory differs: ${memory.pages} pages ${memory.hash}, saved ${saved.before.pages} pages ${saved.before.hash}`,
    );
  }
  await host.run(host.toolstack.unpause(r.domid));
  const agent = host.guests.get(r.domid);
  if (agent !== undefined) await host.run(agent.ready);
  const devices: string[] = [];
  if (agent?.kind !== "hvm") {
    const xs = host.dom0Client();
    for (const k of ["vbd", "vif"]) {
      const base = `/local/domain/${r.domid}/device/${k}`;
      for (const id of await host.run(xs.directory(base).catch(() => [] as string[]))) {
        const state = await host.run(xs.readString(`${base}/${id}/state`));
        devices.push(`${k}/${id}=${state}`);
        if (state !== "4") throw new Error(`${k}/${id} did not reconnect (state ${state})`);
      }
    }
  }
  return { domid: r.domid, memory, devices };
}

export const saveRestore: Scenario = {
  name: "save-restore",
  description:
    "xl save a guest (--kind pv|pvhvm|hvm) to a file (--save-file FILE keeps it), xl restore it",
  files: standardFiles,
  async run({ host, config, say, args }) {
    const kind = parseKind(args.kind);
    const text = kindConfig(kind);
    const file = saveFile(args["save-file"]);
    try {
      const d = await host.run(host.toolstack.create(config(text)));
      await host.run(host.guests.get(d.domid)!.ready);
      const saved = await saveToFile(host, d.domid, file.path, false);
      const { result } = saved;
      say(
        `${kind}: xl save → ${file.path}: ${result.bytes} bytes, ${result.dataPages} pages, ` +
          `suspended by ${result.suspend.method}; domain ${d.domid} destroyed`,
      );
      const r = await restoreFromFile(host, file.path, saved);
      say(
        `${kind}: xl restore → domain ${r.domid}; memory identical (${r.memory.pages} pages, hash ${r.memory.hash}${
          saved.startInfoPfn !== undefined ? ", start_info aside" : ""
        })`,
      );
      say(
        `${kind}: guest resumed in domain ${r.domid} ${
          kind === "hvm"
            ? "where it stopped (no PV drivers: nothing to redo)"
            : "with 0 from its suspend hypercall"
        }${r.devices.length ? `; devices reconnected: ${r.devices.join(" ")}` : ""}`,
      );
      say((await host.run(host.toolstack.list())).trimEnd());
      if (args["save-file"]) {
        say(`image kept at ${file.path} (check it: verify-stream-v2 -f xl -i ${file.path})`);
      }
    } finally {
      file.cleanup();
    }
  },
};

export const checkpoint: Scenario = {
  name: "checkpoint",
  description: "xl save -c: the guest runs on; later it is lost and the checkpoint brings it back",
  files: standardFiles,
  async run({ host, config, say, args }) {
    const file = saveFile(args["save-file"]);
    try {
      const d = await host.run(host.toolstack.create(config(kindConfig("pv"))));
      await host.run(host.guests.get(d.domid)!.ready);
      const { result, before, startInfoPfn } = await saveToFile(host, d.domid, file.path, true);
      say(
        `xl save -c: checkpoint of domain ${d.domid} (${result.dataPages} pages, ${result.bytes} bytes); ` +
          `the guest saw its suspend cancelled (hypercall returned 1) and runs on`,
      );
      await host.advance(10e9);
      await host.run(host.toolstack.sysrq(d.domid, "h")); // it still answers, on its console
      await host.advance(1e9);
      const now = memorySnapshot(host, d.domid, startInfoSkip(startInfoPfn));
      say(`10 s later its memory has moved on (hash ${now.hash} ≠ checkpoint ${before.hash})`);
      if (now.hash === before.hash) throw new Error("memory did not change after the checkpoint");
      await host.run(host.toolstack.destroy(d.domid));
      await host.advance(1e9);
      say(`domain ${d.domid} is lost (xl destroy)`);
      const r = await restore(host, file.path, true);
      const after = memorySnapshot(host, r.domid, startInfoSkip(startInfoPfn));
      if (after.hash !== before.hash) throw new Error("restored memory is not the checkpoint's");
      await host.run(host.toolstack.unpause(r.domid));
      await host.run(host.guests.get(r.domid)!.ready);
      say(
        `restored from the checkpoint as domain ${r.domid}: memory as at the checkpoint, guest running`,
      );
      say((await host.run(host.toolstack.list())).trimEnd());
    } finally {
      file.cleanup();
    }
  },
};

export const restoreHotplugFailure: Scenario = {
  name: "restore-hotplug-failure",
  description: "restore after dom0's bridge went away: vif-bridge fails, nothing is left behind",
  files: standardFiles,
  async run({ host, config, say }) {
    const file = saveFile(undefined);
    try {
      const d = await host.run(host.toolstack.create(config(kindConfig("pv"))));
      await host.run(host.guests.get(d.domid)!.ready);
      await saveToFile(host, d.domid, file.path, false);
      say(`saved domain ${d.domid}; now dom0 loses xenbr0`);
      host.removeBridge("xenbr0");
      try {
        await restore(host, file.path);
        throw new Error("the restore succeeded without the bridge");
      } catch (e) {
        if (!(e instanceof RestoreError) || e.step !== "devices") throw e;
        say(e.message);
      }
      await host.advance(1e9);
      const left = await host.run(host.dom0Client().directory("/local/domain"));
      say(`left behind: /local/domain has ${left.join(", ")}`);
      if (left.length !== 1) throw new Error(`nodes left behind: ${left}`);
      say((await host.run(host.toolstack.list())).trimEnd());
    } finally {
      file.cleanup();
    }
  },
};
