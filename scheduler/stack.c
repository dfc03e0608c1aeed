/* stack.c — the stack pool: guard pages while the VMA budget lasts, carved
 * canary-checked stacks beyond, a per-thread cache, overflow reports.
 *
 * Design
 * ------
 * A million live tasks must fit. One mmap per stack plus a guard page costs
 * two VMAs, and vm.max_map_count (65530 here) caps a process near 32k such
 * stacks — before malloc, threads and libraries take their share. So:
 *
 *  1. The first guard_max stacks (default max_map_count / 8: guards use a
 *     quarter of the VMA budget) are cut from "guarded chunks" of up to 64
 *     slots; each slot is a guard page plus S bytes, and the guard is
 *     mprotect()ed PROT_NONE when the slot is first handed out. An overflow
 *     faults on the guard; the SIGSEGV handler, running on an alternate
 *     signal stack, finds the slot in the chunk table and reports it.
 *  2. After that, stacks are carved back to back from 64 MiB mappings
 *     (MAP_NORESERVE: only touched pages are committed; MADV_NOHUGEPAGE so
 *     a touched page stays a 4 KiB page). One VMA per 64 MiB. Overflow is
 *     caught by the canary word just below each stack's lo, checked by the
 *     scheduler on every switch away from a task (tmi_stack_check). The
 *     canary of slot i lives in the top 16 bytes of slot i-1 (slot 0 of a
 *     chunk is never handed out), i.e. in a page that slot i-1 touches
 *     anyway for its descriptor — so an idle carved stack is one page.
 *
 * Every slot's descriptor sits in its top 64 bytes and doubles as the free
 * list node. Slots are never unmapped until tmi_stack_fini: the chunk table
 * only grows, so the signal handler can read it without a lock (entries are
 * published by a release store of nchunks).
 *
 * Free stacks go to a per-thread cache (up to CACHE_MAX), then in batches of
 * BATCH to one global "warm" list under a mutex; freeing never makes a
 * system call. Memory of free stacks is given back only by tmi_stack_trim,
 * which a scheduler calls when it is idle: warm stacks beyond `keep` that
 * have resident pages below their top page (found by one mincore() per run
 * of neighbours) are madvise(MADV_DONTNEED)'d but their top page, and every
 * trimmed stack moves to a "cold" list, used after the warm one.
 *
 * Rejected: one mmap per stack with no guard (a million VMAs, far beyond
 * max_map_count); a guard page per carved stack (the same); malloc'd stacks
 * (no guard possible, and glibc would mmap every 64 KiB block separately
 * anyway); lock-free global lists (ABA, and the mutex is taken once per
 * BATCH allocations); segmented or copied stacks (need compiler support);
 * trimming in the free path (a madvise per freed stack is ~0.4 us here,
 * 13x the rest of a free, and usually for nothing since the top page stays;
 * a batched mincore probe still costs ~0.25 us per stack — on a million
 * task exits that is a third of a second inside the measurement).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "stack.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ctx/ctx_san.h" /* TMI_CTX_ASAN */

#ifdef TMI_CTX_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define DESC_BYTES 64   /* descriptor area at the top of a slot */
#define CANARY_BYTES 16 /* room for a canary word, keeping 16-byte alignment */
#define GUARD_CHUNK_SLOTS 64
#define CARVED_CHUNK_BYTES ((size_t)64 << 20)
#define CHUNK_MAX 16384 /* 16384 x 64 MiB = 1 TiB of carved stacks */
#define CACHE_MAX 32    /* per-thread cache size */
#define BATCH 16        /* stacks moved between cache and global list at once */
#define TRIM_PAGES 256  /* span of one residency probe (trim) */
#define TRIM_BATCH 16   /* stacks trimmed per lock round trip */
#define ALTSTACK_BYTES ((size_t)64 << 10)

_Static_assert(sizeof(struct tmi_stack) + CANARY_BYTES <= DESC_BYTES, "descriptor too big");

/* One mapping stacks are cut from. Written once under pool.lock before
 * nchunks is bumped; read by the signal handler without a lock. */
struct chunk {
    char *base;    /* start of the mapping */
    size_t len;    /* its length in bytes */
    size_t stride; /* bytes per slot: S, plus a page if guarded */
    int guarded;   /* each slot starts with a guard page */
};

