/* test_stack.c — the stack pool (scheduler/stack.c).
 *
 *   test_stack basic|many|threads|canary|overflow|fault
 *
 * Each case is one process (CTest runs them separately): the pool is
 * process-wide. Cases that must watch a process die fork a child and read
 * its stderr through a pipe. Exit code 77 means "skipped here".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctx/ctx.h"
#include "stack.h"

#include "check.h"

#define KIB ((size_t)1024)

/* ---- helpers ------------------------------------------------------------ */

static long page_size(void)
{
    return sysconf(_SC_PAGESIZE);
}

/* Resident pages of this process. */
static long rss_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f);
    long size, res;
    CHECK(fscanf(f, "%ld %ld", &size, &res) == 2);
    fclose(f);
    return res;
}

/* Mappings (VMAs) of this process. */
static long vma_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f);
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    long v = 65530;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) v = 65530;
        fclose(f);
    }
    return v;
}

/* The overflow hook: "task <owner as a number>", async-signal-safe. */
static size_t describe(const struct tmi_stack *s, char *buf, size_t len)
{
    char d[24];
    int k = 0;
    uintptr_t v = (uintptr_t)s->owner;
    do
        d[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    const char *pre = "task ";
    size_t n = 0;
    while (*pre && n < len)
        buf[n++] = *pre++;
    while (k > 0 && n < len)
        buf[n++] = d[--k];
    return n;
}

/* Run fn in a child with stderr into a pipe; returns its wait status and
 * what it wrote in out. */
static int run_child(void (*fn)(void), char *out, size_t cap)
{
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(p[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(p[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    return st;
}

/* A context running on a pool stack, and the thread's own. */
static struct tmi_ctx_san main_san, fib_san;
static struct tmi_ctx *main_ctx, *fib_ctx;

static void fib_start(struct tmi_stack *s, void (*fn)(struct tmi_transfer))
{
    tmi_ctx_san_init_thread(&main_san);
    tmi_ctx_san_init(&fib_san, s->lo, s->size);
    fib_ctx = tmi_ctx_make(tmi_stack_top(s), s->size, fn);
    tmi_ctx_san_leave(&main_san, &fib_san, 0);
    struct tmi_transfer t = tmi_ctx_switch(fib_ctx, NULL);
    tmi_ctx_san_enter(&main_san);
    fib_ctx = t.ctx;
}

static void fib_enter(struct tmi_transfer t)
{
    tmi_ctx_san_enter(&fib_san);
    main_ctx = t.ctx;
}

static _Noreturn void fib_exit(void)
{
    tmi_ctx_san_leave(&fib_san, &main_san, 1);
    tmi_ctx_switch(main_ctx, NULL);
    abort();
}

/* ---- basic: layout, alloc/free/reuse, init errors ----------------------- */

static void test_basic(void)
{
    long pg = page_size();
    struct tmi_stack_opts o = {.size = 10000, .guard_max = 2, .keep = -1};
    CHECK(tmi_stack_init(&o) == 0);
    CHECK(tmi_stack_init(&o) == -1 && errno == EBUSY);
    struct tmi_stack_stats st;
    tmi_stack_stats(&st);
    size_t S = (10000 + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
    CHECK(st.stack_size == S && st.guard_max == 2);

    struct tmi_stack *s[6];
    for (int i = 0; i < 6; i++) {
        s[i] = tmi_stack_alloc();
        CHECK(s[i]);
        CHECK(s[i]->kind == (i < 2 ? TMI_STACK_GUARDED : TMI_STACK_CARVED));
        CHECK((uintptr_t)tmi_stack_top(s[i]) % 64 == 0);
        CHECK((char *)tmi_stack_top(s[i]) - s[i]->lo == (ptrdiff_t)s[i]->size);
        CHECK(s[i]->size == S - 64 - (i < 2 ? 16 : 0));
        CHECK((char *)s[i]->canary < s[i]->lo);
        CHECK(*s[i]->canary == TMI_STACK_CANARY);
        CHECK(s[i]->owner == NULL);
        tmi_stack_check(s[i]);
    }
    /* Fill every usable byte: no stack overlaps another one, a descriptor
     * or a canary. */
    struct tmi_stack copy[6];
    for (int i = 0; i < 6; i++)
        copy[i] = *s[i];
    for (int i = 0; i < 6; i++)
        memset(s[i]->lo, 0xA0 + i, s[i]->size);
    for (int i = 0; i < 6; i++) {
        CHECK(memcmp(&copy[i], s[i], sizeof copy[i]) == 0);
        tmi_stack_check(s[i]);
        for (size_t b = 0; b < s[i]->size; b += 97)
            CHECK((unsigned char)s[i]->lo[b] == 0xA0 + i);
    }
    /* LIFO reuse through the thread cache */
    tmi_stack_free(s[3]);
    struct tmi_stack *x = tmi_stack_alloc();
    CHECK(x == s[3] && *x->canary == TMI_STACK_CANARY);
    /* free all, allocate as many: the same stacks, no new slots */
    for (int i = 0; i < 6; i++)
        tmi_stack_free(s[i]);
    struct tmi_stack *y[6];
    for (int i = 0; i < 6; i++) {
        y[i] = tmi_stack_alloc();
        int found = 0;
        for (int j = 0; j < 6; j++)
            found += y[i] == s[j];
        CHECK(found == 1);
    }
    tmi_stack_stats(&st);
    CHECK(st.guarded == 2 && st.carved == 4);
    for (int i = 0; i < 6; i++)
        tmi_stack_free(y[i]);
    tmi_stack_fini();

    /* sizes */
    o = (struct tmi_stack_opts){.size = 4096, .guard_max = -1, .keep = -1};
    CHECK(tmi_stack_init(&o) == -1 && errno == EINVAL);
    o.size = (size_t)2 << 30;
    CHECK(tmi_stack_init(&o) == -1 && errno == EINVAL);
    o.size = 8 * KIB;
    CHECK(tmi_stack_init(&o) == 0);
    x = tmi_stack_alloc();
    CHECK(x && x->size == 8 * KIB - 64 - 16);
    tmi_stack_free(x);
    tmi_stack_fini();

    /* lazy initialisation with the defaults */
    x = tmi_stack_alloc();
    CHECK(x);
    tmi_stack_stats(&st);
    CHECK(st.stack_size == 64 * KIB && st.guard_max == max_map_count() / 8);
    tmi_stack_free(x);
    tmi_stack_fini();
}

/* ---- many: 100,000 live stacks, guards first, within the VMA budget ---- */

#define MANY 100000

/* Under TSan the shadow of every word written (mapped on demand, several
 * times the app memory touched) counts in RSS too, and its shadow mappings
 * outlive our munmap: no RSS or after-fini VMA checks there. */
#ifdef TMI_CTX_TSAN
#define MEM_IS_OURS 0
#else
#define MEM_IS_OURS 1
#endif

static void test_many(void)
{
    CHECK(tmi_stack_init(NULL) == 0);
    struct tmi_stack **v = calloc(MANY, sizeof *v);
    CHECK(v);
    long vma0 = vma_count(), rss0 = rss_pages();
    for (long i = 0; i < MANY; i++) {
        v[i] = tmi_stack_alloc();
        CHECK(v[i]);
    }
    long rss1 = rss_pages();
    struct tmi_stack_stats st;
    tmi_stack_stats(&st);
    CHECK(st.guard_max == max_map_count() / 8 && st.guard_max > 0 && st.guard_max < MANY);
    CHECK(st.guarded == st.guard_max);
    CHECK(st.carved == MANY - st.guard_max);
    for (long i = 0; i < MANY; i++)
        CHECK(v[i]->kind == (i < st.guard_max ? TMI_STACK_GUARDED : TMI_STACK_CARVED));

    /* VMAs: about two per guarded stack, one per 64 MiB chunk otherwise
     * (TSan maps one more per chunk for its metadata); comfortably under
     * half of the limit. */
    long vmas = vma_count();
    CHECK(vmas - vma0 <= 2 * st.guarded + 2 * st.chunks + 8);
    CHECK(vmas < max_map_count() / 2);

    /* RSS: a guarded stack touches its canary page and its top page, a
     * carved one only its top page (its canary is in its neighbour's). */
    long expect = 2 * st.guarded + st.carved + st.chunks;
    CHECK(!MEM_IS_OURS || rss1 - rss0 <= expect + 1024);

    /* Every stack is its own: tag both ends, then check them all. */
    for (long i = 0; i < MANY; i++) {
        *(long *)v[i]->lo = i;
        *(long *)((char *)tmi_stack_top(v[i]) - sizeof(long)) = ~i;
    }
    for (long i = 0; i < MANY; i++) {
        CHECK(*(long *)v[i]->lo == i);
        CHECK(*(long *)((char *)tmi_stack_top(v[i]) - sizeof(long)) == ~i);
        tmi_stack_check(v[i]);
    }
    long rss2 = rss_pages();

    /* Free them all: no memory goes back until a trim, which gives back
     * what was touched below the top page of every stack beyond `keep`
     * (here: the tagged low page). */
    for (long i = MANY - 1; i >= 0; i--)
        tmi_stack_free(v[i]);
    long rss3 = rss_pages();
    CHECK(!MEM_IS_OURS || rss3 >= rss2 - 64);
    long keep = (long)((256 << 20) / (64 * KIB));
    long trimmed = tmi_stack_trim();
    CHECK(trimmed >= MANY - keep - 64 && trimmed <= MANY - keep);
    CHECK(tmi_stack_trim() == 0);
    long rss4 = rss_pages();
    CHECK(!MEM_IS_OURS || rss3 - rss4 >= trimmed * 9 / 10);
    tmi_stack_stats(&st);
    CHECK(st.cold == trimmed && st.free_global + 64 >= MANY);

    /* ... and reused: no new slots or mappings. */
    long chunks = st.chunks;
    for (long i = 0; i < MANY; i++) {
        v[i] = tmi_stack_alloc();
        CHECK(v[i]);
        tmi_stack_check(v[i]);
    }
    tmi_stack_stats(&st);
    CHECK(st.chunks == chunks && st.guarded + st.carved == MANY);
    for (long i = 0; i < MANY; i++)
        tmi_stack_free(v[i]);
    tmi_stack_fini();
    CHECK(!MEM_IS_OURS || vma_count() <= vma0 + 2);
    free(v);
}

/* ---- threads: concurrent alloc/free, stacks crossing threads ------------ */

#define T_THREADS 4
#define T_SLOTS 64
#define T_ITERS 100000

static _Atomic(struct tmi_stack *) t_slot[T_SLOTS];

/* A stack is held by one party at a time: the word at lo is 1 while held. */
static void hold(struct tmi_stack *s)
{
    /* deep enough to leave a resident page for tmi_stack_trim to find */
    s->lo[s->size / 2] = 1;
    CHECK(atomic_exchange_explicit((_Atomic long *)s->lo, 1, memory_order_relaxed) == 0);
    tmi_stack_check(s);
}

static void release(struct tmi_stack *s)
{
    tmi_stack_check(s);
    CHECK(atomic_exchange_explicit((_Atomic long *)s->lo, 0, memory_order_relaxed) == 1);
    tmi_stack_free(s);
}

static void *t_worker(void *arg)
{
    uint64_t rng = 0x9E3779B97F4A7C15u * (uintptr_t)arg + 1;
    CHECK(tmi_stack_thread_init() == 0);
    for (int i = 0; i < T_ITERS; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int k = (int)(rng % T_SLOTS);
        struct tmi_stack *n = NULL;
        if (rng & (1u << 20)) {
            n = tmi_stack_alloc();
            CHECK(n);
            hold(n);
        }
        struct tmi_stack *old = atomic_exchange(&t_slot[k], n);
        if (old) release(old);
        if (i % 1024 == 0) tmi_stack_trim();
    }
    tmi_stack_thread_fini();
    return NULL;
}

static void test_threads(void)
{
    struct tmi_stack_opts o = {.size = 16 * KIB, .guard_max = 40, .keep = 8};
    CHECK(tmi_stack_init(&o) == 0);
    pthread_t th[T_THREADS];
    for (uintptr_t i = 0; i < T_THREADS; i++)
        CHECK(pthread_create(&th[i], NULL, t_worker, (void *)i) == 0);
    for (int i = 0; i < T_THREADS; i++)
        CHECK(pthread_join(th[i], NULL) == 0);
    for (int k = 0; k < T_SLOTS; k++) {
        struct tmi_stack *s = atomic_exchange(&t_slot[k], NULL);
        if (s) release(s);
    }
    tmi_stack_thread_fini();
    struct tmi_stack_stats st;
    tmi_stack_stats(&st);
    CHECK(st.guarded == 40 && st.carved > 0);
    /* nothing lost: every stack ever made is back on the global lists */
    CHECK(st.free_global == st.guarded + st.carved);
    /* trim leaves `keep` (8) warm stacks; some may have been trimmed on
     * the way (by the workers' concurrent calls) */
    long warm = st.free_global - st.cold;
    CHECK(tmi_stack_trim() == (warm > 8 ? warm - 8 : 0));
    tmi_stack_stats(&st);
    CHECK(st.free_global == st.guarded + st.carved);
    CHECK(st.free_global - st.cold == (warm > 8 ? 8 : warm));
    tmi_stack_fini();
}

/* ---- canary: detection at switch time ---------------------------------- */

#define MSG_17 "stack overflow in task 17 (model coro, stack 64 KiB)\n"

static struct tmi_stack *cs;

static void child_canary_flip(void)
{
    struct tmi_stack_opts o = {.size = 0, .guard_max = 0, .keep = -1};
    CHECK(tmi_stack_init(&o) == 0);
    tmi_stack_set_overflow_hook("coro", describe);
    cs = tmi_stack_alloc();
    CHECK(cs && cs->kind == TMI_STACK_CARVED);
    cs->owner = (void *)17;
    tmi_stack_check(cs);
    *cs->canary ^= 1;
    tmi_stack_check(cs);
    CHECK(!"tmi_stack_check returned");
}

/* A task whose last call has a 4 KiB local array that reaches below the
 * stack's low end: an overflow that would skip a guard page. The first
 * carved stack of a chunk sits just above the chunk's unused slot 0, so the
 * poke lands in harmless memory and the task can switch back. */
#if defined(__clang__) || defined(__SANITIZE_ADDRESS__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

/* Not instrumented: under ASan's detect_stack_use_after_return, big would
 * otherwise live on a fake stack instead of below the frame. */
static NO_ASAN __attribute__((noinline)) void poke(void)
{
    volatile char big[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)0xA5;
}

static void __attribute__((noinline)) descend(const char *limit)
{
    volatile char pad[256];
    pad[0] = 1;
    if ((const char *)__builtin_frame_address(0) > limit) {
        descend(limit);
        __asm__ volatile("" : : : "memory");
    } else {
        poke();
    }
    pad[1] = pad[0];
}

static void canary_task(struct tmi_transfer t)
{
    fib_enter(t);
    descend(cs->lo + 2048);
    fib_exit();
}

static void child_canary_overflow(void)
{
    struct tmi_stack_opts o = {.size = 0, .guard_max = 0, .keep = -1};
    CHECK(tmi_stack_init(&o) == 0);
    tmi_stack_set_overflow_hook("coro", describe);
    cs = tmi_stack_alloc();
    CHECK(cs && cs->kind == TMI_STACK_CARVED);
    cs->owner = (void *)17;
    fib_start(cs, canary_task);
    /* back on the main stack: the scheduler's check after a switch */
    tmi_stack_check(cs);
    CHECK(!"overflow not detected");
}

static void test_canary(void)
{
    char out[8192];
    int st = run_child(child_canary_flip, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(strstr(out, MSG_17) != NULL);

    st = run_child(child_canary_overflow, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(strstr(out, MSG_17) != NULL);
}

/* ---- overflow: unbounded recursion hits a guard page --------------------- */

static volatile size_t stop_depth = SIZE_MAX;

static size_t __attribute__((noinline)) deep(size_t d)
{
    volatile char buf[512];
    buf[0] = (char)d;
    buf[511] = (char)d;
    if (d == stop_depth) return 0;
    size_t r = deep(d + 1);
    __asm__ volatile("" : "+r"(r)); /* no tail-recursion elimination */
    return r + (size_t)buf[0] + (size_t)buf[511];
}

static void recurse_task(struct tmi_transfer t)
{
    fib_enter(t);
    deep(0);
    fib_exit();
}

static void child_overflow(int with_hook)
{
    CHECK(tmi_stack_init(NULL) == 0);
    CHECK(tmi_stack_thread_init() == 0);
    if (with_hook) tmi_stack_set_overflow_hook("coro", describe);
    struct tmi_stack *s = tmi_stack_alloc();
    CHECK(s && s->kind == TMI_STACK_GUARDED);
    s->owner = (void *)17;
    fib_start(s, recurse_task);
    CHECK(!"recursion returned");
}

static void child_overflow_hook(void)
{
    child_overflow(1);
}
static void child_overflow_nohook(void)
{
    child_overflow(0);
}

static void test_overflow(void)
{
    char out[8192];
    int st = run_child(child_overflow_hook, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(strstr(out, MSG_17) != NULL);

    st = run_child(child_overflow_nohook, out, sizeof out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    CHECK(strstr(out, "stack overflow in task ? (model ?, stack 64 KiB)\n") != NULL);
}

/* ---- fault: other faults are not ours ------------------------------------ */

static int *volatile bad_ptr = (int *)16;

static void child_null(void)
{
    CHECK(tmi_stack_thread_init() == 0);
    struct tmi_stack *s = tmi_stack_alloc(); /* the chunk table is not empty */
    CHECK(s);
    *bad_ptr = 1;
}

static void child_kill(void)
{
    CHECK(tmi_stack_thread_init() == 0);
    CHECK(tmi_stack_alloc());
    kill(getpid(), SIGSEGV);
}

static void test_fault(void)
{
    char out[8192];
    int st = run_child(child_null, out, sizeof out);
    CHECK(strstr(out, "stack overflow") == NULL);
#if defined(TMI_CTX_ASAN) || defined(TMI_CTX_TSAN)
    /* the sanitizer's own SEGV handler was there first and reports it */
    CHECK(strstr(out, "SEGV") != NULL);
    CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
#else
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
#endif
    st = run_child(child_kill, out, sizeof out);
    CHECK(strstr(out, "stack overflow") == NULL);
#if defined(TMI_CTX_ASAN) || defined(TMI_CTX_TSAN)
    CHECK(!(WIFEXITED(st) && WEXITSTATUS(st) == 0));
#else
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
#endif
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"basic", test_basic},   {"many", test_many},         {"threads", test_threads},
        {"canary", test_canary}, {"overflow", test_overflow}, {"fault", test_fault},
    };
    if (argc != 2) {
        fprintf(stderr, "usage: test_stack basic|many|threads|canary|overflow|fault\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(argv[1], tests[i].name) == 0) {
            tests[i].fn();
            return 0;
        }
    }
    fprintf(stderr, "test_stack: unknown case '%s'\n", argv[1]);
    return 2;
}
