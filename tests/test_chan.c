/* test_chan.c — channel and select semantics on one model. */
#include <stdatomic.h>

#include "tm/chan.h"
#include "tt.h"

static void buffered_fifo(void)
{
    struct tm_chan *ch = tm_chan_make(sizeof(int), 8);
    CHECK(ch);
    for (int i = 0; i < 8; i++) CHECK_EQ(tm_chan_send(ch, &i, 0), 0);
    int v = 99;
    CHECK_EQ(tm_chan_send(ch, &v, 0), -1); /* full: deadline 0 only tries */
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK_EQ(tm_chan_len(ch), 8);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(tm_chan_recv(ch, &v, 0), 0);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(tm_chan_recv(ch, &v, 0), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    int64_t t0 = tm_now();
    CHECK_EQ(tm_chan_recv(ch, &v, t0 + 5000000), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(tm_now() - t0 >= 5000000);
    tm_chan_free(ch);
}

static struct tm_chan *uch;

static void echo_twice(void *p)
{
    int v;
    CHECK_EQ(tm_chan_recv(uch, &v, -1), 0);
    CHECK_EQ(tm_chan_send(uch, &(int){v * 2}, -1), 0);
}

static void unbuffered_rendezvous(void)
{
    CHECK((uch = tm_chan_make(sizeof(int), 0)));
    int v = 21;
    CHECK_EQ(tm_chan_send(uch, &v, 0), -1); /* nobody receiving */
    CHECK_EQ(errno, ETIMEDOUT);
    struct tm_task *t;
    CHECK((t = tm_spawn(echo_twice, NULL)));
    CHECK_EQ(tm_chan_send(uch, &v, -1), 0);
    CHECK_EQ(tm_chan_recv(uch, &v, -1), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(tm_join(t), 0);
    tm_chan_free(uch);
}

enum { PARKED = 6 };
static struct tm_chan *cch;
static _Atomic int epipes;

static void parked_recv(void *p)
{
    int v;
    if (tm_chan_recv(cch, &v, -1) == -1 && errno == EPIPE) atomic_fetch_add(&epipes, 1);
}

static void parked_send(void *p)
{
    int v = 1;
    if (tm_chan_send(cch, &v, -1) == -1 && errno == EPIPE) atomic_fetch_add(&epipes, 1);
}

static void close_wakes_all(void)
{
    /* receivers: close wakes every one with EPIPE */
    CHECK((cch = tm_chan_make(sizeof(int), 0)));
    atomic_store(&epipes, 0);
    struct tm_task *t[PARKED];
    for (int i = 0; i < PARKED; i++) CHECK((t[i] = tm_spawn(parked_recv, NULL)));
    tm_sleep_ns(5000000); /* let them park */
    CHECK_EQ(tm_chan_close(cch), 0);
    for (int i = 0; i < PARKED; i++) tm_join(t[i]);
    CHECK_EQ(atomic_load(&epipes), PARKED);
    CHECK_EQ(tm_chan_close(cch), -1); /* twice */
    CHECK_EQ(errno, EPIPE);
    tm_chan_free(cch);

    /* senders too */
    CHECK((cch = tm_chan_make(sizeof(int), 0)));
    atomic_store(&epipes, 0);
    for (int i = 0; i < PARKED; i++) CHECK((t[i] = tm_spawn(parked_send, NULL)));
    tm_sleep_ns(5000000);
    CHECK_EQ(tm_chan_close(cch), 0);
    for (int i = 0; i < PARKED; i++) tm_join(t[i]);
    CHECK_EQ(atomic_load(&epipes), PARKED);
    tm_chan_free(cch);
}

static void closed_buffer_drains(void)
{
    struct tm_chan *ch = tm_chan_make(sizeof(int), 4);
    for (int i = 0; i < 3; i++) CHECK_EQ(tm_chan_send(ch, &i, -1), 0);
    CHECK_EQ(tm_chan_close(ch), 0);
    int v;
    CHECK_EQ(tm_chan_send(ch, &v, -1), -1);
    CHECK_EQ(errno, EPIPE);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(tm_chan_recv(ch, &v, -1), 0);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(tm_chan_recv(ch, &v, -1), -1);
    CHECK_EQ(errno, EPIPE);
    tm_chan_free(ch);
}

static void select_uniform(void)
{
    /* Four receive cases, all ready every time: each must be chosen about
     * a quarter of the time (binomial sd is ~55 of 4000: bounds are wide). */
    enum { N = 4, ROUNDS = 16000 };
    struct tm_chan *ch[N];
    struct tm_select_case c[N];
    int hits[N] = {0}, v;
    for (int i = 0; i < N; i++) {
        CHECK((ch[i] = tm_chan_make(sizeof(int), 1)));
        CHECK_EQ(tm_chan_send(ch[i], &i, 0), 0);
        c[i] = (struct tm_select_case){.ch = ch[i], .op = TM_SELECT_RECV, .elem = &v};
    }
    for (int r = 0; r < ROUNDS; r++) {
        int k = tm_select(c, N, -1);
        CHECK(k >= 0 && k < N);
        CHECK_EQ(v, k);
        hits[k]++;
        CHECK_EQ(tm_chan_send(ch[k], &k, 0), 0); /* refill */
    }
    for (int i = 0; i < N; i++) {
        CHECK(hits[i] > ROUNDS / N * 8 / 10);
        CHECK(hits[i] < ROUNDS / N * 12 / 10);
        tm_chan_free(ch[i]);
    }
}

static void select_default_and_timeout(void)
{
    struct tm_chan *a = tm_chan_make(sizeof(int), 0), *b = tm_chan_make(sizeof(int), 1);
    int v = 7, out;
    struct tm_select_case c[2] = {{.ch = a, .op = TM_SELECT_RECV, .elem = &out},
                                  {.ch = b, .op = TM_SELECT_RECV, .elem = &out}};
    CHECK_EQ(tm_select(c, 2, 0), -1); /* nothing ready: default */
    CHECK_EQ(errno, ETIMEDOUT);
    int64_t t0 = tm_now();
    CHECK_EQ(tm_select(c, 2, t0 + 5000000), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(tm_now() - t0 >= 5000000);
    CHECK_EQ(tm_chan_send(b, &v, 0), 0);
    CHECK_EQ(tm_select(c, 2, 0), 1); /* now b is ready */
    CHECK_EQ(out, 7);
    /* a send case into b's free slot; a closed channel's recv case fires with EPIPE */
    struct tm_select_case s = {.ch = b, .op = TM_SELECT_SEND, .elem = &v};
    CHECK_EQ(tm_select(&s, 1, 0), 0);
    CHECK_EQ(s.err, 0);
    CHECK_EQ(tm_chan_close(a), 0);
    c[1].ch = NULL; /* NULL cases are ignored */
    CHECK_EQ(tm_select(c, 2, -1), 0);
    CHECK_EQ(c[0].err, EPIPE);
    tm_chan_free(a);
    tm_chan_free(b);
}

/* Stress: producers send 1..M on two channels (one unbuffered, one
 * buffered), consumers select over both with short deadlines (leaving
 * stale nodes behind), and every value arrives exactly once. */
enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 20000 };
static struct tm_chan *sa, *sb;
static _Atomic long long got_sum, got_count;

static void stress_producer(void *p)
{
    struct tm_chan *ch = (uintptr_t)p % 2 ? sa : sb;
    for (long long v = 1; v <= PER_PRODUCER; v++) CHECK_EQ(tm_chan_send(ch, &v, -1), 0);
}

static void stress_consumer(void *p)
{
    long long v;
    struct tm_select_case c[2] = {{.ch = sa, .op = TM_SELECT_RECV, .elem = &v},
                                  {.ch = sb, .op = TM_SELECT_RECV, .elem = &v}};
    for (;;) {
        int k = tm_select(c, 2, tm_now() + 200000);
        if (k < 0) {
            CHECK_EQ(errno, ETIMEDOUT);
            continue;
        }
        if (c[k].err == EPIPE) {
            c[k].ch = NULL; /* that one is done */
            if (!c[0].ch && !c[1].ch) return;
            continue;
        }
        atomic_fetch_add(&got_sum, v);
        atomic_fetch_add(&got_count, 1);
    }
}

static void select_stress(void)
{
    CHECK((sa = tm_chan_make(sizeof(long long), 0)) && (sb = tm_chan_make(sizeof(long long), 16)));
    atomic_store(&got_sum, 0);
    atomic_store(&got_count, 0);
    struct tm_task *p[PRODUCERS], *c[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) CHECK((c[i] = tm_spawn(stress_consumer, NULL)));
    for (uintptr_t i = 0; i < PRODUCERS; i++) CHECK((p[i] = tm_spawn(stress_producer, (void *)i)));
    for (int i = 0; i < PRODUCERS; i++) tm_join(p[i]);
    tm_chan_close(sa);
    tm_chan_close(sb);
    for (int i = 0; i < CONSUMERS; i++) tm_join(c[i]);
    CHECK_EQ(atomic_load(&got_count), (long long)PRODUCERS * PER_PRODUCER);
    CHECK_EQ(atomic_load(&got_sum), (long long)PRODUCERS * PER_PRODUCER * (PER_PRODUCER + 1) / 2);
    tm_chan_free(sa);
    tm_chan_free(sb);
}

int main(int argc, char **argv)
{
    static const struct tt_case cases[] = {
        {"buffered_fifo", buffered_fifo},
        {"unbuffered_rendezvous", unbuffered_rendezvous},
        {"close_wakes_all", close_wakes_all},
        {"closed_buffer_drains", closed_buffer_drains},
        {"select_uniform", select_uniform},
        {"select_default_and_timeout", select_default_and_timeout},
        {"select_stress", select_stress},
        {NULL, NULL},
    };
    return tt_main(argc, argv, cases);
}