static struct chunk chunks[CHUNK_MAX];
static _Atomic size_t nchunks; /* release on publish, acquire in the handler */

static struct {
    pthread_mutex_t lock;   /* protects every field below */
    int ready;              /* init done */
    size_t size;            /* S: bytes per stack slot */
    size_t page;            /* the page size */
    long guard_max;         /* guarded stacks allowed */
    long keep;              /* warm free stacks tmi_stack_trim leaves alone */
    long guarded;           /* guarded slots handed out so far */
    long carved;            /* carved slots handed out so far */
    long guard_mapped;      /* guarded slots in chunks made so far */
    struct chunk *cur;      /* chunk being carved, or NULL */
    size_t next_slot;       /* next fresh slot in cur */
    size_t nslots;          /* slots in cur */
    struct tmi_stack *free; /* warm free list: not trimmed since last use */
    _Atomic long nfree;     /* its length (atomic: tmi_stack_trim peeks unlocked) */
    struct tmi_stack *cold; /* trimmed free stacks */
    long ncold;             /* their number */
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Bumped by fini: thread caches of an older generation are stale. Read
 * relaxed on the fast path; init/fini run with no task running. */
static _Atomic unsigned pool_gen = 1;

/* pool.keep, for tmi_stack_trim's unlocked early out. */
static _Atomic long trim_keep;

/* Sizes the signal handler needs (copies of pool.size/page, set at init). */
static _Atomic size_t sig_size, sig_page;

/* The per-thread cache. Only its thread touches it. */
static __thread struct {
    struct tmi_stack *head; /* cached free stacks */
    int n;                  /* how many */
    unsigned gen;           /* pool_gen it belongs to */
    void *altstack;         /* our sigaltstack, if we installed one */
} tc;

/* Overflow reporting. */
static _Atomic(const char *) hook_model;
static _Atomic(size_t (*)(const struct tmi_stack *, char *, size_t)) hook_describe;
static _Atomic(void (*)(const char *, size_t)) hook_fatal;

/* A thread on a stack that is not the pool's (a pthreads task): its guard
 * range, its task id and stack size, for the report. Only its thread sets
 * it; the SIGSEGV handler reads it on the same thread. */
static __thread struct {
    const char *lo, *hi; /* the guard, [lo, hi) */
    uint64_t id;
    size_t size;
} tguard;
static struct sigaction old_segv;
static pthread_once_t segv_once = PTHREAD_ONCE_INIT;
static int segv_err;

static long read_max_map_count(void)
{
    char buf[32];
    long v = 65530;
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            long x = strtol(buf, NULL, 10);
            if (x > 0) v = x;
        }
        close(fd);
    }
    return v;
}

/* Called with pool.lock held. */
static int init_locked(const struct tmi_stack_opts *o)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = o && o->size ? o->size : (size_t)64 << 10;
    size = (size + page - 1) & ~(page - 1);
    if (size < ((size_t)8 << 10) || size < 2 * page || size > ((size_t)1 << 30)) {
        errno = EINVAL;
        return -1;
    }
    pool.size = size;
    pool.page = page;
    pool.guard_max = o && o->guard_max >= 0 ? o->guard_max : read_max_map_count() / 8;
    if (o && o->keep >= 0)
        pool.keep = o->keep;
    else
        pool.keep = (long)(((size_t)256 << 20) / size);
    pool.guarded = pool.carved = pool.guard_mapped = 0;
    pool.cur = NULL;
    pool.next_slot = pool.nslots = 0;
    pool.free = pool.cold = NULL;
    atomic_store_explicit(&pool.nfree, 0, memory_order_relaxed);
    pool.ncold = 0;
    atomic_store_explicit(&trim_keep, pool.keep, memory_order_relaxed);
    atomic_store_explicit(&sig_size, size, memory_order_relaxed);
    atomic_store_explicit(&sig_page, page, memory_order_relaxed);
    pool.ready = 1;
    return 0;
}

int tmi_stack_init(const struct tmi_stack_opts *opts)
{
    pthread_mutex_lock(&pool.lock);
    int r;
    if (pool.ready) {
        errno = EBUSY;
        r = -1;
    } else {
        r = init_locked(opts);
    }
    pthread_mutex_unlock(&pool.lock);
    return r;
}

