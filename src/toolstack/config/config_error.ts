/**
 * @module
 * The one error a refused domain configuration raises. It carries the
 * 1-based line of the offending setting (when there is one) and the reason,
 * so the message reads like xl's own `<file>:<line>: ...` diagnostics:
 * `line 3: memory: expected an integer (MiB), got "lots"`.
 */

/** A domain configuration that cannot be used; the message names the culprit. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** 1-based line of the setting at fault, or undefined for a whole-file problem. */
  readonly line: number | undefined;
  /** The reason without the line prefix. */
  readonly reason: string;

  constructor(line: number | undefined, reason: string) {
    super(line === undefined ? reason : `line ${line}: ${reason}`);
    this.line = line;
    this.reason = reason;
  }
}
