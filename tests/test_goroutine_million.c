/* test_goroutine_million.c — a million Gs, skynet-style: a 10-ary tree of
 * tasks, each summing its children's numbers through a channel. Gs get
 * their stacks only when they first run and return them when they end, so
 * the whole tree must finish quickly and within a modest amount of memory
 * (most Gs are queued, stackless, at any time).
 *
 * Usage: test_goroutine_million PROCS [LEAVES]. Sanitizer builds default
 * to 100000 leaves (their per-context bookkeeping is large and slow).
 */
#include <stdatomic.h>
#include <sys/resource.h>

#include "ctx/ctx_san.h"
#include "tm/chan.h"
#include "tt.h"

#if defined(TMI_CTX_ASAN) || defined(TMI_CTX_TSAN)
enum { DEFAULT_LEAVES = 100000 };
#else
enum { DEFAULT_LEAVES = 1000000 };
#endif

struct node {
    int64_t num, size;
    struct tm_chan *out;
};

static _Atomic int64_t spawned;

static void node(void *p)
{
    struct node a = *(struct node *)p; /* the parent's copy may go */
    int64_t sum = a.num;
    if (a.size > 1) {
        struct node kids[10];
        struct tm_chan *rc = tm_chan_make(sizeof(int64_t), 10);
        CHECK(rc);
        sum = 0;
        for (int i = 0; i < 10; i++) {
            kids[i] = (struct node){a.num + i * (a.size / 10), a.size / 10, rc};
            CHECK_EQ(tm_go(node, &kids[i]), 0);
        }
        atomic_fetch_add_explicit(&spawned, 10, memory_order_relaxed);
        for (int i = 0; i < 10; i++) {
            int64_t v;
            CHECK_EQ(tm_chan_recv(rc, &v, -1), 0);
            sum += v;
        }
        tm_chan_free(rc);
    }
    CHECK_EQ(tm_chan_send(a.out, &sum, -1), 0);
}

static int64_t leaves = DEFAULT_LEAVES;

static void body(void)
{
    struct tm_chan *out = tm_chan_make(sizeof(int64_t), 1);
    CHECK(out);
    struct node root = {0, leaves, out};
    int64_t t0 = tm_now(), sum;
    CHECK_EQ(tm_go(node, &root), 0);
    CHECK_EQ(tm_chan_recv(out, &sum, -1), 0);
    int64_t dt = tm_now() - t0;
    tm_chan_free(out);
    CHECK_EQ(sum, leaves * (leaves - 1) / 2);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%lld Gs in %.3f s, max rss %ld MiB\n", (long long)atomic_load(&spawned) + 1,
           (double)dt / 1e9, ru.ru_maxrss / 1024);
    /* A million Gs take about a second on a laptop; 60 s allows for a
     * loaded, shared machine, and still catches a quadratic scheduler. */
    CHECK(dt < 60 * (int64_t)1000000000);
    /* Stackless while queued: far below a million 64 KiB stacks (61 GiB),
     * and below a million 4 KiB pages (4 GiB). */
    CHECK(ru.ru_maxrss < 2L * 1024 * 1024);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PROCS [LEAVES]\n", argv[0]);
        return 2;
    }
    if (argc > 2) leaves = atoll(argv[2]);
    struct tm_config cfg = {.model = "goroutine", .procs = atoi(argv[1])};
    if (tm_init(&cfg) != 0) {
        fprintf(stderr, "tm_init: %s %s\n", strerror(errno), tm_last_error());
        return 1;
    }
    CHECK(tm_run(tt_body, (void *)body) == 0);
    printf("ok million (goroutine, procs %s)\n", argv[1]);
    tm_fini();
    return 0;
}
