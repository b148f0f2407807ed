/**
 * @module
 * {@link GrantRefAllocator}: which entries of its own grant table the guest
 * uses for rings (Linux `gnttab_alloc_grant_references`). Entries below
 * `GNTTAB_NR_RESERVED_ENTRIES` (console, xenstore, ...) are never handed
 * out. Refs are handed out round-robin, so a freed ref is reused as late as
 * possible and a reconnected ring gets a new one.
 */
import { GNTTAB_NR_RESERVED_ENTRIES } from "../../hv/xen_abi.ts";

/** Out of grant refs. */
export class GrantRefError extends Error {
  override name = "GrantRefError";
}

/** The guest's grant references. */
export class GrantRefAllocator {
  /** Entries the table has (`nr_frames × 512` for v1). */
  readonly entries: number;
  readonly #used = new Set<number>();
  #next = GNTTAB_NR_RESERVED_ENTRIES;

  constructor(entries: number) {
    if (!Number.isInteger(entries) || entries <= GNTTAB_NR_RESERVED_ENTRIES) {
      throw new RangeError(`grant table of ${entries} entries has none to give`);
    }
    this.entries = entries;
  }

  get used(): number {
    return this.#used.size;
  }

  /** A free ref at or after the cursor. */
  alloc(): number {
    const span = this.entries - GNTTAB_NR_RESERVED_ENTRIES;
    for (let i = 0; i < span; i++) {
      const ref = this.#next;
      this.#next = ref + 1 >= this.entries ? GNTTAB_NR_RESERVED_ENTRIES : ref + 1;
      if (!this.#used.has(ref)) {
        this.#used.add(ref);
        return ref;
      }
    }
    throw new GrantRefError(`all ${span} grant references are in use`);
  }

  free(ref: number): void {
    if (!this.#used.delete(ref)) throw new Error(`grant ref ${ref} freed but not allocated`);
  }
}
