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
        .file   "switch_call_x86_64_sysv_elf_gas.S"
        .text
        .globl  tmd_ctx_switch_call
        .hidden tmd_ctx_switch_call
        .type   tmd_ctx_switch_call, @function
        .align  16
tmd_ctx_switch_call:
        endbr64                         /* IBT landing pad; a nop elsewhere */
        leaq    -0x38(%rsp), %rsp       /* make room for the frame below RIP */

        stmxcsr (%rsp)                  /* save the SSE control/status word */
        fnstcw  0x4(%rsp)               /* save the x87 control word */
        movq    %r12, 0x08(%rsp)        /* save R12 */
        movq    %r13, 0x10(%rsp)        /* save R13 */
        movq    %r14, 0x18(%rsp)        /* save R14 */
        movq    %r15, 0x20(%rsp)        /* save R15 */
        movq    %rbx, 0x28(%rsp)        /* save RBX */
        movq    %rbp, 0x30(%rsp)        /* save RBP */

        movq    %rsp, %rax              /* RAX = our context */
        movq    %rdi, %rsp              /* switch stacks: RSP = to's frame */

        ldmxcsr (%rsp)                  /* restore to's SSE control/status word */
        fldcw   0x4(%rsp)               /* restore to's x87 control word */
        movq    0x08(%rsp), %r12        /* restore R12 */
        movq    0x10(%rsp), %r13        /* restore R13 */
        movq    0x18(%rsp), %r14        /* restore R14 */
        movq    0x20(%rsp), %r15        /* restore R15 */
        movq    0x28(%rsp), %rbx        /* restore RBX */
        movq    0x30(%rsp), %rbp        /* restore RBP */
        leaq    0x38(%rsp), %rsp        /* pop the frame; RIP stays: fn returns there */

        movq    %rax, %rdi              /* fn's argument {RDI = our context, */
                                        /*                RSI = data (already there)} */
        jmp     *%rdx                   /* tail-call fn on to's stack */
        .size   tmd_ctx_switch_call, .-tmd_ctx_switch_call

/* The stack need not be executable. */
        .section .note.GNU-stack,"",%progbits
