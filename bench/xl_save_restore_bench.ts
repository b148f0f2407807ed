/**
 * `xl save` and `xl restore` of a 256 MiB guest end to end on a simulated
 * host — the suspend callback, every page through dom0 foreign mappings,
 * the stream, the atomic file; and back: a new domain, populate, write,
 * stream_complete, devices — against the limit: writing the same number
 * of bytes to a file in the same 4 MiB pieces (and fsync), and reading
 * them back in 1 MiB pieces. MiB/s = size ÷ time per iteration; the group
 * summary gives xl ÷ limit directly.
 *
 *     deno bench -A bench/xl_save_restore_bench.ts
 *
 * The guest's RAM is filled with random bytes first (an idle guest's zero
 * pages would flatter nothing, since pages are copied regardless). Set
 * XL_BENCH_MIB for another size (at least 16).
 */
import { Host } from "../src/host/host.ts";
import { parseXlCfg } from "../src/toolstack/config/xl_cfg.ts";
import { Rng } from "../src/sim/rng.ts";
import { fileChunksSync } from "../src/toolstack/save/save_file.ts";
import { writeFileAtomically } from "../src/toolstack/saverestore/atomic_file.ts";
import { DEBIAN_IMAGE, standardFiles } from "../scenarios/images.ts";

const MIB = Number(Deno.env.get("XL_BENCH_MIB") ?? "256");
if (!Number.isInteger(MIB) || MIB < 16 || MIB > 4096) throw new Error("XL_BENCH_MIB: 16..4096");
const CONFIG =
  `name = "big"\nmemory = ${MIB}\nbootloader = "pygrub"\ndisk = [ "${DEBIAN_IMAGE},raw,xvda,w" ]\nvif = [ "bridge=xenbr0" ]\n`;
const dir = Deno.makeTempDirSync({ prefix: "xenlab-xl-bench-" });
const path = `${dir}/big.save`;
const rawPath = `${dir}/raw.bin`;

const h = await Host.start({ seed: 1, files: standardFiles() });
const rng = new Rng(7);
const noise = rng.bytes(16 << 20);

/** Boots the guest and fills the top 7/8 of its RAM with random bytes. */
async function bootFilled(): Promise<number> {
  const d = await h.run(h.toolstack.create(parseXlCfg(CONFIG, new Rng(1)).config));
  await h.run(h.guests.get(d.domid)!.ready);
  const pages = MIB * 256;
  const from = pages / 8, to = pages - 64; // leave the kernel and the rings alone
  const map = h.hv.foreignMap(
    0,
    d.domid,
    Array.from({ length: to - from }, (_, i) => from + i),
    true,
  )
    .mapping!;
  const fill = new Uint8Array((to - from) * 4096);
  for (let at = 0; at < fill.length; at += noise.length) {
    fill.set(noise.subarray(0, Math.min(noise.length, fill.length - at)), at);
  }
  map.copyIn(fill);
  map.unmap();
  return d.domid;
}

const saveOnce = async (domid: number) =>
  await h.run(
    writeFileAtomically(path, (sink) => h.toolstack.save(domid, sink), { sync: true }),
  );

// One image for the restore runs.
const first = await saveOnce(await bootFilled());
const bytes = first.bytes;
console.log(
  `image: ${(bytes / 2 ** 20).toFixed(1)} MiB for a ${MIB} MiB guest (${first.dataPages} pages)`,
);
const payload = rng.bytes(4 << 20);

Deno.bench({ name: `xl save ${MIB} MiB guest`, group: "save", n: 5, warmup: 1 }, async (b) => {
  const domid = await bootFilled();
  b.start();
  await saveOnce(domid);
  b.end();
});

Deno.bench({
  name: `limit: write ${MIB} MiB to a file (4 MiB writes, fsync)`,
  group: "save",
  baseline: true,
  n: 5,
  warmup: 1,
}, () => {
  using f = Deno.openSync(rawPath, { write: true, create: true, truncate: true });
  for (let at = 0; at < bytes; at += payload.length) {
    const n = Math.min(payload.length, bytes - at);
    let w = 0;
    while (w < n) w += f.writeSync(payload.subarray(w, n));
  }
  f.syncSync();
});

Deno.bench(
  { name: `xl restore ${MIB} MiB guest`, group: "restore", n: 5, warmup: 1 },
  async (b) => {
    b.start();
    using f = Deno.openSync(path);
    const r = await h.run(h.toolstack.restore(fileChunksSync(f), { paused: true }));
    b.end();
    await h.run(h.toolstack.destroy(r.domid));
    await h.advance(1e9);
  },
);

Deno.bench({
  name: `limit: read ${MIB} MiB from a file (1 MiB reads)`,
  group: "restore",
  baseline: true,
  n: 5,
  warmup: 1,
}, () => {
  using f = Deno.openSync(path);
  const buf = new Uint8Array(1 << 20);
  while (f.readSync(buf) !== null) { /* read it all */ }
});

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* gone */ }
});
