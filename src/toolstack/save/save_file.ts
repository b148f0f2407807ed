/**
 * @module
 * Files at the edge of the save codec: a {@link SaveSink} that writes a
 * stream to an open file, and a chunked reader of an image file for
 * {@link readSaveImage} — so `xl save` / `xl restore` style workflows move
 * a 256 MiB guest through a fixed-size buffer.
 */
import type { SaveSink } from "./save_stream_writer.ts";
import { readSaveImage, type ReadSaveImageOptions } from "./read_save_image.ts";
import type { SaveImage } from "./save_record.ts";

/** Default read size for image files (1 MiB). */
export const SAVE_FILE_READ_BYTES = 1 << 20;

/** A sink that writes every chunk fully to `file`. */
export function fileSink(file: Deno.FsFile): SaveSink {
  return async (chunk) => {
    let at = 0;
    while (at < chunk.length) at += await file.write(chunk.subarray(at));
  };
}

/**
 * A sink that writes with blocking calls: for a host on virtual time, where
 * waiting on real I/O would let the simulation's event queue run dry (and
 * would make a run depend on disk timing).
 */
export function fileSinkSync(file: Deno.FsFile): SaveSink {
  return (chunk) => {
    let at = 0;
    while (at < chunk.length) at += file.writeSync(chunk.subarray(at));
  };
}

/** {@link fileChunks} with blocking reads (see {@link fileSinkSync}). */
export async function* fileChunksSync(
  file: Deno.FsFile,
  chunkBytes = SAVE_FILE_READ_BYTES,
): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(chunkBytes);
  for (;;) {
    const n = file.readSync(buf);
    if (n === null) return;
    yield buf.subarray(0, n);
  }
}

/**
 * The file's bytes in chunks of up to `chunkBytes`. The buffer is reused,
 * which suits {@link SaveImageReader} (it keeps no view of a chunk).
 */
export async function* fileChunks(
  file: Deno.FsFile,
  chunkBytes = SAVE_FILE_READ_BYTES,
): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(chunkBytes);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) return;
    yield buf.subarray(0, n);
  }
}

/** Reads an image file; throws SaveImageError if it is not a complete image. */
export async function readSaveImageFile(
  path: string,
  opts: ReadSaveImageOptions,
): Promise<SaveImage> {
  using file = await Deno.open(path, { read: true });
  return await readSaveImage(fileChunks(file), opts);
}
