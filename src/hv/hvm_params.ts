/**
 * @module
 * HVM parameters (`xen/include/public/hvm/params.h`, §0.5): how an HVM or
 * PVHVM guest finds xenstore and the console (STORE_PFN/EVTCHN,
 * CONSOLE_PFN/EVTCHN), declares PV drivers (CALLBACK_IRQ ≠ 0), and how ACPI
 * S3 and triple faults are modelled (ACPI_S_STATE, TRIPLE_FAULT_REASON).
 *
 * Access rules follow `hvm_allow_set_param` / `hvm_allow_get_param`: a guest
 * may set and read a short list of its own params; the rest are the
 * toolstack's (a guest gets -EPERM); "set once" params refuse a different
 * second value with -EEXIST. Values are JS numbers: u64 values above 2^53
 * (e.g. a CALLBACK_IRQ of type VECTOR, bits 63:56) lose their low bits.
 */
import { Errno } from "./errno.ts";
import { SHUTDOWN_MAX, SHUTDOWN_reboot } from "./xen_abi.ts";

export const HVM_PARAM_CALLBACK_IRQ = 0;
export const HVM_PARAM_STORE_PFN = 1;
export const HVM_PARAM_STORE_EVTCHN = 2;
export const HVM_PARAM_PAE_ENABLED = 4;
export const HVM_PARAM_IOREQ_PFN = 5;
export const HVM_PARAM_BUFIOREQ_PFN = 6;
export const HVM_PARAM_VIRIDIAN = 9;
export const HVM_PARAM_TIMER_MODE = 10;
export const HVM_PARAM_HPET_ENABLED = 11;
export const HVM_PARAM_IDENT_PT = 12;
export const HVM_PARAM_ACPI_S_STATE = 14;
export const HVM_PARAM_VM86_TSS = 15;
export const HVM_PARAM_CONSOLE_PFN = 17;
export const HVM_PARAM_CONSOLE_EVTCHN = 18;
export const HVM_PARAM_ACPI_IOPORTS_LOCATION = 19;
export const HVM_PARAM_NESTEDHVM = 24;
export const HVM_PARAM_TRIPLE_FAULT_REASON = 31;
export const HVM_PARAM_IOREQ_SERVER_PFN = 32;
export const HVM_PARAM_NR_IOREQ_SERVER_PAGES = 33;
export const HVM_PARAM_VM_GENERATION_ID_ADDR = 34;
export const HVM_PARAM_ALTP2M = 35;
export const HVM_PARAM_X87_FIP_WIDTH = 36;
export const HVM_PARAM_VM86_TSS_SIZED = 37;
export const HVM_PARAM_MCA_CAP = 38;
/** x86 `HVM_NR_PARAMS`. */
export const HVM_NR_PARAMS = 39;

export const HVM_PARAM_CALLBACK_TYPE_GSI = 0;
export const HVM_PARAM_CALLBACK_TYPE_PCI_INTX = 1;
export const HVM_PARAM_CALLBACK_TYPE_VECTOR = 2;

/** The callback via `type` in bits 63:56 plus `low` (inexact above 2^53, see module doc). */
export function hvmCallbackVia(type: number, low: number): number {
  return type * 2 ** 56 + low;
}

/** Params a guest may set on itself. */
const GUEST_SETTABLE = new Set([
  HVM_PARAM_CALLBACK_IRQ,
  HVM_PARAM_VM86_TSS,
  HVM_PARAM_VM86_TSS_SIZED,
  HVM_PARAM_ACPI_IOPORTS_LOCATION,
  HVM_PARAM_VM_GENERATION_ID_ADDR,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_X87_FIP_WIDTH,
]);
/** Params that may change only from 0 (anyone, toolstack included). */
const SET_ONCE = new Set([
  HVM_PARAM_VIRIDIAN,
  HVM_PARAM_IOREQ_SERVER_PFN,
  HVM_PARAM_NR_IOREQ_SERVER_PAGES,
  HVM_PARAM_ALTP2M,
  HVM_PARAM_MCA_CAP,
]);
/** Params a guest may read on itself. */
const GUEST_READABLE = new Set([
  HVM_PARAM_CALLBACK_IRQ,
  HVM_PARAM_VM86_TSS,
  HVM_PARAM_VM86_TSS_SIZED,
  HVM_PARAM_ACPI_IOPORTS_LOCATION,
  HVM_PARAM_VM_GENERATION_ID_ADDR,
  HVM_PARAM_STORE_PFN,
  HVM_PARAM_STORE_EVTCHN,
  HVM_PARAM_CONSOLE_PFN,
  HVM_PARAM_CONSOLE_EVTCHN,
  HVM_PARAM_ALTP2M,
  HVM_PARAM_X87_FIP_WIDTH,
]);

function validValue(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 64;
}

/** One domain's param array. */
export class HvmParams {
  readonly #values = new Float64Array(HVM_NR_PARAMS);

  constructor() {
    this.#values[HVM_PARAM_TRIPLE_FAULT_REASON] = SHUTDOWN_reboot;
  }

  /** Reads a param without access checks (the hypervisor's own use). */
  get(index: number): number {
    return this.#values[index];
  }

  /** Writes a param without access checks. */
  set(index: number, value: number): void {
    this.#values[index] = value;
  }

  /**
   * The checks of HVMOP_set_param (before the param's side effects):
   * 0, -EINVAL (bad index or value), -EPERM (guest, not settable), -EEXIST
   * (set-once param already set to something else).
   */
  checkSet(index: number, value: unknown, bySelf: boolean): number {
    if (!Number.isInteger(index) || index < 0 || index >= HVM_NR_PARAMS) return -Errno.EINVAL;
    if (!validValue(value)) return -Errno.EINVAL;
    if (SET_ONCE.has(index)) {
      const cur = this.#values[index];
      if (cur !== 0 && cur !== value) return -Errno.EEXIST;
    } else if (!GUEST_SETTABLE.has(index) && bySelf) return -Errno.EPERM;
    if (index === HVM_PARAM_TRIPLE_FAULT_REASON && value > SHUTDOWN_MAX) return -Errno.EINVAL;
    if (index === HVM_PARAM_ACPI_S_STATE && value !== 0 && value !== 3) return -Errno.EINVAL;
    return 0;
  }

  /** The checks of HVMOP_get_param: 0, -EINVAL, -EPERM. */
  checkGet(index: number, bySelf: boolean): number {
    if (!Number.isInteger(index) || index < 0 || index >= HVM_NR_PARAMS) return -Errno.EINVAL;
    if (bySelf && !GUEST_READABLE.has(index)) return -Errno.EPERM;
    return 0;
  }

  /** Non-zero params as [index, value] pairs (HVM_PARAMS record material). */
  nonZero(): [number, number][] {
    const out: [number, number][] = [];
    this.#values.forEach((v, i) => {
      if (v !== 0) out.push([i, v]);
    });
    return out;
  }
}
