/**
 * `deno task xenstored` as a real process: starts, writes its trace as JSON
 * lines, refuses bad flags with usage, stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startOurs } from "../../bench/support/daemons.ts";
import { XsClient } from "../../src/xenstore/client/client.ts";
import { connectUnix } from "../../src/xenstore/client/unix_link.ts";

Deno.test("xenstored process: --trace writes one JSON line per request with op, path, tx and reply", async () => {
  const traceDir = await Deno.makeTempDir();
  const traceFile = join(traceDir, "trace.jsonl");
  const d = await startOurs(["--trace", traceFile]);
  try {
    const c = new XsClient(await connectUnix(d.socket));
    await c.write("/t/a", "v1");
    await assert.rejects(c.read("/t/missing"));
    const tx = await c.transactionStart();
    await c.write("/t/b", "v2", tx);
    await c.transactionEnd(tx, true);
    c.close();
  } finally {
    await d.stop();
  }
  const lines = (await Deno.readTextFile(traceFile)).trim().split("\n").map((l) => JSON.parse(l));
  const brief = lines.map((l) => [l.op, l.path ?? "", l.tx, l.reply]);
  assert.deepEqual(brief, [
    ["WRITE", "/t/a", 0, "OK"],
    ["READ", "/t/missing", 0, "ERROR ENOENT"],
    ["TRANSACTION_START", "", 0, "1"],
    ["WRITE", "/t/b", 1, "OK"],
    ["TRANSACTION_END", "T", 1, "OK"],
  ]);
  for (const l of lines) {
    assert.equal(typeof l.t, "number");
    assert.equal(l.src, "xenstored");
    assert.equal(l.dom, 0);
    assert.equal(typeof l.conn, "number");
  }
  assert.equal(lines[0].value, "v1");
  await Deno.remove(traceDir, { recursive: true });
});

Deno.test("xenstored process: a bad flag exits 2 with the usage text", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../src/cli/xenstored.ts", import.meta.url).pathname,
      "-E",
      "lots",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr);
  assert.match(err, /xenstored: -E needs a non-negative integer/);
  assert.match(err, /Usage: deno task xenstored/);
});