void tmi_stack_fini(void)
{
    pthread_mutex_lock(&pool.lock);
    size_t n = atomic_load_explicit(&nchunks, memory_order_relaxed);
    atomic_store_explicit(&nchunks, 0, memory_order_release);
    for (size_t i = 0; i < n; i++)
        munmap(chunks[i].base, chunks[i].len);
    pool.ready = 0;
    atomic_fetch_add_explicit(&pool_gen, 1, memory_order_relaxed);
    tc.head = NULL;
    tc.n = 0;
    pthread_mutex_unlock(&pool.lock);
}

/* Map a new chunk and make it current. Lock held. */
static int new_chunk_locked(void)
{
    size_t n = atomic_load_explicit(&nchunks, memory_order_relaxed);
    if (n == CHUNK_MAX) {
        errno = ENOMEM;
        return -1;
    }
    struct chunk k;
    long guard_left = pool.guard_max - pool.guard_mapped;
    if (guard_left > 0) {
        size_t slots = guard_left < GUARD_CHUNK_SLOTS ? (size_t)guard_left : GUARD_CHUNK_SLOTS;
        k.stride = pool.size + pool.page;
        k.len = slots * k.stride;
        k.guarded = 1;
    } else {
        k.stride = pool.size;
        k.len = CARVED_CHUNK_BYTES > 16 * pool.size ? CARVED_CHUNK_BYTES : 16 * pool.size;
        k.len -= k.len % pool.size;
        k.guarded = 0;
    }
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK;
    void *p = mmap(NULL, k.len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED && !k.guarded) { /* strict overcommit: try a small chunk */
        k.len = 16 * pool.size;
        p = mmap(NULL, k.len, PROT_READ | PROT_WRITE, flags, -1, 0);
    }
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return -1;
    }
#ifdef MADV_NOHUGEPAGE
    madvise(p, k.len, MADV_NOHUGEPAGE); /* advisory: a failure changes nothing */
#endif
    k.base = p;
    chunks[n] = k;
    atomic_store_explicit(&nchunks, n + 1, memory_order_release);
    pool.cur = &chunks[n];
    pool.nslots = k.len / k.stride;
    pool.next_slot = k.guarded ? 0 : 1; /* carved slot 0 only holds slot 1's canary */
    if (k.guarded) pool.guard_mapped += (long)pool.nslots;
    return 0;
}

/* Hand out a fresh slot. Lock held. */
static struct tmi_stack *carve_locked(void)
{
    for (;;) {
        if (!pool.cur || pool.next_slot == pool.nslots) {
            if (new_chunk_locked() != 0) return NULL;
        }
        struct chunk *k = pool.cur;
        char *slot = k->base + pool.next_slot * k->stride;
        char *r; /* the S bytes of the stack */
        if (k->guarded) {
            if (mprotect(slot, pool.page, PROT_NONE) != 0) {
                /* Out of VMAs after all (something else used them): no
                 * more guards; abandon this chunk's remaining slots. */
                pool.guard_max = pool.guarded;
                pool.guard_mapped = pool.guard_max;
                pool.cur = NULL;
                continue;
            }
            r = slot + pool.page;
        } else {
            r = slot;
        }
        pool.next_slot++;
        struct tmi_stack *s = (struct tmi_stack *)(r + pool.size - DESC_BYTES);
        s->next = NULL;
        s->owner = NULL;
        if (k->guarded) {
            s->canary = (uint64_t *)r;
            s->lo = r + CANARY_BYTES;
            s->kind = TMI_STACK_GUARDED;
            pool.guarded++;
        } else {
            s->canary = (uint64_t *)(r - CANARY_BYTES);
            s->lo = r;
            s->kind = TMI_STACK_CARVED;
            pool.carved++;
        }
        s->size = (size_t)((char *)s - s->lo);
        s->pad_ = 0;
        return s;
    }
}

/* The thread cache belongs to an older pool: forget it. */
static inline void cache_check_gen(void)
{
    unsigned g = atomic_load_explicit(&pool_gen, memory_order_relaxed);
    if (__builtin_expect(tc.gen != g, 0)) {
        tc.head = NULL;
        tc.n = 0;
        tc.gen = g;
    }
}

