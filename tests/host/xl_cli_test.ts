/**
 * `deno task host` and `deno task xl` as real processes: create with a
 * progress bar, list, a refused request, shutdown -w, and a bad config
 * refused with its line; real xenstore-utils (when installed) see the tree.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeDiskImage } from "../../src/toolstack/boot/tar_image.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function xl(rundir: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "src/cli/xl.ts"), "--rundir", rundir, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("xl against a host process: create, list, refusal, shutdown -w, bad config", async () => {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "xlc" });
  const rundir = join(dir, "run");
  await Deno.writeFile(
    join(dir, "disk.img"),
    makeDiskImage({
      "boot/grub/menu.lst":
        "default 0\ntitle Linux\n kernel /boot/vmlinuz root=/dev/xvda1\n initrd /boot/initrd\n",
      "boot/vmlinuz": new Uint8Array(12_000).fill(0x90),
      "boot/initrd": new Uint8Array(3000).fill(1),
    }),
  );
  await Deno.writeTextFile(
    join(dir, "web.cfg"),
    `name = "web"\nmemory = 16\nbootloader = "pygrub"\n` +
      `disk = [ "${join(dir, "disk.img")},raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`,
  );
  await Deno.writeTextFile(join(dir, "bad.cfg"), `name = "bad"\nmemory = "lots"\n`);
  const host = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "src/cli/host.ts"), "--rundir", rundir],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = host.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /xl on .*xl\.sock/);
    reader.releaseLock();
    host.stdout.pipeTo(new WritableStream()).catch(() => {});

    const created = await xl(rundir, "create", join(dir, "web.cfg"));
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^Domain 1 "web" created$/m);
    assert.match(created.stderr, /\] 100% refresh shutdown: domain 1 "web" running/);

    const list = await xl(rundir, "list");
    assert.match(list.stdout, /^web\s+1\s+16\s+1\s+/m);

    if (
      await new Deno.Command("sh", { args: ["-c", "command -v xenstore-read"] }).output().then((
        o,
      ) => o.success)
    ) {
      const r = await new Deno.Command("xenstore-read", {
        args: ["/local/domain/1/name"],
        env: { XENSTORED_PATH: join(rundir, "socket") },
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(r.stdout), "web\n");
    }

    assert.equal((await xl(rundir, "pause", "web")).code, 0);
    const again = await xl(rundir, "pause", "web");
    assert.equal(again.code, 1);
    assert.match(again.stderr, /cannot pause: domain "web" is Paused; allowed: unpause/);
    assert.equal((await xl(rundir, "unpause", "web")).code, 0);

    assert.equal((await xl(rundir, "trigger", "web", "nmi")).code, 0);
    const wake = await xl(rundir, "trigger", "web", "s3resume");
    assert.equal(wake.code, 1);
    assert.match(wake.stderr, /has no device model to wake/);
    const bogus = await xl(rundir, "trigger", "web", "tickle");
    assert.equal(bogus.code, 1);
    assert.match(bogus.stderr, /unknown trigger "tickle"/);

    // save to a directory that does not exist: refused, the guest runs on.
    const nowhere = await xl(rundir, "save", "web", join(dir, "missing", "web.save"));
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, /No such file or directory|not found/i);
    assert.match(
      (await xl(rundir, "list")).stdout,
      /^web\s+1\s+16\s+1\s+-b----|^web\s+1\s+16\s+1\s+r-----/m,
    );

    const save = await xl(rundir, "save", "web", join(dir, "web.save"));
    assert.equal(save.code, 0, save.stderr);
    assert.match(save.stderr, /^Saving to .*web\.save new xl format \(info 0x3\/0x0\/\d+\)$/m);
    assert.match(save.stderr, /Saving memory: 4096\/4096 100%/);
    assert.doesNotMatch((await xl(rundir, "list")).stdout, /^web /m, "saved and destroyed");
    const restore = await xl(rundir, "restore", join(dir, "web.save"));
    assert.equal(restore.code, 0, restore.stderr);
    assert.match(
      restore.stderr,
      /^Loading new save file .*web\.save \(new xl fmt info 0x3\/0x0\/\d+\)$/m,
    );
    assert.match(restore.stdout, /^Domain 2 "web" restored$/m);
    assert.match((await xl(rundir, "list")).stdout, /^web\s+2\s+16\s+1\s+/m);

    const down = await xl(rundir, "shutdown", "-w", "web");
    assert.equal(down.code, 0, down.stderr);
    for (let i = 0; i < 50 && (await xl(rundir, "list")).stdout.includes("web"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.doesNotMatch((await xl(rundir, "list")).stdout, /web/, "on_poweroff=destroy removed it");

    const bad = await xl(rundir, "create", join(dir, "bad.cfg"));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 2: memory: expected an integer \(MiB\), got "lots"/);
    assert.equal((await xl(rundir, "frob")).code, 2);
  } finally {
    host.kill("SIGTERM");
    await host.status;
    await Deno.remove(dir, { recursive: true });
  }
});
