/* report.c — a repetition as a result record (DESIGN.md §4), and the
 * human-readable view of a run.
 *
 * Record fields, in order (extend, never rename):
 *   schema model [peer{name version}] workload procs placement slice_us stack_kb warmup reps rep
 *   status [error] valid checksum expected wall_ns cpu_user_ns cpu_sys_ns
 *   max_rss_kb ctx_vol ctx_invol ops ops_per_s ns_per_op params{}
 *   [latency_ns{count p50 p90 p99 p999 min max}] metrics{} machine{} build{}
 *   timestamp
 * Measurements of a body that never ran are null; so are ns_per_op when ops
 * is 0, slice_us/stack_kb when the model reports no value, and expected
 * when the model never started. checksum is
 * always a number: 0 when verify did not run (a failed body's state may be
 * half-built, so verify is not called on it). error appears only when
 * status is not "ok".
 * A peer's record (peer.c) adds peer{name, version}: the runtime that ran
 * it, version null when the peer never answered; its "runtime" figures
 * (GC cycles, ...) are model metrics.
 * A model metric whose name a workload metric already uses is written as
 * "model.<name>".
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"

static const char *status_name(enum tmi_status s)
{
    return s == TMI_OK ? "ok" : s == TMI_FAILED ? "failed" : "unsupported";
}

static void rfc3339(const struct timespec *t, char *buf, size_t bufsz)
{
    struct tm tm;
    time_t s = t->tv_sec;
    gmtime_r(&s, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, bufsz, "%s.%03ldZ", day, t->tv_nsec / 1000000);
}

static void add_params(const struct tmi_run_opts *o, struct tmi_rec *rec)
{
    tmi_rec_group(rec, "params");
    for (int i = 0; i < o->wl->nparams && i < TMI_MAX_PARAMS; i++) {
        const struct tm_param_def *d = &o->wl->params[i];
        char word[64];
        if (d->type == TM_PARAM_ENUM)
            tmi_rec_str(rec, "params", d->name,
                        tmi_enum_name(d->choices, o->param[i], word, sizeof word));
        else
            tmi_rec_i64(rec, "params", d->name, o->param[i]);
    }
}

static void add_metrics(const struct tmi_rep *rp, struct tmi_rec *rec)
{
    tmi_rec_group(rec, "metrics");
    for (int i = 0; i < rp->nmetrics; i++)
        tmi_rec_dbl(rec, "metrics", rp->metric[i].name, rp->metric[i].value);
    for (int i = 0; i < rp->nmodel; i++) {
        char name[64];
        const char *n = rp->model[i].name;
        if (tmi_rec_get(rec, "metrics", n)) {
            snprintf(name, sizeof name, "model.%s", n);
            n = name;
        }
        tmi_rec_dbl(rec, "metrics", n, rp->model[i].value);
    }
}

/* A measurement, or null when the body never ran. */
static void meas(struct tmi_rec *rec, const struct tmi_rep *rp, const char *name, int64_t v)
{
    if (rp->measured)
        tmi_rec_i64(rec, NULL, name, v);
    else
        tmi_rec_null(rec, NULL, name);
}

