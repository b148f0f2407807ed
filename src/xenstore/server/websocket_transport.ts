/**
 * @module
 * The WebSocket transport: the same binary xenstore messages, for guest
 * agents in other processes, remote tools and browsers. Before any request
 * runs, the client's first frame must be a text frame holding a credential
 * (see {@link Credentials}): the admin token makes the connection dom0,
 * a domain's secret makes it that unprivileged domain. The server answers
 * `ok <domid>`; anything else is closed with code 4401. Binary frames then
 * carry the raw byte stream in any chunking; each flush is one frame.
 */
import type { Credentials, Identity } from "./credentials.ts";
import { encodeBatch } from "./encode_batch.ts";
import type { Session } from "./session.ts";
import type { DomainListener, Xenstored } from "./xenstored.ts";

/** Close code for a missing or wrong credential. */
export const WS_CLOSE_UNAUTHORIZED = 4401;
/** Close code for a protocol violation (text after auth, oversize header). */
export const WS_CLOSE_PROTOCOL = 4400;

/**
 * Another service on the same endpoint family (e.g. `/hv`, the hypervisor's
 * hypercalls for guest processes): it gets the socket once the client's
 * credential has been checked, with the identity it proves.
 */
export type WsRoute = (socket: WebSocket, who: Identity) => void;

export class WebSocketTransport implements DomainListener {
  readonly #server: Xenstored;
  readonly #credentials: Credentials;
  readonly #hostname: string;
  readonly #port: number;
  #http: Deno.HttpServer | undefined;
  readonly #sockets = new Set<WebSocket>();
  #url = "";
  readonly #routes: Readonly<Record<string, WsRoute>>;

  constructor(
    server: Xenstored,
    credentials: Credentials,
    hostPort: string,
    routes: Readonly<Record<string, WsRoute>> = {},
  ) {
    this.#server = server;
    this.#credentials = credentials;
    this.#routes = routes;
    const i = hostPort.lastIndexOf(":");
    this.#hostname = hostPort.slice(0, i);
    this.#port = Number(hostPort.slice(i + 1));
    server.addDomainListener(this);
  }

  /** `ws://host:port/` once started. */
  get url(): string {
    return this.#url;
  }

  introduced(domid: number): void {
    if (domid !== 0 && !this.#credentials.secretOf(domid)) this.#credentials.issue(domid);
  }

  released(domid: number): void {
    this.#credentials.revoke(domid);
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.#http = Deno.serve({
        hostname: this.#hostname,
        port: this.#port,
        onListen: ({ hostname, port }) => {
          this.#url = `ws://${hostname}:${port}/`;
          resolve();
        },
      }, (req) => this.#handle(req));
    });
  }

  #handle(req: Request): Response {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("xenstored: WebSocket endpoint (binary xenstore wire protocol)\n", {
        status: 426,
        headers: { "content-type": "text/plain" },
      });
    }
    const path = new URL(req.url).pathname;
    const route = this.#routes[path];
    if (path !== "/" && !route) {
      return new Response(`no WebSocket service at ${path}\n`, { status: 404 });
    }
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    this.#sockets.add(socket);
    if (route) {
      this.#authenticate(socket, route);
      return response;
    }
    let session: Session | undefined;
    socket.onmessage = (ev) => {
      if (!session) {
        const who = typeof ev.data === "string" ? this.#credentials.verify(ev.data) : undefined;
        if (!who) {
          socket.close(WS_CLOSE_UNAUTHORIZED, "a valid credential must come first");
          return;
        }
        session = this.#server.open(who.domid, who.privileged ? "socket" : "guest", {
          write: (batch) => {
            if (socket.readyState === WebSocket.OPEN) socket.send(encodeBatch(batch));
          },
          close: (reason) => {
            if (socket.readyState <= WebSocket.OPEN) {
              socket.close(WS_CLOSE_PROTOCOL, reason.slice(0, 120));
            }
          },
        });
        socket.send(`ok ${who.domid}`);
        return;
      }
      if (typeof ev.data === "string") {
        session.close("text frame after authentication");
        return;
      }
      session.receive(new Uint8Array(ev.data as ArrayBuffer));
    };
    socket.onclose = () => {
      this.#sockets.delete(socket);
      session?.close("peer closed");
    };
    socket.onerror = () => session?.close("socket error");
    return response;
  }

  /** First frame = credential; then the route owns the socket. */
  #authenticate(socket: WebSocket, route: WsRoute): void {
    socket.onmessage = (ev) => {
      const who = typeof ev.data === "string" ? this.#credentials.verify(ev.data) : undefined;
      if (!who) {
        socket.close(WS_CLOSE_UNAUTHORIZED, "a valid credential must come first");
        return;
      }
      socket.onmessage = null;
      socket.send(`ok ${who.domid}`);
      route(socket, who);
    };
    socket.onclose = () => this.#sockets.delete(socket);
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.close(1001, "daemon stopping");
    await this.#http?.shutdown();
  }
}
