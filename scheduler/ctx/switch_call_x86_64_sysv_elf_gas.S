/* switch_call_x86_64_sysv_elf_gas.S — tmd_ctx_switch_call: x86-64, System V
 * ABI, ELF, GNU as.
 *
 *   struct tmi_transfer tmd_ctx_switch_call(struct tmi_ctx *to, void *data,
 *                                           %rdi                %rsi
 *                       struct tmi_transfer (*fn)(struct tmi_transfer));
 *                                           %rdx
 *   returns {%rax = the context that switched back to us, %rdx = its data}
 *
 * Like tmd_ctx_switch, but after moving onto to's stack and restoring its
 * registers, tail-call fn({our context, data}) there instead of resuming
 * `to` directly. fn's return address is to's resume address (left on the
 * stack where to's frame put it), so when fn returns, `to` resumes with
 * fn's result in RAX:RDX as its transfer — exactly as if it had been handed
 * that transfer by a plain switch. For a new context that is the trampoline,
 * which passes the transfer on to the context's function.
 *
 * fn is entered with RSP = frame + 0x38, which is 8 mod 16: the alignment
 * of a normal function entry.
 *
 * The frame (see switch_x86_64_sysv_elf_gas.S; context pointer = offset 0):
 *
 *  -----------------------------------------------------------------------
 *  |  0x00 |  0x04 |  0x08 |  0x10 |  0x18 |  0x20 |  0x28 |  0x30 |  0x38 |
 *  -----------------------------------------------------------------------
 *  | MXCSR | x87CW |  R12  |  R13  |  R14  |  R15  |  RBX  |  RBP  |  RIP  |
 *  -----------------------------------------------------------------------
 */
#include "frame_x86_64_sysv_elf_gas.h"

        .file   "switch_call_x86_64_sysv_elf_gas.S"
        .text
        .globl  tmd_ctx_switch_call
        .hidden tmd_ctx_switch_call
        .type   tmd_ctx_switch_call, @function
        .align  16
tmd_ctx_switch_call:
        endbr64                         /* IBT landing pad; a nop elsewhere */
        TMD_FRAME_SAVE

        movq    %rsp, %rax              /* RAX = our context */
        movq    %rdi, %rsp              /* switch stacks: RSP = to's frame */

        TMD_FRAME_RESTORE
        leaq    0x38(%rsp), %rsp        /* pop the frame; RIP stays: fn returns there */

        movq    %rax, %rdi              /* fn's argument {RDI = our context, */
                                        /*                RSI = data (already there)} */
        jmp     *%rdx                   /* tail-call fn on to's stack */
        .size   tmd_ctx_switch_call, .-tmd_ctx_switch_call

/* The stack need not be executable. */
        .section .note.GNU-stack,"",%progbits
