/**
 * @module
 * The two interfaces the conformance suite is written against: a
 * {@link Target} (a running xenstore daemon that can hand out privileged and
 * guest connections) and a {@link RawConn} (one wire-level connection to it).
 * The real C xenstored (`real_target.ts`) and every transport of ours
 * implement them, so one suite of cases runs against all of them
 * (STYLE.md "Conformance").
 */
import type { Message } from "../../src/xenstore/wire/message.ts";

/** A reply to one request: the message as received, plus its error name. */
export interface Reply extends Message {
  /** The errno name (`"ENOENT"`) when `type` is `XS_ERROR`, else undefined. */
  readonly error?: string;
}

/** Request options of {@link RawConn.req}. */
export interface ReqOptions {
  /** Header `tx_id` (default 0). */
  readonly txId?: number;
  /** Header `req_id` (default: a fresh one per request). */
  readonly reqId?: number;
  /** How long to wait for the reply (default 5000 ms). */
  readonly timeoutMs?: number;
}

/** A watch event as delivered: path and token of the payload. */
export interface WatchEvent {
  readonly path: string;
  readonly token: string;
}

/** Options of {@link RawConn.events}. */
export interface EventsOptions {
  /** How long to wait for a first event when none is queued (default 1000 ms). */
  readonly timeoutMs?: number;
  /** Collecting stops after this much silence (default 30 ms). */
  readonly quietMs?: number;
}

/** Request arguments: strings joined like libxenstore, or exact bytes. */
export type ReqArgs = readonly (string | Uint8Array)[] | { readonly raw: Uint8Array };

/** One client connection to a xenstore daemon, at the wire level. */
export interface RawConn {
  /**
   * Sends one request and resolves with its reply (matched by req_id; each
   * request gets a fresh req_id unless given). Arguments are NUL-terminated
   * each, except WRITE's last one (the value, sent raw). Watch events that
   * arrive meanwhile are recorded, never lost. Rejects on timeout or when
   * the connection closes first.
   */
  req(type: number, args: ReqArgs, opts?: ReqOptions): Promise<Reply>;
  /**
   * Every message received, in arrival order (replies and events), for
   * ordering assertions such as "the writer's own event arrives before its OK".
   */
  readonly log: readonly Message[];
  /**
   * Takes watch events not taken before: those already queued, or else the
   * first one arriving within `timeoutMs`; then keeps collecting until
   * `quietMs` of silence. Resolves with `[]` if none arrived in time.
   */
  events(opts?: EventsOptions): Promise<WatchEvent[]>;
  /** Writes bytes as they are (for malformed or split messages). */
  sendRaw(bytes: Uint8Array): Promise<void>;
  /** Resolves when the server closes the connection (or after {@link close}). */
  readonly closed: Promise<void>;
  /** Closes the connection; pending requests reject. */
  close(): void;
}

/** A running daemon under test. */
export interface Target {
  /** `"real-c"`, `"ours-unix"`, ... */
  readonly name: string;
  /** A privileged (Unix socket) connection. */
  dom0(): Promise<RawConn>;
  /**
   * Introduces `domid` (as dom0 would: `INTRODUCE domid 0 1`, or whatever the
   * target needs) and returns a connection that IS that unprivileged guest.
   * Creates no nodes.
   */
  guest(domid: number): Promise<RawConn>;
  /**
   * Makes an introduced guest die as Xen would: the daemon then fires
   * `@releaseDomain` and removes the nodes it owns. Resolves once the daemon
   * no longer reports the domain as introduced.
   */
  destroyGuest(domid: number): Promise<void>;
  /** Closes every connection, stops the daemon and frees its resources. */
  stop(): Promise<void>;
}

/** How to start a target. */
export interface TargetOptions {
  /**
   * Domids that exist besides dom0 (and besides introduced guests), like
   * `XSD_SHIM_DOMAINS`, e.g. `"1-63"`. Guests live outside this range so
   * that destroying them really makes them disappear.
   */
  readonly existingDomains?: string;
  /** Extra daemon flags in the C xenstored's spelling, e.g. `["-E", "50"]`. */
  readonly daemonArgs?: readonly string[];
}

/** Starts a target; the suite calls it once per distinct set of options. */
export type MakeTarget = (opts: TargetOptions) => Promise<Target>;
