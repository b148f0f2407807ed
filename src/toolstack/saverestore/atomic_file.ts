/**
 * @module
 * Writing a save image so that no half-written file ever carries the final
 * name (issue 5: "written atomically"): the stream goes to a temporary file
 * beside the target (same directory, so the rename stays on one file
 * system), is flushed to disk, and only then renamed over `path`. On any
 * failure the temporary file is removed and the error rethrown; an existing
 * file at `path` is left as it was.
 *
 * `sync`: blocking writes, for a host on virtual time (`fileSinkSync`).
 */
import { basename, dirname } from "node:path";
import type { SaveSink } from "../save/save_stream_writer.ts";
import { fileSink, fileSinkSync } from "../save/save_file.ts";

/** Runs `write` with a sink into a temporary file, then renames it to `path`. */
export async function writeFileAtomically<T>(
  path: string,
  write: (sink: SaveSink) => Promise<T>,
  opts: { sync?: boolean } = {},
): Promise<T> {
  const tmpOpts = { dir: dirname(path), prefix: `.${basename(path)}.`, suffix: ".partial" };
  const tmp = opts.sync ? Deno.makeTempFileSync(tmpOpts) : await Deno.makeTempFile(tmpOpts);
  try {
    let result: T;
    {
      using file = opts.sync
        ? Deno.openSync(tmp, { write: true, truncate: true })
        : await Deno.open(tmp, { write: true, truncate: true });
      result = await write(opts.sync ? fileSinkSync(file) : fileSink(file));
      if (opts.sync) file.syncSync();
      else await file.sync();
    }
    if (opts.sync) Deno.renameSync(tmp, path);
    else await Deno.rename(tmp, path);
    return result;
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* already gone */ }
    throw e;
  }
}
