/* runner.c — start the model, run warm-ups and repetitions, measure.
 *
 * The harness owns the clock (STYLE.md): a workload never times itself.
 * Everything from setup to teardown runs inside ONE tm_run, as the model's
 * main task, on the model's stack (which --stack-kb may make small): so this
 * file only measures and copies numbers there; records are built and printed
 * by report.c and out.c on the process's own stack after tm_run returns.
 *
 * Per repetition:  setup (untimed) -> [rusage, clock] body [clock, rusage]
 *                  -> verify -> expected -> teardown -> model metrics.
 * teardown runs iff setup succeeded. A failed repetition (setup or body
 * returned -1, or a checksum mismatch) is recorded and ends the run: the
 * workload or model may have left tasks or state behind. A failed warm-up
 * is recorded as repetition 0 with "warm-up N: " before its error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"
#include "hist.h"
#include "model.h"
#include "stack.h"
#include "trace.h"

struct runner {
    const struct tmi_run_opts *o; /* what to run */
    struct tmi_result *res;       /* where the repetitions go */
};

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int64_t tv_ns(const struct timeval *t)
{
    return (int64_t)t->tv_sec * 1000000000 + (int64_t)t->tv_usec * 1000;
}

static void rep_fail(struct tmi_rep *rp, enum tmi_status st, const char *prefix, const char *msg)
{
    /* prefix then msg, truncated to fit; msg may be rp->error itself */
    char buf[sizeof rp->error];
    size_t np = strlen(prefix), nm = strlen(msg), cap = sizeof buf - 1;
    np = np < cap ? np : cap;
    nm = nm < cap - np ? nm : cap - np;
    memcpy(buf, prefix, np);
    memcpy(buf + np, msg, nm);
    buf[np + nm] = '\0';
    memcpy(rp->error, buf, np + nm + 1);
    rp->status = st;
}

void tmi_rep_expect(struct tmi_rep *rp, uint64_t expected)
{
    rp->expected = expected;
    rp->have_expected = 1;
    if (rp->status == TMI_OK && rp->checksum != expected) {
        rp->status = TMI_FAILED;
        snprintf(rp->error, sizeof rp->error,
                 "checksum mismatch: got %" PRIu64 " expected %" PRIu64, rp->checksum, expected);
    }
}

/* tmi_model->metrics callback: overwrite a repeated name, drop beyond 32. */
static void add_model_metric(void *ctx, const char *name, double value)
{
    struct tmi_rep *rp = ctx;
    for (int i = 0; i < rp->nmodel; i++) {
        if (strncmp(rp->model[i].name, name, sizeof rp->model[i].name - 1) == 0) {
            rp->model[i].value = value;
            return;
        }
    }
    if (rp->nmodel == TMI_MAX_MODEL_METRICS) return;
    snprintf(rp->model[rp->nmodel].name, sizeof rp->model[0].name, "%s", name);
    rp->model[rp->nmodel++].value = value;
}

/* Keep only the latency summary: a repetition holds no histogram. */
static void take_hist(struct tmi_rep *rp, struct tm_run *r)
{
    struct tm_hist *h = r->hist;
    if (!h) return;
    rp->has_lat = 1;
    rp->lat.count = tmi_hist_count(h);
    rp->lat.p50 = tmi_hist_percentile(h, 50);
    rp->lat.p90 = tmi_hist_percentile(h, 90);
    rp->lat.p99 = tmi_hist_percentile(h, 99);
    rp->lat.p999 = tmi_hist_percentile(h, 99.9);
    rp->lat.min = tmi_hist_min(h);
    rp->lat.max = tmi_hist_max(h);
    tmi_hist_free(h);
    r->hist = NULL;
}

