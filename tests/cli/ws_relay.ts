/**
 * @module
 * A test-only WebSocket front for a daemon's Unix socket, speaking the
 * protocol of `src/xenstore/client/websocket_link.ts` (credential text
 * frame, `ok <domid>` or close 4401, then raw wire bytes). Bytes from the
 * daemon are re-cut into frames of pseudo-random sizes (1 to 64 bytes, a
 * fixed seed), so clients must reassemble messages across and within
 * frames. Not the project's server: that lives in `src/xenstore/server/`.
 */

/** How long closing waits for the HTTP server to finish. */
export const RELAY_SHUTDOWN_MS = 5_000;

/** A running relay. */
export interface WsRelay {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves `ws://127.0.0.1:<port>/`, relaying authenticated sockets to `socketPath`. */
export function startWsRelay(socketPath: string, credential: string, domid = 0): WsRelay {
  const open = new Set<{ ws: WebSocket; conn?: Deno.UnixConn }>();
  let seed = 12345;
  const nextSize = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return 1 + (seed % 64);
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    const entry: { ws: WebSocket; conn?: Deno.UnixConn } = { ws: socket };
    open.add(entry);
    const pending: Uint8Array[] = [];
    // Writes to the daemon go one after the other, each in full.
    let chain = Promise.resolve();
    const forward = (conn: Deno.UnixConn, bytes: Uint8Array) => {
      chain = chain.then(async () => {
        for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
      }).catch(() => {});
    };
    socket.onmessage = async (ev) => {
      if (typeof ev.data === "string") {
        if (entry.conn || ev.data !== credential) {
          socket.close(4401, "credential not accepted");
          return;
        }
        const conn = await Deno.connect({ transport: "unix", path: socketPath });
        entry.conn = conn;
        socket.send(`ok ${domid}`);
        for (const p of pending.splice(0)) forward(conn, p);
        pump(conn, socket, nextSize).finally(() => {
          if (socket.readyState === WebSocket.OPEN) socket.close(1000, "daemon closed");
        });
        return;
      }
      const bytes = new Uint8Array(ev.data as ArrayBuffer);
      if (entry.conn) forward(entry.conn, bytes);
      else pending.push(bytes);
    };
    socket.onclose = () => {
      try {
        entry.conn?.close();
      } catch {
        // closed already
      }
      open.delete(entry);
    };
    return response;
  });
  let closing: Promise<void> | undefined;
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
  async function shutdown(): Promise<void> {
    for (const e of open) {
      try {
        e.conn?.close();
      } catch {
        // closed already
      }
      if (e.ws.readyState === WebSocket.OPEN) e.ws.close();
    }
    // Bounded: a socket that never finishes its close handshake must not hang a test.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.shutdown(),
      new Promise((r) => (timer = setTimeout(r, RELAY_SHUTDOWN_MS))),
    ]);
    clearTimeout(timer);
  }
}

async function pump(conn: Deno.UnixConn, ws: WebSocket, nextSize: () => number): Promise<void> {
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      for (let at = 0; at < n;) {
        const k = Math.min(nextSize(), n - at);
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(buf.slice(at, at + k));
        at += k;
      }
    }
  } catch {
    // the socket was closed under us
  }
}
