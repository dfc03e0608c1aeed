/* switch_x86_64_sysv_elf_gas.S — tmd_ctx_switch: x86-64, System V ABI, ELF, GNU as.
 *
 *   struct tmi_transfer tmd_ctx_switch(struct tmi_ctx *to, void *data);
 *                                      %rdi                %rsi
 *   returns {%rax = the context that switched back to us, %rdx = its data}
 *
 * Save the callee-saved state of the caller in a frame on its own stack,
 * make the stack pointer point at the frame of `to`, restore from it and
 * jump to where `to` left off. The caller-saved registers need no saving:
 * the compiler already assumes a call clobbers them.
 *
 * The frame a suspended context leaves on its stack. The context pointer is
 * the address of offset 0x00, always 16-byte aligned (a caller's %rsp is
 * 8 mod 16 just after its call, and the frame is 0x38 bytes below that).
 *
 *  -----------------------------------------------------------------------
 *  |  0x00 |  0x04 |  0x08 |  0x10 |  0x18 |  0x20 |  0x28 |  0x30 |  0x38 |
 *  -----------------------------------------------------------------------
 *  | MXCSR | x87CW |  R12  |  R13  |  R14  |  R15  |  RBX  |  RBP  |  RIP  |
 *  -----------------------------------------------------------------------
 *   4 bytes 2 (+2)   8 bytes each                                  pushed by
 *                                                                  the call
 * RIP is the return address the caller's `call` pushed: where the context
 * resumes. A new context's frame is built by tmd_ctx_make with RIP = its
 * trampoline. Resuming pops the whole 0x40 bytes and jumps (not `ret`: the
 * return-stack predictor would mispredict every switch, and a `jmp *%r8`
 * leaves it balanced).
 *
 * CET: endbr64 marks the entry (a no-op on CPUs without IBT). The object is
 * not marked IBT/SHSTK-compatible (no .note.gnu.property): the resume is an
 * indirect jump to a non-endbr address and the shadow stack is not switched.
 */
#include "frame_x86_64_sysv_elf_gas.h"

        .file   "switch_x86_64_sysv_elf_gas.S"
        .text
        .globl  tmd_ctx_switch
        .hidden tmd_ctx_switch
        .type   tmd_ctx_switch, @function
        .align  16
tmd_ctx_switch:
        endbr64                         /* IBT landing pad; a nop elsewhere */
        TMD_FRAME_SAVE

        movq    %rsp, %rax              /* RAX = our context: transfer.ctx */
        movq    %rdi, %rsp              /* switch stacks: RSP = to's frame */

        movq    0x38(%rsp), %r8         /* R8 = where `to` resumes (load early) */
        TMD_FRAME_RESTORE
        leaq    0x40(%rsp), %rsp        /* pop the frame and RIP */

        movq    %rsi, %rdx              /* RDX = data: transfer.data */
        jmp     *%r8                    /* resume `to`; it sees {RAX, RDX} */
        .size   tmd_ctx_switch, .-tmd_ctx_switch

/* The stack need not be executable. */
        .section .note.GNU-stack,"",%progbits
