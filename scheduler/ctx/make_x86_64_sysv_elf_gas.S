/* make_x86_64_sysv_elf_gas.S — tmd_ctx_make: x86-64, System V ABI, ELF, GNU as.
 *
 *   struct tmi_ctx *tmd_ctx_make(void *top, size_t size,
 *                                %rdi       %rsi (unused here)
 *                                void (*fn)(struct tmi_transfer));
 *                                %rdx
 *   returns %rax = the new context
 *
 * Build, just below `top` (rounded down to 16), the frame that
 * tmd_ctx_switch would have left had the new context been suspended at the
 * start of the trampoline:
 *
 *  -----------------------------------------------------------------------
 *  |  0x00 |  0x04 |  0x08 |  0x10 |  0x18 |  0x20 |  0x28 |  0x30 |  0x38 |
 *  -----------------------------------------------------------------------
 *  | MXCSR | x87CW |  R12  |  R13  |  R14  |  R15  |  RBX  |  RBP  |  RIP  |
 *  | ours  | ours  |   0   |   0   |   0   |   0   |  fn   |   0   | tramp |
 *  -----------------------------------------------------------------------
 *  ^ context pointer = (top & -16) - 0x40         frame end = top & -16 ^
 *
 * The first switch (or switch-with-call, after its function returned)
 * resumes at the trampoline with RSP = top & -16 and the transfer in
 * RAX:RDX. The trampoline moves the transfer into the argument registers and
 * `call`s fn, so fn starts with (RSP + 8) % 16 == 0 as the ABI requires.
 * RBP = 0 and the trampoline's CFI (RIP undefined) end backtraces there.
 * If fn ever returns, the trampoline calls tmd_ctx_returned, which aborts.
 */
        .file   "make_x86_64_sysv_elf_gas.S"
        .text
        .globl  tmd_ctx_make
        .hidden tmd_ctx_make
        .type   tmd_ctx_make, @function
        .align  16
tmd_ctx_make:
        endbr64                         /* IBT landing pad; a nop elsewhere */
        movq    %rdi, %rax              /* RAX = top of the new stack */
        andq    $-16, %rax              /* round it down to 16 bytes */
        leaq    -0x40(%rax), %rax       /* RAX = the frame = the new context */

        stmxcsr (%rax)                  /* inherit our SSE control/status word */
        fnstcw  0x4(%rax)               /* inherit our x87 control word */
        movw    $0, 0x6(%rax)           /* zero the padding (keeps tools quiet) */
        xorl    %ecx, %ecx              /* RCX = 0 */
        movq    %rcx, 0x08(%rax)        /* R12 = 0 */
        movq    %rcx, 0x10(%rax)        /* R13 = 0 */
        movq    %rcx, 0x18(%rax)        /* R14 = 0 */
        movq    %rcx, 0x20(%rax)        /* R15 = 0 */
        movq    %rdx, 0x28(%rax)        /* RBX = fn, for the trampoline */
        movq    %rcx, 0x30(%rax)        /* RBP = 0: the end of frame-pointer chains */
        leaq    tmd_ctx_trampoline(%rip), %rcx  /* RCX = &trampoline */
        movq    %rcx, 0x38(%rax)        /* RIP = the trampoline */
        ret                             /* return the context */
        .size   tmd_ctx_make, .-tmd_ctx_make

/* Where a new context starts: RBX = fn, RAX:RDX = the transfer,
 * RSP = top & -16 (16-byte aligned). */
        .type   tmd_ctx_trampoline, @function
        .align  16
tmd_ctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip              /* outermost frame: unwinders stop here */
        endbr64                         /* IBT landing pad; a nop elsewhere */
        movq    %rax, %rdi              /* fn's argument: transfer.ctx */
        movq    %rdx, %rsi              /*                transfer.data */
        call    *%rbx                   /* fn(transfer); must never return */
        call    tmd_ctx_returned@PLT    /* it did: print and abort */
        ud2                             /* not reached */
        .cfi_endproc
        .size   tmd_ctx_trampoline, .-tmd_ctx_trampoline

/* The stack need not be executable. */
        .section .note.GNU-stack,"",%progbits
