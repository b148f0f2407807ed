/**
 * @module
 * `deno task guest`: one domain's guest kernel as its own process
 * (ARCHITECTURE.md "Real: the same components as processes"). It connects
 * to the host's WebSocket endpoint with the domain's secret
 * (`remote_env.ts`), starts the agent (`startGuestAgent`) with the layout
 * the host gives in-process guests, prints the guest's console (and, with
 * `--trace`, every guest trace event) to stdout as it goes, and exits 0
 * once the domain has shut down (poweroff, reboot, crash) or the host
 * closed the connection; 1 on a connection or boot failure; 2 on bad
 * flags.
 */
import type { AgentState } from "../guest-agents/agent_core.ts";
import { startGuestAgent } from "../guest-agents/guest_agent.ts";
import { linuxSuspend } from "../guest-agents/linux_suspend.ts";
import { connectRemoteGuestEnv, type RemoteGuestEnv } from "../guest-agents/remote_env.ts";
import { Rng } from "../sim/rng.ts";
import { SystemClock } from "../sim/system_clock.ts";
import { JsonlTrace, type Trace, type TraceEvent } from "../sim/trace.ts";
import { XsClient } from "../xenstore/client/client.ts";
import { connectWebSocket } from "../xenstore/client/websocket_link.ts";
import {
  GUEST_USAGE,
  type GuestFlags,
  type GuestLayout,
  guestLayout,
  parseGuestFlags,
} from "./guest_options.ts";

/** States after which the guest will not run again in this domain. */
const FINAL: Readonly<Record<string, number>> = {
  shutdown: 0,
  crashed: 0,
  failed: 1,
  halted: 1,
};

const say = (line: string) => console.error(`guest: ${line}`);

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The guest's output on stdout, and its final state as a promise. */
class GuestOutput implements Trace {
  readonly final: Promise<AgentState>;
  readonly #json: JsonlTrace | undefined;
  #resolve!: (s: AgentState) => void;
  #why = "";

  constructor(clock: SystemClock, json: boolean) {
    this.#json = json ? new JsonlTrace(clock, (line) => console.log(line)) : undefined;
    this.final = new Promise((resolve) => (this.#resolve = resolve));
  }

  /** Why the boot failed, if it did. */
  get why(): string {
    return this.#why;
  }

  emit(ev: TraceEvent): void {
    if (this.#json) this.#json.emit(ev);
    else if (ev.src === "guest" && ev.ev === "console") console.log(String(ev.line));
    if (ev.src !== "guest") return;
    if (ev.ev === "boot_failed") this.#why = String(ev.why);
    if (ev.ev === "state" && String(ev.to) in FINAL) this.#resolve(ev.to as AgentState);
  }
}

/** memory/target of `domid` in kB, if the guest may read it. */
async function memoryTargetKb(url: string, secret: string, domid: number) {
  const xs = new XsClient(await connectWebSocket(url, secret));
  try {
    const v = await xs.readString(`/local/domain/${domid}/memory/target`).catch(() => undefined);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  } finally {
    xs.close();
  }
}

async function layoutOf(
  flags: GuestFlags,
  env: RemoteGuestEnv,
  secret: string,
): Promise<GuestLayout | undefined> {
  const kb = flags.memoryMib !== undefined
    ? flags.memoryMib * 1024
    : await memoryTargetKb(flags.ws, secret, env.domid);
  if (kb === undefined) {
    say(`no /local/domain/${env.domid}/memory/target; the guest picks its own ring pages`);
    return undefined;
  }
  return guestLayout(kb);
}

/** Runs the guest; resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  let flags: GuestFlags;
  try {
    flags = parseGuestFlags(argv);
  } catch (e) {
    console.error(`guest: ${errText(e)}\n${GUEST_USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.log(GUEST_USAGE);
    return 0;
  }
  let secret: string;
  try {
    secret = (await Deno.readTextFile(flags.secretFile)).trim();
  } catch (e) {
    say(`cannot read the secret: ${errText(e)}`);
    return 1;
  }
  const clock = new SystemClock();
  const out = new GuestOutput(clock, flags.trace);
  let env: RemoteGuestEnv;
  try {
    env = await connectRemoteGuestEnv({
      url: flags.ws,
      secret,
      domid: flags.domid,
      clock,
      rng: new Rng(flags.seed),
      trace: out,
    });
  } catch (e) {
    say(errText(e));
    return 1;
  }
  try {
    const layout = await layoutOf(flags, env, secret);
    say(`domain ${env.domid}: ${flags.kind} guest, profile ${flags.profile}`);
    const agent = startGuestAgent(env, {
      kind: flags.kind,
      profile: flags.profile,
      suspend: flags.kind === "hvm" ? undefined : linuxSuspend,
      resume: flags.resume,
      ...layout,
    });
    const stop = (code: number) => async () => {
      await agent.stop();
      env.close();
      Deno.exit(code);
    };
    Deno.addSignalListener("SIGINT", stop(130));
    Deno.addSignalListener("SIGTERM", stop(143));
    const end = await Promise.race([
      out.final.then((state) => ({ state })),
      env.closed.then((why) => ({ closed: why })),
    ]);
    if ("state" in end) {
      const code = FINAL[end.state];
      say(
        code === 0
          ? `domain ${env.domid} ${end.state === "crashed" ? "crashed" : "shut down"}`
          : `domain ${env.domid}: boot ${end.state}${out.why ? `: ${out.why}` : ""}`,
      );
      return code;
    }
    say(
      `domain ${env.domid}: the host closed the connection${
        end.closed ? ` (${end.closed.message})` : ""
      }`,
    );
    return 0;
  } catch (e) {
    say(errText(e));
    return 1;
  } finally {
    env.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
