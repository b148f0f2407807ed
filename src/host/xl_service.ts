/**
 * @module
 * The host's side of `deno task xl`: each RPC command (`xl_rpc.ts`) as the
 * toolstack service performs it. Configs arrive as xl.cfg text and are
 * parsed here, so a bad config is refused with its line and reason.
 */
import { parseXlCfg } from "../toolstack/config/xl_cfg.ts";
import { progressBar, type ProgressEvent } from "../toolstack/create/progress.ts";
import type { Host } from "./host.ts";
import type { XlRequest } from "./xl_rpc.ts";
import { writeFileAtomically } from "../toolstack/saverestore/atomic_file.ts";
import { fileChunks, fileChunksSync } from "../toolstack/save/save_file.ts";
import { decodeXlFixedHeader } from "../toolstack/save/xl_header.ts";
import { XL_HEADER_BYTES, XL_MANDATORY_FLAG_ALL } from "../toolstack/save/stream_format.ts";

function str(args: Record<string, unknown>, key: string): string {
  const v = args[key];
  if (typeof v !== "string" || v === "") throw new Error(`${key}: missing`);
  return v;
}

/** Handles one xl request on `host`. */
export async function xlService(
  host: Host,
  req: XlRequest,
  progress: (p: unknown) => void,
): Promise<unknown> {
  const ts = host.toolstack;
  const a = req.args ?? {};
  switch (req.cmd) {
    case "create": {
      const { config, warnings } = parseXlCfg(str(a, "config"), host.rng);
      for (const w of warnings) progress({ warning: w });
      const d = await ts.create(config, {
        paused: a.paused === true,
        progress: (e: ProgressEvent) => progress({ bar: progressBar(e), ...e }),
      });
      return { domid: d.domid, name: config.name, uuid: d.uuid };
    }
    case "list":
      return await ts.list();
    case "pause":
      return await ts.pause(await ts.lookup(str(a, "dom")));
    case "unpause":
      return await ts.unpause(await ts.lookup(str(a, "dom")));
    case "shutdown":
    case "reboot":
      return await ts.shutdown(await ts.lookup(str(a, "dom")), {
        reboot: req.cmd === "reboot",
        wait: a.wait === true,
        force: a.force === true,
      });
    case "suspend":
      return await ts.suspend(await ts.lookup(str(a, "dom")));
    case "resume":
      return await ts.resume(await ts.lookup(str(a, "dom")), { fast: a.fast !== false });
    case "destroy":
      return await ts.destroy(await ts.lookup(str(a, "dom")));
    case "sysrq":
      return await ts.sysrq(await ts.lookup(str(a, "dom")), str(a, "key"));
    case "domid":
      return await ts.lookup(str(a, "dom"));
    case "trigger":
      return ts.trigger(
        await ts.lookup(str(a, "dom")),
        str(a, "trigger"),
        typeof a.vcpu === "number" ? a.vcpu : 0,
      );
    case "save": {
      const domid = await ts.lookup(str(a, "dom"));
      const file = str(a, "file");
      const json = ts.savedConfigJson(domid);
      if (json !== undefined) {
        const len = 4 + new TextEncoder().encode(json).length + 1;
        progress({
          line: `Saving to ${file} new xl format (info 0x${
            XL_MANDATORY_FLAG_ALL.toString(16)
          }/0x0/${len})`,
        });
      }
      let shown = -1;
      const r = await writeFileAtomically(file, (sink) =>
        ts.save(domid, sink, {
          checkpoint: a.checkpoint === true,
          paused: a.paused === true,
          progress: (p) => {
            const pct = p.total === 0 ? 0 : Math.floor((100 * p.sent) / p.total);
            if (p.step === "memory" && pct >= shown + 10) {
              shown = pct - (pct % 10);
              progress({ line: `Saving memory: ${p.sent}/${p.total} ${pct}%` });
            } else if (p.step !== "memory") progress({ step: p.step });
          },
        }), { sync: host.sched !== undefined });
      return { domid, bytes: r.bytes, pages: r.dataPages };
    }
    case "restore": {
      const file = str(a, "file");
      using f = await Deno.open(file);
      const head = new Uint8Array(XL_HEADER_BYTES);
      const n = await f.read(head);
      const h = n === XL_HEADER_BYTES ? decodeXlFixedHeader(head) : undefined;
      if (h?.ok) {
        const x = h.value;
        progress({
          line: `Loading new save file ${file} (new xl fmt info 0x${
            x.mandatoryFlags.toString(16)
          }/0x${x.optionalFlags.toString(16)}/${x.optionalDataBytes})`,
        });
        if (x.mandatoryFlags & 1) {
          progress({ line: " Savefile contains xl domain config in JSON format" });
        }
      }
      await f.seek(0, Deno.SeekMode.Start);
      let shownMiB = 0;
      const d = await ts.restore(host.sched !== undefined ? fileChunksSync(f) : fileChunks(f), {
        paused: a.paused === true,
        progress: (p) => {
          if (p.bytes >= (shownMiB + 16) << 20) {
            shownMiB = p.bytes >> 20;
            progress({ line: `Restoring: ${shownMiB} MiB, ${p.pages} pages` });
          }
        },
      });
      return { domid: d.domid, name: d.config.name };
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(req.cmd)}`);
  }
}
