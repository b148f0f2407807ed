/**
 * @module
 * Bodies of the libxl records (libxl-migration-stream.pandoc, §5.1):
 *
 * * EMULATOR_XENSTORE_DATA and EMULATOR_CONTEXT start with u32 emulator_id
 *   (0 unknown, 1 qemu-traditional, 2 qemu-upstream) and u32 index. The
 *   xenstore data is packed NUL-terminated key, value, key, value… relative
 *   to `/local/domain/<dm_domid>/device-model/<domid>/`; the context is the
 *   emulator's opaque save blob (QEMU's save file).
 * * CHECKPOINT_STATE (COLO) is u32 control_id + u32 padding.
 * * END, LIBXC_CONTEXT and CHECKPOINT_END are empty.
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import { CHECKPOINT_SVM_RESUMED, EMULATOR_QEMU_UPSTREAM } from "./stream_format.ts";

export const EMULATOR_HEADER_BYTES = 8;
export const CHECKPOINT_STATE_BYTES = 8;

/** An emulator record's sub-header. */
export interface EmulatorTag {
  emulatorId: number;
  index: number;
}

export interface EmulatorXenstoreData extends EmulatorTag {
  /** Key/value pairs in stream order. */
  pairs: [string, string][];
}

export interface EmulatorContext extends EmulatorTag {
  blob: Uint8Array;
}

function withTag(tag: EmulatorTag, rest: Uint8Array): Uint8Array {
  const out = new Uint8Array(EMULATOR_HEADER_BYTES + rest.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, tag.emulatorId, true);
  dv.setUint32(4, tag.index, true);
  out.set(rest, EMULATOR_HEADER_BYTES);
  return out;
}

function decodeTag(b: Uint8Array): Decoded<EmulatorTag> {
  if (b.length < EMULATOR_HEADER_BYTES) {
    return refused(
      "bad_length",
      `length ${b.length}, shorter than the ${EMULATOR_HEADER_BYTES}-byte emulator header`,
    );
  }
  const dv = new DataView(b.buffer, b.byteOffset, EMULATOR_HEADER_BYTES);
  const emulatorId = dv.getUint32(0, true);
  if (emulatorId > EMULATOR_QEMU_UPSTREAM) {
    return refused("bad_field", `unrecognised emulator id 0x${emulatorId.toString(16)}`);
  }
  return decoded({ emulatorId, index: dv.getUint32(4, true) });
}

export function encodeEmulatorXenstoreData(d: EmulatorXenstoreData): Uint8Array {
  const enc = new TextEncoder();
  const parts = d.pairs.flatMap(([k, v]) => [enc.encode(k), enc.encode(v)]);
  const data = new Uint8Array(parts.reduce((n, p) => n + p.length + 1, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length + 1; // NUL
  }
  return withTag(d, data);
}

export function decodeEmulatorXenstoreData(b: Uint8Array): Decoded<EmulatorXenstoreData> {
  const tag = decodeTag(b);
  if (!tag.ok) return tag;
  const data = b.subarray(EMULATOR_HEADER_BYTES);
  const pairs: [string, string][] = [];
  if (data.length > 0) {
    if (data[data.length - 1] !== 0) {
      return refused("bad_field", "xenstore data is not NUL terminated");
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(0, data.length - 1));
    } catch {
      return refused("bad_field", "xenstore data is not valid UTF-8");
    }
    const strings = text.split("\0");
    if (strings.length % 2 !== 0) {
      return refused("bad_field", `expected an even number of strings, got ${strings.length}`);
    }
    for (let i = 0; i < strings.length; i += 2) pairs.push([strings[i], strings[i + 1]]);
  }
  return decoded({ ...tag.value, pairs });
}

export function encodeEmulatorContext(c: EmulatorContext): Uint8Array {
  return withTag(c, c.blob);
}

export function decodeEmulatorContext(b: Uint8Array): Decoded<EmulatorContext> {
  const tag = decodeTag(b);
  if (!tag.ok) return tag;
  return decoded({ ...tag.value, blob: b.slice(EMULATOR_HEADER_BYTES) });
}

export function encodeCheckpointState(controlId: number): Uint8Array {
  const out = new Uint8Array(CHECKPOINT_STATE_BYTES);
  new DataView(out.buffer).setUint32(0, controlId, true);
  return out;
}

export function decodeCheckpointState(b: Uint8Array): Decoded<number> {
  if (b.length < 4) return refused("bad_length", `length ${b.length}, expected at least 4`);
  const id = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
  if (id > CHECKPOINT_SVM_RESUMED) return refused("bad_field", `unknown control_id ${id}`);
  return decoded(id);
}
