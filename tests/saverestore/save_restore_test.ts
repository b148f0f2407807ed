/**
 * `xl save` / `xl restore` on a simulated host (lifecycle-and-migration.md
 * §5.2, §5.5, §4.2–§4.4), per guest kind: the image Xen's own validator
 * accepts, memory byte-identical in the new domain, the guest resuming
 * with 0 and its devices reconnecting; `-c` and `-p`; bad images refused
 * with nothing left behind; atomic files.
 */
import assert from "node:assert/strict";
import { Host } from "../../src/host/host.ts";
import { parseXlCfg } from "../../src/toolstack/config/xl_cfg.ts";
import { makeDiskImage } from "../../src/toolstack/boot/tar_image.ts";
import { Rng } from "../../src/sim/rng.ts";
import { decodeDominf } from "../../src/hv/domain_info.ts";
import { decodeStartInfo } from "../../src/hv/start_info.ts";
import { PAGE_SIZE } from "../../src/hv/xen_abi.ts";
import { MemoryTrace } from "../../src/sim/trace.ts";
import { fileChunksSync } from "../../src/toolstack/save/save_file.ts";
import { writeFileAtomically } from "../../src/toolstack/saverestore/atomic_file.ts";
import { RestoreError } from "../../src/toolstack/saverestore/restore_domain.ts";
import { SuspendError } from "../../src/toolstack/suspend/suspend_domain.ts";
import { SaveImageError } from "../../src/toolstack/save/save_image_error.ts";
import { validator, verifyFile } from "../save/validator.ts";

const files = () =>
  new Map([
    [
      "/img/pv.img",
      makeDiskImage({
        "boot/grub/menu.lst": "default 0\ntitle Linux\n kernel /boot/vmlinuz root=/dev/xvda1\n",
        "boot/vmlinuz": new Uint8Array(10_000).fill(0x90),
      }),
    ],
    ["/img/hvm.img", new Uint8Array(4096).fill(1)],
  ]);

const CONFIGS = {
  pv:
    `name = "pv"\nmemory = 16\nbootloader = "pygrub"\ndisk = [ "/img/pv.img,raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`,
  pvhvm:
    `name = "pvhvm"\ntype = "hvm"\nmemory = 16\ndisk = [ "/img/hvm.img,raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`,
  hvm:
    `name = "hvm"\ntype = "hvm"\nmemory = 16\ndisk = [ "/img/hvm.img,raw,hda,w" ]\nxenlab_guest = "pv_drivers=0"\n`,
  never:
    `name = "stubborn"\nmemory = 16\nbootloader = "pygrub"\ndisk = [ "/img/pv.img,raw,xvda,w" ]\nxenlab_guest = "profile=never-ack"\n`,
};
type Kind = "pv" | "pvhvm" | "hvm";

async function boot(text: string) {
  let trace!: MemoryTrace;
  const h = await Host.start({
    seed: 3,
    files: files(),
    trace: (c) => (trace = new MemoryTrace(c)),
  });
  const d = await h.run(h.toolstack.create(parseXlCfg(text, new Rng(1)).config));
  await h.run(h.guests.get(d.domid)!.ready);
  return { h, domid: d.domid, trace };
}

/** No such domain, or dying. */
function gone(h: Host, domid: number): boolean {
  const info = h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid }).info;
  return info === undefined || decodeDominf(info.flags).dying;
}

function flags(h: Host, domid: number) {
  return decodeDominf(h.hv.hypercall(0, { hc: "domctl", op: "getdomaininfo", domid }).info!.flags);
}

/** Every populated page of `domid`, read through a dom0 foreign mapping. */
function ram(h: Host, domid: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const max = h.hv.hypercall(0, { hc: "memory_op", op: "maximum_gpfn", domid }).ret;
  const pfns = Array.from({ length: max + 1 }, (_, i) => i);
  const r = h.hv.foreignMap(0, domid, pfns, false);
  const m = r.mapping!;
  for (let i = 0; i < pfns.length; i++) {
    if (m.err[i] < 0) continue;
    const page = new Uint8Array(PAGE_SIZE);
    m.read(i, 0, page);
    out.set(i, page);
  }
  m.unmap();
  return out;
}

/** The xenstore tree under the roots a domain has nodes in, as "path=value" lines. */
async function tree(h: Host): Promise<string[]> {
  const xs = h.dom0Client();
  const out: string[] = [];
  const walk = async (path: string): Promise<void> => {
    out.push(`${path}=${await xs.readString(path).catch(() => "?")}`);
    for (const c of await xs.directory(path).catch(() => [] as string[])) {
      await walk(`${path === "/" ? "" : path}/${c}`);
    }
  };
  for (const root of ["/local/domain", "/vm", "/libxl"]) await h.run(walk(root));
  return out;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "xenlab-saverestore-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function restoreFile(h: Host, path: string, opts: { paused?: boolean } = {}) {
  using f = await Deno.open(path);
  return await h.run(h.toolstack.restore(fileChunksSync(f), opts));
}

