/**
 * @module
 * Little-endian C struct layouts as tables of `field → [offset, bytes]`, so
 * the guest-state blobs (`vcpu_guest_context`, `hvm_hw_cpu`, ...) are written
 * and read from one table each instead of hand-placed `setUint32` calls.
 * Values are `bigint` when read (x86_64 kernel addresses exceed 2^53) and
 * may be `number` or `bigint` when written.
 */
import { AssertionError } from "node:assert";

/** Byte offset and width of one field. */
export type FieldSpec = readonly [offset: number, bytes: 1 | 2 | 4 | 8];

/** A struct layout: field name → where it lives. */
export type StructLayout<K extends string> = Readonly<Record<K, FieldSpec>>;

/** Encodes `values` into a zeroed struct of `size` bytes (or into `into`). */
export function encodeStruct<K extends string>(
  layout: StructLayout<K>,
  size: number,
  values: Partial<Record<K, number | bigint>>,
  into: Uint8Array = new Uint8Array(size),
): Uint8Array {
  const dv = new DataView(into.buffer, into.byteOffset, into.byteLength);
  for (const [name, v] of Object.entries(values) as [K, number | bigint | undefined][]) {
    if (v === undefined) continue;
    const spec = layout[name];
    if (!spec) throw new AssertionError({ message: `struct: no field ${name}` });
    const [at, bytes] = spec;
    const big = BigInt(v);
    if (BigInt.asUintN(bytes * 8, big) !== big && BigInt.asIntN(bytes * 8, big) !== big) {
      throw new AssertionError({
        message: `struct: ${name} = ${v} does not fit in ${bytes} bytes`,
      });
    }
    const u = BigInt.asUintN(bytes * 8, big);
    if (bytes === 8) dv.setBigUint64(at, u, true);
    else if (bytes === 4) dv.setUint32(at, Number(u), true);
    else if (bytes === 2) dv.setUint16(at, Number(u), true);
    else dv.setUint8(at, Number(u));
  }
  return into;
}

/** Reads every field of `layout` from `b`. */
export function decodeStruct<K extends string>(
  layout: StructLayout<K>,
  b: Uint8Array,
): Record<K, bigint> {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = {} as Record<K, bigint>;
  for (const [name, [at, bytes]] of Object.entries(layout) as [K, FieldSpec][]) {
    out[name] = bytes === 8 ? dv.getBigUint64(at, true) : BigInt(
      bytes === 4 ? dv.getUint32(at, true) : bytes === 2 ? dv.getUint16(at, true) : dv.getUint8(at),
    );
  }
  return out;
}