struct tmi_stack *tmi_stack_alloc(void)
{
    cache_check_gen();
    struct tmi_stack *s = tc.head;
    if (__builtin_expect(s == NULL, 0)) {
        pthread_mutex_lock(&pool.lock);
        if (!pool.ready && init_locked(NULL) != 0) {
            pthread_mutex_unlock(&pool.lock);
            return NULL;
        }
        /* Refill up to BATCH, preferring warm stacks: the cold ones needed
         * go in first so that the (LIFO) cache hands out the warm ones
         * first. Else take one fresh slot. */
        long warm = atomic_load_explicit(&pool.nfree, memory_order_relaxed);
        long want_warm = warm < BATCH ? warm : BATCH;
        long want_cold = BATCH - want_warm < pool.ncold ? BATCH - want_warm : pool.ncold;
        for (; want_cold > 0; want_cold--) {
            struct tmi_stack *f = pool.cold;
            pool.cold = f->next;
            pool.ncold--;
            f->next = tc.head;
            tc.head = f;
            tc.n++;
        }
        for (; want_warm > 0; want_warm--) {
            struct tmi_stack *f = pool.free;
            pool.free = f->next;
            atomic_fetch_sub_explicit(&pool.nfree, 1, memory_order_relaxed);
            f->next = tc.head;
            tc.head = f;
            tc.n++;
        }
        if (!tc.head) {
            s = carve_locked();
            pthread_mutex_unlock(&pool.lock);
            if (!s) return NULL;
            *s->canary = TMI_STACK_CANARY;
            return s;
        }
        pthread_mutex_unlock(&pool.lock);
        s = tc.head;
    }
    tc.head = s->next;
    tc.n--;
    s->owner = NULL;
    *s->canary = TMI_STACK_CANARY; /* re-arm: a free stack's memory may have been dropped */
    return s;
}

/* Move the n first stacks of the cache to the warm list. */
static void cache_flush(int n)
{
    struct tmi_stack *first = tc.head, *last = NULL;
    int k = 0;
    for (struct tmi_stack *s = first; s && k < n; s = s->next, k++)
        last = s;
    if (!last) return;
    tc.head = last->next;
    tc.n -= k;
    pthread_mutex_lock(&pool.lock);
    last->next = pool.free;
    pool.free = first;
    atomic_fetch_add_explicit(&pool.nfree, k, memory_order_relaxed);
    pthread_mutex_unlock(&pool.lock);
}

/* The S bytes of the slot whose descriptor is s. */
static inline char *region_of(const struct tmi_stack *s, size_t size)
{
    return (char *)s + DESC_BYTES - size;
}

/* Drop the memory of free stacks v[0..n) but their top pages (descriptor,
 * and the canary of the stack above). Most tasks only ever touch their top
 * page and a madvise costs ~0.4 us even when there is nothing to drop, so
 * first ask mincore() which stacks have a resident page below the top one
 * — one call per run of neighbouring stacks (usually they are: freed in
 * bulk, in allocation order) — and madvise only those. The vector is small
 * (this may run on a small task stack) and bounds a run's span. */
static void trim(struct tmi_stack **v, int n, size_t size, size_t page)
{
    unsigned char vec[TRIM_PAGES];
    for (int i = 1; i < n; i++) /* by address, so neighbours share a probe */
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            struct tmi_stack *x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    for (int i = 0; i < n;) {
        char *lo = region_of(v[i], size);
        int j = i + 1;
        while (j < n && (size_t)(region_of(v[j], size) + size - lo) <= TRIM_PAGES * page)
            j++;
        size_t len = (size_t)(region_of(v[j - 1], size) + size - lo);
        int probed = len <= TRIM_PAGES * page && mincore(lo, len, vec) == 0;
        for (int k = i; k < j; k++) {
            char *r = region_of(v[k], size);
            int resident = !probed;
            for (size_t p = (size_t)(r - lo) / page, e = p + size / page - 1; !resident && p < e;
                 p++)
                resident = vec[p] & 1;
            if (resident) madvise(r, size - page, MADV_DONTNEED);
        }
        i = j;
    }
}

