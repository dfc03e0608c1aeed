/* test_waiter.c — the park/ready seam: ordering, deadlines, and the claim
 * race between a readier and a timing-out parker. */
#include <stdatomic.h>

#include "tt.h"

static struct tm_waiter w1;
static _Atomic int parked;

static void waker(void *p)
{
    while (!atomic_load(&parked)) tm_yield();
    CHECK(tm_waiter_claim(&w1) == 1);
    CHECK(tm_waiter_claim(&w1) == 0); /* only one winner */
    tm_ready(&w1);
}

static void ready_after_park(void)
{
    /* A task parks; another claims and readies it. */
    struct tm_waiter *w = &w1;
    struct tm_task *t;
    atomic_store(&parked, 0);
    tm_waiter_init(w);
    CHECK((t = tm_spawn(waker, NULL)));
    atomic_store(&parked, 1);
    CHECK_EQ(tm_park(w, -1), 0);
    CHECK(tm_join(t) == 0);
}

static void ready_before_park(void)
{
    struct tm_waiter w;
    tm_waiter_init(&w);
    CHECK(tm_waiter_claim(&w));
    tm_ready(&w); /* the wake-up is kept until the park */
    CHECK_EQ(tm_park(&w, tm_now() + 1000000000), 0);
}

static void park_times_out(void)
{
    struct tm_waiter w;
    tm_waiter_init(&w);
    int64_t t0 = tm_now();
    CHECK_EQ(tm_park(&w, t0 + 20000000), -1);
    CHECK_EQ(errno, ETIMEDOUT);
    int64_t dt = tm_now() - t0;
    CHECK(dt >= 20000000);
    CHECK(dt < 2000000000); /* generous: the machine is shared */
    /* after a timeout the parker owns the claim */
    CHECK(tm_waiter_claim(&w) == 0);
    /* deadline 0 only tries */
    tm_waiter_init(&w);
    CHECK_EQ(tm_park(&w, 0), -1);
    CHECK_EQ(errno, ETIMEDOUT);
}

/* Many short waits where a readier races the deadline: every wait must
 * end exactly once, either readied (the readier won the claim) or timed
 * out (the parker did), and the two counts must add up. */
static struct tm_waiter *_Atomic slot;
static _Atomic int stop, readied_by_waker, released;

static void racer(void *p)
{
    while (!atomic_load(&stop)) {
        struct tm_waiter *w = atomic_exchange(&slot, NULL);
        if (w) {
            if (tm_waiter_claim(w)) {
                atomic_fetch_add(&readied_by_waker, 1);
                tm_ready(w);
            }
            atomic_fetch_add(&released, 1); /* w is no longer touched */
        }
        tm_yield();
    }
}

static void claim_race(void)
{
    int rounds = 2000, woken = 0, timed_out = 0, taken = 0;
    atomic_store(&stop, 0);
    atomic_store(&readied_by_waker, 0);
    atomic_store(&released, 0);
    struct tm_task *t;
    CHECK((t = tm_spawn(racer, NULL)));
    for (int i = 0; i < rounds; i++) {
        struct tm_waiter w;
        tm_waiter_init(&w);
        atomic_store(&slot, &w);
        if (tm_park(&w, tm_now() + 20000 * (i % 5)) == 0)
            woken++;
        else
            timed_out++;
        /* Take w back if the racer never picked it up; if it did, wait
         * until it lets go before w goes out of scope. */
        struct tm_waiter *expect = &w;
        if (!atomic_compare_exchange_strong(&slot, &expect, NULL)) taken++;
        while (atomic_load(&released) != taken) tm_yield();
    }
    atomic_store(&stop, 1);
    CHECK(tm_join(t) == 0);
    CHECK_EQ(woken + timed_out, rounds);
    CHECK_EQ(woken, atomic_load(&readied_by_waker));
}

static void sleep_works(void)
{
    int64_t t0 = tm_now();
    CHECK_EQ(tm_sleep_ns(5000000), 0);
    CHECK(tm_now() - t0 >= 5000000);
    CHECK_EQ(tm_sleep_until(0), 0); /* in the past: just yields */
}

static void self_and_join_errors(void)
{
    CHECK(tm_self() != NULL);
    CHECK_EQ(tm_join(NULL), -1);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(tm_join(tm_self()), -1);
    CHECK_EQ(errno, EDEADLK);
}

int main(int argc, char **argv)
{
    static const struct tt_case cases[] = {
        {"ready_after_park", ready_after_park},
        {"ready_before_park", ready_before_park},
        {"park_times_out", park_times_out},
        {"claim_race", claim_race},
        {"sleep_works", sleep_works},
        {"self_and_join_errors", self_and_join_errors},
        {NULL, NULL},
    };
    return tt_main(argc, argv, cases);
}
