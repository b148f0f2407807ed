/**
 * @module
 * What a conformance case is, and the small helpers cases are written with.
 * A case is data plus one async function against a {@link Target}; it owns a
 * unique path prefix ({@link uniquePath}) and unique guest domids
 * ({@link nextDomid}) so cases can share one daemon in any order.
 *
 * Helpers that name an operation (`write`, `read`, ...) assert success;
 * to check an error, send the request and use {@link expectError}.
 */
import { AssertionError } from "node:assert";
import assert from "node:assert/strict";
import { Op, opName } from "../../src/xenstore/wire/op.ts";
import { byteString, splitNul } from "./raw_conn.ts";
import type { Message } from "../../src/xenstore/wire/message.ts";
import type { RawConn, Reply, Target, TargetOptions, WatchEvent } from "./target.ts";

/** Daemon options a case needs, and whether it needs a daemon of its own. */
export interface CaseNeeds extends TargetOptions {
  /** Run on a daemon nobody else touched (e.g. to see the initial tree). */
  readonly fresh?: boolean;
}

/** One conformance case. `name` says the behaviour. */
export interface ConformanceCase {
  readonly name: string;
  readonly needs?: CaseNeeds;
  run(t: Target): Promise<void>;
}

/** Cases of one topic, run as one `Deno.test`. */
export interface CaseGroup {
  readonly name: string;
  readonly cases: readonly ConformanceCase[];
}

/** Domids that exist besides dom0 unless a case says otherwise. */
export const EXISTING_DOMAINS = "1-63";
/** First and last domid handed to guests: outside {@link EXISTING_DOMAINS}. */
export const GUEST_DOMID_FIRST = 100;
export const GUEST_DOMID_LAST = 999;
/** A domid that exists nowhere (not listed, never introduced). */
export const ABSENT_DOMID = 5000;

let domidCounter = GUEST_DOMID_FIRST;
let pathCounter = 0;

/** A fresh guest domid, never used before in this process. */
export function nextDomid(): number {
  assert.ok(domidCounter <= GUEST_DOMID_LAST, "conformance: guest domids exhausted");
  return domidCounter++;
}

/** A fresh absolute path prefix, e.g. `/cf7`, that no other case uses. */
export function uniquePath(): string {
  return `/cf${++pathCounter}`;
}

/** The reply's payload as a string (one char per byte). */
export function text(r: Reply): string {
  return byteString(r.payload);
}

/** The reply's NUL-terminated strings. */
export function list(r: Reply): string[] {
  return splitNul(r.payload);
}

/** Asserts the reply is not an error and has the request's type; returns it. */
export async function ok(p: Promise<Reply> | Reply, type?: number): Promise<Reply> {
  const r = await p;
  if (r.error !== undefined) {
    throw new AssertionError({ message: `expected success, got ${r.error}` });
  }
  if (type !== undefined) assert.equal(opName(r.type), opName(type), "reply type");
  return r;
}

/** Asserts the reply is `XS_ERROR` with `errno`; `what` names the request. */
export async function expectError(
  p: Promise<Reply> | Reply,
  errno: string,
  what = "",
): Promise<void> {
  const r = await p;
  assert.equal(
    r.error ?? `success ${JSON.stringify(text(r))}`,
    errno,
    `expected ${errno}${what ? ` for ${what}` : ""}`,
  );
}

/** Asserts the reply is the generic `"OK\0"` with type `type`. */
export async function expectOk(p: Promise<Reply> | Reply, type: number): Promise<void> {
  const r = await ok(p, type);
  assert.equal(text(r), "OK\0");
}

const tx = (txId: number) => ({ txId });

/** WRITE, asserting OK. */
export function write(c: RawConn, path: string, value: string | Uint8Array, txId = 0) {
  return expectOk(c.req(Op.WRITE, [path, value], tx(txId)), Op.WRITE);
}

/** READ, asserting success; the value as a byte string. */
export async function read(c: RawConn, path: string, txId = 0): Promise<string> {
  return text(await ok(c.req(Op.READ, [path], tx(txId)), Op.READ));
}

/** DIRECTORY, asserting success; the child names. */
export async function dir(c: RawConn, path: string, txId = 0): Promise<string[]> {
  return list(await ok(c.req(Op.DIRECTORY, [path], tx(txId)), Op.DIRECTORY));
}

