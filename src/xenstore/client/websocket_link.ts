/**
 * @module
 * {@link connectWebSocket}: an {@link XsLink} over a WebSocket, for
 * browsers and remote agents.
 *
 * Protocol: once the socket opens the client sends ONE text frame holding
 * its credential. The server answers with the text frame `ok <domid>` (the
 * domain the credential speaks for; 0 = dom0) or closes the socket with
 * code 4401 and a reason. From then on binary frames carry the raw xenstore
 * byte stream (xenstore-protocol.md §1.1) in both directions; frame
 * boundaries mean nothing, so received bytes go through the incremental
 * {@link MessageParser}. A text frame after authentication is a protocol
 * error that ends the link.
 */
import { encodeMessage, type Message, XENSTORE_PAYLOAD_MAX } from "../wire/message.ts";
import { MessageParser } from "../wire/parser.ts";
import { concatBytes, type XsLink } from "./link.ts";

/** Close code of a refused credential. */
export const WS_CLOSE_UNAUTHORIZED = 4401;
/** Close code this client uses when the server breaks the protocol. */
export const WS_CLOSE_PROTOCOL_ERROR = 4002;
/**
 * Bytes the socket may hold unsent before the link gives up on the server:
 * 4 times a client's full window of maximal requests (256 × 4112 bytes).
 */
export const WEBSOCKET_LINK_BUFFERED_BYTES_MAX = 4 << 20;
/** Messages kept while no handler is installed yet. */
export const WEBSOCKET_LINK_EARLY_MESSAGES_MAX = 256;

/** A WebSocket link; `domid` is the domain the server authenticated. */
export interface WebSocketLink extends XsLink {
  readonly domid: number;
}

/**
 * Opens `url`, authenticates with `credential` and resolves once the server
 * said `ok <domid>`. Rejects with an `Error` naming the close code and
 * reason when the server refuses (4401) or the socket fails first.
 */
export function connectWebSocket(url: string, credential: string): Promise<WebSocketLink> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (e) {
      reject(e);
      return;
    }
    ws.binaryType = "arraybuffer";
    ws.onopen = () => ws.send(credential);
    ws.onmessage = (ev: MessageEvent) => {
      const m = typeof ev.data === "string" ? /^ok (\d+)$/.exec(ev.data) : null;
      if (!m) {
        ws.onclose = null;
        ws.close(WS_CLOSE_PROTOCOL_ERROR, "expected 'ok <domid>'");
        reject(new Error(`websocket ${url}: expected "ok <domid>" after the credential`));
        return;
      }
      resolve(new WsLink(ws, url, Number(m[1])));
    };
    ws.onclose = (ev: CloseEvent) => {
      const reason = ev.reason ? `: ${ev.reason}` : "";
      reject(
        new Error(
          ev.code === WS_CLOSE_UNAUTHORIZED
            ? `websocket ${url}: credential refused (${ev.code})${reason}`
            : `websocket ${url}: closed before authentication (code ${ev.code})${reason}`,
        ),
      );
    };
  });
}

class WsLink implements WebSocketLink {
  readonly closed: Promise<Error | undefined>;
  readonly domid: number;
  readonly #ws: WebSocket;
  readonly #url: string;
  readonly #parser = new MessageParser();
  #handler: ((m: Message) => void) | undefined;
  #early: Message[] = [];
  #pending: Uint8Array[] = [];
  #flushQueued = false;
  #done = false;
  #resolveClosed!: (e: Error | undefined) => void;

  constructor(ws: WebSocket, url: string, domid: number) {
    this.#ws = ws;
    this.#url = url;
    this.domid = domid;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    ws.onmessage = (ev: MessageEvent) => this.#receive(ev.data);
    ws.onclose = (ev: CloseEvent) => {
      const reason = ev.reason ? `: ${ev.reason}` : "";
      this.#finish(new Error(`websocket ${url}: closed by the server (code ${ev.code})${reason}`));
    };
  }

  send(m: Message): void {
    if (this.#done) return;
    this.#pending.push(encodeMessage(m));
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  onMessage(handler: (m: Message) => void): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const m of early) if (!this.#done) handler(m);
  }

  close(): void {
    this.#finish(undefined, 1000, "client closed");
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#done || this.#pending.length === 0) return;
    const buf = concatBytes(this.#pending);
    this.#pending = [];
    if (this.#ws.bufferedAmount + buf.length > WEBSOCKET_LINK_BUFFERED_BYTES_MAX) {
      this.#fail(
        `${this.#ws.bufferedAmount} bytes unsent (limit ` +
          `${WEBSOCKET_LINK_BUFFERED_BYTES_MAX}); the server is not reading`,
      );
      return;
    }
    this.#ws.send(buf);
  }

  #receive(data: unknown): void {
    if (this.#done) return;
    if (!(data instanceof ArrayBuffer)) {
      this.#fail("text frame after authentication (only binary frames carry messages)");
      return;
    }
    const r = this.#parser.push(new Uint8Array(data));
    for (const m of r.messages) {
      if (this.#done) return;
      if (this.#handler) {
        this.#handler(m);
      } else if (this.#early.length < WEBSOCKET_LINK_EARLY_MESSAGES_MAX) {
        this.#early.push(m);
      } else {
        this.#fail(
          `${WEBSOCKET_LINK_EARLY_MESSAGES_MAX} messages arrived before a handler was installed`,
        );
        return;
      }
    }
    if (r.failure) {
      this.#fail(
        `the server sent a header claiming a ${r.failure.len}-byte payload ` +
          `(limit ${XENSTORE_PAYLOAD_MAX})`,
      );
    }
  }

  #fail(why: string): void {
    this.#finish(new Error(`websocket ${this.#url}: ${why}`), WS_CLOSE_PROTOCOL_ERROR, why);
  }

  #finish(why: Error | undefined, code?: number, reason?: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#pending = [];
    this.#early = [];
    this.#ws.onmessage = null;
    this.#ws.onclose = null;
    if (code !== undefined) {
      try {
        // A close reason is limited to 123 bytes.
        this.#ws.close(code, reason?.slice(0, 120));
      } catch {
        // already closing
      }
    }
    this.#resolveClosed(why);
  }
}
