/* wlapi.c — the helpers workload.h promises workloads: parameters, failure
 * messages, metrics and the latency histogram of one repetition. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "tm/workload.h"

int64_t tm_run_param(const struct tm_run *r, const char *name)
{
    const struct tm_workload_ops *wl = r->wl;
    for (int i = 0; wl && i < wl->nparams && i < 16; i++)
        if (strcmp(wl->params[i].name, name) == 0) return r->param[i];
    /* A workload asking for a parameter it never declared is a bug in that
     * workload, not a user error: stop loudly. */
    fprintf(stderr, "tmbench: workload '%s' has no parameter '%s' (workload bug)\n",
            wl ? wl->name : "?", name);
    abort();
}

int tm_run_fail(struct tm_run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    if (r->error[0] == '\0')
        snprintf(r->error, sizeof r->error, "%s: failed", r->wl ? r->wl->name : "workload");
    return -1;
}

/* Not thread-safe: call it from one task (normally the body's main task). */
void tm_run_metric(struct tm_run *r, const char *name, double value)
{
    const int cap = (int)(sizeof r->metric / sizeof r->metric[0]);
    for (int i = 0; i < r->nmetrics; i++) {
        if (strncmp(r->metric[i].name, name, sizeof r->metric[i].name - 1) == 0) {
            r->metric[i].value = value;
            return;
        }
    }
    if (r->nmetrics >= cap) {
        fprintf(stderr, "tmbench: workload '%s' sets more than %d metrics (workload bug)\n",
                r->wl ? r->wl->name : "?", cap);
        abort();
    }
    /* Names longer than 31 bytes are truncated. */
    snprintf(r->metric[r->nmetrics].name, sizeof r->metric[0].name, "%s", name);
    r->metric[r->nmetrics].value = value;
    r->nmetrics++;
}

/* Made on first use; concurrent first uses race with a CAS and the loser
 * frees its copy. Acquire on the load pairs with the release of the CAS so
 * a task that sees the pointer also sees the initialised histogram. */
struct tm_hist *tm_run_hist(struct tm_run *r)
{
    struct tm_hist *h = __atomic_load_n(&r->hist, __ATOMIC_ACQUIRE);
    if (h) return h;
    struct tm_hist *mine = tmi_hist_new();
    if (!mine) return NULL;
    struct tm_hist *expected = NULL;
    if (__atomic_compare_exchange_n(&r->hist, &expected, mine, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return mine;
    tmi_hist_free(mine);
    return expected;
}

void tm_hist_record(struct tm_hist *h, int64_t ns)
{
    if (h) tmi_hist_record(h, ns);
}
