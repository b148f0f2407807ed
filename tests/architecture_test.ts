/**
 * Structural rules of ../shared/STYLE.md that code review alone would let
 * slip: imports point one way, and the core reads no ambient time or
 * randomness.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* sources(p);
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) yield p;
  }
}

function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]);
}

/** Layer of a source file; lower layers must not import higher ones. */
function layer(file: string): string {
  const r = relative(join(ROOT, "src"), file);
  if (r.startsWith("sim/")) return "sim";
  if (r.startsWith("xenstore/wire/")) return "wire";
  if (r.startsWith("xenstore/store/")) return "store";
  if (r.startsWith("xenstore/server/")) return "server";
  if (r.startsWith("xenstore/client/")) return "client";
  if (r.startsWith("xenstore/")) return "engine";
  return r.split("/")[0];
}

/** What each layer may import (besides itself and npm/node modules). */
const ALLOWED: Record<string, string[]> = {
  sim: [],
  platform: [],
  wire: ["sim"],
  store: ["sim", "wire"],
  engine: ["sim", "wire", "store"],
  client: ["sim", "wire"],
  server: ["sim", "wire", "store", "engine", "client"],
  hv: ["sim"],
  toolstack: ["sim", "wire", "client", "hv", "platform"],
  "guest-agents": ["sim", "wire", "client", "hv", "platform"],
};

Deno.test("imports point one way: sim <- wire/store <- engine <- server; hv, toolstack and guests use only the client", async () => {
  const bad: string[] = [];
  for await (const file of sources(join(ROOT, "src"))) {
    const from = layer(file);
    const allowed = ALLOWED[from];
    if (!allowed) continue; // cli/ and other mains may import anything
    for (const spec of importsOf(await Deno.readTextFile(file))) {
      if (!spec.startsWith(".")) continue;
      const to = layer(resolve(dirname(file), spec));
      if (to !== from && !allowed.includes(to)) {
        bad.push(`${relative(ROOT, file)} (${from}) imports ${spec} (${to})`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("the core reads no ambient time or randomness (Clock and Rng are injected)", async () => {
  const bad: string[] = [];
  const ambient = /\b(Date\.now|Math\.random|performance\.now|setTimeout|setInterval)\s*\(/;
  for await (const file of sources(join(ROOT, "src"))) {
    const r = relative(ROOT, file);
    if (/^src\/(cli|xenstore\/server)\//.test(r) || r.endsWith("system_clock.ts")) continue;
    const lines = (await Deno.readTextFile(file)).split("\n");
    lines.forEach((l, i) => {
      if (ambient.test(l) && !/^\s*(\*|\/\/)/.test(l)) bad.push(`${r}:${i + 1}: ${l.trim()}`);
    });
  }
  assert.deepEqual(bad, []);
});
