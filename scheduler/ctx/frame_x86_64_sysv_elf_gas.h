/* frame_x86_64_sysv_elf_gas.h — the saved frame shared by tmd_ctx_switch,
 * tmd_ctx_switch_call and tmd_ctx_jump (x86-64, System V, ELF, GNU as), as
 * two assembler macros. Layout: see switch_x86_64_sysv_elf_gas.S. Included
 * by the .S files through the C preprocessor. */

/* Push the caller's frame below the return address its `call` pushed:
 * control words and callee-saved registers. RSP is then the context. */
        .macro TMD_FRAME_SAVE
        leaq    -0x38(%rsp), %rsp       /* make room for the frame below RIP */
        stmxcsr (%rsp)                  /* save the SSE control/status word */
        fnstcw  0x4(%rsp)               /* save the x87 control word */
        movq    %r12, 0x08(%rsp)        /* save R12 */
        movq    %r13, 0x10(%rsp)        /* save R13 */
        movq    %r14, 0x18(%rsp)        /* save R14 */
        movq    %r15, 0x20(%rsp)        /* save R15 */
        movq    %rbx, 0x28(%rsp)        /* save RBX */
        movq    %rbp, 0x30(%rsp)        /* save RBP */
        .endm

/* Restore what TMD_FRAME_SAVE saved from the frame at RSP (RSP unchanged:
 * the caller pops the frame, with or without its RIP). */
        .macro TMD_FRAME_RESTORE
        ldmxcsr (%rsp)                  /* restore to's SSE control/status word */
        fldcw   0x4(%rsp)               /* restore to's x87 control word */
        movq    0x08(%rsp), %r12        /* restore R12 */
        movq    0x10(%rsp), %r13        /* restore R13 */
        movq    0x18(%rsp), %r14        /* restore R14 */
        movq    0x20(%rsp), %r15        /* restore R15 */
        movq    0x28(%rsp), %rbx        /* restore RBX */
        movq    0x30(%rsp), %rbp        /* restore RBP */
        .endm
