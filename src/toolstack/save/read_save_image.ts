/**
 * @module
 * The edge of the reader: read a whole image from chunks (a file's
 * `readable`, a socket, an array) and either return the {@link SaveImage} or
 * throw the {@link SaveImageError} that says what is wrong with it. This is
 * the one place a bad image becomes an exception.
 */
import { SaveImageError } from "./save_image_error.ts";
import { SaveImageReader, type SaveImageReaderOptions } from "./save_image_reader.ts";
import type { SaveImage } from "./save_record.ts";

export interface ReadSaveImageOptions extends SaveImageReaderOptions {
  /**
   * Accept bytes after the final END (they are left unread). Off by default:
   * in a save file they mean corruption. A migration receiver reads the
   * stream with {@link SaveImageReader} instead and hands the rest of the
   * connection to the xl handshake (§5.4).
   */
  allowTrailing?: boolean;
}

/** Reads a complete image; throws SaveImageError if it is not one. */
export async function readSaveImage(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: ReadSaveImageOptions,
): Promise<SaveImage> {
  const reader = new SaveImageReader(opts);
  let done = false;
  for await (const chunk of source) {
    if (done) {
      if (chunk.length > 0 && !opts.allowTrailing) throw trailing(opts, reader.offset);
      if (opts.allowTrailing) break;
      continue;
    }
    const r = reader.push(chunk);
    if (!r.ok) throw r.error;
    done = r.done;
    if (done && r.consumed < chunk.length && !opts.allowTrailing) {
      throw trailing(opts, reader.offset);
    }
  }
  const f = reader.finish();
  if (!f.ok) throw f.error;
  return f.image;
}

function trailing(opts: ReadSaveImageOptions, offset: number): SaveImageError {
  return new SaveImageError(
    "trailing_data",
    { layer: opts.format === "libxc" ? "libxc stream" : "libxl stream", offset },
    "bytes follow the final END record",
  );
}