void tmi_rep_record(const struct tmi_run_opts *o, const struct tmi_result *res,
                    const struct tmi_rep *rp, struct tmi_rec *rec)
{
    tmi_rec_str(rec, NULL, "schema", "tmbench/1");
    tmi_rec_str(rec, NULL, "model", tmi_opts_model(o));
    if (o->peer) { /* a real runtime run as a child (peer.c) */
        tmi_rec_group(rec, "peer");
        tmi_rec_str(rec, "peer", "name", o->peer->name);
        tmi_rec_str(rec, "peer", "version", res->peer_version[0] ? res->peer_version : NULL);
    }
    tmi_rec_str(rec, NULL, "workload", o->wl->name);
    tmi_rec_i64(rec, NULL, "procs", res->procs);
    tmi_rec_str(rec, NULL, "placement", res->placement);
    if (res->slice_ns > 0)
        tmi_rec_dbl(rec, NULL, "slice_us", (double)res->slice_ns / 1e3);
    else
        tmi_rec_null(rec, NULL, "slice_us");
    if (res->stack_bytes > 0)
        tmi_rec_dbl(rec, NULL, "stack_kb", (double)res->stack_bytes / 1024);
    else
        tmi_rec_null(rec, NULL, "stack_kb");
    tmi_rec_i64(rec, NULL, "warmup", o->warmup);
    tmi_rec_i64(rec, NULL, "reps", o->reps);
    tmi_rec_i64(rec, NULL, "rep", rp->rep);
    tmi_rec_str(rec, NULL, "status", status_name(rp->status));
    if (rp->status != TMI_OK) tmi_rec_str(rec, NULL, "error", rp->error);
    tmi_rec_bool(rec, NULL, "valid",
                 rp->status == TMI_OK && rp->verified && rp->checksum == rp->expected);
    tmi_rec_u64(rec, NULL, "checksum", rp->verified ? rp->checksum : 0);
    if (rp->have_expected)
        tmi_rec_u64(rec, NULL, "expected", rp->expected);
    else
        tmi_rec_null(rec, NULL, "expected");
    meas(rec, rp, "wall_ns", rp->wall_ns);
    meas(rec, rp, "cpu_user_ns", rp->cpu_user_ns);
    meas(rec, rp, "cpu_sys_ns", rp->cpu_sys_ns);
    meas(rec, rp, "max_rss_kb", rp->max_rss_kb);
    meas(rec, rp, "ctx_vol", rp->ctx_vol);
    meas(rec, rp, "ctx_invol", rp->ctx_invol);
    if (rp->measured) {
        tmi_rec_u64(rec, NULL, "ops", rp->ops);
        double secs = (double)rp->wall_ns / 1e9;
        tmi_rec_dbl(rec, NULL, "ops_per_s", secs > 0 ? (double)rp->ops / secs : NAN);
        tmi_rec_dbl(rec, NULL, "ns_per_op", rp->ops ? (double)rp->wall_ns / (double)rp->ops : NAN);
    } else {
        tmi_rec_null(rec, NULL, "ops");
        tmi_rec_null(rec, NULL, "ops_per_s");
        tmi_rec_null(rec, NULL, "ns_per_op");
    }
    add_params(o, rec);
    if (rp->has_lat) {
        const struct tmi_lat *l = &rp->lat;
        tmi_rec_group(rec, "latency_ns");
        tmi_rec_u64(rec, "latency_ns", "count", l->count);
        tmi_rec_i64(rec, "latency_ns", "p50", l->p50);
        tmi_rec_i64(rec, "latency_ns", "p90", l->p90);
        tmi_rec_i64(rec, "latency_ns", "p99", l->p99);
        tmi_rec_i64(rec, "latency_ns", "p999", l->p999);
        tmi_rec_i64(rec, "latency_ns", "min", l->min);
        tmi_rec_i64(rec, "latency_ns", "max", l->max);
    }
    add_metrics(rp, rec);
    tmi_machine_add(rec);
    tmi_build_add(rec);
    char ts[64];
    rfc3339(&rp->when, ts, sizeof ts);
    tmi_rec_str(rec, NULL, "timestamp", ts);
}

/* ---- the human view ---- */

