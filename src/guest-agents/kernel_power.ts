/**
 * @module
 * {@link KernelPower}: how a Linux guest with PV drivers goes down once
 * manage.c has accepted a request, and what `handle_sysrq` does with the
 * keys that matter here (lifecycle-and-migration.md §7.1, §7.2):
 *
 * * poweroff / halt → `do_poweroff`: while booting, forced at once; while
 *   running, `orderly_poweroff` — userspace shuts down (the agent's
 *   `orderlyShutdownNs`), then `kernel_power_off` → the reboot notifier
 *   sets `shutting_down` → SCHEDOP_shutdown(SHUTDOWN_poweroff).
 * * reboot → `do_reboot`: `shutting_down` set at once, `ctrl_alt_del` →
 *   the same orderly path → SHUTDOWN_reboot.
 * * sysrq `b` (emergency restart) → SHUTDOWN_reboot now; `o` → power off
 *   now; `c` → panic → SHUTDOWN_crash; `h` and unknown keys print the help
 *   line; other known keys print their action and change nothing here.
 * * a panic (sysrq `c`, crash-on-request) → SHUTDOWN_crash (Xen's panic
 *   notifier, no kexec crash kernel loaded).
 *
 * A second poweroff/reboot while one is under way is absorbed, as the
 * queued `orderly_poweroff` work item absorbs it (the first one wins).
 */
import { SHUTDOWN_crash, SHUTDOWN_poweroff, SHUTDOWN_reboot } from "../hv/xen_abi.ts";
import type { AgentCore } from "./agent_core.ts";
import type { ManageActions, ShutdownCommand, ShutdownWatcher } from "./shutdown_watcher.ts";

/** `handle_sysrq` action messages of the keys a toolstack might send. */
export const SYSRQ_ACTIONS: Readonly<Record<string, string>> = {
  b: "Resetting",
  c: "Trigger a crash",
  e: "Terminate All Tasks",
  i: "Kill All Tasks",
  l: "Show backtrace of all active CPUs",
  m: "Show Memory",
  o: "Power Off",
  p: "Show Regs",
  s: "Emergency Sync",
  t: "Show State",
  u: "Emergency Remount R/O",
  w: "Show Blocked State",
};

const SYSRQ_HELP = "sysrq: HELP : loglevel(0-9) reboot(b) crash(c) terminate-all-tasks(e) " +
  "kill-all-tasks(i) show-backtrace-all-active-cpus(l) show-memory-usage(m) poweroff(o) " +
  "show-registers(p) sync(s) show-task-states(t) unmount(u) show-blocked-tasks(w)";

/** The kernel's power paths for a guest with PV drivers. */
export class KernelPower implements Omit<ManageActions, "suspend"> {
  readonly #core: AgentCore;
  #watcher: ShutdownWatcher | null = null;
  #inProgress = false;

  constructor(core: AgentCore) {
    this.#core = core;
  }

  /** The watcher whose `shutting_down` the reboot notifier sets. */
  setWatcher(w: ShutdownWatcher): void {
    this.#watcher = w;
  }

  poweroff(command: "poweroff" | "halt"): void {
    const core = this.#core;
    const state = core.state;
    if (state === "booting") {
      // orderly_poweroff(true) with no userspace yet: forced.
      this.#down(SHUTDOWN_poweroff, `${command} while booting`);
      return;
    }
    if (state !== "running" && state !== "shutting-down") {
      core.print("xen:manage: Ignoring Xen toolstack shutdown.");
      return;
    }
    void this.#orderly(SHUTDOWN_poweroff, command);
  }

  reboot(): void {
    if (this.#watcher) this.#watcher.shuttingDown = "poweroff";
    void this.#orderly(SHUTDOWN_reboot, "reboot");
  }

  crash(command: ShutdownCommand): void {
    this.panic(`crash-on-request: ${command}`);
  }

  /** A kernel panic: reported to Xen as SHUTDOWN_crash. */
  panic(why: string): void {
    this.#core.print(`Kernel panic - not syncing: ${why}`);
    this.#down(SHUTDOWN_crash, why);
  }

  sysrq(key: string): void {
    const core = this.#core;
    const action = SYSRQ_ACTIONS[key];
    if (action === undefined) {
      core.print(SYSRQ_HELP);
      return;
    }
    core.print(`sysrq: ${action}`);
    switch (key) {
      case "b":
        this.#down(SHUTDOWN_reboot, "sysrq b");
        return;
      case "o":
        this.#down(SHUTDOWN_poweroff, "sysrq o");
        return;
      case "c":
        this.panic("sysrq triggered crash");
        return;
    }
  }

  async #orderly(reason: number, why: string): Promise<void> {
    const core = this.#core;
    if (this.#inProgress) {
      core.trace("orderly_pending", { why });
      return;
    }
    this.#inProgress = true;
    core.setState("shutting-down");
    const verb = reason === SHUTDOWN_reboot ? "reboot" : "power-off";
    core.print(`The system is going down for ${verb} NOW!`);
    if (!(await core.sleep(core.orderlyShutdownNs))) return;
    this.#down(reason, why);
  }

  /** `kernel_power_off` / `kernel_restart` / emergency paths: the final hypercall. */
  #down(reason: number, why: string): void {
    const core = this.#core;
    if (!core.alive) return;
    if (this.#watcher) this.#watcher.shuttingDown = "poweroff"; // poweroff_nb
    if (reason === SHUTDOWN_poweroff) core.print("reboot: Power down");
    else if (reason === SHUTDOWN_reboot) core.print("reboot: Restarting system");
    void core.machineShutdown(reason, why);
  }
}
