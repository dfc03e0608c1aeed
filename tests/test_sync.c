/* test_sync.c — mutex, condition variable and wait group on one model. */
#include <stdatomic.h>

#include "tm/sync.h"
#include "tt.h"

enum { TASKS = 8, ITERS = 20000 };

static struct tm_mutex mu;
static long counter;       /* guarded by mu */
static _Atomic int inside; /* tasks inside the critical section */

static void incr(void *p)
{
    for (int i = 0; i < ITERS; i++) {
        tm_mutex_lock(&mu);
        CHECK_EQ(atomic_fetch_add(&inside, 1), 0); /* mutual exclusion */
        counter++;
        if (i % 97 == 0) tm_yield(); /* hold it across a switch sometimes */
        atomic_fetch_sub(&inside, 1);
        tm_mutex_unlock(&mu);
    }
}

static void mutex_excludes(void)
{
    tm_mutex_init(&mu);
    counter = 0;
    tt_spawn_join(TASKS, incr, NULL, 0);
    CHECK_EQ(counter, (long)TASKS * ITERS);
}

static void holder(void *p)
{
    CHECK_EQ(tm_mutex_trylock(&mu), -1);
    CHECK_EQ(errno, EBUSY);
}

static void mutex_trylock(void)
{
    tm_mutex_init(&mu);
    CHECK_EQ(tm_mutex_trylock(&mu), 0);
    tt_spawn_join(1, holder, NULL, 0);
    CHECK_EQ(tm_mutex_unlock(&mu), 0);
    CHECK_EQ(tm_mutex_trylock(&mu), 0);
    tm_mutex_unlock(&mu);
}

/* A bounded queue of ints under mu with two condition variables. */
static struct tm_cond not_empty, not_full;
static int q[4], qhead, qlen;
static long consumed_sum;

static void producer(void *p)
{
    for (int i = 1; i <= ITERS; i++) {
        tm_mutex_lock(&mu);
        while (qlen == 4) tm_cond_wait(&not_full, &mu, -1);
        q[(qhead + qlen++) % 4] = i;
        tm_cond_signal(&not_empty);
        tm_mutex_unlock(&mu);
    }
}

static void consumer(void *p)
{
    for (int i = 0; i < ITERS; i++) {
        tm_mutex_lock(&mu);
        while (qlen == 0) tm_cond_wait(&not_empty, &mu, -1);
        consumed_sum += q[qhead];
        qhead = (qhead + 1) % 4;
        qlen--;
        tm_cond_signal(&not_full);
        tm_mutex_unlock(&mu);
    }
}

static void cond_queue(void)
{
    tm_mutex_init(&mu);
    tm_cond_init(&not_empty);
    tm_cond_init(&not_full);
    qhead = qlen = 0;
    consumed_sum = 0;
    struct tm_task *c1, *c2, *p1, *p2;
    CHECK((c1 = tm_spawn(consumer, NULL)) && (c2 = tm_spawn(consumer, NULL)));
    CHECK((p1 = tm_spawn(producer, NULL)) && (p2 = tm_spawn(producer, NULL)));
    tm_join(p1), tm_join(p2), tm_join(c1), tm_join(c2);
    CHECK_EQ(consumed_sum, 2L * ITERS * (ITERS + 1) / 2);
}

static void cond_timeout(void)
{
    struct tm_cond c;
    tm_mutex_init(&mu);
    tm_cond_init(&c);
    tm_mutex_lock(&mu);
    int64_t t0 = tm_now();
    CHECK_EQ(tm_cond_wait(&c, &mu, t0 + 10000000), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    CHECK(tm_now() - t0 >= 10000000);
    CHECK_EQ(tm_mutex_trylock(&mu), -1); /* relocked on return */
    tm_mutex_unlock(&mu);
}

static _Atomic int released;
static struct tm_cond gate;

static void gate_waiter(void *p)
{
    tm_mutex_lock(&mu);
    while (!atomic_load(&released)) tm_cond_wait(&gate, &mu, -1);
    tm_mutex_unlock(&mu);
}

static void cond_broadcast_wakes_all(void)
{
    tm_mutex_init(&mu);
    tm_cond_init(&gate);
    atomic_store(&released, 0);
    struct tm_task *t[TASKS];
    for (int i = 0; i < TASKS; i++) CHECK((t[i] = tm_spawn(gate_waiter, NULL)));
    tm_sleep_ns(2000000);
    tm_mutex_lock(&mu);
    atomic_store(&released, 1);
    tm_cond_broadcast(&gate);
    tm_mutex_unlock(&mu);
    for (int i = 0; i < TASKS; i++) CHECK_EQ(tm_join(t[i]), 0);
}

static struct tm_waitgroup wg;
static _Atomic int finished;

static void wg_worker(void *p)
{
    tm_sleep_ns(1000000);
    atomic_fetch_add(&finished, 1);
    tm_waitgroup_done(&wg);
}

static void waitgroup_waits(void)
{
    tm_waitgroup_init(&wg);
    atomic_store(&finished, 0);
    CHECK_EQ(tm_waitgroup_wait(&wg, 0), 0); /* zero: returns at once */
    CHECK_EQ(tm_waitgroup_add(&wg, TASKS), 0);
    for (int i = 0; i < TASKS; i++) CHECK_EQ(tm_go(wg_worker, NULL), 0);
    CHECK_EQ(tm_waitgroup_wait(&wg, -1), 0);
    CHECK_EQ(atomic_load(&finished), TASKS);
    CHECK_EQ(tm_waitgroup_add(&wg, -1), -1); /* below zero */
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(tm_waitgroup_add(&wg, 1), 0);
    CHECK_EQ(tm_waitgroup_wait(&wg, tm_now() + 1000000), -1);
    CHECK_EQ(errno, ETIMEDOUT);
}

int main(int argc, char **argv)
{
    static const struct tt_case cases[] = {
        {"mutex_excludes", mutex_excludes},
        {"mutex_trylock", mutex_trylock},
        {"cond_queue", cond_queue},
        {"cond_timeout", cond_timeout},
        {"cond_broadcast_wakes_all", cond_broadcast_wakes_all},
        {"waitgroup_waits", waitgroup_waits},
        {NULL, NULL},
    };
    return tt_main(argc, argv, cases);
}
