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
    default:
      throw new Error(`unknown command ${JSON.stringify(req.cmd)}`);
  }
}
