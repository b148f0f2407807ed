/**
 * @module
 * Named fault points, enabled per run with integer ratios as probabilities
 * (STYLE.md "Deterministic simulation"). Code under test asks
 * `faults.hit("guest.ack.drop")` where a fault could happen; the run decides
 * which points are on and how often, from a spec such as
 * `guest.ack.drop=1/10,xs.reply.delay=1/2`.
 *
 * Each enabled point draws from its own stream, `rng.fork("fault:" + name)`,
 * and points that are not enabled draw nothing. So enabling, disabling or
 * re-weighting one point never shifts the choices of any other point, nor
 * the rest of the simulation's randomness.
 *
 * After the fault phase a run calls {@link Faults.disableAll} and checks, in a
 * liveness phase with faults off, that the system converges.
 *
 * @example
 * ```ts
 * import { Rng } from "./rng.ts";
 * import { Faults, parseFaultSpec } from "./faults.ts";
 * const faults = new Faults(new Rng(7), parseFaultSpec("guest.ack.drop=1/10"));
 * if (faults.hit("guest.ack.drop")) {
 *   // drop the ack
 * }
 * ```
 */
import type { Rng } from "./rng.ts";

/** A probability `num/den` as integers, 0 ≤ num ≤ den, den ≥ 1. */
export type FaultRatio = readonly [num: number, den: number];
/** Fault points to enable, by name. */
export type FaultSpec = Readonly<Record<string, FaultRatio>>;

/** Most fault points one run may enable. */
export const FAULT_POINTS_MAX = 256;
/** Longest fault point name. */
export const FAULT_NAME_LENGTH_MAX = 128;
/** Largest ratio denominator (keeps ratios readable and `Rng.chance` fast). */
export const FAULT_DEN_MAX = 2 ** 32;

/**
 * Dotted lower-case words starting with a letter: `guest.ack.drop`,
 * `xs.conn-reset`, `hv.evtchn_lost`. (Never integer-like, so JS key order is
 * the sorted order.)
 */
const FAULT_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$/;

/** A fault spec that cannot be used; the message names the culprit and the fix. */
export class FaultSpecError extends Error {
  override name = "FaultSpecError";
}

function checkPoint(name: string, ratio: FaultRatio): void {
  if (name.length > FAULT_NAME_LENGTH_MAX || !FAULT_NAME.test(name)) {
    throw new FaultSpecError(
      `fault point "${name}": names are dotted lower-case words of [a-z0-9_-], ` +
        "starting with a letter " +
        `(at most ${FAULT_NAME_LENGTH_MAX} chars), e.g. guest.ack.drop`,
    );
  }
  const [num, den] = ratio;
  if (
    !Number.isInteger(num) || !Number.isInteger(den) || den < 1 || den > FAULT_DEN_MAX ||
    num < 0 || num > den
  ) {
    throw new FaultSpecError(
      `fault point "${name}": ratio ${num}/${den} is not a probability; ` +
        `use integers num/den with 0 <= num <= den and 1 <= den <= 2^32, e.g. 1/10`,
    );
  }
}

interface Point {
  readonly rng: Rng;
  readonly num: number;
  readonly den: number;
  hits: number;
  checks: number;
}

/** The fault points of one run. */
export class Faults {
  readonly #points = new Map<string, Point>();
  #enabled = true;

  /** Enables the points of `spec`; throws {@link FaultSpecError} on a bad one. */
  constructor(rng: Rng, spec: FaultSpec = {}) {
    const names = Object.keys(spec);
    if (names.length > FAULT_POINTS_MAX) {
      throw new FaultSpecError(
        `fault spec enables ${names.length} points (limit ${FAULT_POINTS_MAX})`,
      );
    }
    for (const name of names.sort()) {
      const ratio = spec[name];
      checkPoint(name, ratio);
      this.#points.set(name, {
        rng: rng.fork(`fault:${name}`),
        num: ratio[0],
        den: ratio[1],
        hits: 0,
        checks: 0,
      });
    }
  }

  /**
   * Whether the fault `name` happens now. False, and no randomness used, when
   * the point is not enabled or after {@link disableAll}.
   */
  hit(name: string): boolean {
    if (!this.#enabled) return false;
    const point = this.#points.get(name);
    if (point === undefined) return false;
    point.checks++;
    const fired = point.rng.chance(point.num, point.den);
    if (fired) point.hits++;
    return fired;
  }

  /** Whether `hit(name)` can currently return true. */
  enabled(name: string): boolean {
    return this.#enabled && this.#points.has(name);
  }

  /** Turns every point off for good (the liveness phase). */
  disableAll(): void {
    this.#enabled = false;
  }

  /** Whether {@link disableAll} has not been called. */
  get active(): boolean {
    return this.#enabled;
  }

  /** Hits (true answers) per enabled point, names sorted, zeros included. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, p] of this.#points) out[name] = p.hits;
    return out;
  }

  /** Times each enabled point was asked while active, names sorted. */
  checks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, p] of this.#points) out[name] = p.checks;
    return out;
  }

  /** The enabled points as a spec string (parseable by {@link parseFaultSpec}). */
  spec(): string {
    return [...this.#points].map(([name, p]) => `${name}=${p.num}/${p.den}`).join(",");
  }
}

/**
 * Parses `name=num/den` entries separated by commas, e.g.
 * `"guest.ack.drop=1/10,xs.reply.delay=1/2"`. Whitespace around entries is
 * ignored; the empty string is the empty spec. Throws {@link FaultSpecError}
 * with the offending entry on bad input or a repeated name.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec: Record<string, FaultRatio> = {};
  if (text.trim() === "") return spec;
  const entries = text.split(",");
  if (entries.length > FAULT_POINTS_MAX) {
    throw new FaultSpecError(
      `fault spec has ${entries.length} entries (limit ${FAULT_POINTS_MAX})`,
    );
  }
  for (const raw of entries) {
    const entry = raw.trim();
    const m = /^([^=\s]+)\s*=\s*(\d+)\s*\/\s*(\d+)$/.exec(entry);
    if (m === null) {
      throw new FaultSpecError(
        `fault spec entry "${entry}": expected name=num/den, e.g. guest.ack.drop=1/10`,
      );
    }
    const [, name, num, den] = m;
    if (Object.hasOwn(spec, name)) {
      throw new FaultSpecError(`fault spec names "${name}" twice; give each point once`);
    }
    const ratio: FaultRatio = [Number(num), Number(den)];
    checkPoint(name, ratio);
    spec[name] = ratio;
  }
  return spec;
}
