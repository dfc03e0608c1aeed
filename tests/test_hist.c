/* test_hist.c — the latency histogram: bucket layout, the ≤ 1% error
 * bound, percentiles against exact order statistics, extremes, merging,
 * and concurrent recording from several threads. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "hist.h"
#include "check.h"

static struct tm_hist *shared;

static void *recorder(void *p)
{
    for (int i = 1; i <= 250000; i++) tmi_hist_record(shared, i);
    return p;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    /* buckets tile the whole range, and each value maps to its bucket */
    for (int i = 0; i < TMI_HIST_NBUCKETS - 1; i++) {
        CHECK(tmi_hist_bucket_high(i) + 1 == tmi_hist_bucket_low(i + 1));
        CHECK_EQ(tmi_hist_index(tmi_hist_bucket_low(i)), i);
        CHECK_EQ(tmi_hist_index(tmi_hist_bucket_high(i)), i);
    }
    CHECK(tmi_hist_bucket_high(TMI_HIST_NBUCKETS - 1) == INT64_MAX);
    /* a bucket's midpoint is within 1% of every value in it */
    for (int i = 1; i < TMI_HIST_NBUCKETS; i++) {
        int64_t lo = tmi_hist_bucket_low(i), hi = tmi_hist_bucket_high(i), mid = lo + (hi - lo) / 2;
        CHECK((double)(mid - lo) <= 0.01 * (double)lo);
        CHECK((double)(hi - mid) <= 0.01 * (double)hi);
    }
    /* percentiles of log-uniform values from 1 ns to 10^13 ns vs exact */
    enum { N = 200000 };
    struct tm_hist *h = tmi_hist_new();
    int64_t *v = malloc(N * sizeof *v);
    CHECK(h && v);
    srand(1);
    for (int i = 0; i < N; i++) {
        v[i] = (int64_t)exp((double)rand() / RAND_MAX * log(1e13));
        tmi_hist_record(h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp64);
    const double ps[] = {50, 90, 99, 99.9, 100};
    for (int k = 0; k < 5; k++) {
        int64_t exact = v[(int64_t)ceil(ps[k] / 100 * N) - 1], got = tmi_hist_percentile(h, ps[k]);
        CHECK(fabs((double)(got - exact)) <= 0.01 * (double)exact);
    }
    CHECK(tmi_hist_max(h) == v[N - 1] && tmi_hist_min(h) == v[0]);
    CHECK_EQ(tmi_hist_count(h), N);
    /* extremes: negative counts as 0; the top of the range is exact */
    struct tm_hist *x = tmi_hist_new();
    tmi_hist_record(x, -5);
    tmi_hist_record(x, 0);
    tmi_hist_record(x, INT64_MAX);
    CHECK(tmi_hist_percentile(x, 100) == INT64_MAX);
    CHECK_EQ(tmi_hist_percentile(x, 1), 0);
    tmi_hist_merge(x, h);
    CHECK_EQ(tmi_hist_count(x), N + 3);
    /* concurrent recording loses nothing */
    shared = tmi_hist_new();
    pthread_t t[4];
    for (int i = 0; i < 4; i++) CHECK(pthread_create(&t[i], NULL, recorder, NULL) == 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK_EQ(tmi_hist_count(shared), 1000000);
    CHECK_EQ(tmi_hist_max(shared), 250000);
    CHECK_EQ(tmi_hist_min(shared), 1);
    tmi_hist_free(h), tmi_hist_free(x), tmi_hist_free(shared), free(v);
    printf("ok hist\n");
    return 0;
}
