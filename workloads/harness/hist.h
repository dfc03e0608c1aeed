/* hist.h — HDR-style latency histogram (the `struct tm_hist` of workload.h).
 *
 * Log-linear buckets: values below 64 ns each get their own bucket; above,
 * every power-of-two range [2^e, 2^(e+1)) is split into 64 equal buckets.
 * A bucket is therefore at most 1/64 of its lower bound wide, and reporting
 * its midpoint is within 1/128 (0.78 %) of any value in it, from 1 ns up to
 * INT64_MAX ns (292 years). 3712 buckets, 29 KiB per histogram.
 *
 * Recording is wait-free and thread-safe: relaxed atomic increments (the
 * counts are only read after the recording tasks have been joined, and the
 * join supplies the happens-before). min and max are exact.
 */
#ifndef TMI_HIST_H
#define TMI_HIST_H

#include <stdint.h>

#define TMI_HIST_SUB_BITS 6
#define TMI_HIST_SUB (1 << TMI_HIST_SUB_BITS) /* buckets per power of two */
#define TMI_HIST_NBUCKETS (TMI_HIST_SUB + (63 - TMI_HIST_SUB_BITS) * TMI_HIST_SUB)

struct tm_hist {
    _Atomic uint64_t count;                     /* values recorded; relaxed */
    _Atomic int64_t min;                        /* smallest value; relaxed CAS */
    _Atomic int64_t max;                        /* largest value; relaxed CAS */
    _Atomic uint64_t bucket[TMI_HIST_NBUCKETS]; /* per-bucket counts; relaxed */
};

/* A new, empty histogram (calloc'd), or NULL with errno ENOMEM. */
struct tm_hist *tmi_hist_new(void);
void tmi_hist_free(struct tm_hist *h);
void tmi_hist_reset(struct tm_hist *h);

/* Record one value; negative values count as 0. Safe from any thread. */
void tmi_hist_record(struct tm_hist *h, int64_t v);

/* Add src's counts into dst. Not atomic with respect to recorders of src. */
void tmi_hist_merge(struct tm_hist *dst, const struct tm_hist *src);

uint64_t tmi_hist_count(const struct tm_hist *h);
int64_t tmi_hist_min(const struct tm_hist *h); /* 0 when empty */
int64_t tmi_hist_max(const struct tm_hist *h); /* 0 when empty */

/* The value at percentile p (0 < p <= 100): the midpoint of the bucket that
 * holds the ceil(p/100 * count)-th smallest value, clamped to [min, max];
 * exactly max when that rank is the last. 0 when empty. */
int64_t tmi_hist_percentile(const struct tm_hist *h, double p);

/* Bucket arithmetic, exported for the tests. */
int tmi_hist_index(int64_t v);
int64_t tmi_hist_bucket_low(int idx);  /* smallest value in bucket idx */
int64_t tmi_hist_bucket_high(int idx); /* largest value in bucket idx */

#endif
