/* workload.h — what a workload is: a table of ops the harness drives.
 *
 * For each repetition the harness runs, inside the model's main task:
 *   setup (untimed) -> body (timed) -> verify (untimed) -> teardown.
 * verify returns a checksum that depends only on the parameters, so every
 * model must produce the same one; `expected` says what it must be.
 * A workload sees only include/tm/: it never knows which model runs it.
 */
#ifndef TM_WORKLOAD_H
#define TM_WORKLOAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum tm_param_type {
    TM_PARAM_INT,  /* a whole number in [min, max] */
    TM_PARAM_ENUM, /* one of the '|'-separated words in choices */
};

struct tm_param_def {
    const char *name;        /* --set name=value */
    enum tm_param_type type;
    int64_t def, min, max;   /* INT: default and inclusive range */
    const char *choices;     /* ENUM: "pipe|chan"; the first is the default */
    const char *help;        /* one line for `tmbench list` */
};

struct tm_hist; /* latency histogram, see below */

/* One repetition's context. The harness owns it; the workload reads params
 * and writes ops, metrics, the histogram and state. */
struct tm_run {
    const struct tm_workload_ops *wl;
    int64_t param[16];       /* INT values, or the ENUM choice's index, by def order */
    int procs;               /* the --procs of this run */
    uint64_t ops;            /* out: operations done by body (see `op` below) */
    void *state;             /* workload-private, from setup to teardown */
    struct tm_hist *hist;    /* latency histogram, allocated by tm_run_hist */
    int nmetrics;
    struct { char name[32]; double value; } metric[16];
    char error[256];         /* set by tm_run_fail */
};

struct tm_workload_ops {
    const char *name;     /* contract name, e.g. "fib" */
    const char *kind;     /* "micro", "cpu", "io", "mixed", "diagnostic" */
    const char *summary;  /* one line for `tmbench list` */
    const char *op;       /* what one op is, e.g. "one task spawned and joined" */
    const struct tm_param_def *params;
    int nparams;
    /* required: the timed part, run as the model's main task. 0, or -1
     * after tm_run_fail. Sets r->ops. */
    int (*body)(struct tm_run *r);
    /* required: the checksum of what body computed, and the value it must
     * have for these parameters. expected reads only the parameters and
     * procs (never what body did): the harness may compute it once per run,
     * before a peer starts, so that it never competes with a repetition.
     * (The one exception is the demo's calibrated workload in
     * harness/demo.c, which never runs on a peer.) */
    uint64_t (*verify)(struct tm_run *r);
    uint64_t (*expected)(const struct tm_run *r);
    /* optional: untimed preparation (NULL: nothing). 0 or -1 + tm_run_fail. */
    int (*setup)(struct tm_run *r);
    /* optional: free what setup/body made (NULL: nothing). */
    void (*teardown)(struct tm_run *r);
    /* optional, network workloads (echo, http): serve the connections that
     * arrive on listen_fd (listening, non-blocking), one task each, until
     * *stop is set; used by `tmbench serve` and by body. NULL: cannot serve. */
    int (*serve)(struct tm_run *r, int listen_fd, _Atomic int *stop);
};

/* Value of parameter name (an INT's value or an ENUM's choice index).
 * Aborts if the workload has no such parameter: that is a workload bug. */
int64_t tm_run_param(const struct tm_run *r, const char *name);

/* Record why the run failed (printf format); returns -1 for `return`. */
int tm_run_fail(struct tm_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set (or overwrite) a metric for the record's metrics{} object. */
void tm_run_metric(struct tm_run *r, const char *name, double value);

/* The run's latency histogram, made on first use; the record then carries
 * latency_ns. NULL only when out of memory. */
struct tm_hist *tm_run_hist(struct tm_run *r);

/* Record one latency in ns. Safe from any task or thread concurrently. */
void tm_hist_record(struct tm_hist *h, int64_t ns);

/* The catalogue (workloads/registry.c): every workload, NULL-terminated. */
extern const struct tm_workload_ops *const tm_workloads[];
const struct tm_workload_ops *tm_workload_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif
