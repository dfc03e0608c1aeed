/* jump_x86_64_sysv_elf_gas.S — tmd_ctx_jump: x86-64, System V ABI, ELF, GNU as.
 *
 *   struct tmi_transfer tmd_ctx_jump(struct tmi_ctx *to, void *data, struct tmi_ctx **save);
 *                                    %rdi                %rsi         %rdx
 *   returns {%rax = the context that switched back to us, %rdx = its data}
 *
 * tmd_ctx_switch that also stores the suspended caller's context pointer in
 * *save before it leaves. With the pointer stored by the switch itself, the
 * caller has nothing left to do afterwards and can reach this routine by a
 * tail call (`jmp`): the frame then holds its caller's return address, and
 * the context, when resumed, returns straight to that caller. A scheduler's
 * yield built this way executes no `ret` after the switch — a `ret` there
 * would pop the return-stack predictor entry pushed by the switcher's own
 * `call`, mispredicting once per switch (measured: about 2x a bare switch).
 *
 * The frame is exactly tmd_ctx_switch's (see switch_x86_64_sysv_elf_gas.S),
 * so contexts suspended by either resume through either:
 *
 *  -----------------------------------------------------------------------
 *  |  0x00 |  0x04 |  0x08 |  0x10 |  0x18 |  0x20 |  0x28 |  0x30 |  0x38 |
 *  -----------------------------------------------------------------------
 *  | MXCSR | x87CW |  R12  |  R13  |  R14  |  R15  |  RBX  |  RBP  |  RIP  |
 *  -----------------------------------------------------------------------
 */
#include "frame_x86_64_sysv_elf_gas.h"

        .file   "jump_x86_64_sysv_elf_gas.S"
        .text
        .globl  tmd_ctx_jump
        .hidden tmd_ctx_jump
        .type   tmd_ctx_jump, @function
        .align  16
tmd_ctx_jump:
        endbr64                         /* IBT landing pad; a nop elsewhere */
        TMD_FRAME_SAVE
        movq    %rsp, (%rdx)            /* *save = our context: the frame is complete */
        movq    %rsp, %rax              /* RAX = our context: transfer.ctx */
        movq    %rdi, %rsp              /* switch stacks: RSP = to's frame */
        movq    0x38(%rsp), %r8         /* R8 = where `to` resumes (load early) */
        TMD_FRAME_RESTORE
        leaq    0x40(%rsp), %rsp        /* pop the frame and RIP */
        movq    %rsi, %rdx              /* RDX = data: transfer.data */
        jmp     *%r8                    /* resume `to`; it sees {RAX, RDX} */
        .size   tmd_ctx_jump, .-tmd_ctx_jump

        .section .note.GNU-stack,"",%progbits
