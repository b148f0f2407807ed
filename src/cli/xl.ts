/**
 * @module
 * `deno task xl <command> ...`: xl's commands against a running host
 * (`deno task host`), found through `--rundir DIR` or `XENSTORED_RUNDIR`.
 * `create` reads the config file here and shows the host's progress as a
 * bar, in xend's phases.
 */
import { join, resolve } from "node:path";
import { callXlRpc } from "../host/xl_rpc.ts";

const USAGE = `Usage: deno task xl [--rundir DIR] <command> [args]
  create [-p] CONFIG       create a domain from an xl.cfg file (-p: leave it paused)
  list                     list domains
  pause DOM | unpause DOM  pause / unpause
  shutdown [-w] [-F] DOM   ask the guest to power off (-w: wait for it; -F: ACPI power button)
  reboot [-w] [-F] DOM     ask the guest to reboot
  suspend DOM              suspend (the guest acks control/shutdown; 60 s limits as libxl)
  resume [-s] DOM          resume a suspended domain (fast/cooperative; -s: slow, guest re-initialises)
  destroy DOM              destroy at once
  save [-c] [-p] DOM FILE  save to FILE in Xen's format, then destroy (-c: keep running; -p: leave paused)
  restore [-p] FILE        restore a saved domain (-p: leave it paused)
  sysrq DOM KEY            send a SysRq key
  trigger DOM TRIGGER [VCPU]  nmi, power, sleep (ACPI S3), s3resume, reset, init
  domid NAME               print a domain's id
DOM is a name, a domid or a UUID.`;

function fail(msg: string, code = 1): never {
  console.error(`xl: ${msg}`);
  Deno.exit(code);
}

const argv = [...Deno.args];
let rundir = Deno.env.get("XENSTORED_RUNDIR") ?? "/var/run/xenlab";
if (argv[0] === "--rundir") {
  rundir = argv[1] ?? fail("--rundir needs a directory", 2);
  argv.splice(0, 2);
}
const [cmd, ...rest] = argv;
if (!cmd || cmd === "help" || cmd === "-h") {
  console.log(USAGE);
  Deno.exit(cmd ? 0 : 2);
}
const flags = new Set(rest.filter((a) => a.startsWith("-")));
const positional = rest.filter((a) => !a.startsWith("-"));
const socket = join(rundir, "xl.sock");

async function call(
  command: string,
  args: Record<string, unknown>,
  onProgress?: (p: unknown) => void,
) {
  try {
    return await callXlRpc(socket, command, args, onProgress);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
      fail(`no host at ${socket} (start one with: deno task host --rundir ${rundir})`);
    }
    fail((e as Error).message);
  }
}

/** A host progress line, printed as xl prints its own: on stderr. */
function showLine(p: unknown): void {
  const x = p as { line?: string };
  if (x.line) console.error(x.line);
}

const need = (n: number, what: string) => {
  if (positional.length !== n) fail(`${cmd} takes ${what}\n${USAGE}`, 2);
};

switch (cmd) {
  case "create": {
    need(1, "one config file");
    let text: string;
    try {
      text = await Deno.readTextFile(positional[0]);
    } catch (e) {
      fail(`cannot read config file ${positional[0]}: ${(e as Error).message}`);
    }
    console.error(`Parsing config from ${positional[0]}`);
    const r = await call("create", { config: text, paused: flags.has("-p") }, (p) => {
      const x = p as { bar?: string; warning?: string };
      if (x.warning) console.error(`Warning: ${x.warning}`);
      if (x.bar) console.error(x.bar);
    }) as { domid: number; name: string };
    console.log(`Domain ${r.domid} "${r.name}" created${flags.has("-p") ? " (paused)" : ""}`);
    break;
  }
  case "list":
    need(0, "no arguments");
    await Deno.stdout.write(new TextEncoder().encode(String(await call("list", {}))));
    break;
  case "resume":
    need(1, "a domain");
    await call("resume", { dom: positional[0], fast: !flags.has("-s") });
    break;
  case "suspend":
  case "pause":
  case "unpause":
  case "destroy":
    need(1, "a domain");
    await call(cmd, { dom: positional[0] });
    break;
  case "shutdown":
  case "reboot":
    need(1, "a domain");
    await call(cmd, { dom: positional[0], wait: flags.has("-w"), force: flags.has("-F") });
    break;
  case "save": {
    need(2, "a domain and a file");
    await call("save", {
      dom: positional[0],
      file: resolve(positional[1]),
      checkpoint: flags.has("-c"),
      paused: flags.has("-p"),
    }, showLine);
    break;
  }
  case "restore": {
    need(1, "a save file");
    const r = await call(
      "restore",
      { file: resolve(positional[0]), paused: flags.has("-p") },
      showLine,
    ) as {
      domid: number;
      name: string;
    };
    console.log(`Domain ${r.domid} "${r.name}" restored${flags.has("-p") ? " (paused)" : ""}`);
    break;
  }
  case "trigger": {
    if (positional.length < 2 || positional.length > 3) {
      fail(`trigger takes a domain, a trigger and maybe a vCPU\n${USAGE}`, 2);
    }
    const vcpu = positional[2] === undefined ? 0 : Number(positional[2]);
    if (!Number.isSafeInteger(vcpu) || vcpu < 0) fail(`vCPU "${positional[2]}" is not a number`, 2);
    await call("trigger", { dom: positional[0], trigger: positional[1], vcpu });
    break;
  }
  case "sysrq":
    need(2, "a domain and a key");
    await call("sysrq", { dom: positional[0], key: positional[1] });
    break;
  case "domid":
    need(1, "a domain name");
    console.log(String(await call("domid", { dom: positional[0] })));
    break;
  default:
    fail(`unknown command ${cmd}\n${USAGE}`, 2);
}
