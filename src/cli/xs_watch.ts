/**
 * @module
 * `xenstore-watch [-n NR] key...` (xenstore-protocol.md §11.9): WATCH each
 * key with the key itself as token (`Unable to add watch on <key>` and an
 * empty line on failure), then print the path of every event, initial
 * events included, one per line as it arrives, until NR events (`-n`,
 * `atoi`; -1 = forever, any other value ≤ 0 = none).
 *
 * Where the C tool cannot go on — the connection is lost, so every
 * `xs_read_watch` fails at once — it counts each failure as an event: with
 * `-n` it ends with status 0, without `-n` it spins for ever. We end with
 * status 0 in the first case and, instead of spinning, report the loss and
 * exit 1 in the second. Events the terminal cannot take fast enough pile up
 * to the watch queue bound, then the run ends with an error.
 */
import { XsConnectionLostError } from "../xenstore/client/connection_lost_error.ts";
import { errx, type XsRun } from "./xs_run.ts";

/** Registers the watches and prints events; returns the exit status. */
export async function performWatch(run: XsRun): Promise<number> {
  const handle = run.client.watchHandle();
  for (const key of run.cmd.operands) {
    try {
      await handle.add(key, key);
    } catch {
      errx(run, `Unable to add watch on ${key}\n`);
    }
  }
  const max = run.cmd.nrWatches;
  for (let count = 0; max === -1 || count < max; count++) {
    let r: IteratorResult<{ path: string }>;
    try {
      r = await handle.next();
    } catch (e) {
      if (e instanceof XsConnectionLostError && max !== -1) return 0;
      errx(run, `xs_read_watch: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (r.done) return 0;
    await run.stdout(`${r.value.path}\n`);
  }
  return 0;
}