long tmi_stack_trim(void)
{
    long done = 0;
    for (;;) {
        /* cheap early out for schedulers that call this on every idle turn */
        if (atomic_load_explicit(&pool.nfree, memory_order_relaxed) <=
            atomic_load_explicit(&trim_keep, memory_order_relaxed))
            break;
        struct tmi_stack *v[TRIM_BATCH];
        int m = 0;
        pthread_mutex_lock(&pool.lock);
        while (m < TRIM_BATCH && pool.free &&
               atomic_load_explicit(&pool.nfree, memory_order_relaxed) > pool.keep) {
            v[m] = pool.free;
            pool.free = v[m]->next;
            atomic_fetch_sub_explicit(&pool.nfree, 1, memory_order_relaxed);
            m++;
        }
        size_t size = pool.size, page = pool.page;
        pthread_mutex_unlock(&pool.lock);
        if (m == 0) break;
        trim(v, m, size, page);
        pthread_mutex_lock(&pool.lock);
        for (int i = 0; i < m; i++) {
            v[i]->next = pool.cold;
            pool.cold = v[i];
        }
        pool.ncold += m;
        pthread_mutex_unlock(&pool.lock);
        done += m;
    }
    return done;
}

void tmi_stack_free(struct tmi_stack *s)
{
#ifdef TMI_CTX_ASAN
    /* A task that ended by switching away left its live frames' redzones
     * poisoned; the next task on this stack must not trip over them. Only
     * from the lowest poisoned byte up: unpoisoning all of it would commit
     * the shadow of every stack ever freed (reading clean shadow does not). */
    char *p = __asan_region_is_poisoned(s->lo, s->size);
    if (p) __asan_unpoison_memory_region(p, (size_t)(s->lo + s->size - p));
#endif
    cache_check_gen();
    s->owner = NULL;
    s->next = tc.head;
    tc.head = s;
    if (++tc.n > CACHE_MAX) cache_flush(BATCH);
}

void tmi_stack_stats(struct tmi_stack_stats *st)
{
    pthread_mutex_lock(&pool.lock);
    st->stack_size = pool.size;
    st->guard_max = pool.guard_max;
    st->guarded = pool.guarded;
    st->carved = pool.carved;
    st->free_global = atomic_load_explicit(&pool.nfree, memory_order_relaxed) + pool.ncold;
    st->cold = pool.ncold;
    st->chunks = (long)atomic_load_explicit(&nchunks, memory_order_relaxed);
    pthread_mutex_unlock(&pool.lock);
}

/* ---- overflow reports ------------------------------------------------- */

static void install_segv(void);

void tmi_stack_set_fatal_hook(void (*fatal)(const char *msg, size_t len))
{
    atomic_store_explicit(&hook_fatal, fatal, memory_order_release);
}

int tmi_stack_thread_guard(const void *lo, const void *hi, uint64_t id, size_t size)
{
    tguard.lo = lo;
    tguard.hi = hi;
    tguard.id = id;
    tguard.size = size;
    pthread_once(&segv_once, install_segv);
    if (segv_err) {
        errno = segv_err;
        return -1;
    }
    return 0;
}

void tmi_stack_set_overflow_hook(const char *model, size_t (*describe)(const struct tmi_stack *s,
                                                                       char *buf, size_t len))
{
    atomic_store_explicit(&hook_model, model, memory_order_release);
    atomic_store_explicit(&hook_describe, describe, memory_order_release);
}

/* Append a string / a number to buf (async-signal-safe). */
static size_t put(char *buf, size_t n, size_t cap, const char *s)
{
    while (*s && n < cap)
        buf[n++] = *s++;
    return n;
}

