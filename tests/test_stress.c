/* test_stress.c — bounded, seeded, reproducible stress of the shared
 * channel and select code on one model.
 *
 *   graph  10^7 messages (the release build; 2*10^5 elsewhere) through a
 *          select-heavy graph: producers -> routers -> sinks. Each router
 *          selects over two inputs and two outputs at once, so receives and
 *          sends race in the same select; some selects have deadlines that
 *          expire and leave stale nodes behind. Every message must arrive
 *          exactly once (count and sum); a lost wake-up hangs the test,
 *          which CTest's timeout turns into a failure.
 *   close  1000 rounds of close-while-selecting: a task selects over a
 *          receive on `a`, a receive on `b` and a send on `c` while three
 *          other tasks close `a`, send on `b` and receive on `c` at the
 *          same moment. Exactly one case fires per select, every value is
 *          accounted for, and nothing is left parked.
 *
 * Usage: test_stress MODEL PROCS [graph|close] [MESSAGES]
 */
#include <stdatomic.h>
#include <stdint.h>

#include "tm/chan.h"
#include "tm/sync.h"
#include "tt.h"

static int64_t messages = 10000000; /* argv[4] overrides */

/* ---- graph ---- */

enum { PRODUCERS = 4, ROUTERS = 4, SINKS = 2 };

static struct tm_chan *in[ROUTERS];   /* producers -> routers (unbuffered and buffered mixed) */
static struct tm_chan *out[SINKS];    /* routers -> sinks */
static int64_t per_producer;
static _Atomic int64_t got_count, got_sum, producers_left, routers_left;
static struct tm_waitgroup wg;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void producer(void *p)
{
    uint64_t seed = (uintptr_t)p * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 1; i <= per_producer; i++) {
        int64_t v = i;
        struct tm_chan *ch = in[rng_next(&seed) % ROUTERS];
        CHECK_EQ(tm_chan_send(ch, &v, -1), 0);
    }
    if (atomic_fetch_sub(&producers_left, 1) == 1)
        for (int r = 0; r < ROUTERS; r++) tm_chan_close(in[r]);
    tm_waitgroup_done(&wg);
}

/* Select over two inputs and, once holding a value, two outputs too: a
 * router may receive a second value only after forwarding the first. */
static void router(void *p)
{
    int r = (int)(uintptr_t)p;
    struct tm_chan *a = in[r], *b = in[(r + 1) % ROUTERS];
    int64_t held = 0, v;
    int holding = 0, open_a = 1, open_b = 1;
    while (open_a || open_b || holding) {
        struct tm_select_case c[4] = {
            {.ch = holding ? NULL : (open_a ? a : NULL), .op = TM_SELECT_RECV, .elem = &v},
            {.ch = holding ? NULL : (open_b ? b : NULL), .op = TM_SELECT_RECV, .elem = &v},
            {.ch = holding ? out[0] : NULL, .op = TM_SELECT_SEND, .elem = &held},
            {.ch = holding ? out[1] : NULL, .op = TM_SELECT_SEND, .elem = &held},
        };
        int k = tm_select(c, 4, tm_now() + 1000000); /* 1 ms: some expire */
        if (k < 0) {
            CHECK_EQ(errno, ETIMEDOUT);
            continue;
        }
        if (k < 2 && c[k].err == EPIPE) {
            if (k == 0) open_a = 0;
            else open_b = 0;
            continue;
        }
        CHECK_EQ(c[k].err, 0);
        if (k < 2) {
            held = v;
            holding = 1;
        } else {
            holding = 0;
        }
    }
    if (atomic_fetch_sub(&routers_left, 1) == 1)
        for (int s = 0; s < SINKS; s++) tm_chan_close(out[s]);
    tm_waitgroup_done(&wg);
}

static void sink(void *p)
{
    struct tm_chan *ch = out[(uintptr_t)p];
    int64_t v, n = 0, sum = 0;
    while (tm_chan_recv(ch, &v, -1) == 0) n++, sum += v;
    CHECK_EQ(errno, EPIPE);
    atomic_fetch_add(&got_count, n);
    atomic_fetch_add(&got_sum, sum);
    tm_waitgroup_done(&wg);
}

