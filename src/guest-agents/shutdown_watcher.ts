/**
 * @module
 * {@link ShutdownWatcher}: Linux `drivers/xen/manage.c` on a xenstore
 * client — the `control/shutdown` and `control/sysrq` watches and the
 * `control/feature-*` nodes (lifecycle-and-migration.md §2.2, §7.1, §7.2),
 * with the behaviour profiles of `profiles.ts` layered on top.
 *
 * `setup_shutdown_watcher`: register the shutdown watch (failure: no
 * features at all), the sysrq watch, then write `feature-<cmd>` = `1` for
 * each handler whose flag is set — poweroff, reboot and, with hibernate
 * callbacks, suspend; never halt. A write error stops the remaining writes.
 *
 * `shutdown_handler`, worked through for a `reboot` request:
 *
 * 1. `shutting_down` is not INVALID (a suspend or power-off is under way)?
 *    return without reading anything.
 * 2. TRANSACTION_START (error: return); READ `control/shutdown` → "reboot".
 *    A read error or an empty value: end the transaction (abort), return.
 * 3. "reboot" is in the handler table, so WRITE "" in the transaction (the
 *    ack; an unknown command is *not* acknowledged). TRANSACTION_END:
 *    EAGAIN starts again at 2 (bounded here by {@link SHUTDOWN_TX_RETRIES_MAX});
 *    any other error is ignored, as Linux ignores it.
 * 4. Known: run the handler (`do_reboot`). Unknown: log "Ignoring shutdown
 *    request: <value>".
 *
 * `sysrq_handler`: in a transaction read the key (`%c`); ENOENT and an
 * empty value (ERANGE) are silent (the watch fires once at registration and
 * after every ack); a non-NUL key is answered by writing "" back; commit
 * (EAGAIN: again); then run `handle_sysrq(key)`.
 *
 * Watch callbacks run one at a time, as on Linux's single xenwatch thread.
 */
import { XsError } from "../xenstore/wire/errno.ts";
import type { XsClient } from "../xenstore/client/client.ts";
import type { XsWatch } from "../xenstore/client/watch.ts";
import type { AgentCore } from "./agent_core.ts";

/** What the toolstack may write to `control/shutdown` that Linux knows. */
export type ShutdownCommand = "poweroff" | "halt" | "reboot" | "suspend";

/** Linux's `shutting_down`: INVALID, or what the kernel is busy doing. */
export type ShuttingDown = "invalid" | "poweroff" | "suspend";

/** Bound on transaction restarts after EAGAIN in one handler run. */
export const SHUTDOWN_TX_RETRIES_MAX = 16;

export const CONTROL_SHUTDOWN = "control/shutdown";
export const CONTROL_SYSRQ = "control/sysrq";
/** Watch tokens (Linux uses the watch struct's address). */
export const SHUTDOWN_WATCH_TOKEN = "xenlab-shutdown-watch";
export const SYSRQ_WATCH_TOKEN = "xenlab-sysrq-watch";

/** The kernel's side of the handlers. */
export interface ManageActions {
  /** `do_poweroff` (poweroff and halt). */
  poweroff(command: "poweroff" | "halt"): void;
  /** `do_reboot`. */
  reboot(): void;
  /** `do_suspend`; present only with suspend support (hibernate callbacks). */
  suspend?: () => Promise<void>;
  /** `handle_sysrq(key)`. */
  sysrq(key: string): void;
  /** crash-on-request: what a poweroff/halt/reboot request does instead. */
  crash(command: ShutdownCommand): void;
}

