/* wl.h — small helpers shared by the workload files (not a public API). */
#ifndef WL_H
#define WL_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tm/tm.h"
#include "tm/workload.h"

#define WL_NPARAMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* `rounds` rounds of splitmix64 from x: pure compute with no memory
 * traffic and no calls, nothing a compiler can fold (parfor's chunks, the
 * parallelism demo's slices). */
static inline uint64_t wl_hash_rounds(uint64_t x, int64_t rounds)
{
    for (int64_t i = 0; i < rounds; i++) {
        x += 0x9E3779B97F4A7C15ULL;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        x ^= z ^ (z >> 31);
    }
    return x;
}

/* 1234567 -> "1,234,567" for error messages people read. */
static inline const char *wl_commas(char buf[32], long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", v < 0 ? -v : v), o = 0;
    if (v < 0) buf[o++] = '-';
    for (int i = 0; i < n; i++) {
        buf[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i != n - 1) buf[o++] = ',';
    }
    buf[o] = 0;
    return buf;
}

/* Record a spawn failure the way DESIGN.md wants it read:
 * "pthreads: EAGAIN creating task 31,742 of 1,000,000: <the model's detail>".
 * e is the spawn's errno and why its tm_last_error(), both read by the task
 * whose spawn failed (tm_last_error is per kernel thread). */
static inline int wl_spawn_failed_as(struct tm_run *r, long long i, long long n, int e,
                                     const char *why)
{
    char a[32], b[32];
    return tm_run_fail(r, "%s: %s creating task %s of %s%s%s", tm_model_name(),
                       e == EAGAIN ? "EAGAIN" : e == ENOMEM ? "ENOMEM" : strerror(e),
                       wl_commas(a, i + 1), wl_commas(b, n), *why ? ": " : "", why);
}

/* The same, for a spawn that failed in the calling task just now. */
static inline int wl_spawn_failed(struct tm_run *r, long long i, long long n)
{
    int e = errno;
    return wl_spawn_failed_as(r, i, n, e, tm_last_error());
}

#endif
