/**
 * @module
 * Xen's save image / migration stream format as a pure, streaming codec
 * (lifecycle-and-migration.md §5.1–§5.5, §6.1): the xl header, the libxl
 * stream v2 and the libxc stream v3, byte for byte as `xl save` writes them
 * and as Xen's own `verify-stream-v2` accepts them.
 *
 * * {@link SaveStreamWriter} writes an image in the saver's record order,
 *   in chunks, to any sink.
 * * {@link SaveImageReader} reads one incrementally, handing pages to a
 *   sink and refusing bad bytes with a {@link SaveImageError};
 *   {@link readSaveImage} / {@link readSaveImageFile} are its throwing edge.
 * * `vcpu_guest_context` and HVM context blobs in Xen's layouts.
 */
export * from "./save_image_error.ts";
export * from "./stream_format.ts";
export * from "./xl_header.ts";
export * from "./stream_headers.ts";
export * from "./record_framing.ts";
export * from "./page_data.ts";
export * from "./libxc_records.ts";
export * from "./libxl_records.ts";
export * from "./save_record.ts";
export * from "./save_stream_writer.ts";
export * from "./save_image_reader.ts";
export * from "./read_save_image.ts";
export * from "./save_file.ts";
export * from "./vcpu_guest_context.ts";
export * from "./hvm_save_context.ts";
export { EMULATORS_MAX } from "./libxl_rules.ts";