function isErrno(e: unknown, errno: string): boolean {
  return e instanceof XsError && e.errno === errno;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The manage.c watches of one guest. */
export class ShutdownWatcher {
  /** Linux's `shutting_down`. */
  shuttingDown: ShuttingDown = "invalid";
  readonly #xs: XsClient;
  readonly #core: AgentCore;
  readonly #actions: ManageActions;
  #watch: XsWatch | null = null;
  #closed = false;

  constructor(xs: XsClient, core: AgentCore, actions: ManageActions) {
    this.#xs = xs;
    this.#core = core;
    this.#actions = actions;
  }

  /** The commands the handler table holds (`suspend` only with hibernate callbacks). */
  get commands(): ShutdownCommand[] {
    const suspend = this.#actions.suspend !== undefined && this.#core.profile.suspendable;
    return suspend ? ["poweroff", "halt", "reboot", "suspend"] : ["poweroff", "halt", "reboot"];
  }

  /**
   * `setup_shutdown_watcher`; false if a step failed (already traced).
   * `resume`: after a restore, `xs_resume` only re-registers the watches;
   * the `feature-*` nodes are not written again.
   */
  async setup(opts: { resume?: boolean } = {}): Promise<boolean> {
    const core = this.#core;
    const watch = this.#xs.watchHandle();
    this.#watch = watch;
    try {
      await watch.add(CONTROL_SHUTDOWN, SHUTDOWN_WATCH_TOKEN);
    } catch (e) {
      core.trace("error", { what: "Failed to set shutdown watcher", err: errText(e) });
      return false;
    }
    core.trace("watch", { path: CONTROL_SHUTDOWN });
    void this.#run(watch);
    try {
      await watch.add(CONTROL_SYSRQ, SYSRQ_WATCH_TOKEN);
      core.trace("watch", { path: CONTROL_SYSRQ });
    } catch (e) {
      core.trace("error", { what: "Failed to set sysrq watcher", err: errText(e) });
      return false;
    }
    if (opts.resume) return true;
    // Flags of the handler table: poweroff yes, halt no, reboot yes, suspend yes.
    const features = this.commands.filter((c) => c !== "halt");
    for (const cmd of features) {
      if (!(await this.#writeFeature(cmd, "1"))) return false;
    }
    // no-suspend (a xenlab profile, not Linux): say "don't ask" explicitly.
    if (!core.profile.suspendable) return await this.#writeFeature("suspend", "0");
    return true;
  }

  async #writeFeature(cmd: ShutdownCommand, value: string): Promise<boolean> {
    const node = `control/feature-${cmd}`;
    try {
      await this.#xs.write(node, value);
      this.#core.trace("feature", { node, value });
      return true;
    } catch (e) {
      this.#core.trace("error", { what: `writing ${node}`, err: errText(e) });
      return false;
    }
  }

  /**
   * Stops watching, without waiting for xenstored (the UNWATCHes go out; a
   * closing connection drops them anyway). A handler under way (a slow-ack
   * wait, a suspend hook) finishes on its own and acts no more.
   */
  close(): void {
    this.#closed = true;
    const w = this.#watch;
    this.#watch = null;
    w?.close().catch(() => {});
  }

  async #run(watch: XsWatch): Promise<void> {
    try {
      for await (const ev of watch) {
        if (this.#closed || !this.#core.alive) continue;
        if (ev.token === SHUTDOWN_WATCH_TOKEN) await this.#shutdownHandler();
        else if (ev.token === SYSRQ_WATCH_TOKEN) await this.#sysrqHandler();
      }
    } catch (e) {
      if (!this.#closed) this.#core.trace("watch_lost", { err: errText(e) });
    }
  }

  async #shutdownHandler(): Promise<void> {
    const core = this.#core;
    if (this.shuttingDown !== "invalid") {
      core.trace("shutdown_busy", { shuttingDown: this.shuttingDown });
      return;
    }
    const profile = core.profile;
    if (profile.ackDelayNs > 0) {
      // slow-ack: the request waits; whatever is there afterwards is handled.
      core.trace("slow_ack_wait", { ns: profile.ackDelayNs });
      if (!(await core.sleep(profile.ackDelayNs)) || this.#closed) return;
      if (this.shuttingDown !== "invalid") return;
    }
    if (!profile.acknowledges) {
      await this.#neverAck();
      return;
    }
    const read = await this.#readAndAck();
    if (read === undefined) return;
    const { value, known } = read;
    if (!known) {
      core.trace("ignore", { value });
      core.print(`xen:manage: Ignoring shutdown request: ${value}`);
      this.shuttingDown = "invalid";
      return;
    }
    const cmd = value as ShutdownCommand;
    core.trace("ack", { value: cmd });
    if (profile.crashOnRequest && cmd !== "suspend") {
      this.#actions.crash(cmd);
      return;
    }
    switch (cmd) {
      case "poweroff":
      case "halt":
        this.#actions.poweroff(cmd);
        return;
      case "reboot":
        this.#actions.reboot();
        return;
      case "suspend":
        this.shuttingDown = "suspend";
        try {
          await this.#actions.suspend!();
        } catch (e) {
          core.trace("error", { what: "suspend", err: errText(e) });
        } finally {
          this.shuttingDown = "invalid";
        }
        return;
    }
  }

  /** never-ack: look at the request, do nothing. */
  async #neverAck(): Promise<void> {
    try {
      const value = await this.#xs.readString(CONTROL_SHUTDOWN);
      if (value !== "") this.#core.trace("never_ack", { value });
    } catch (e) {
      this.#core.trace("never_ack", { err: errText(e) });
    }
  }

  /** Steps 2–3 of the module doc: the value and whether it was acknowledged. */
  async #readAndAck(): Promise<{ value: string; known: boolean } | undefined> {
    const xs = this.#xs;
    for (let attempt = 0;; attempt++) {
      let tx: number;
      try {
        tx = await xs.transactionStart();
      } catch (e) {
        this.#core.trace("error", { what: "shutdown: transaction start", err: errText(e) });
        return undefined;
      }
      let value: string;
      try {
        value = await xs.readString(CONTROL_SHUTDOWN, tx);
      } catch {
        value = "";
      }
      if (value === "") {
        await xs.transactionEnd(tx, false).catch(() => {});
        return undefined;
      }
      const known = (this.commands as string[]).includes(value);
      if (known) await xs.write(CONTROL_SHUTDOWN, "", tx).catch(() => {});
      try {
        await xs.transactionEnd(tx, true);
      } catch (e) {
        if (isErrno(e, "EAGAIN")) {
          if (attempt < SHUTDOWN_TX_RETRIES_MAX) continue;
          this.#core.trace("error", {
            what: `shutdown: still EAGAIN after ${attempt + 1} transactions`,
          });
          return undefined;
        }
        // Linux only looks for EAGAIN; anything else falls through.
        this.#core.trace("error", { what: "shutdown: transaction end", err: errText(e) });
      }
      return { value, known };
    }
  }

  async #sysrqHandler(): Promise<void> {
    const xs = this.#xs;
    const core = this.#core;
    let key = "\0";
    for (let attempt = 0;; attempt++) {
      let tx: number;
      try {
        tx = await xs.transactionStart();
      } catch {
        return;
      }
      let raw: Uint8Array;
      try {
        raw = await xs.read(CONTROL_SYSRQ, tx);
      } catch (e) {
        if (!isErrno(e, "ENOENT")) {
          core.trace("error", { what: "reading sysrq code in control/sysrq", err: errText(e) });
        }
        await xs.transactionEnd(tx, false).catch(() => {});
        return;
      }
      if (raw.length === 0) {
        // ERANGE: the empty value of an ack or of the initial event.
        await xs.transactionEnd(tx, false).catch(() => {});
        return;
      }
      key = String.fromCharCode(raw[0]);
      if (key !== "\0") {
        try {
          await xs.write(CONTROL_SYSRQ, "", tx);
        } catch (e) {
          core.trace("error", { what: "writing sysrq in control/sysrq", err: errText(e) });
          await xs.transactionEnd(tx, false).catch(() => {});
          return;
        }
      }
      try {
        await xs.transactionEnd(tx, true);
      } catch (e) {
        if (isErrno(e, "EAGAIN") && attempt < SHUTDOWN_TX_RETRIES_MAX) continue;
        if (isErrno(e, "EAGAIN")) return;
      }
      break;
    }
    if (key !== "\0") {
      core.trace("sysrq", { key });
      this.#actions.sysrq(key);
    }
  }
}
