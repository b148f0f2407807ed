/**
 * @module
 * {@link xsMain}: `xs <mode> ...` from arguments to exit status, with every
 * effect (environment, stdout, stderr, connecting) passed in, so tests run
 * it in-process and `xs.ts` stays a thin main. The flow is `main()` of Xen
 * 4.17's `xenstore_client.c` (xenstore-protocol.md §11.1): parse options
 * (usage errors exit 1 before connecting), connect (`xs_open: <strerror>`),
 * then run the mode — inside a transaction where the real tool uses one,
 * aborted when a step failed, and re-run from scratch with its buffered
 * output discarded when the commit says `EAGAIN`.
 */
import { XsClient } from "../xenstore/client/client.ts";
import type { XsLink } from "../xenstore/client/link.ts";
import { XsError } from "../xenstore/wire/errno.ts";
import { fromLatin1, latin1 } from "../xenstore/wire/message.ts";
import { performChmod } from "./xs_chmod.ts";
import {
  chooseTarget,
  extractLinkFlags,
  openTarget,
  XsOpenError,
  type XsTarget,
} from "./xs_connect.ts";
import { performLs } from "./xs_ls.ts";
import { lsLayout } from "./xs_ls_format.ts";
import { isXsMode, parseXsArgs, progName, XS_MODES, type XsCommand } from "./xs_options.ts";
import { performKeys } from "./xs_perform.ts";
import { errx, XsExit, type XsRun } from "./xs_run.ts";
import { performWatch } from "./xs_watch.ts";

/**
 * Runs of a transactional command that may end in `EAGAIN` before `xs`
 * gives up (the real tool retries for ever).
 */
export const CLI_TRANSACTION_ATTEMPTS_MAX = 100;
/** Stdout bytes held before writing (stdio's buffer, roughly). */
export const CLI_STDOUT_BUFFER_BYTES = 64 * 1024;

/** Everything `xs` touches outside itself. */
export interface XsCliIo {
  readonly env: (name: string) => string | undefined;
  /** Writes all bytes to stdout. */
  readonly stdout: (bytes: Uint8Array) => void;
  /** Writes all bytes to stderr. */
  readonly stderr: (bytes: Uint8Array) => void;
  /** Columns of the terminal stdout is; undefined when stdout is not a terminal. */
  readonly stdoutColumns?: number;
  /** Opens the connection (default {@link openTarget}). */
  readonly connect?: (target: XsTarget) => Promise<XsLink>;
  /** Attempts before giving up on `EAGAIN` (default {@link CLI_TRANSACTION_ATTEMPTS_MAX}). */
  readonly transactionAttemptsMax?: number;
}

const utf8 = new TextEncoder();

/** `xs` with `args` (Deno.args); resolves with the exit status. */
export async function xsMain(args: readonly string[], io: XsCliIo): Promise<number> {
  // C sees argv as bytes: work on byte strings from here on.
  const argv = args.map((a) => latin1(utf8.encode(a)));
  const mode = argv[0];
  if (mode === undefined || !isXsMode(mode)) {
    const what = mode === undefined ? "Usage: xs <mode> [-h] [...]" : `unknown mode ${mode}`;
    io.stderr(fromLatin1(`xs: ${what}\nxs: modes: ${XS_MODES.join(" ")}\n`));
    return 1;
  }
  const prog = progName(mode);
  const warnLine = (text: string) => io.stderr(fromLatin1(`${prog}: ${text}\n`));
  const flags = extractLinkFlags(argv.slice(1));
  if (flags.error) {
    warnLine(flags.error);
    return 1;
  }
  const parsed = parseXsArgs(mode, flags.args, io.env("POSIXLY_CORRECT") !== undefined);
  for (const m of parsed.messages) io.stderr(fromLatin1(`${m}\n`));
  if (!parsed.command) return 1;
  const cmd = parsed.command;

  let link: XsLink;
  try {
    link = await (io.connect ?? openTarget)(chooseTarget(flags, io.env));
  } catch (e) {
    warnLine(e instanceof XsOpenError ? e.message : `xs_open: ${String(e)}`);
    return 1;
  }
  const client = new XsClient(link);
  const out = new StdoutBuffer(io.stdout, mode === "watch" ? 0 : CLI_STDOUT_BUFFER_BYTES);
  let output: string[] = [];
  const run: XsRun = {
    client,
    cmd,
    prog,
    stdout: (text) => Promise.resolve(out.write(text)),
    output: (text) => void output.push(text),
    warn: (text) => {
      out.flush();
      warnLine(text);
    },
  };
  try {
    if (mode === "watch") return await performWatch(run);
    if (mode === "ls") {
      return await performLs(run, lsLayout(cmd.flat, cmd.prefix, io.stdoutColumns));
    }
    const attemptsMax = io.transactionAttemptsMax ?? CLI_TRANSACTION_ATTEMPTS_MAX;
    for (let attempt = 1;; attempt++) {
      output = [];
      const ret = await performOnce(run, cmd, attempt < attemptsMax);
      if (ret === "again") continue;
      if (output.length > 0) out.write(output.join(""));
      return ret;
    }
  } catch (e) {
    if (e instanceof XsExit) return e.code;
    throw e;
  } finally {
    out.flush();
    client.close();
  }
}

/** One run of a key-by-key mode or chmod, with its transaction if any. */
async function performOnce(
  run: XsRun,
  cmd: XsCommand,
  mayRetry: boolean,
): Promise<number | "again"> {
  let tx = 0;
  if (cmd.transaction) {
    try {
      tx = await run.client.transactionStart();
    } catch {
      errx(run, "couldn't start transaction");
    }
  }
  const ret = cmd.mode === "chmod" ? await performChmod(run, tx) : await performKeys(run, tx);
  if (!cmd.transaction) return ret;
  try {
    await run.client.transactionEnd(tx, ret === 0);
  } catch (e) {
    const eagain = ret === 0 && e instanceof XsError && e.errno === "EAGAIN";
    if (eagain && mayRetry) return "again";
    errx(
      run,
      eagain
        ? "couldn't end transaction (EAGAIN every time; giving up)"
        : "couldn't end transaction",
    );
  }
  return ret;
}

/** Stdout as stdio buffers it: held up to a size, flushed on demand and at the end. */
class StdoutBuffer {
  readonly #write: (bytes: Uint8Array) => void;
  readonly #limit: number;
  #held: string[] = [];
  #bytes = 0;

  constructor(write: (bytes: Uint8Array) => void, limit: number) {
    this.#write = write;
    this.#limit = limit;
  }

  write(text: string): void {
    this.#held.push(text);
    this.#bytes += text.length;
    if (this.#bytes >= this.#limit) this.flush();
  }

  flush(): void {
    if (this.#held.length === 0) return;
    const text = this.#held.join("");
    this.#held = [];
    this.#bytes = 0;
    this.#write(fromLatin1(text));
  }
}
