/**
 * Every scenario runs to OK on a fixed seed, its summary says what it
 * showed, and the same seed gives the same trace byte for byte.
 */
import assert from "node:assert/strict";
import { runScenario } from "../scenarios/run_scenario.ts";
import { scenarioByName, SCENARIOS } from "../scenarios/registry.ts";
import { validator, verifyFile } from "./save/validator.ts";

for (const s of SCENARIOS) {
  Deno.test(`scenario ${s.name}: runs to OK on seed 1`, async () => {
    const r = await runScenario(s, { seed: 1 });
    assert.ok(r.ok, `${r.error}\nreproduce: ${r.reproduce}`);
    assert.ok(r.summary.length > 0);
    assert.ok(r.timeline.length > 0);
  });
}

Deno.test("scenario runner: same seed, same trace; another seed, another trace", async () => {
  const s = scenarioByName("reboot")!;
  const a = await runScenario(s, { seed: 11 }), b = await runScenario(s, { seed: 11 });
  const c = await runScenario(s, { seed: 12 });
  assert.equal(a.trace.join("\n"), b.trace.join("\n"));
  assert.notEqual(a.trace.join("\n"), c.trace.join("\n"));
});

Deno.test("scenario runner: the summaries say what users see", async () => {
  const never = await runScenario(scenarioByName("shutdown-never-ack")!, { seed: 1 });
  assert.match(
    never.summary[0],
    /^after 60 s of virtual time: ERROR_TIMEDOUT: guest didn't acknowledge control request/,
  );
  const hot = await runScenario(scenarioByName("hotplug-failure")!, { seed: 1 });
  assert.match(hot.summary[0], /during register watches: .*Could not find bridge device xenbr9/);
  assert.doesNotMatch(hot.summary[1], /lost/, "nothing of the failed domain is listed");
});

Deno.test("scenario runner: a failing scenario is a result with the command that reproduces it", async () => {
  const r = await runScenario({
    name: "always-fails",
    description: "test",
    run() {
      return Promise.reject(new Error("boom"));
    },
  }, { seed: 42 });
  assert.equal(r.ok, false);
  assert.equal(r.error, "Error: boom");
  assert.equal(r.reproduce, "deno task scenario always-fails --seed 42");
});

Deno.test("scenario save-restore: every kind restores with identical memory; the same seed gives the same trace", async () => {
  const s = scenarioByName("save-restore")!;
  for (const kind of ["pv", "pvhvm", "hvm"]) {
    const r = await runScenario(s, { seed: 5, args: { kind } });
    assert.ok(r.ok, `${kind}: ${r.error}`);
    assert.match(
      r.summary.join("\n"),
      new RegExp(`^${kind}: xl restore → domain 2; memory identical`, "m"),
    );
    if (kind !== "hvm") assert.match(r.summary.join("\n"), /vbd\/51712=4 vif\/0=4/);
  }
  const a = await runScenario(s, { seed: 9, args: { kind: "pvhvm" } });
  const b = await runScenario(s, { seed: 9, args: { kind: "pvhvm" } });
  assert.equal(a.trace.join("\n"), b.trace.join("\n"));
});

Deno.test({
  name: "scenario save-restore --save-file keeps an image verify-stream-v2 accepts",
  ignore: validator === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "xenlab-scenario-file-" });
    try {
      const path = `${dir}/kept.save`;
      const r = await runScenario(scenarioByName("save-restore")!, {
        seed: 1,
        args: { kind: "hvm", "save-file": path },
      });
      assert.ok(r.ok, r.error);
      const v = await verifyFile(path, "xl");
      assert.equal(v.code, 0, v.stderr + v.stdout);
      assert.match(v.stdout, /Libxl Record: Emulator context/, "the device model's state is in it");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("scenario restore-hotplug-failure: refused at the devices step by name, nothing left", async () => {
  const r = await runScenario(scenarioByName("restore-hotplug-failure")!, { seed: 1 });
  assert.ok(r.ok, r.error);
  assert.match(
    r.summary[1],
    /^restore failed during devices: .*Could not find bridge device xenbr0/,
  );
  assert.equal(r.summary[2], "left behind: /local/domain has 0");
});

Deno.test("scenario hvm-s3: S3 through the firmware, method C while asleep, s3resume re-initialises devices", async () => {
  const r = await runScenario(scenarioByName("hvm-s3")!, { seed: 1 });
  assert.ok(r.ok, r.error);
  const text = r.summary.join("\n");
  assert.match(text, /ACPI_S_STATE = 3, domain held/);
  assert.match(text, /suspend it by remote-shutdown/);
  assert.match(text, /1 device reset, ACPI_S_STATE = 0/);
  assert.match(text, /ata: hda: link up, configured \(disk\)/);
  assert.match(text, /a second s3resume is refused: .*not in suspended state/);
  assert.match(text, /asleep again, xl save by remote-shutdown/);
  assert.match(text, /xl restore → domain 2: the firmware woke the OS from S3 \(running\)/);
});

Deno.test("scenario --real: save-restore with guest kernels as their own processes over WebSocket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "xenlab-real-scenario-" });
  try {
    const trace = `${dir}/trace.jsonl`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../src/cli/scenario.ts", import.meta.url).pathname,
        "save-restore",
        "--kind",
        "pvhvm",
        "--real",
        "--quiet",
        "--trace",
        trace,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
    assert.match(text, /real processes/);
    assert.match(text, /pvhvm: xl restore → domain 2; memory identical/);
    assert.match(text, /devices reconnected: vbd\/51712=4 vif\/0=4/);
    const lines = (await Deno.readTextFile(trace)).trim().split("\n").map((l) => JSON.parse(l));
    // The restored kernel ran in its own process: its events came back over its stdout.
    const entry = lines.find((e) => e.src === "guest" && e.dom === 2 && e.ev === "resume_entry");
    assert.ok(entry, "the guest process resumed in domain 2");
    assert.equal(entry.rax, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
