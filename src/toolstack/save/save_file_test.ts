import assert from "node:assert/strict";
import { fileChunks, fileSink, readSaveImageFile } from "./save_file.ts";
import { SaveStreamWriter } from "./save_stream_writer.ts";
import { SaveImageError } from "./save_image_error.ts";
import { PFINFO } from "./stream_format.ts";

async function withTemp(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempFile({ prefix: "xenlab-save-file-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("an image written through fileSink reads back with readSaveImageFile, pages and all", async () => {
  await withTemp(async (path) => {
    const pages = new Uint8Array(3 * 4096).map((_, i) => i * 7);
    {
      using f = await Deno.open(path, { write: true, truncate: true });
      const w = new SaveStreamWriter(fileSink(f), {
        domainType: "hvm",
        xenVersion: { major: 4, minor: 17 },
        xlConfigJson: '{"c_info":{"name":"f"}}',
        chunkBytes: 4096,
      });
      await w.xlHeader();
      await w.libxlHeader();
      await w.libxcBegin();
      await w.staticDataEnd();
      await w.pageData([7, 8, 9], PFINFO.NOTAB, pages);
      await w.hvmContext(new Uint8Array(16));
      await w.libxcEnd();
      await w.libxlEnd();
    }
    const got = new Uint8Array(3 * 4096);
    const image = await readSaveImageFile(path, {
      format: "xl",
      pageSink: (pfn, _t, p) => p && got.set(p, (pfn - 7) * 4096),
    });
    assert.equal(image.xl?.config?.text, '{"c_info":{"name":"f"}}');
    assert.deepEqual(got, pages);
    assert.equal(image.bytes, (await Deno.stat(path)).size);
  });
});

Deno.test("fileChunks yields the file in pieces of at most chunkBytes", async () => {
  await withTemp(async (path) => {
    await Deno.writeFile(path, new Uint8Array(10_000).fill(1));
    using f = await Deno.open(path);
    const sizes: number[] = [];
    for await (const c of fileChunks(f, 4096)) sizes.push(c.length);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 10_000);
    assert.ok(sizes.every((n) => n <= 4096));
  });
});

Deno.test("readSaveImageFile throws SaveImageError for a file that is not an image", async () => {
  await withTemp(async (path) => {
    await Deno.writeFile(path, new TextEncoder().encode("name = 'not a save file'\n"));
    await assert.rejects(readSaveImageFile(path, { format: "xl" }), SaveImageError);
  });
});