static void graph(void)
{
    per_producer = messages / PRODUCERS;
    for (int r = 0; r < ROUTERS; r++) CHECK((in[r] = tm_chan_make(sizeof(int64_t), r % 2 ? 8 : 0)));
    for (int s = 0; s < SINKS; s++) CHECK((out[s] = tm_chan_make(sizeof(int64_t), s ? 4 : 0)));
    atomic_store(&got_count, 0);
    atomic_store(&got_sum, 0);
    atomic_store(&producers_left, PRODUCERS);
    atomic_store(&routers_left, ROUTERS);
    tm_waitgroup_init(&wg);
    tm_waitgroup_add(&wg, PRODUCERS + ROUTERS + SINKS);
    for (uintptr_t i = 0; i < SINKS; i++) CHECK_EQ(tm_go(sink, (void *)i), 0);
    for (uintptr_t i = 0; i < ROUTERS; i++) CHECK_EQ(tm_go(router, (void *)i), 0);
    for (uintptr_t i = 0; i < PRODUCERS; i++) CHECK_EQ(tm_go(producer, (void *)i), 0);
    CHECK_EQ(tm_waitgroup_wait(&wg, -1), 0);
    CHECK_EQ(atomic_load(&got_count), per_producer * PRODUCERS);
    CHECK_EQ(atomic_load(&got_sum), PRODUCERS * per_producer * (per_producer + 1) / 2);
    for (int r = 0; r < ROUTERS; r++) tm_chan_free(in[r]);
    for (int s = 0; s < SINKS; s++) tm_chan_free(out[s]);
    printf("graph: %lld messages through %d routers\n", (long long)(per_producer * PRODUCERS), ROUTERS);
}

/* ---- close while selecting ---- */

static struct tm_chan *ca, *cb, *cc;
static _Atomic int go_flag;
static _Atomic int b_sent, c_taken;

static void wait_go(void)
{
    while (!atomic_load(&go_flag)) tm_yield();
}

static void closer(void *p)
{
    wait_go();
    CHECK_EQ(tm_chan_close(ca), 0);
}

static void b_sender(void *p)
{
    int v = 2;
    wait_go();
    if (tm_chan_send(cb, &v, -1) == 0) atomic_store(&b_sent, 1); /* else EPIPE: closed after the select */
}

static void c_receiver(void *p)
{
    int v;
    wait_go();
    if (tm_chan_recv(cc, &v, -1) == 0) {
        CHECK_EQ(v, 3);
        atomic_store(&c_taken, 1);
    }
}

static void close_race(void)
{
    int rounds = 1000, fired[3] = {0, 0, 0};
    for (int r = 0; r < rounds; r++) {
        CHECK((ca = tm_chan_make(sizeof(int), 0)) && (cb = tm_chan_make(sizeof(int), 0)) &&
              (cc = tm_chan_make(sizeof(int), 0)));
        atomic_store(&go_flag, 0);
        atomic_store(&b_sent, 0);
        atomic_store(&c_taken, 0);
        struct tm_task *t[3];
        CHECK((t[0] = tm_spawn(closer, NULL)) && (t[1] = tm_spawn(b_sender, NULL)) &&
              (t[2] = tm_spawn(c_receiver, NULL)));
        int va = 0, vb = 0, vc = 3;
        struct tm_select_case c[3] = {{.ch = ca, .op = TM_SELECT_RECV, .elem = &va},
                                      {.ch = cb, .op = TM_SELECT_RECV, .elem = &vb},
                                      {.ch = cc, .op = TM_SELECT_SEND, .elem = &vc}};
        atomic_store(&go_flag, 1);
        int k = tm_select(c, 3, tm_now() + 2000000000);
        CHECK(k >= 0 && k < 3);
        fired[k]++;
        if (k == 0) CHECK_EQ(c[0].err, EPIPE);
        if (k == 1) CHECK_EQ(vb, 2);
        /* release the losers: a send on b or a receive on c now fails */
        CHECK_EQ(tm_chan_close(cb), 0);
        CHECK_EQ(tm_chan_close(cc), 0);
        for (int i = 0; i < 3; i++) CHECK_EQ(tm_join(t[i]), 0);
        /* every value is accounted for: b was sent only if we took it, c
         * was received only if we sent it */
        CHECK_EQ(atomic_load(&b_sent), k == 1);
        CHECK_EQ(atomic_load(&c_taken), k == 2);
        tm_chan_free(ca), tm_chan_free(cb), tm_chan_free(cc);
    }
    printf("close: %d rounds, fired a(closed) %d, b %d, c %d\n", rounds, fired[0], fired[1], fired[2]);
}

int main(int argc, char **argv)
{
    static const struct tt_case all[] = {{"graph", graph}, {"close", close_race}, {NULL, NULL}};
    static struct tt_case one[2];
    if (argc > 4) messages = atoll(argv[4]);
    CHECK(messages >= PRODUCERS);
    if (argc > 3) {
        for (const struct tt_case *c = all; c->name; c++)
            if (!strcmp(c->name, argv[3])) one[0] = *c;
        CHECK(one[0].name != NULL);
        return tt_main(argc, argv, one);
    }
    return tt_main(argc, argv, all);
}
