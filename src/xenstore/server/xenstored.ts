/**
 * @module
 * {@link Xenstored}: the daemon around one engine. It owns the sessions of
 * every transport, routes what the engine produces to the right session
 * (a write on one connection fires events on others), and flushes once per
 * burst of input so a request's events and reply leave in one write.
 * Transports register to hear about domains being introduced and released
 * (guest sockets, per-domain secrets).
 */
import type { Clock } from "../../sim/clock.ts";
import { SystemClock } from "../../sim/system_clock.ts";
import type { Trace } from "../../sim/trace.ts";
import type { ConnectionKind } from "../connection.ts";
import { type DomainInfoSource, StaticDomains } from "../domains.ts";
import { Engine, type Outgoing } from "../engine.ts";
import type { Quotas } from "../store/quota.ts";
import type { Message } from "../wire/message.ts";
import type { XsLink } from "../client/link.ts";
import { type Endpoint, Session, type SessionHost } from "./session.ts";

export interface XenstoredOptions {
  readonly quotas?: Partial<Quotas>;
  /** The hypervisor's view of domains; stand-alone: dom0 plus introduced ones. */
  readonly domains?: DomainInfoSource;
  readonly trace?: Trace;
  /** Daemon log lines (`print`, dropped connections). */
  readonly log?: (line: string) => void;
  /** Time for the watch-event timeout; the system clock unless simulated. */
  readonly clock?: Clock;
}

/** Hears about domains coming and going (guest endpoints, secrets). */
export interface DomainListener {
  introduced(domid: number): void;
  released(domid: number): void;
}

export class Xenstored implements SessionHost {
  readonly engine: Engine;
  readonly domainSource: DomainInfoSource;
  readonly #sessions = new Map<number, Session>();
  readonly #dirty = new Set<Session>();
  readonly #listeners: DomainListener[] = [];
  readonly #log: (line: string) => void;
  readonly #clock: Clock;

  constructor(opts: XenstoredOptions = {}) {
    this.#clock = opts.clock ?? new SystemClock();
    this.domainSource = opts.domains ?? new StaticDomains();
    this.#log = opts.log ?? (() => {});
    this.engine = new Engine({
      quotas: opts.quotas,
      domains: this.domainSource,
      trace: opts.trace,
      hooks: {
        introduced: (d) => this.#listeners.forEach((l) => l.introduced(d)),
        released: (d) => this.#listeners.forEach((l) => l.released(d)),
      },
    });
    this.engine.control.sink = this.#log;
  }

  addDomainListener(l: DomainListener): void {
    this.#listeners.push(l);
  }

  /** A new session for a transport's connection. */
  open(domid: number, kind: ConnectionKind, endpoint: Endpoint): Session {
    const conn = this.engine.connect(domid, kind);
    const s = new Session(this, conn, endpoint);
    this.#sessions.set(conn.id, s);
    return s;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  request(session: Session, msg: Message): void {
    this.#deliver(this.engine.handle(session.conn, msg));
  }

  #deliver(outs: readonly Outgoing[]): void {
    for (const o of outs) {
      const s = this.#sessions.get(o.conn.id);
      if (!s) continue;
      if (o.close) {
        s.flush();
        s.close("domain gone");
      } else if (s.enqueue(o.msg!)) {
        this.#dirty.add(s);
      }
    }
  }

  flush(): void {
    for (const s of this.#dirty) s.flush();
    this.#dirty.clear();
  }

  violation(session: Session): void {
    if (session.conn.kind === "guest") {
      this.engine.domains.ignore(session.conn.domid);
      this.#deliver(this.engine.takeOutput());
    } else {
      session.close("payload too long");
    }
  }

  closed(session: Session): void {
    this.#sessions.delete(session.conn.id);
    this.#dirty.delete(session);
    this.engine.disconnect(session.conn);
  }

  log(line: string): void {
    this.#log(line);
  }

  nowNs(): number {
    return this.#clock.nowNs();
  }

  /** `VIRQ_DOM_EXC`: re-read domain states, fire `@releaseDomain` (§6). */
  checkDomains(): void {
    this.engine.checkDomains();
    this.#deliver(this.engine.takeOutput());
    this.flush();
  }

  /**
   * An in-process connection, as a client {@link XsLink}. Messages cross in
   * microtasks, in order, without encoding — deterministic on any clock.
   */
  connectInProcess(domid = 0): XsLink {
    let handler: ((m: Message) => void) | undefined;
    const early: Message[] = [];
    let resolveClosed!: (e: Error | undefined) => void;
    const closed = new Promise<Error | undefined>((r) => (resolveClosed = r));
    let open = true;
    const session = this.open(domid, domid === 0 ? "in-process" : "guest", {
      write: (batch) => {
        const msgs = [...batch];
        queueMicrotask(() => {
          for (const m of msgs) {
            if (handler) handler(m);
            else early.push(m);
          }
        });
      },
      close: (reason) => {
        if (!open) return;
        open = false;
        queueMicrotask(() =>
          resolveClosed(new Error(`xenstored closed the connection: ${reason}`))
        );
      },
    });
    return {
      send: (m) => {
        if (open) queueMicrotask(() => session.receiveMessage(m));
      },
      onMessage: (h) => {
        handler = h;
        for (const m of early.splice(0)) h(m);
      },
      closed,
      close: () => {
        if (!open) return;
        open = false;
        session.close("client closed");
        resolveClosed(undefined);
      },
    };
  }

  /** Closes every session. */
  shutdown(): void {
    for (const s of [...this.#sessions.values()]) s.close("daemon stopping");
  }
}
