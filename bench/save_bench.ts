/**
 * @module
 * Save-image codec throughput against the limit of the disk path:
 *
 * - **write**: a 256 MiB HVM guest (65,536 pages, 64 PAGE_DATA batches of
 *   MAX_BATCH_SIZE) saved through {@link SaveStreamWriter} into a file —
 *   xl header, libxl and libxc headers, pages straight from guest memory,
 *   HVM context, params, emulator context — against writing the same image
 *   bytes with one `Deno.writeFile` (the baseline: no framing, one syscall
 *   stream). Goal: ≥ 0.8 of the baseline.
 * - **read**: the file read back through {@link SaveImageReader} in 1 MiB
 *   chunks with every page copied into guest memory, against one
 *   `Deno.readFile` of the same file (which copies nothing anywhere).
 * - Each group also has a **raw chunked** copy of the same bytes (4 MiB
 *   writes; 1 MiB reads into a reused buffer, copied to guest memory) with no
 *   framing or parsing: the I/O pattern the codec uses, so codec ÷ raw is the
 *   cost of the format itself. (The one-call baselines pay for faulting in a
 *   fresh 256 MiB buffer and can be slower than either.)
 *
 * Fixtures (guest memory, the image file, batch pfn lists) are built outside
 * the measured functions. Set SAVE_BENCH_MIB for another size (CI uses a
 * small one, e.g. SAVE_BENCH_MIB=16).
 *
 *     deno bench -A bench/save_bench.ts
 */
import { Rng } from "../src/sim/rng.ts";
import {
  buildHvmContext,
  fileChunks,
  fileSink,
  MAX_BATCH_SIZE,
  PFINFO,
  SaveImageReader,
  type SaveSink,
  SaveStreamWriter,
  XC_PAGE_SIZE,
} from "../src/toolstack/save/mod.ts";

const MIB = Number(Deno.env.get("SAVE_BENCH_MIB") ?? "256");
if (!Number.isInteger(MIB) || MIB < 1 || MIB > 4096) {
  throw new Error("SAVE_BENCH_MIB must be 1..4096");
}
const PAGES = MIB * 256;
const RUNS = { n: MIB >= 128 ? 5 : 20, warmup: 1 };

const rng = new Rng(2024);
const memory = new Uint8Array(PAGES * XC_PAGE_SIZE);
for (let at = 0; at < memory.length; at += 16 << 20) {
  memory.set(rng.bytes(Math.min(16 << 20, memory.length - at)), at);
}
const batches: number[][] = [];
for (let p = 0; p < PAGES; p += MAX_BATCH_SIZE) {
  batches.push(Array.from({ length: Math.min(MAX_BATCH_SIZE, PAGES - p) }, (_, i) => p + i));
}
const hvmContext = buildHvmContext({
  cpus: [{ rip: 0xfff0 }, { rip: 0xfff0 }],
  cpuid: 0x906ea,
  gtscKhz: 2_400_000,
});
const qemu = rng.bytes(64 * 1024);
const config = JSON.stringify({
  c_info: { type: "hvm", name: "bench" },
  b_info: { max_memkb: MIB * 1024 },
});

async function save(sink: SaveSink): Promise<void> {
  const w = new SaveStreamWriter(sink, {
    domainType: "hvm",
    xenVersion: { major: 4, minor: 17 },
    xlConfigJson: config,
    chunkBytes: 1 << 20,
  });
  await w.xlHeader();
  await w.libxlHeader();
  await w.libxcBegin();
  await w.staticDataEnd();
  for (const pfns of batches) {
    const from = pfns[0] * XC_PAGE_SIZE;
    await w.pageData(pfns, PFINFO.NOTAB, memory.subarray(from, from + pfns.length * XC_PAGE_SIZE));
  }
  await w.tscInfo({ mode: 0, khz: 2_400_000, nsec: 1n, incarnation: 0 });
  await w.hvmContext(hvmContext);
  await w.hvmParams([{ index: 1, value: PAGES - 2 }]);
  await w.libxcEnd();
  await w.emulatorContext({ emulatorId: 2, index: 0, blob: qemu });
  await w.libxlEnd();
}

const dir = Deno.makeTempDirSync({ prefix: "xenlab-save-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const imagePath = `${dir}/image.save`;
const writePath = `${dir}/write.save`;
{
  using f = Deno.openSync(imagePath, { write: true, create: true, truncate: true });
  await save(fileSink(f));
}
const image = Deno.readFileSync(imagePath);
const restored = new Uint8Array(PAGES * XC_PAGE_SIZE);

Deno.bench({
  name: `write ${MIB} MiB image: SaveStreamWriter → file`,
  group: "write",
  ...RUNS,
  async fn() {
    using f = await Deno.open(writePath, { write: true, create: true, truncate: true });
    await save(fileSink(f));
  },
});

Deno.bench({
  name: `write ${MIB} MiB image: one Deno.writeFile of the same bytes (limit)`,
  group: "write",
  baseline: true,
  ...RUNS,
  async fn() {
    await Deno.writeFile(writePath, image);
  },
});

Deno.bench({
  name: `write ${MIB} MiB image: raw 4 MiB writes of the same bytes`,
  group: "write",
  ...RUNS,
  async fn() {
    using f = await Deno.open(writePath, { write: true, create: true, truncate: true });
    const sink = fileSink(f);
    for (let at = 0; at < image.length; at += 4 << 20) {
      await sink(image.subarray(at, at + (4 << 20)));
    }
  },
});

Deno.bench({
  name: `read ${MIB} MiB image: file → SaveImageReader → guest memory`,
  group: "read",
  ...RUNS,
  async fn() {
    using f = await Deno.open(imagePath);
    const r = new SaveImageReader({
      format: "xl",
      pageSink: (pfn, _type, page) => {
        if (page) restored.set(page, pfn * XC_PAGE_SIZE);
      },
    });
    for await (const chunk of fileChunks(f)) {
      const res = r.push(chunk);
      if (!res.ok) throw res.error;
    }
    const done = r.finish();
    if (!done.ok || done.image.dataPages !== PAGES) {
      throw new Error("bench image did not read back");
    }
  },
});

Deno.bench({
  name: `read ${MIB} MiB image: raw 1 MiB reads copied to memory, no parsing`,
  group: "read",
  ...RUNS,
  async fn() {
    using f = await Deno.open(imagePath);
    let at = 0;
    for await (const chunk of fileChunks(f)) {
      const n = Math.min(chunk.length, restored.length - at);
      restored.set(chunk.subarray(0, n), at);
      at += n;
    }
  },
});

Deno.bench({
  name: `read ${MIB} MiB image: one Deno.readFile of the same file (limit)`,
  group: "read",
  baseline: true,
  ...RUNS,
  async fn() {
    await Deno.readFile(imagePath);
  },
});
