/**
 * @module
 * Creation progress, reported in xend's phases and percentages
 * (lifecycle-and-migration.md §2.6) while the steps run in libxl's order
 * (§2.1): construct 0–30, init 31–60, store VM details 61–70, store domain
 * details 71–80, register watches 81–90, refresh shutdown 91–100.
 */

export const PHASES = [
  { name: "construct", from: 0, to: 30 },
  { name: "init", from: 31, to: 60 },
  { name: "store VM details", from: 61, to: 70 },
  { name: "store domain details", from: 71, to: 80 },
  { name: "register watches", from: 81, to: 90 },
  { name: "refresh shutdown", from: 91, to: 100 },
] as const;

export type PhaseName = (typeof PHASES)[number]["name"];

export interface ProgressEvent {
  readonly phase: PhaseName;
  readonly percent: number;
  readonly detail: string;
}

export type ProgressSink = (e: ProgressEvent) => void;

/** Reports steps within phases, always moving forward. */
export class Progress {
  readonly #sink: ProgressSink;
  #phase = -1;
  #percent = -1;

  constructor(sink: ProgressSink = () => {}) {
    this.#sink = sink;
  }

  /** Enters `name` (phases only move forward). */
  phase(name: PhaseName, detail: string): void {
    const i = PHASES.findIndex((p) => p.name === name);
    if (i < this.#phase) {
      throw new Error(`progress: phase ${name} after ${PHASES[this.#phase].name}`);
    }
    this.#phase = i;
    this.#emit(PHASES[i].from, detail);
  }

  /** A step `fraction` (0..1) of the way through the current phase. */
  step(fraction: number, detail: string): void {
    const p = PHASES[this.#phase];
    this.#emit(Math.round(p.from + (p.to - p.from) * Math.min(1, Math.max(0, fraction))), detail);
  }

  #emit(percent: number, detail: string): void {
    this.#percent = Math.max(this.#percent, percent);
    this.#sink({ phase: PHASES[this.#phase].name, percent: this.#percent, detail });
  }
}

/** A text progress bar as the CLI prints it: `[######    ]  60% init: building`. */
export function progressBar(e: ProgressEvent, width = 30): string {
  const filled = Math.round((e.percent / 100) * width);
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${
    String(e.percent).padStart(3)
  }% ${e.phase}: ${e.detail}`;
}