static void one_rep(struct runner *rn, struct tmi_rep *rp, struct tm_run *r)
{
    const struct tm_workload_ops *wl = rn->o->wl;
    memset(rp, 0, sizeof *rp);
    memset(r, 0, sizeof *r);
    r->wl = wl;
    memcpy(r->param, rn->o->param, sizeof r->param);
    r->procs = rn->res->procs;
    clock_gettime(CLOCK_REALTIME, &rp->when);

    if (wl->setup && wl->setup(r) != 0) {
        rep_fail(rp, TMI_FAILED, "setup: ", r->error[0] ? r->error : "returned -1");
        rp->expected = wl->expected(r);
        rp->have_expected = 1;
        goto out;
    }

    struct rusage ru0, ru1;
    struct timespec t0, t1;
    getrusage(RUSAGE_SELF, &ru0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = wl->body(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &ru1);

    rp->measured = 1;
    rp->wall_ns = ts_ns(&t1) - ts_ns(&t0);
    rp->cpu_user_ns = tv_ns(&ru1.ru_utime) - tv_ns(&ru0.ru_utime);
    rp->cpu_sys_ns = tv_ns(&ru1.ru_stime) - tv_ns(&ru0.ru_stime);
    rp->ctx_vol = ru1.ru_nvcsw - ru0.ru_nvcsw;
    rp->ctx_invol = ru1.ru_nivcsw - ru0.ru_nivcsw;
    rp->max_rss_kb = ru1.ru_maxrss;
    rp->ops = r->ops;

    if (rc != 0) {
        rep_fail(rp, TMI_FAILED, "", r->error[0] ? r->error : "body returned -1 without a message");
    } else {
        rp->checksum = wl->verify(r);
        rp->verified = 1;
    }
    tmi_rep_expect(rp, wl->expected(r));
    if (wl->teardown) wl->teardown(r);
out:
    for (int i = 0; i < r->nmetrics && i < 16; i++) {
        snprintf(rp->metric[i].name, sizeof rp->metric[i].name, "%.31s", r->metric[i].name);
        rp->metric[i].value = r->metric[i].value;
        rp->nmetrics = i + 1;
    }
    take_hist(rp, r);
    if (tmi_model && tmi_model->metrics) tmi_model->metrics(add_model_metric, rp);
    struct tmi_stack_stats st; /* the shared stack pool, for the models that use it */
    tmi_stack_stats(&st);
    if (st.guarded || st.carved) {
        add_model_metric(rp, "stacks_guarded", (double)st.guarded);
        add_model_metric(rp, "stacks_carved", (double)st.carved);
    }
}

/* The model's main task: every warm-up and repetition, in order. */
static void main_task(void *arg)
{
    struct runner *rn = arg;
    const struct tmi_run_opts *o = rn->o;
    struct tm_run *r = malloc(sizeof *r); /* ~1 KiB: keep it off a small stack */
    if (!r) {
        struct tmi_rep *rp = &rn->res->rep[rn->res->nrep++];
        memset(rp, 0, sizeof *rp);
        rep_fail(rp, TMI_FAILED, "", "out of memory");
        return;
    }
    for (int i = 0; i < o->warmup + o->reps; i++) {
        int warm = i < o->warmup;
        struct tmi_rep *rp = &rn->res->rep[rn->res->nrep];
        tmi_crash_arm(o, rn->res, warm ? 0 : i - o->warmup); /* a stack overflow still leaves its record */
        one_rep(rn, rp, r);
        tmi_crash_disarm();
        if (warm && rp->status == TMI_OK) continue; /* the slot is reused */
        if (warm) {
            char prefix[48];
            snprintf(prefix, sizeof prefix, "warm-up %d of %d: ", i + 1, o->warmup);
            rep_fail(rp, rp->status, prefix, rp->error);
            rp->rep = 0;
        } else {
            rp->rep = i - o->warmup;
        }
        rn->res->nrep++;
        if (rp->status != TMI_OK) break;
    }
    free(r);
}

/* A repetition that never ran: the model did not start, or tm_run failed. */
/* One repetition that never ran: "what: why". */
static void no_run(struct tmi_result *res, enum tmi_status st, const char *what, const char *why)
{
    struct tmi_rep *rp = &res->rep[res->nrep++];
    memset(rp, 0, sizeof *rp);
    clock_gettime(CLOCK_REALTIME, &rp->when);
    rp->status = st;
    snprintf(rp->error, sizeof rp->error, "%s: %s", what, why);
}

int tmi_runner(const struct tmi_run_opts *o, struct tmi_result *res)
{
    memset(res, 0, sizeof *res);
    res->rep = calloc((size_t)o->reps, sizeof *res->rep);
    if (!res->rep) {
        errno = ENOMEM;
        return -1;
    }
    res->procs = o->procs > 0 ? o->procs : tmi_machine_pus();
    snprintf(res->placement, sizeof res->placement, "%s", o->placement ? o->placement : "none");
    res->slice_ns = o->slice_us * 1000;
    res->stack_bytes = o->stack_kb * 1024;

    struct tm_config cfg = {
        .model = o->model->name,
        .procs = o->procs,
        .placement = o->placement,
        .slice_ns = o->slice_us * 1000,
        .stack_size = (size_t)o->stack_kb * 1024,
        .trace = o->trace,
    };
    if (o->trace) tmi_trace_begin(); /* before tm_init: workers start there */
    if (tm_init(&cfg) != 0) {
        int e = errno;
        tmi_trace_end();
        /* the model's own reason when it gave one (tm_init clears it first) */
        const char *why = tm_last_error();
        char what[160];
        snprintf(what, sizeof what, *why ? "%s: cannot start" : "%s: cannot start with procs=%d placement=%s",
                 o->model->name, res->procs, res->placement);
        no_run(res, e == EINVAL || e == ENOTSUP ? TMI_UNSUPPORTED : TMI_FAILED, what,
               *why ? why : strerror(e));
        return 0;
    }
    /* The model's own defaults, for the record. */
    const struct tm_config *eff = tm_config();
    if (eff) {
        if (eff->procs > 0) res->procs = eff->procs;
        if (eff->placement) snprintf(res->placement, sizeof res->placement, "%s", eff->placement);
        res->slice_ns = eff->slice_ns;
        res->stack_bytes = (int64_t)eff->stack_size;
    }
    struct runner rn = {.o = o, .res = res};
    if (tm_run(main_task, &rn) != 0 && res->nrep == 0)
        no_run(res, TMI_FAILED, "tm_run", strerror(errno));
    else if (res->nrep == 0)
        no_run(res, TMI_FAILED, "main task", strerror(ECANCELED));
    tm_fini();
    char err[4400];
    if (o->trace && tmi_trace_write(o->trace, o, res, err, sizeof err) != 0)
        fprintf(stderr, "tmbench: %s\n", err);
    return 0;
}

void tmi_result_free(struct tmi_result *res)
{
    free(res->rep);
    memset(res, 0, sizeof *res);
}
