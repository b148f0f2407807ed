/**
 * @module
 * What one run of `xs <mode>` works with, shared by the mode
 * implementations: the client, the parsed command, stdout (direct, as
 * `printf`), the `output()` buffer that read and list print only at the end
 * (xenstore-protocol.md §11.1), stderr lines in the `err`/`warnx` style
 * (`xenstore-<mode>: ...`), and {@link XsExit}, thrown where the C tool
 * calls `err(1, ...)` or `errx(1, ...)`. All text is byte strings (one char
 * per byte), so keys and values pass through unchanged.
 */
import type { XsClient } from "../xenstore/client/client.ts";
import { XsConnectionLostError } from "../xenstore/client/connection_lost_error.ts";
import { strerror, XsError } from "../xenstore/wire/errno.ts";
import type { XsCommand } from "./xs_options.ts";

/** The process ends now with `code` (stderr already written). */
export class XsExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = "XsExit";
  }
}

/** One run of a mode. */
export interface XsRun {
  readonly client: XsClient;
  readonly cmd: XsCommand;
  /** `xenstore-<mode>`. */
  readonly prog: string;
  /** Writes to stdout now (`printf`), a byte string. */
  readonly stdout: (text: string) => Promise<void>;
  /** Appends to the `output()` buffer printed after the transaction. */
  readonly output: (text: string) => void;
  /** Writes one stderr line, `prog: ` prefixed (`warnx`). */
  readonly warn: (text: string) => void;
}

/** `errx(1, ...)`: message, then exit 1. */
export function errx(run: XsRun, text: string): never {
  run.warn(text);
  throw new XsExit(1);
}

/** `err(1, ...)`: message + `: strerror(errno)`, then exit 1. */
export function errWithErrno(run: XsRun, text: string, e: unknown): never {
  errx(run, `${text}: ${errnoText(e)}`);
}

/**
 * The strerror text libxenstore's `errno` would give for a failed request:
 * the errno of an `XS_ERROR` reply; a lost connection reads as
 * `Connection reset by peer`.
 */
export function errnoText(e: unknown): string {
  if (e instanceof XsError) return strerror(e.errno);
  if (e instanceof XsConnectionLostError) return "Connection reset by peer";
  return e instanceof Error ? e.message : String(e);
}
