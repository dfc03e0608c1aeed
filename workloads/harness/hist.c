/* hist.c — the log-linear latency histogram; see hist.h for the layout. */
#include "hist.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int tmi_hist_index(int64_t v)
{
    if (v < TMI_HIST_SUB) return v < 0 ? 0 : (int)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* v in [2^e, 2^(e+1)), e >= 6 */
    int shift = e - TMI_HIST_SUB_BITS;
    int top = (int)(v >> shift); /* in [SUB, 2*SUB) */
    return TMI_HIST_SUB + shift * TMI_HIST_SUB + (top - TMI_HIST_SUB);
}

int64_t tmi_hist_bucket_low(int idx)
{
    if (idx < TMI_HIST_SUB) return idx;
    int shift = (idx - TMI_HIST_SUB) / TMI_HIST_SUB;
    int64_t top = TMI_HIST_SUB + (idx - TMI_HIST_SUB) % TMI_HIST_SUB;
    return top << shift;
}

int64_t tmi_hist_bucket_high(int idx)
{
    if (idx < TMI_HIST_SUB) return idx;
    int shift = (idx - TMI_HIST_SUB) / TMI_HIST_SUB;
    /* low + width - 1, written so the last bucket does not overflow */
    return tmi_hist_bucket_low(idx) + (((int64_t)1 << shift) - 1);
}

static void hist_init(struct tm_hist *h)
{
    atomic_init(&h->count, 0);
    atomic_init(&h->min, INT64_MAX);
    atomic_init(&h->max, INT64_MIN);
    for (int i = 0; i < TMI_HIST_NBUCKETS; i++)
        atomic_init(&h->bucket[i], 0);
}

struct tm_hist *tmi_hist_new(void)
{
    struct tm_hist *h = malloc(sizeof *h);
    if (!h) {
        errno = ENOMEM;
        return NULL;
    }
    hist_init(h);
    return h;
}

void tmi_hist_free(struct tm_hist *h)
{
    free(h);
}

void tmi_hist_reset(struct tm_hist *h)
{
    hist_init(h);
}

/* Relaxed CAS loops: min/max need only be exact once recording has stopped. */
static void store_min(_Atomic int64_t *p, int64_t v)
{
    int64_t cur = atomic_load_explicit(p, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak_explicit(p, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static void store_max(_Atomic int64_t *p, int64_t v)
{
    int64_t cur = atomic_load_explicit(p, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(p, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

void tmi_hist_record(struct tm_hist *h, int64_t v)
{
    if (v < 0) v = 0;
    atomic_fetch_add_explicit(&h->bucket[tmi_hist_index(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    store_min(&h->min, v);
    store_max(&h->max, v);
}

void tmi_hist_merge(struct tm_hist *dst, const struct tm_hist *src)
{
    uint64_t n = atomic_load_explicit(&src->count, memory_order_relaxed);
    if (n == 0) return;
    for (int i = 0; i < TMI_HIST_NBUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&src->bucket[i], memory_order_relaxed);
        if (c) atomic_fetch_add_explicit(&dst->bucket[i], c, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&dst->count, n, memory_order_relaxed);
    store_min(&dst->min, atomic_load_explicit(&src->min, memory_order_relaxed));
    store_max(&dst->max, atomic_load_explicit(&src->max, memory_order_relaxed));
}

uint64_t tmi_hist_count(const struct tm_hist *h)
{
    return atomic_load_explicit(&h->count, memory_order_relaxed);
}

int64_t tmi_hist_min(const struct tm_hist *h)
{
    return tmi_hist_count(h) ? atomic_load_explicit(&h->min, memory_order_relaxed) : 0;
}

int64_t tmi_hist_max(const struct tm_hist *h)
{
    return tmi_hist_count(h) ? atomic_load_explicit(&h->max, memory_order_relaxed) : 0;
}

int64_t tmi_hist_percentile(const struct tm_hist *h, double p)
{
    uint64_t n = tmi_hist_count(h);
    if (n == 0) return 0;
    if (!(p > 0)) p = 0;
    if (p > 100) p = 100;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)n);
    if (rank < 1) rank = 1;
    if (rank >= n) return tmi_hist_max(h); /* the largest value is known exactly */
    uint64_t seen = 0;
    int idx = TMI_HIST_NBUCKETS - 1;
    for (int i = 0; i < TMI_HIST_NBUCKETS; i++) {
        seen += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        if (seen >= rank) {
            idx = i;
            break;
        }
    }
    int64_t low = tmi_hist_bucket_low(idx);
    int64_t v = low + (tmi_hist_bucket_high(idx) - low) / 2;
    int64_t lo = tmi_hist_min(h), hi = tmi_hist_max(h);
    if (v > hi) v = hi;
    if (v < lo) v = lo;
    return v;
}
