/* yard.c — yardsticks for tmbench-micro: the same operations without the
 * tm layer, measured in the same run so a model's cost reads as a ratio.
 *
 *   ctx_switch/tm_<TM_CTX>     two contexts ping-pong with tmi_ctx_switch
 *   ctx_switch/boost_fcontext  the same with Boost.Context's jump_fcontext
 *   spawn/bare_pthread         pthread_create + pthread_join with the stack
 *                              size the pthreads model uses (64 KiB)
 *
 * One ctx_switch iteration is a round trip: main -> partner -> main, two
 * switches (items counts switches), the same shape as one iteration of
 * yield/coro. Built without Boost (TMB_HAVE_BOOST 0), the fcontext
 * yardstick is left out. No sanitizer annotations: tmbench-micro is not built in the
 * sanitizer presets (TM_WITH_GBENCH is OFF there).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "ctx/ctx.h"
#include "micro.h"

enum { STACK_BYTES = 64 * 1024 }; /* tm_init's default stack_size */

#if TMB_HAVE_BOOST
/* Boost.Context's fcontext (boost/context/detail/fcontext.hpp), extern "C"
 * in libboost_context. Its transfer_t comes back in rax:rdx like ours. */
struct fc_transfer {
    void *fctx; /* the context that jumped here, now suspended */
    void *data; /* what it passed */
};
struct fc_transfer jump_fcontext(void *to, void *vp);
void *make_fcontext(void *sp, size_t size, void (*fn)(struct fc_transfer));
#endif

/* The partners switch straight back, forever; the benchmark abandons them
 * suspended and unmaps their stacks (they hold nothing else). */
static void tm_partner(struct tmi_transfer t)
{
    for (;;)
        t = tmi_ctx_switch(t.ctx, NULL);
}

static char *stack_map(struct tmb_state *s)
{
    char *mem = mmap(NULL, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem != MAP_FAILED) return mem;
    tmb_skip_with_error(s, "ctx_switch: mmap of a stack failed");
    return NULL;
}

static void bm_ctx_tm(struct tmb_state *s, void *arg)
{
    char *mem = stack_map(s);
    if (!mem) return;
    struct tmi_ctx *c = tmi_ctx_make(mem + STACK_BYTES, STACK_BYTES, tm_partner);
    uint64_t n = tmb_start(s);
    for (uint64_t i = 0; i < n; i++)
        c = tmi_ctx_switch(c, NULL).ctx;
    tmb_stop(s);
    tmb_set_items_processed(s, (int64_t)(2 * n));
    munmap(mem, STACK_BYTES);
}

#if TMB_HAVE_BOOST
static void fc_partner(struct fc_transfer t)
{
    for (;;)
        t = jump_fcontext(t.fctx, NULL);
}

static void bm_ctx_boost(struct tmb_state *s, void *arg)
{
    char *mem = stack_map(s);
    if (!mem) return;
    void *c = make_fcontext(mem + STACK_BYTES, STACK_BYTES, fc_partner);
    uint64_t n = tmb_start(s);
    for (uint64_t i = 0; i < n; i++)
        c = jump_fcontext(c, NULL).fctx;
    tmb_stop(s);
    tmb_set_items_processed(s, (int64_t)(2 * n));
    munmap(mem, STACK_BYTES);
}
#endif

static void *bare_thread(void *arg)
{
    return arg;
}

static void bm_bare_pthread(struct tmb_state *s, void *arg)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_BYTES);
    uint64_t n = tmb_start(s);
    for (uint64_t i = 0; i < n; i++) {
        pthread_t t;
        int err = pthread_create(&t, &attr, bare_thread, NULL);
        if (err) {
            char msg[128];
            snprintf(msg, sizeof msg, "pthread_create: %s", strerror(err));
            tmb_skip_with_error(s, msg);
            break;
        }
        pthread_join(t, NULL);
    }
    tmb_stop(s);
    pthread_attr_destroy(&attr);
    tmb_set_items_processed(s, (int64_t)n);
}

static void add(const char *name, tmb_fn *fn)
{
    tmb_bench_process_cpu_time(tmb_bench_real_time(tmb_register(name, fn, NULL)));
}

void tmb_register_yardsticks(const char *family)
{
    if (strcmp(family, "spawn") == 0) add("spawn/bare_pthread", bm_bare_pthread);
    if (strcmp(family, "yield") == 0) {
        add("ctx_switch/tm_" TMB_CTX, bm_ctx_tm);
#if TMB_HAVE_BOOST
        add("ctx_switch/boost_fcontext", bm_ctx_boost);
#endif
    }
}