/** MKDIR, asserting OK. */
export function mkdir(c: RawConn, path: string, txId = 0) {
  return expectOk(c.req(Op.MKDIR, [path], tx(txId)), Op.MKDIR);
}

/** RM, asserting OK. */
export function rm(c: RawConn, path: string, txId = 0) {
  return expectOk(c.req(Op.RM, [path], tx(txId)), Op.RM);
}

/** GET_PERMS, asserting success; the permission strings. */
export async function getPerms(c: RawConn, path: string, txId = 0): Promise<string[]> {
  return list(await ok(c.req(Op.GET_PERMS, [path], tx(txId)), Op.GET_PERMS));
}

/** SET_PERMS, asserting OK. */
export function setPerms(c: RawConn, path: string, perms: string[], txId = 0) {
  return expectOk(c.req(Op.SET_PERMS, [path, ...perms], tx(txId)), Op.SET_PERMS);
}

/** TRANSACTION_START, asserting success; the new id. */
export async function txStart(c: RawConn): Promise<number> {
  const r = await ok(c.req(Op.TRANSACTION_START, [""]), Op.TRANSACTION_START);
  const s = list(r);
  assert.equal(s.length, 1, "one id in the reply");
  assert.match(s[0], /^\d+$/);
  return Number(s[0]);
}

/** TRANSACTION_END (commit unless `commit` is false); the raw reply. */
export function txEnd(c: RawConn, txId: number, commit = true): Promise<Reply> {
  return c.req(Op.TRANSACTION_END, [commit ? "T" : "F"], tx(txId));
}

/**
 * The events already delivered to `c`. One round trip first (a harmless
 * GET_DOMAIN_PATH) makes this exact: the daemon queues an event before the
 * reply to any request it receives later on that connection, so whatever a
 * finished request caused has arrived by then.
 */
export async function drain(c: RawConn): Promise<WatchEvent[]> {
  await ok(c.req(Op.GET_DOMAIN_PATH, ["0"]), Op.GET_DOMAIN_PATH);
  return c.events({ timeoutMs: 0, quietMs: 0 });
}

/** WATCH, asserting OK and that exactly the initial event follows. */
export async function watch(c: RawConn, path: string, token: string): Promise<void> {
  await expectOk(c.req(Op.WATCH, [path, token]), Op.WATCH);
  assert.deepEqual(await drain(c), [{ path, token }], "initial watch event");
}

/** Event paths only, for compact assertions. */
export function paths(evs: readonly WatchEvent[]): string[] {
  return evs.map((e) => e.path);
}

/**
 * Makes `dom0` create `path` owned by `owner` (with `others` access for
 * everybody else), e.g. a guest's home `/local/domain/N` with perms `nN`.
 */
export async function own(
  dom0: RawConn,
  path: string,
  owner: number,
  others: "n" | "r" | "w" | "b" = "n",
  acl: string[] = [],
): Promise<void> {
  await mkdir(dom0, path);
  await setPerms(dom0, path, [`${others}${owner}`, ...acl]);
}

/** A dom0 connection and a guest with a home it owns at `/local/domain/N`. */
export async function guestWithHome(t: Target): Promise<{
  d0: RawConn;
  g: RawConn;
  domid: number;
  home: string;
}> {
  const domid = nextDomid();
  const d0 = await t.dom0();
  const home = `/local/domain/${domid}`;
  const g = await t.guest(domid);
  await own(d0, home, domid);
  return { d0, g, domid, home };
}

/** Polling interval of {@link waitForMessage}. */
const POLL_MS = 5;

/**
 * Waits until `c.log` holds a message (at index ≥ `from`) that `match`
 * accepts, for requests sent with `sendRaw`. Rejects after `timeoutMs`.
 */
export async function waitForMessage(
  c: RawConn,
  match: (m: Message) => boolean,
  { from = 0, timeoutMs = 2000 }: { from?: number; timeoutMs?: number } = {},
): Promise<Message> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = c.log.slice(from).find(match);
    if (m) return m;
    if (Date.now() > deadline) {
      throw new AssertionError({ message: "expected message not received" });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Resolves true if `c` gets closed by the server within `timeoutMs`. */
export async function closedWithin(c: RawConn, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
  try {
    return await Promise.race([c.closed.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
