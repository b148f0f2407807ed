/**
 * @module
 * Where `xs` connects, and the text of a failure (what `xs_open` leaves in
 * `errno`, printed as `xs_open: <strerror>`).
 *
 * Unix socket, as libxenstore chooses it (xenstore-protocol.md §1.7):
 * `$XENSTORED_PATH`, else `$XENSTORED_RUNDIR/socket`, else
 * `/var/run/xenstored/socket`. WebSocket instead when `--ws URL` (or
 * `$XENSTORE_WS_URL`) is given, authenticated with the credential read
 * from the file named by `--credential FILE` (or `$XENSTORE_CREDENTIAL`);
 * see `src/xenstore/client/websocket_link.ts` for the protocol. The two
 * flags are ours, so they are taken out before the xenstore-utils options
 * are parsed.
 */
import type { XsLink } from "../xenstore/client/link.ts";
import { connectUnix } from "../xenstore/client/unix_link.ts";
import { connectWebSocket } from "../xenstore/client/websocket_link.ts";

/** Compiled-in default rundir of Debian's libxenstore. */
export const XS_DEFAULT_RUNDIR = "/var/run/xenstored";

/** Where to connect. */
export type XsTarget =
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "websocket"; readonly url: string; readonly credentialFile?: string };

/** Our connection flags, taken out of the argument list. */
export interface LinkFlags {
  readonly args: string[];
  readonly ws?: string;
  readonly credential?: string;
  /** A flag without its value. */
  readonly error?: string;
}

/**
 * Removes `--ws URL`, `--ws=URL`, `--credential FILE`, `--credential=FILE`
 * from `args` (up to a `--`), keeping everything else in order.
 */
export function extractLinkFlags(args: readonly string[]): LinkFlags {
  const rest: string[] = [];
  const found: { ws?: string; credential?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      rest.push(...args.slice(i));
      break;
    }
    const m = /^--(ws|credential)(?:=(.*))?$/s.exec(a);
    if (!m) {
      rest.push(a);
      continue;
    }
    const name = m[1] as "ws" | "credential";
    if (m[2] !== undefined) {
      found[name] = m[2];
    } else if (i + 1 < args.length) {
      found[name] = args[++i];
    } else {
      return { args: rest, ...found, error: `option '--${name}' requires an argument` };
    }
  }
  return { args: rest, ...found };
}

/** The target chosen by flags, then environment. */
export function chooseTarget(
  flags: { readonly ws?: string; readonly credential?: string },
  env: (name: string) => string | undefined,
): XsTarget {
  const url = flags.ws ?? env("XENSTORE_WS_URL");
  if (url !== undefined) {
    return {
      kind: "websocket",
      url,
      credentialFile: flags.credential ?? env("XENSTORE_CREDENTIAL"),
    };
  }
  const path = env("XENSTORED_PATH");
  if (path !== undefined) return { kind: "unix", path };
  return { kind: "unix", path: `${env("XENSTORED_RUNDIR") ?? XS_DEFAULT_RUNDIR}/socket` };
}

/** A connection failure: `text` is what follows `xs_open: `. */
export class XsOpenError extends Error {
  constructor(readonly text: string) {
    super(`xs_open: ${text}`);
    this.name = "XsOpenError";
  }
}

/**
 * Opens the target. Throws {@link XsOpenError} with a strerror-style text:
 * a missing socket is `No such file or directory` and a directory `Is a
 * directory`, as libxenstore reports them.
 */
export async function openTarget(target: XsTarget): Promise<XsLink> {
  if (target.kind === "websocket") {
    if (target.credentialFile === undefined) {
      throw new XsOpenError(
        `${target.url}: no credential; give --credential FILE or set XENSTORE_CREDENTIAL`,
      );
    }
    let credential: string;
    try {
      credential = (await Deno.readTextFile(target.credentialFile)).replace(/\r?\n$/, "");
    } catch (e) {
      throw new XsOpenError(`credential file ${target.credentialFile}: ${osErrorText(e)}`);
    }
    try {
      return await connectWebSocket(target.url, credential);
    } catch (e) {
      throw new XsOpenError(e instanceof Error ? e.message : String(e));
    }
  }
  try {
    const st = await Deno.stat(target.path);
    if (st.isDirectory) throw new XsOpenError("Is a directory");
    return await connectUnix(target.path);
  } catch (e) {
    if (e instanceof XsOpenError) throw e;
    throw new XsOpenError(osErrorText(e));
  }
}

/** glibc's strerror text of a Deno I/O error ("... (os error 2)" trimmed). */
export function osErrorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return e.message.replace(/ \(os error \d+\).*$/s, "");
}
