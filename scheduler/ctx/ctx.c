/* ctx.c — the backend-independent parts of the context switch: the
 * "function returned" trap and the sanitizer state of ctx_san.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_getattr_np */
#endif
#include "ctx.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reached from the asm trampoline or the ucontext entry when a context's
 * function returns. There is nothing to return to: that is a scheduler bug
 * (a task must end by switching away for the last time). */
_Noreturn void tmd_ctx_returned(void)
{
    static const char msg[] = "ctx: task function returned\n";
    ssize_t r = write(2, msg, sizeof msg - 1);
    (void)r;
    abort();
}

void tmi_ctx_san_init(struct tmi_ctx_san *s, const void *lo, size_t size)
{
    memset(s, 0, sizeof *s);
    s->lo = lo;
    s->size = size;
#ifdef TMI_CTX_TSAN
    s->fiber = __tsan_create_fiber(0);
    s->own_fiber = 1;
#endif
}

void tmi_ctx_san_init_thread(struct tmi_ctx_san *s)
{
    memset(s, 0, sizeof *s);
#ifdef TMI_CTX_ASAN
    /* ASan needs the bounds of the thread's stack to switch back to it. */
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        if (pthread_attr_getstack(&a, &lo, &size) == 0) {
            s->lo = lo;
            s->size = size;
        }
        pthread_attr_destroy(&a);
    }
#endif
#ifdef TMI_CTX_TSAN
    s->fiber = __tsan_get_current_fiber();
#endif
}

void tmi_ctx_san_fini(struct tmi_ctx_san *s)
{
#ifdef TMI_CTX_TSAN
    if (s->own_fiber && s->fiber) __tsan_destroy_fiber(s->fiber);
#endif
    memset(s, 0, sizeof *s);
}
