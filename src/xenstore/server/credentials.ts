/**
 * @module
 * Credentials for the WebSocket transport: an admin token that makes a
 * connection dom0 (privileged), and one secret per introduced domain that
 * makes a connection that unprivileged domain. With a run directory they
 * are files readable by their owner only: `admin-token` and
 * `domains/<domid>/secret` (mode 0600).
 */
import { join } from "node:path";

/** Who a credential makes a connection. */
export interface Identity {
  readonly domid: number;
  readonly privileged: boolean;
}

function randomToken(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two strings. */
function same(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

export class Credentials {
  readonly adminToken: string;
  readonly #secrets = new Map<number, string>();
  readonly #rundir: string | undefined;

  constructor(rundir?: string) {
    this.#rundir = rundir;
    this.adminToken = randomToken();
    if (rundir) writePrivate(join(rundir, "admin-token"), this.adminToken + "\n");
  }

  /** Issues the secret of a newly introduced domain. */
  issue(domid: number): string {
    const s = randomToken();
    this.#secrets.set(domid, s);
    if (this.#rundir) writePrivate(join(domainDir(this.#rundir, domid), "secret"), s + "\n");
    return s;
  }

  secretOf(domid: number): string | undefined {
    return this.#secrets.get(domid);
  }

  revoke(domid: number): void {
    this.#secrets.delete(domid);
    if (!this.#rundir) return;
    try {
      Deno.removeSync(join(this.#rundir, "domains", String(domid), "secret"));
    } catch { /* already gone */ }
  }

  /** The identity a presented credential proves, if any. */
  verify(presented: string): Identity | undefined {
    const text = presented.trim();
    if (same(text, this.adminToken)) return { domid: 0, privileged: true };
    for (const [domid, s] of this.#secrets) if (same(text, s)) return { domid, privileged: false };
    return undefined;
  }
}

/** `$RUNDIR/domains/<domid>`, created on demand (0700). */
export function domainDir(rundir: string, domid: number): string {
  const dir = join(rundir, "domains", String(domid));
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

function writePrivate(path: string, text: string): void {
  Deno.writeTextFileSync(path, text, { mode: 0o600 });
  Deno.chmodSync(path, 0o600);
}