for (const kind of ["pv", "pvhvm", "hvm"] as Kind[]) {
  Deno.test(`save/restore ${kind}: image accepted by verify-stream-v2, memory identical, guest resumes with 0, devices reconnect`, async () => {
    const { h, domid, trace } = await boot(CONFIGS[kind]);
    await withTempDir(async (dir) => {
      const path = `${dir}/${kind}.save`;
      let before: Map<number, Uint8Array> | undefined;
      const xs = h.dom0Client();
      const uuid = h.toolstack.domains().find((x) => x.domid === domid)!.uuid;
      const oldRing = kind === "hvm" ? "" : await h.run(
        xs.readString(
          `/local/domain/${domid}/device/vbd/${kind === "pv" ? 51712 : 51712}/ring-ref`,
        ),
      );
      const saved = await h.run(writeFileAtomically(path, (sink) =>
        h.toolstack.save(domid, sink, {
          // Right after the suspend callback, before any page goes out.
          progress: (p) => {
            if (p.step === "memory" && p.sent === 0) before = ram(h, domid);
          },
        }), { sync: true }));
      assert.ok(before !== undefined);
      assert.equal(saved.domainType, kind === "pv" ? "pv" : "hvm");
      assert.equal(saved.dataPages, before.size, "every populated page is in the image");
      assert.equal((await Deno.stat(path)).size, saved.bytes);
      assert.equal(gone(h, domid), true, "xl save destroys the saved domain");
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [`${kind}.save`]);

      if (validator !== undefined) {
        const v = await verifyFile(path, "xl");
        assert.equal(v.code, 0, `verify-stream-v2 refused it:\n${v.stderr}\n${v.stdout}`);
        assert.match(v.stdout, kind === "pv" ? /x86 PV from Xen 4\.17/ : /x86 HVM from Xen 4\.17/);
      }

      const r = await restoreFile(h, path, { paused: true });
      assert.notEqual(r.domid, domid);
      assert.equal(r.uuid, uuid, "the restored domain keeps its UUID");
      assert.equal(flags(h, r.domid).paused, true, "restored paused (-p) until unpaused");
      const after = ram(h, r.domid);
      assert.deepEqual([...after.keys()], [...before.keys()], "the same pfns are populated");
      const startInfoPfn = r.restored!.startInfoPfn;
      for (const [pfn, page] of before) {
        if (pfn === startInfoPfn) continue; // rewritten by the restorer (§4.2)
        assert.deepEqual(after.get(pfn), page, `pfn ${pfn} differs`);
      }
      if (kind === "pv") {
        const si = decodeStartInfo(after.get(startInfoPfn!)!);
        assert.equal(si.storeEvtchn, r.restored!.storePort);
        assert.equal(si.consoleEvtchn, r.restored!.consolePort);
        assert.equal(si.storeMfn, r.restored!.storeFrame);
        assert.equal(si.flags, 0);
      }
      await h.run(h.toolstack.unpause(r.domid));
      const agent = h.guests.get(r.domid)!;
      await h.run(agent.ready);
      assert.equal(agent.state, "running");
      const entry = trace.lines.find((l) => l.includes(`"dom":${r.domid},"ev":"resume_entry"`));
      assert.ok(entry, "the new domain's kernel resumed");
      assert.match(entry, /"rax":0/);
      assert.equal(await h.run(xs.readString(`/local/domain/${r.domid}/name`)), kind);
      if (kind !== "hvm") {
        const fe = `/local/domain/${r.domid}/device/vbd/51712`;
        assert.equal(await h.run(xs.readString(`${fe}/state`)), "4");
        const be = await h.run(xs.readString(`${fe}/backend`));
        assert.equal(await h.run(xs.readString(`${be}/state`)), "4");
        assert.notEqual(await h.run(xs.readString(`${fe}/ring-ref`)), "", "a ring was granted");
        assert.ok(oldRing !== "");
        const vif = `/local/domain/${r.domid}/device/vif/0/state`;
        assert.equal(await h.run(xs.readString(vif)), "4");
      }
      // It still answers the toolstack.
      await h.run(h.toolstack.shutdown(r.domid, { wait: true, force: kind === "hvm" }));
      await h.advance(1e9);
      assert.equal(gone(h, r.domid), true);
    });
    await h.stop();
  });
}

