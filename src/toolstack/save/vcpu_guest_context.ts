/**
 * @module
 * The X86_PV_VCPU_BASIC blob of a 64-bit PV guest: `vcpu_guest_context`
 * (`vcpu_guest_context_x86_64_t`, xen/include/public/arch-x86/xen.h and
 * xen-x86_64.h), 5168 bytes — the size libxc's restore insists on.
 *
 * ```
 * 0     fpu_ctxt[512]   (FXSAVE image: FCW at 0, MXCSR at 24)
 * 512   flags           VGCF_*
 * 520   user_regs       r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi,
 *                       error_code, entry_vector, rip, cs, saved_upcall_mask,
 *                       rflags, rsp, ss, es, ds, fs, gs            (200 bytes)
 * 720   trap_ctxt[256]  16 bytes each
 * 4816  ldt_base, ldt_ents, gdt_frames[16], gdt_ents, kernel_ss, kernel_sp
 * 4984  ctrlreg[8] (cr3 at 5008), debugreg[8]
 * 5112  event_callback_eip, failsafe_callback_eip, syscall_callback_eip,
 *       vm_assist, fs_base, gs_base_kernel, gs_base_user → 5168
 * ```
 *
 * In a stream, cr3 and gdt_frames hold pfns (the saver converts mfns).
 * Only the fields below are named; trap_ctxt and gdt_frames stay zero.
 */
import { type Decoded, decoded, refused } from "./save_image_error.ts";
import { VCPU_GUEST_CONTEXT_X86_64_BYTES } from "./libxc_records.ts";
import { decodeStruct, encodeStruct, type StructLayout } from "./struct_layout.ts";

const R = 520; // user_regs

/** Named fields of `vcpu_guest_context_x86_64_t` (`crN` = `ctrlreg[N]`, `drN` = `debugreg[N]`). */
export const VCPU_GUEST_CONTEXT_X86_64 = {
  fcw: [0, 2],
  mxcsr: [24, 4],
  flags: [512, 8],
  r15: [R + 0, 8],
  r14: [R + 8, 8],
  r13: [R + 16, 8],
  r12: [R + 24, 8],
  rbp: [R + 32, 8],
  rbx: [R + 40, 8],
  r11: [R + 48, 8],
  r10: [R + 56, 8],
  r9: [R + 64, 8],
  r8: [R + 72, 8],
  rax: [R + 80, 8],
  rcx: [R + 88, 8],
  rdx: [R + 96, 8],
  rsi: [R + 104, 8],
  rdi: [R + 112, 8],
  error_code: [R + 120, 4],
  entry_vector: [R + 124, 4],
  rip: [R + 128, 8],
  cs: [R + 136, 2],
  saved_upcall_mask: [R + 140, 1],
  rflags: [R + 144, 8],
  rsp: [R + 152, 8],
  ss: [R + 160, 2],
  es: [R + 168, 2],
  ds: [R + 176, 2],
  fs: [R + 184, 2],
  gs: [R + 192, 2],
  ldt_base: [4816, 8],
  ldt_ents: [4824, 8],
  gdt_ents: [4960, 8],
  kernel_ss: [4968, 8],
  kernel_sp: [4976, 8],
  cr0: [4984, 8],
  cr2: [5000, 8],
  cr3: [5008, 8],
  cr4: [5016, 8],
  dr7: [5048 + 56, 8],
  event_callback_eip: [5112, 8],
  failsafe_callback_eip: [5120, 8],
  syscall_callback_eip: [5128, 8],
  vm_assist: [5136, 8],
  fs_base: [5144, 8],
  gs_base_kernel: [5152, 8],
  gs_base_user: [5160, 8],
} as const satisfies StructLayout<string>;

export type VcpuGuestContextField = keyof typeof VCPU_GUEST_CONTEXT_X86_64;
export type VcpuGuestContextValues = Partial<Record<VcpuGuestContextField, number | bigint>>;

/** `VGCF_*` flags (xen.h). */
export const VGCF_I387_VALID = 1 << 0;
export const VGCF_IN_KERNEL = 1 << 2;
export const VGCF_FAILSAFE_DISABLES_EVENTS = 1 << 3;
export const VGCF_SYSCALL_DISABLES_EVENTS = 1 << 4;
export const VGCF_ONLINE = 1 << 5;

/**
 * A 5168-byte context with `values`; the FPU image gets the reset FCW 0x37f
 * and MXCSR 0x1f80 unless given.
 */
export function encodeVcpuGuestContext(values: VcpuGuestContextValues): Uint8Array {
  return encodeStruct(VCPU_GUEST_CONTEXT_X86_64, VCPU_GUEST_CONTEXT_X86_64_BYTES, {
    fcw: 0x37f,
    mxcsr: 0x1f80,
    ...values,
  });
}

/** Reads the named fields of a 64-bit context blob. */
export function decodeVcpuGuestContext(
  blob: Uint8Array,
): Decoded<Record<VcpuGuestContextField, bigint>> {
  if (blob.length !== VCPU_GUEST_CONTEXT_X86_64_BYTES) {
    return refused(
      "bad_length",
      `context is ${blob.length} bytes, expected ${VCPU_GUEST_CONTEXT_X86_64_BYTES}`,
    );
  }
  return decoded(decodeStruct(VCPU_GUEST_CONTEXT_X86_64, blob));
}
