/**
 * @module
 * {@link GuestRings}: the shared pages and event channels one frontend
 * offers its backend — a ring page from the {@link PageAllocator}, zeroed
 * (`SHARED_RING_INIT`) and granted with `grant_table_op grant_access`, and
 * an unbound port from `event_channel_op alloc_unbound` for the backend to
 * bind — and their release: ports closed, grants ended
 * (`gnttab_end_foreign_access`). A grant the backend still maps cannot be
 * ended (-EBUSY): it is kept on a deferred list and retried on the next
 * event and every {@link GRANT_END_RETRY_NS}, as Linux's deferred-free
 * list does, a bounded number of times.
 */
import { DOMID_SELF, PAGE_SIZE } from "../../hv/xen_abi.ts";
import { NS_PER_S } from "../../sim/clock.ts";
import type { GuestEnv } from "../guest_env.ts";
import type { GrantRefAllocator } from "./grant_refs.ts";
import type { PageAllocator } from "./page_allocator.ts";

/** Period of the deferred end-access retries (Linux: one second). */
export const GRANT_END_RETRY_NS = NS_PER_S;
/** Deferred end-access retries before the page is reported as leaked. */
export const GRANT_END_RETRIES_MAX = 60;

/** A hypercall refused while setting up a ring. */
export class RingSetupError extends Error {
  override name = "RingSetupError";
}

/** One granted page. */
export interface SharedPage {
  readonly pfn: number;
  readonly ref: number;
}

/** The rings of one frontend device. */
export class GuestRings {
  #env: GuestEnv;
  readonly #pages: PageAllocator;
  readonly #refs: GrantRefAllocator;
  readonly #shared: SharedPage[] = [];
  readonly #ports: number[] = [];
  readonly #deferred: SharedPage[] = [];
  /** Deferred grants whose end_access is on its way. */
  #ending = 0;
  #retrying = false;

  constructor(env: GuestEnv, pages: PageAllocator, refs: GrantRefAllocator) {
    this.#env = env;
    this.#pages = pages;
    this.#refs = refs;
  }

  /** After a restore the hypercalls go to the new domain. */
  set env(env: GuestEnv) {
    this.#env = env;
  }

  get shared(): readonly SharedPage[] {
    return this.#shared;
  }

  get ports(): readonly number[] {
    return this.#ports;
  }

  /** Grants whose end is still deferred (or being retried). */
  get deferred(): number {
    return this.#deferred.length + this.#ending;
  }

  /** Allocates, zeroes and grants one page to `backendId`. */
  async share(backendId: number, readonly = false): Promise<SharedPage> {
    const pfn = this.#pages.alloc();
    if ((await this.#env.writePage(pfn, 0, new Uint8Array(PAGE_SIZE))) < 0) {
      this.#pages.free(pfn);
      throw new RingSetupError(`ring page pfn ${pfn} is not populated`);
    }
    const ref = this.#refs.alloc();
    const r = await this.#env.hypercall({
      hc: "grant_table_op",
      op: "grant_access",
      ref,
      domid: backendId,
      frame: pfn,
      readonly,
    });
    if (r.ret < 0) {
      this.#refs.free(ref);
      this.#pages.free(pfn);
      throw new RingSetupError(`grant_access of ref ${ref} failed (${r.ret})`);
    }
    const page = { pfn, ref };
    this.#shared.push(page);
    return page;
  }

  /** An unbound port the backend domain may bind. */
  async allocPort(backendId: number): Promise<number> {
    const r = await this.#env.hypercall({
      hc: "event_channel_op",
      op: "alloc_unbound",
      dom: DOMID_SELF,
      remoteDom: backendId,
    });
    if (r.ret < 0 || r.port === undefined) {
      throw new RingSetupError(`alloc_unbound for domain ${backendId} failed (${r.ret})`);
    }
    this.#ports.push(r.port);
    return r.port;
  }

  /**
   * Closes the ports (after a restore they are already gone with the old
   * domain: only forgotten) and ends the grants, deferring busy ones.
   */
  async release(opts: { newDomain?: boolean } = {}): Promise<void> {
    const closes: Promise<unknown>[] = [];
    for (const port of this.#ports.splice(0)) {
      if (!opts.newDomain) {
        closes.push(this.#env.hypercall({ hc: "event_channel_op", op: "close", port }));
      }
    }
    this.#deferred.push(...this.#shared.splice(0));
    const ending = this.retryDeferred();
    await Promise.all(closes);
    await ending;
    if (this.#deferred.length > 0) this.#retryLater();
  }

  /**
   * Ends deferred grants whose mappings are gone; resolves with how many
   * remain. The calls are made at once, in order (none depends on another).
   */
  async retryDeferred(): Promise<number> {
    const pages = this.#deferred.splice(0);
    const ends = pages.map((page) =>
      this.#env.hypercall({ hc: "grant_table_op", op: "end_access", ref: page.ref })
    );
    this.#ending += pages.length;
    const results = await Promise.all(ends).finally(() => (this.#ending -= pages.length));
    results.forEach((r, i) => {
      const page = pages[i];
      if (r.ret < 0) {
        this.#deferred.push(page);
        return;
      }
      this.#refs.free(page.ref);
      this.#pages.free(page.pfn);
    });
    return this.deferred;
  }

  #retryLater(): void {
    if (this.#retrying) return;
    this.#retrying = true;
    (async () => {
      for (let i = 0; i < GRANT_END_RETRIES_MAX && this.deferred > 0; i++) {
        await this.#env.sleep(GRANT_END_RETRY_NS);
        await this.retryDeferred();
      }
      if (this.#deferred.length > 0) {
        this.#env.trace.emit({
          src: "guest",
          dom: this.#env.domid,
          op: "grant-leak",
          refs: this.#deferred.map((p) => p.ref),
        });
      }
    })().finally(() => (this.#retrying = false));
  }
}
