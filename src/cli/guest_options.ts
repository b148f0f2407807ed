/**
 * @module
 * Flags of `deno task guest`: a guest kernel as its own process, attached
 * to a running host over WebSocket. Pure: parses argv into options or a
 * usage error (exit 2).
 */
import type { GuestKind } from "../guest-agents/agent_core.ts";
import { GUEST_PROFILE_NAMES, type GuestProfileName } from "../guest-agents/profiles.ts";

export interface GuestFlags {
  /** The host's WebSocket endpoint, `ws://HOST:PORT/`. */
  ws: string;
  secretFile: string;
  kind: GuestKind;
  profile: GuestProfileName;
  /** The domain's memory in MiB, if given (else read from xenstore). */
  memoryMib?: number;
  /** The domain the secret must belong to, if given. */
  domid?: number;
  seed: number;
  /** Print every guest trace event as a JSON line too. */
  trace: boolean;
  /** The domain was restored from an image: the kernel resumes in it (§4.2). */
  resume: boolean;
  help: boolean;
}

export const GUEST_USAGE =
  `Usage: deno task guest --ws ws://HOST:PORT/ --secret-file FILE --kind KIND [options]

Runs a domain's guest kernel (a xenlab guest agent) as this process, attached
to a host started with --external-guests: hypercalls over WS/hv, xenstore over
WS/. Prints the guest's console as it goes; exits 0 once the domain has shut
down or the host closed the connection.

  --ws URL            the host's WebSocket endpoint, e.g. ws://127.0.0.1:8080/
  --secret-file FILE  the domain's secret: RUNDIR/domains/<domid>/secret
  --kind KIND         pv | pvhvm | hvm
  --profile NAME      ${GUEST_PROFILE_NAMES.join(" | ")} (default well-behaved)
  --memory MIB        the domain's memory (default: read memory/target from xenstore)
  --domid N           refuse a secret that is not domain N's
  --seed N            seed of the guest's random choices (default 1)
  --trace             also print every guest trace event as a JSON line
  --resume            the domain was restored from a save image: resume in it, do not boot
  -h, --help          this text

Exit status: 0 shut down or disconnected, 1 error (connection refused, boot
failed), 2 usage.`;

const KINDS: readonly GuestKind[] = ["pv", "pvhvm", "hvm"];

function int(flag: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) {
    throw new Error(`${flag} needs an integer ≥ ${min}`);
  }
  return Number(v);
}

/** Parses argv; throws an Error whose message is for the user. */
export function parseGuestFlags(argv: readonly string[]): GuestFlags {
  let ws: string | undefined, secretFile: string | undefined, kind: GuestKind | undefined;
  const f: Omit<GuestFlags, "ws" | "secretFile" | "kind"> = {
    profile: "well-behaved",
    seed: 1,
    trace: false,
    resume: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string | undefined => (eq > 0 ? a.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case "--ws": {
        const v = value();
        if (!v || !/^wss?:\/\/[^/]+\/?$/.test(v)) {
          throw new Error("--ws needs the host's endpoint, ws://HOST:PORT/");
        }
        ws = v.endsWith("/") ? v : v + "/";
        break;
      }
      case "--secret-file": {
        const v = value();
        if (!v) throw new Error("--secret-file needs a file name");
        secretFile = v;
        break;
      }
      case "--kind": {
        const v = value();
        if (!KINDS.includes(v as GuestKind)) {
          throw new Error(`--kind ${v ?? ""}: use ${KINDS.join(", ")}`);
        }
        kind = v as GuestKind;
        break;
      }
      case "--profile": {
        const v = value();
        if (!(GUEST_PROFILE_NAMES as readonly string[]).includes(v ?? "")) {
          throw new Error(`--profile ${v ?? ""}: use ${GUEST_PROFILE_NAMES.join(", ")}`);
        }
        f.profile = v as GuestProfileName;
        break;
      }
      case "--memory":
        f.memoryMib = int("--memory", value(), 1);
        break;
      case "--domid":
        f.domid = int("--domid", value(), 1);
        break;
      case "--seed":
        f.seed = int("--seed", value(), 0);
        break;
      case "--trace":
        f.trace = true;
        break;
      case "--resume":
        f.resume = true;
        break;
      case "-h":
      case "--help":
        f.help = true;
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  if (f.help) return { ...f, ws: ws ?? "", secretFile: secretFile ?? "", kind: kind ?? "pv" };
  if (ws === undefined) throw new Error("--ws is required");
  if (secretFile === undefined) throw new Error("--secret-file is required");
  if (kind === undefined) throw new Error("--kind is required");
  return { ...f, ws, secretFile, kind };
}

export { GUEST_RING_PAGES, type GuestLayout, guestLayout } from "../guest-agents/guest_layout.ts";
