/**
 * @module
 * The toolstack service's RPC, spoken by `deno task xl` to a running host
 * over `$RUNDIR/xl.sock`: one JSON object per line. A request
 * `{"id":1,"cmd":"create","args":{...}}` gets any number of
 * `{"id":1,"progress":{...}}` lines, then exactly one `{"id":1,"ok":...}`
 * or `{"id":1,"error":"..."}`. Bounded: a line longer than
 * {@link XL_RPC_LINE_MAX} ends the connection.
 */

/** Longest request or reply line (a config file fits many times over). */
export const XL_RPC_LINE_MAX = 1 << 20;

export interface XlRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args: Record<string, unknown>;
}

export type XlReply =
  | { readonly id: number; readonly progress: unknown }
  | { readonly id: number; readonly ok: unknown }
  | { readonly id: number; readonly error: string };

/** Splits a byte stream into lines, bounded. */
export class LineReader {
  #buf = "";
  readonly #decoder = new TextDecoder();

  /** Feeds bytes; returns the complete lines. Throws past the bound. */
  push(chunk: Uint8Array): string[] {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    const lines = this.#buf.split("\n");
    this.#buf = lines.pop()!;
    if (this.#buf.length > XL_RPC_LINE_MAX) {
      throw new Error(`xl rpc: a line over ${XL_RPC_LINE_MAX} bytes`);
    }
    return lines.filter((l) => l.length > 0);
  }
}

/** Serves the RPC on a Unix socket; `handle` answers one request. */
export function serveXlRpc(
  path: string,
  handle: (req: XlRequest, progress: (p: unknown) => void) => Promise<unknown>,
): { close(): void } {
  try {
    Deno.removeSync(path);
  } catch { /* none */ }
  const listener = Deno.listen({ transport: "unix", path });
  Deno.chmodSync(path, 0o600);
  const enc = new TextEncoder();
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const send = (r: XlReply) =>
          conn.write(enc.encode(JSON.stringify(r) + "\n")).catch(() => 0);
        const reader = new LineReader();
        const buf = new Uint8Array(65536);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            for (const line of reader.push(buf.subarray(0, n))) {
              let req: XlRequest;
              try {
                req = JSON.parse(line);
              } catch {
                await send({
                  id: 0,
                  error: "malformed request (expected one JSON object per line)",
                });
                continue;
              }
              try {
                const ok = await handle(req, (p) => void send({ id: req.id, progress: p }));
                await send({ id: req.id, ok: ok ?? null });
              } catch (e) {
                await send({ id: req.id, error: e instanceof Error ? e.message : String(e) });
              }
            }
          }
        } catch { /* peer gone or over-long line */ }
        try {
          conn.close();
        } catch { /* closed */ }
      })();
    }
  })().catch(() => {});
  return { close: () => listener.close() };
}

/** Sends one request and returns its result; `onProgress` sees progress lines. */
export async function callXlRpc(
  path: string,
  cmd: string,
  args: Record<string, unknown>,
  onProgress: (p: unknown) => void = () => {},
): Promise<unknown> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify({ id: 1, cmd, args }) + "\n"));
    const reader = new LineReader();
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("the host closed the connection without answering");
      for (const line of reader.push(buf.subarray(0, n))) {
        const r = JSON.parse(line) as XlReply;
        if ("progress" in r) onProgress(r.progress);
        else if ("ok" in r) return r.ok;
        else throw new Error(r.error);
      }
    }
  } finally {
    conn.close();
  }
}
