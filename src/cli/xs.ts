/**
 * @module
 * `deno task xs <read|write|ls|list|rm|exists|watch|chmod|mkdir> ...`: the
 * xenstore-utils 4.17 command-line tools (xenstore-protocol.md §11) as one
 * program, over a Unix socket (`XENSTORED_PATH`, `XENSTORED_RUNDIR`) or a
 * WebSocket (`--ws URL --credential FILE`). This file only wires the real
 * process to {@link xsMain} (`xs_main.ts`).
 */
import { xsMain } from "./xs_main.ts";

function writeAllSync(w: { writeSync(p: Uint8Array): number }): (bytes: Uint8Array) => void {
  return (bytes) => {
    let at = 0;
    while (at < bytes.length) at += w.writeSync(bytes.subarray(at));
  };
}

function stdoutColumns(): number | undefined {
  if (!Deno.stdout.isTerminal()) return undefined;
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await xsMain(Deno.args, {
      env: (name) => Deno.env.get(name),
      stdout: writeAllSync(Deno.stdout),
      stderr: writeAllSync(Deno.stderr),
      stdoutColumns: stdoutColumns(),
    });
  } catch (e) {
    // A closed stdout ends the C tool with SIGPIPE (status 128 + 13).
    if (e instanceof Deno.errors.BrokenPipe) Deno.exit(141);
    throw e;
  }
  Deno.exit(code);
}
