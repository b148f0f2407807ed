/**
 * @module
 * `deno task scenario NAME [--seed N] [--trace FILE] [--verbose]`: runs a
 * scenario on a simulated host, prints its seed, a readable timeline and a
 * summary; with `--trace` writes every event as JSON lines (xenstore
 * requests and replies, hypercalls, toolstack and guest steps). A failing
 * run prints the command that reproduces it. `--list` lists scenarios.
 */
import { runScenario } from "../../scenarios/run_scenario.ts";
import { scenarioByName, SCENARIOS } from "../../scenarios/registry.ts";

const USAGE =
  `Usage: deno task scenario NAME [--seed N] [--trace FILE] [--verbose] [--quiet] [--real]
       deno task scenario --list
Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(20)} ${s.description}`).join("\n")}`;

const argv = [...Deno.args];
if (argv.length === 0 || argv[0] === "-h" || argv[0] === "--help") {
  console.log(USAGE);
  Deno.exit(argv.length === 0 ? 2 : 0);
}
if (argv[0] === "--list") {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(20)} ${s.description}`);
  Deno.exit(0);
}
const name = argv.shift()!;
const scenario = scenarioByName(name);
if (!scenario) {
  console.error(`scenario: no scenario named ${JSON.stringify(name)}\n${USAGE}`);
  Deno.exit(2);
}
let seed = 1;
let traceFile: string | undefined;
let verbose = false, quiet = false, real = false;
const args: Record<string, string> = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    const v = argv[++i];
    if (v === undefined) {
      console.error(`scenario: ${a} needs a value`);
      Deno.exit(2);
    }
    return v;
  };
  if (a === "--seed") {
    seed = Number(value());
    if (!Number.isSafeInteger(seed)) {
      console.error("scenario: --seed takes an integer");
      Deno.exit(2);
    }
  } else if (a === "--trace") traceFile = value();
  else if (a === "--verbose") verbose = true;
  else if (a === "--quiet") quiet = true;
  else if (a === "--real") real = true;
  else if (a.startsWith("--")) args[a.slice(2)] = value();
  else {
    console.error(`scenario: unexpected argument ${a}\n${USAGE}`);
    Deno.exit(2);
  }
}

console.log(
  `scenario ${scenario.name} (seed ${seed}${
    real ? ", real processes: guests over WebSocket, real time" : ""
  }): ${scenario.description}`,
);
const r = await runScenario(scenario, { seed, args, verbose, real });
if (!quiet) {
  console.log("\n--- timeline (virtual seconds, who, what)");
  for (const l of r.timeline) console.log(l);
}
console.log("\n--- summary");
for (const l of r.summary) console.log(l);
if (traceFile) {
  await Deno.writeTextFile(traceFile, r.trace.join("\n") + "\n");
  console.log(`trace: ${r.trace.length} events written to ${traceFile}`);
}
if (!r.ok) {
  console.log(`\nFAILED: ${r.error}\nreproduce with: ${r.reproduce}`);
  Deno.exit(1);
}
console.log(`\nOK (${r.trace.length} events)`);
// Real-time hosts leave timers (libxl-style timeouts) behind; the run is over.
Deno.exit(0);