Deno.test("save -c: the guest sees a cancelled suspend and runs on; the checkpoint restores after it is gone", async () => {
  const { h, domid, trace } = await boot(CONFIGS.pv);
  await withTempDir(async (dir) => {
    const path = `${dir}/cp.save`;
    await h.run(
      writeFileAtomically(path, (s) => h.toolstack.save(domid, s, { checkpoint: true }), {
        sync: true,
      }),
    );
    await h.advance(1e9);
    assert.equal(gone(h, domid), false);
    assert.equal(flags(h, domid).shutdown, false, "running again");
    assert.ok(trace.lines.some((l) => l.includes('"step":"returned","rax":1,"cancelled":true')));
    await assert.rejects(restoreFile(h, path), /already exists/, "the name is still in use");
    await h.run(h.toolstack.destroy(domid));
    await h.advance(1e9);
    const r = await restoreFile(h, path);
    await h.run(h.guests.get(r.domid)!.ready);
    assert.equal(h.guests.get(r.domid)!.state, "running");
  });
  await h.stop();
});

Deno.test("save -p: the domain is left paused after a cancelled suspend", async () => {
  const { h, domid } = await boot(CONFIGS.pvhvm);
  await withTempDir(async (dir) => {
    await h.run(
      writeFileAtomically(`${dir}/p.save`, (s) => h.toolstack.save(domid, s, { paused: true }), {
        sync: true,
      }),
    );
    const f = flags(h, domid);
    assert.equal(f.paused, true);
    assert.equal(f.shutdown, false);
    await h.run(h.toolstack.unpause(domid));
    await h.advance(1e9);
    assert.equal(flags(h, domid).paused, false);
  });
  await h.stop();
});

Deno.test("a save that fails leaves no file, the old file intact, and the guest running", async () => {
  const { h, domid } = await boot(CONFIGS.never);
  await withTempDir(async (dir) => {
    const path = `${dir}/keep.save`;
    await Deno.writeTextFile(path, "an older image");
    await assert.rejects(
      h.run(writeFileAtomically(path, (s) => h.toolstack.save(domid, s), { sync: true })),
      (e) => e instanceof SuspendError && e.step === "ack",
    );
    assert.equal(await Deno.readTextFile(path), "an older image");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["keep.save"]);
    assert.equal(gone(h, domid), false);
    assert.equal(flags(h, domid).shutdown, false);
  });
  await h.stop();
});

Deno.test("restore refuses truncated and corrupted images, leaving no domain and no xenstore nodes", async () => {
  const { h, domid } = await boot(CONFIGS.pv);
  await withTempDir(async (dir) => {
    const path = `${dir}/good.save`;
    await h.run(
      writeFileAtomically(path, (s) => h.toolstack.save(domid, s), { sync: true }),
    );
    await h.advance(1e9);
    const good = await Deno.readFile(path);
    const domsBefore = h.hv.domids().filter((d) => !gone(h, d));
    const treeBefore = await tree(h);
    const cases: [string, Uint8Array, RegExp][] = [
      ["truncated in page data", good.subarray(0, Math.floor(good.length / 2)), /truncated/],
      ["truncated before the end", good.subarray(0, good.length - 8), /truncated|END/],
      [
        "a corrupt record after the pages (the domain exists by then)",
        (() => {
          const b = good.slice();
          b[b.length - 8] = 0x77; // the libxl END record's type
          return b;
        })(),
        /during state|during memory.*libxl stream/,
      ],
      [
        "a corrupt record header",
        (() => {
          const b = good.slice();
          // The libxc image header's "XENF" (4), 12 more bytes of it and the
          // 16-byte domain header: the first libxc record's type (u32 LE).
          const at = b.findIndex((_, i) =>
            b[i] === 0x58 && b[i + 1] === 0x45 && b[i + 2] === 0x4e && b[i + 3] === 0x46
          );
          assert.ok(at > 0);
          b[at + 4 + 12 + 16] = 0x77;
          return b;
        })(),
        /libxc stream/,
      ],
      [
        "a config that is not JSON",
        (() => {
          const b = good.slice();
          b[52] = 0x7b; // inside the config text
          b[53] = 0x7b;
          return b;
        })(),
        /config|JSON/,
      ],
      ["not an image at all", new TextEncoder().encode("name = 'x'\n"), /xl header|magic/],
    ];
    for (const [what, bytes, re] of cases) {
      const p = `${dir}/bad.save`;
      await Deno.writeFile(p, bytes);
      const e = await restoreFile(h, p).then(() => undefined, (e) => e);
      assert.ok(e instanceof RestoreError, `${what}: ${e}`);
      if (Deno.env.get("SHOW")) console.log(what, "→", e.message);
      assert.match(e.message, re, `${what}: ${e.message}`);
      if (what.startsWith("truncated")) assert.ok(e.cause instanceof SaveImageError, what);
      await h.advance(1e9);
      assert.deepEqual(h.hv.domids().filter((d) => !gone(h, d)), domsBefore, `${what}: no domain`);
      assert.deepEqual(await tree(h), treeBefore, `${what}: no xenstore nodes left`);
    }
    // The good image still restores after all that.
    const r = await restoreFile(h, path);
    await h.run(h.guests.get(r.domid)!.ready);
  });
  await h.stop();
});