/* 1234567 -> "1.235 ms"; nanoseconds at every scale. */
static const char *fmt_ns(double ns, char *buf, size_t bufsz)
{
    if (ns < 10)
        snprintf(buf, bufsz, "%.2f ns", ns);
    else if (ns < 1e3)
        snprintf(buf, bufsz, "%.1f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, bufsz, "%.3f us", ns / 1e3);
    else if (ns < 1e9)
        snprintf(buf, bufsz, "%.3f ms", ns / 1e6);
    else
        snprintf(buf, bufsz, "%.3f s", ns / 1e9);
    return buf;
}

/* 23220000 -> "23.22M" */
static const char *fmt_si(double v, char *buf, size_t bufsz)
{
    if (v >= 1e9)
        snprintf(buf, bufsz, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, bufsz, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, bufsz, "%.2fk", v / 1e3);
    else
        snprintf(buf, bufsz, "%.4g", v);
    return buf;
}

void tmi_human_header(FILE *f, const struct tmi_run_opts *o)
{
    char procs[16];
    if (o->procs)
        snprintf(procs, sizeof procs, "%d", o->procs);
    else
        snprintf(procs, sizeof procs, "default");
    fprintf(f, "%s on %s: procs %s, placement %s, %d warm-up%s, %d rep%s; params", o->wl->name,
            tmi_opts_model(o), procs, o->placement ? o->placement : "default", o->warmup,
            o->warmup == 1 ? "" : "s", o->reps, o->reps == 1 ? "" : "s");
    for (int i = 0; i < o->wl->nparams && i < TMI_MAX_PARAMS; i++) {
        const struct tm_param_def *d = &o->wl->params[i];
        char word[64];
        if (d->type == TM_PARAM_ENUM)
            fprintf(f, " %s=%s", d->name,
                    tmi_enum_name(d->choices, o->param[i], word, sizeof word));
        else
            fprintf(f, " %s=%" PRId64, d->name, o->param[i]);
    }
    fprintf(f, "%s\n", o->wl->nparams ? "" : " none");
}

/* Text on one line: control characters print as spaces. */
static void put_line(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

void tmi_human_rep(FILE *f, const struct tmi_rep *rp)
{
    char a[32], b[32], c[32], d[32], e[32];
    const char *st = rp->status == TMI_OK       ? "ok"
                     : rp->status == TMI_FAILED ? "FAILED"
                                                : "UNSUPPORTED";
    fprintf(f, "rep %-3d %-6s", rp->rep, st);
    if (rp->measured) {
        fprintf(f, " wall %s", fmt_ns((double)rp->wall_ns, a, sizeof a));
        if (rp->ops) {
            double nspo = (double)rp->wall_ns / (double)rp->ops;
            double opss = rp->wall_ns ? (double)rp->ops * 1e9 / (double)rp->wall_ns : 0;
            fprintf(f, "  %s/op  %s ops/s", fmt_ns(nspo, b, sizeof b), fmt_si(opss, c, sizeof c));
        }
        fprintf(f, "  ops %" PRIu64 "  cpu %s usr + %s sys  rss %.1f MiB  ctx %" PRId64 "/%" PRId64,
                rp->ops, fmt_ns((double)rp->cpu_user_ns, d, sizeof d),
                fmt_ns((double)rp->cpu_sys_ns, e, sizeof e), (double)rp->max_rss_kb / 1024,
                rp->ctx_vol, rp->ctx_invol);
    }
    if (rp->status != TMI_OK) {
        fputs("  ", f);
        put_line(f, rp->error);
    }
    fputc('\n', f);
    if (rp->has_lat)
        fprintf(f, "        latency n=%" PRIu64 "  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                rp->lat.count, fmt_ns((double)rp->lat.p50, a, sizeof a),
                fmt_ns((double)rp->lat.p90, b, sizeof b), fmt_ns((double)rp->lat.p99, c, sizeof c),
                fmt_ns((double)rp->lat.p999, d, sizeof d),
                fmt_ns((double)rp->lat.max, e, sizeof e));
    if (rp->nmetrics + rp->nmodel > 0) {
        fprintf(f, "        metrics");
        for (int i = 0; i < rp->nmetrics + rp->nmodel; i++) {
            const struct tmi_metric *m =
                i < rp->nmetrics ? &rp->metric[i] : &rp->model[i - rp->nmetrics];
            fputc(' ', f);
            put_line(f, m->name);
            fprintf(f, "=%.6g", m->value);
        }
        fputc('\n', f);
    }
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the ok repetitions' wall time (w = 1) or ns/op (w = 0). */
static void stats(const struct tmi_result *res, int wall, double *med, double *lo, double *hi,
                  int *n)
{
    double *v = malloc((size_t)(res->nrep ? res->nrep : 1) * sizeof *v);
    *n = 0;
    for (int i = 0; v && i < res->nrep; i++) {
        const struct tmi_rep *rp = &res->rep[i];
        if (rp->status != TMI_OK || (!wall && rp->ops == 0)) continue;
        v[(*n)++] = wall ? (double)rp->wall_ns : (double)rp->wall_ns / (double)rp->ops;
    }
    if (*n) {
        qsort(v, (size_t)*n, sizeof *v, cmp_dbl);
        *med = *n % 2 ? v[*n / 2] : (v[*n / 2 - 1] + v[*n / 2]) / 2;
        *lo = v[0];
        *hi = v[*n - 1];
    }
    free(v);
}

void tmi_human_summary(FILE *f, const struct tmi_result *res, int reps)
{
    int ok = 0, n;
    for (int i = 0; i < res->nrep; i++)
        ok += res->rep[i].status == TMI_OK;
    fprintf(f, "summary: %d of %d rep%s ok%s", ok, reps, reps == 1 ? "" : "s",
            res->nrep < reps ? " (stopped at the first failure)" : "");
    double med = 0, lo = 0, hi = 0;
    char a[32], b[32], c[32];
    stats(res, 1, &med, &lo, &hi, &n);
    if (n)
        fprintf(f, "  wall median %s (min %s, max %s)", fmt_ns(med, a, sizeof a),
                fmt_ns(lo, b, sizeof b), fmt_ns(hi, c, sizeof c));
    stats(res, 0, &med, &lo, &hi, &n);
    if (n)
        fprintf(f, "  per op median %s (min %s, max %s)", fmt_ns(med, a, sizeof a),
                fmt_ns(lo, b, sizeof b), fmt_ns(hi, c, sizeof c));
    fputc('\n', f);
}
