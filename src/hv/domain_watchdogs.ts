/**
 * @module
 * A domain's watchdog timers (SCHEDOP_watchdog, §0.2, `domain_watchdog` in
 * `xen/common/sched/core.c`): up to {@link NR_DOMAIN_WATCHDOG_TIMERS}; id 0
 * arms a new one and returns its id (1-based) or -ENOSPC; a non-zero id with
 * a timeout re-arms it, with timeout 0 disarms it; an unknown id is -EINVAL.
 * Expiry calls back (the hypervisor then shuts the domain down with
 * SHUTDOWN_watchdog unless it is already shutting down or dying).
 */
import type { Clock, Timer } from "../sim/clock.ts";
import { NS_PER_S } from "../sim/clock.ts";
import { Errno } from "./errno.ts";
import { NR_DOMAIN_WATCHDOG_TIMERS } from "./xen_abi.ts";

/** The watchdog slots of one domain. */
export class DomainWatchdogs {
  readonly #clock: Clock;
  readonly #onExpire: (id: number) => void;
  readonly #timers: (Timer | null)[] = new Array(NR_DOMAIN_WATCHDOG_TIMERS).fill(null);

  constructor(clock: Clock, onExpire: (id: number) => void) {
    this.#clock = clock;
    this.#onExpire = onExpire;
  }

  /** Slots in use. */
  get armed(): number {
    return this.#timers.filter((t) => t !== null).length;
  }

  /** SCHEDOP_watchdog: returns the new id (arm), 0, or -errno. */
  op(id: number, timeoutS: number): number {
    if (!Number.isInteger(id) || id < 0 || id > NR_DOMAIN_WATCHDOG_TIMERS) return -Errno.EINVAL;
    if (!Number.isInteger(timeoutS) || timeoutS < 0 || timeoutS > 0xffffffff) {
      return -Errno.EINVAL;
    }
    if (id === 0) {
      const slot = this.#timers.indexOf(null);
      if (slot < 0) return -Errno.ENOSPC;
      this.#arm(slot, timeoutS);
      return slot + 1;
    }
    const slot = id - 1;
    const t = this.#timers[slot];
    if (t === null) return -Errno.EINVAL;
    t.cancel();
    if (timeoutS === 0) {
      this.#timers[slot] = null;
      return 0;
    }
    this.#arm(slot, timeoutS);
    return 0;
  }

  /** Cancels every timer (domain death). */
  destroy(): void {
    for (let i = 0; i < this.#timers.length; i++) {
      this.#timers[i]?.cancel();
      this.#timers[i] = null;
    }
  }

  #arm(slot: number, timeoutS: number): void {
    this.#timers[slot] = this.#clock.setTimer(timeoutS * NS_PER_S, () => {
      // Xen keeps the slot in use after expiry (only an explicit disarm frees it).
      this.#onExpire(slot + 1);
    });
  }
}
