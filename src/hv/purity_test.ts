import assert from "node:assert/strict";

// STYLE.md: time and randomness are injected — no wall clock or Math.random
// in src/hv; and hv depends only on sim (never on xenstore, toolstack, cli).
const FORBIDDEN = /\b(Date\.now|Math\.random|setTimeout|setInterval|performance\.now)\b/;
const IMPORT = /from\s+"([^"]+)"/g;

Deno.test("src/hv reads no wall clock and imports only sim and itself", async () => {
  const dir = new URL(".", import.meta.url);
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".ts") || e.name === "purity_test.ts") continue;
    const text = await Deno.readTextFile(new URL(e.name, dir));
    const code = text.split("\n").filter((l) =>
      !l.trim().startsWith("*") && !l.trim().startsWith("//")
    )
      .join("\n");
    assert.doesNotMatch(code, FORBIDDEN, e.name);
    for (const [, spec] of code.matchAll(IMPORT)) {
      const ok = spec.startsWith("./") || spec.startsWith("../sim/") || spec === "fast-check" ||
        spec.startsWith("node:");
      assert.ok(ok, `${e.name} imports ${spec}`);
    }
  }
});