static size_t put_num(char *buf, size_t n, size_t cap, size_t v)
{
    char d[24];
    int k = 0;
    do
        d[k++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (k > 0 && n < cap)
        buf[n++] = d[--k];
    return n;
}

size_t tmi_stack_describe_id(char *buf, size_t len, const char *noun, uint64_t id)
{
    size_t n = put(buf, 0, len, noun);
    n = put(buf, n, len, " ");
    return put_num(buf, n, len, (size_t)id);
}

/* "stack overflow in <who> (model M, stack N KiB)": to stderr, to the
 * fatal hook (the harness writes the run's record), then exit 1. Async-
 * signal-safe: it runs in the SIGSEGV handler. who_id < 0: ask describe. */
static _Noreturn void report(const struct tmi_stack *s, int64_t who_id, size_t size)
{
    char buf[256];
    const size_t cap = sizeof buf - 1;
    size_t n = put(buf, 0, cap, "stack overflow in ");
    size_t (*describe)(const struct tmi_stack *, char *, size_t) =
        atomic_load_explicit(&hook_describe, memory_order_acquire);
    size_t d = 0;
    if (who_id >= 0) {
        n = put(buf, n, cap, "task ");
        n = put_num(buf, n, cap, (size_t)who_id);
    } else if (describe) {
        d = describe(s, buf + n, cap - 64 - n);
        if (d > cap - 64 - n) d = cap - 64 - n;
        n += d;
    }
    if (who_id < 0 && !d) n = put(buf, n, cap, "task ?");
    const char *model = atomic_load_explicit(&hook_model, memory_order_acquire);
    n = put(buf, n, cap, " (model ");
    n = put(buf, n, cap, model ? model : "?");
    n = put(buf, n, cap, ", stack ");
    n = put_num(buf, n, cap, size >> 10);
    n = put(buf, n, cap, " KiB)");
    buf[n] = '\n';
    ssize_t w = write(2, buf, n + 1);
    (void)w;
    void (*fatal)(const char *, size_t) = atomic_load_explicit(&hook_fatal, memory_order_acquire);
    if (fatal) fatal(buf, n);
    _exit(1);
}

_Noreturn void tmi_stack_overflowed(const struct tmi_stack *s)
{
    report(s, -1, atomic_load_explicit(&sig_size, memory_order_relaxed));
}

/* SIGSEGV on an alternate stack: a hit on a guard page is an overflow; any
 * other fault goes to the previous disposition. */
static void on_segv(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    char *a = si->si_addr;
    size_t page = atomic_load_explicit(&sig_page, memory_order_relaxed);
    size_t size = atomic_load_explicit(&sig_size, memory_order_relaxed);
    size_t n = atomic_load_explicit(&nchunks, memory_order_acquire);
    if (si->si_code > 0) { /* a real fault, not kill() */
        if (tguard.hi && a >= tguard.lo && a < tguard.hi) report(NULL, (int64_t)tguard.id, tguard.size);
        for (size_t i = 0; i < n; i++) {
            const struct chunk *k = &chunks[i];
            if (!k->guarded || a < k->base || a >= k->base + k->len) continue;
            size_t off = (size_t)(a - k->base);
            if (off % k->stride < page) {
                char *r = k->base + off / k->stride * k->stride + page;
                tmi_stack_overflowed((const struct tmi_stack *)(r + size - DESC_BYTES));
            }
        }
    }
    /* Not ours: restore the old action and let it take the fault again
     * (returning re-executes the faulting instruction; a kill() is re-sent
     * and delivered when this handler returns). */
    sigaction(SIGSEGV, &old_segv, NULL);
    if (si->si_code <= 0) raise(sig);
}

static void install_segv(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0) segv_err = errno;
}

int tmi_stack_thread_init(void)
{
    if (!tc.altstack) {
        stack_t cur;
        if (sigaltstack(NULL, &cur) == 0 && ((cur.ss_flags & SS_DISABLE) || cur.ss_size < 16384)) {
            void *p = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
            if (p == MAP_FAILED) {
                errno = ENOMEM;
                return -1;
            }
            stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_BYTES, .ss_flags = 0};
            if (sigaltstack(&ss, NULL) != 0) {
                int e = errno;
                munmap(p, ALTSTACK_BYTES);
                errno = e;
                return -1;
            }
            tc.altstack = p;
        }
    }
    pthread_once(&segv_once, install_segv);
    if (segv_err) {
        errno = segv_err;
        return -1;
    }
    return 0;
}

void tmi_stack_thread_fini(void)
{
    cache_check_gen();
    if (tc.n > 0) cache_flush(tc.n);
    if (tc.altstack) {
        stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        munmap(tc.altstack, ALTSTACK_BYTES);
        tc.altstack = NULL;
    }
}
