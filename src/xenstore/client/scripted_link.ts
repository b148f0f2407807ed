/**
 * @module
 * {@link ScriptedLink}: an in-memory {@link XsLink} whose server side is a
 * function, for testing clients without a daemon: it sees each request and
 * answers (or not, or wrongly) through {@link ScriptedLink.deliver}.
 * Requests reach the function in a later microtask, as they would reach a
 * real server after the current tick.
 */
import { errorReply, type Message, okReply, reply } from "../wire/message.ts";
import type { XsErrno } from "../wire/errno.ts";
import type { XsLink } from "./link.ts";

/** Messages a link keeps while no handler is installed. */
export const SCRIPTED_LINK_EARLY_MAX = 1024;

/** The server side: called once per request. */
export type ScriptedServer = (request: Message, link: ScriptedLink) => void;

/** An in-memory link driven by a {@link ScriptedServer}. */
export class ScriptedLink implements XsLink {
  readonly closed: Promise<Error | undefined>;
  /** Every message the client sent, in order. */
  readonly sent: Message[] = [];
  readonly #serve: ScriptedServer;
  #handler: ((m: Message) => void) | undefined;
  #early: Message[] = [];
  #done = false;
  #resolveClosed!: (e: Error | undefined) => void;

  constructor(serve: ScriptedServer) {
    this.#serve = serve;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** True once closed by either side. */
  get isClosed(): boolean {
    return this.#done;
  }

  send(m: Message): void {
    if (this.#done) return;
    this.sent.push(m);
    queueMicrotask(() => {
      if (!this.#done) this.#serve(m, this);
    });
  }

  onMessage(handler: (m: Message) => void): void {
    this.#handler = handler;
    for (const m of this.#early.splice(0)) handler(m);
  }

  close(): void {
    this.#finish(undefined);
  }

  /** Server → client: hands `m` to the client now. */
  deliver(m: Message): void {
    if (this.#done) return;
    if (this.#handler) {
      this.#handler(m);
    } else if (this.#early.length < SCRIPTED_LINK_EARLY_MAX) {
      this.#early.push(m);
    } else {
      throw new Error(
        `ScriptedLink: ${SCRIPTED_LINK_EARLY_MAX} messages delivered with no handler`,
      );
    }
  }

  /** Answers `req` with `payload` (same type, req_id, tx_id). */
  answer(req: Message, payload: Uint8Array): void {
    this.deliver(reply(req, req.type, payload));
  }

  /** Answers `req` with `"OK\0"`. */
  ok(req: Message): void {
    this.deliver(okReply(req));
  }

  /** Answers `req` with an `XS_ERROR`. */
  error(req: Message, errno: XsErrno | string): void {
    this.deliver(errorReply(req, errno as XsErrno));
  }

  /** The server side goes away. */
  drop(why: Error = new Error("scripted server dropped the connection")): void {
    this.#finish(why);
  }

  #finish(why: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolveClosed(why);
  }
}
