/**
 * @module
 * What a libxl stream may contain, and where (`libxl_stream_read.c`
 * `process_record`, libxl-migration-stream.pandoc):
 *
 * * LIBXC_CONTEXT once; libxc then owns the stream until its END — or, in a
 *   checkpointed stream, until each CHECKPOINT, after which libxl records
 *   ([EMULATOR_XENSTORE_DATA], EMULATOR_CONTEXT, CHECKPOINT_STATE) run up
 *   to CHECKPOINT_END and libxc resumes (§6.1 step 2d).
 * * END only after the libxc stream, never inside a checkpoint.
 * * END, LIBXC_CONTEXT and CHECKPOINT_END are empty.
 * * At most {@link EMULATORS_MAX} distinct (emulator_id, index) pairs.
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import { LibxlRec } from "./stream_format.ts";
import { isOptionalRecord } from "./record_framing.ts";
import {
  decodeCheckpointState,
  decodeEmulatorContext,
  decodeEmulatorXenstoreData,
  type EmulatorTag,
} from "./libxl_records.ts";
import type { LibxlRecord } from "./save_record.ts";

/** xenlab's bound on distinct emulators (emulator_id, index) in one stream. */
export const EMULATORS_MAX = 8;

export interface LibxlStreamState {
  libxcSeen: boolean;
  /** Between a libxc CHECKPOINT and the libxl CHECKPOINT_END. */
  interlude: boolean;
  emulators: Set<string>;
}

export function newLibxlStreamState(): LibxlStreamState {
  return { libxcSeen: false, interlude: false, emulators: new Set() };
}

const EMPTY = new Set<number>([LibxlRec.END, LibxlRec.LIBXC_CONTEXT, LibxlRec.CHECKPOINT_END]);

/** Decides, from its header alone, whether a libxl record may appear here. */
export function planLibxlRecord(
  s: LibxlStreamState,
  type: number,
  length: number,
): Decoded<"buffer" | "skip"> {
  if (type > LibxlRec.CHECKPOINT_STATE) {
    if (isOptionalRecord(type)) return decoded("skip");
    return refused("unknown_record", `unknown mandatory record type 0x${type.toString(16)}`);
  }
  if (EMPTY.has(type) && length !== 0) return refused("bad_length", `length ${length}, expected 0`);
  switch (type) {
    case LibxlRec.END:
      if (s.interlude) {
        return refused("bad_order", "END inside a checkpoint (expected CHECKPOINT_END)");
      }
      if (!s.libxcSeen) {
        return refused("bad_order", "END before LIBXC_CONTEXT: the stream holds no domain");
      }
      break;
    case LibxlRec.LIBXC_CONTEXT:
      if (s.libxcSeen) return refused("bad_order", "a second LIBXC_CONTEXT");
      break;
    case LibxlRec.CHECKPOINT_END:
      if (!s.interlude) {
        return refused("bad_order", "CHECKPOINT_END without a libxc CHECKPOINT before it");
      }
      break;
  }
  return decoded("buffer");
}

function countEmulator(s: LibxlStreamState, tag: EmulatorTag): Decoded<void> {
  const key = `${tag.emulatorId}:${tag.index}`;
  if (!s.emulators.has(key) && s.emulators.size >= EMULATORS_MAX) {
    return refused("limit", `more than EMULATORS_MAX ${EMULATORS_MAX} emulators`);
  }
  s.emulators.add(key);
  return decoded(undefined);
}

/** Decodes a buffered libxl record body and updates the state. */
export function decodeLibxlRecord(
  s: LibxlStreamState,
  type: number,
  body: Uint8Array,
  offset: number,
): Decoded<LibxlRecord> {
  const at = { layer: "libxl" as const, offset };
  switch (type) {
    case LibxlRec.END:
      return decoded({ ...at, kind: "END" });
    case LibxlRec.LIBXC_CONTEXT:
      s.libxcSeen = true;
      return decoded({ ...at, kind: "LIBXC_CONTEXT" });
    case LibxlRec.CHECKPOINT_END:
      s.interlude = false;
      return decoded({ ...at, kind: "CHECKPOINT_END" });
    case LibxlRec.EMULATOR_XENSTORE_DATA: {
      const r = decodeEmulatorXenstoreData(body);
      if (!r.ok) return r;
      const c = countEmulator(s, r.value);
      return c.ok ? decoded({ ...at, kind: "EMULATOR_XENSTORE_DATA", data: r.value }) : c;
    }
    case LibxlRec.EMULATOR_CONTEXT: {
      const r = decodeEmulatorContext(body);
      if (!r.ok) return r;
      const c = countEmulator(s, r.value);
      return c.ok ? decoded({ ...at, kind: "EMULATOR_CONTEXT", context: r.value }) : c;
    }
    case LibxlRec.CHECKPOINT_STATE: {
      const r = decodeCheckpointState(body);
      return r.ok ? decoded({ ...at, kind: "CHECKPOINT_STATE", controlId: r.value }) : r;
    }
  }
  throw new Error(`libxl_rules: record type ${type} was planned but has no decoder`);
}
