/**
 * @module
 * Simulation traces as JSON lines: one event per line, stamped with the
 * clock's time, in a byte-stable format so that a seed's trace can be kept as
 * a golden file and two runs compared with `diff` (STYLE.md "Simulation:
 * golden traces for the scenarios").
 *
 * Line format: a JSON object whose keys come in a fixed order — `t` (integer
 * ns from the clock) first, then `src`, then `dom` if the event has one, then
 * the event's other fields in JS property order (insertion order, except that
 * integer-like keys come first). Fields that are `undefined` are left out.
 * Values are plain JSON with two deterministic extensions, applied at any
 * depth:
 *
 * - `Uint8Array` → a string. If every byte is printable ASCII (0x20–0x7e) or
 *   NUL (shown by JSON as `\u0000`, common in xenstore payloads) and the text
 *   does not start with `hex:`, the bytes as latin1 text; otherwise `hex:`
 *   followed by lower-case hex. So `"a/b\u0000"` and `"hex:ff00"`.
 * - `bigint` → its decimal digits as a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Scheduler } from "./scheduler.ts";
 * import { MemoryTrace } from "./trace.ts";
 * const sched = new Scheduler();
 * const trace = new MemoryTrace(sched);
 * trace.emit({ src: "xl", dom: 3, op: "suspend", key: new TextEncoder().encode("ok\0") });
 * assert.equal(trace.text(), '{"t":0,"src":"xl","dom":3,"op":"suspend","key":"ok\\u0000"}\n');
 * ```
 */
import { AssertionError } from "node:assert";
import type { Clock } from "./clock.ts";

/** One trace event: who (`src`, `dom`) and what (any other fields). */
export interface TraceEvent {
  src: string;
  dom?: number;
  [field: string]: unknown;
}

/** Where components send trace events. */
export interface Trace {
  emit(ev: TraceEvent): void;
}

/** Default bound on lines a {@link MemoryTrace} keeps. */
export const TRACE_MEMORY_LINES_MAX = 250_000;

/** A trace that drops everything (the default for code that is not traced). */
export const NULL_TRACE: Trace = Object.freeze({ emit(_ev: TraceEvent): void {} });

function fail(message: string): never {
  throw new AssertionError({ message });
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The trace encoding of bytes (see the module doc). */
export function encodeTraceBytes(bytes: Uint8Array): string {
  let text = true;
  for (const b of bytes) {
    if (b !== 0 && (b < 0x20 || b > 0x7e)) {
      text = false;
      break;
    }
  }
  if (text) {
    let s = "";
    for (const b of bytes) s += String.fromCharCode(b);
    if (!s.startsWith("hex:")) return s;
  }
  let hex = "hex:";
  for (const b of bytes) hex += HEX[b];
  return hex;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return encodeTraceBytes(value);
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** One trace line (no trailing newline) for `ev` at time `tNs`. */
export function formatTraceLine(tNs: number, ev: TraceEvent): string {
  const { src, dom } = ev;
  if (typeof src !== "string" || src === "") fail(`trace: event without a src: ${String(src)}`);
  let line = `{"t":${tNs},"src":${JSON.stringify(src)}`;
  if (dom !== undefined) {
    if (!Number.isSafeInteger(dom)) fail(`trace: ${src}: dom ${String(dom)} is not an integer`);
    line += `,"dom":${dom}`;
  }
  for (const key of Object.keys(ev)) {
    if (key === "src" || key === "dom") continue;
    if (key === "t") fail(`trace: ${src}: field "t" is reserved for the time`);
    const value = JSON.stringify(ev[key], replacer);
    if (value !== undefined) line += `,${JSON.stringify(key)}:${value}`;
  }
  return line + "}";
}

/** Writes each event as a JSON line to `sink`, stamped with `clock.nowNs()`. */
export class JsonlTrace implements Trace {
  readonly #clock: Clock;
  readonly #sink: (line: string) => void;

  constructor(clock: Clock, sink: (line: string) => void) {
    this.#clock = clock;
    this.#sink = sink;
  }

  emit(ev: TraceEvent): void {
    this.#sink(formatTraceLine(this.#clock.nowNs(), ev));
  }
}

/**
 * Keeps trace lines in memory, at most `linesMax`. The first event past the
 * bound appends one marker line, `{"t":…,"src":"trace","overflow":true,
 * "linesMax":N}`, so a truncated trace can never pass for a complete one;
 * later events are only counted in {@link dropped}.
 */
export class MemoryTrace implements Trace {
  readonly #clock: Clock;
  readonly #linesMax: number;
  readonly #lines: string[] = [];
  #dropped = 0;

  constructor(clock: Clock, linesMax: number = TRACE_MEMORY_LINES_MAX) {
    if (!Number.isSafeInteger(linesMax) || linesMax < 0) {
      fail(`trace: bad linesMax ${linesMax}`);
    }
    this.#clock = clock;
    this.#linesMax = linesMax;
  }

  emit(ev: TraceEvent): void {
    const line = formatTraceLine(this.#clock.nowNs(), ev);
    if (this.#dropped === 0 && this.#lines.length < this.#linesMax) {
      this.#lines.push(line);
      return;
    }
    if (this.#dropped === 0) {
      this.#lines.push(
        formatTraceLine(this.#clock.nowNs(), {
          src: "trace",
          overflow: true,
          linesMax: this.#linesMax,
        }),
      );
    }
    this.#dropped++;
  }

  /** The lines kept so far (the overflow marker included). */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Whether events were dropped for lack of room. */
  get overflowed(): boolean {
    return this.#dropped > 0;
  }

  /** Events dropped after the bound. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The lines as JSONL text, each ending in `\n`. */
  text(): string {
    return this.#lines.length === 0 ? "" : this.#lines.join("\n") + "\n";
  }
}

/** Sends each event to every one of `traces`, in order. */
export class TeeTrace implements Trace {
  readonly #traces: readonly Trace[];

  constructor(...traces: Trace[]) {
    this.#traces = traces;
  }

  emit(ev: TraceEvent): void {
    for (const t of this.#traces) t.emit(ev);
  }
}
