/* trace_out.c — the --trace file: trace.c's per-thread events as Chrome
 * trace-event JSON (the "JSON object" format; opens in https://ui.perfetto.dev
 * and chrome://tracing).
 *
 * What comes out, in one process (pid = ours) with one row (tid = 1, 2, ...
 * in the order threads first recorded) per kernel thread:
 *   "M" process_name, thread_name, thread_sort_index   names the rows
 *   "X" cat "run"       one complete slice per task run: name "task <id>",
 *                       args {task, cpu (at start), end: yield|park|exit|
 *                       preempt|switch|trace-end}
 *   "X" cat "blocking"  a blocking region (tm_blocking_*), nested in its run
 *   "i" cat "sched"     spawn, ready, steal, preempt, blocking enter/exit,
 *                       netpoll wake-up (thread-scoped instants)
 *   "s"/"f" cat "migration"  a flow arrow from the end of a task's run to
 *                       its next run when that is on another row
 *   "C" "runq <row>"    run-queue length samples
 * and "otherData" with the run's model, workload, params and event counts.
 * Timestamps are microseconds (3 decimals: nanoseconds) since the trace
 * began; events of one row appear in timestamp order.
 *
 * How: pass 1 turns each thread's event stream into output events (a run
 * opens at RUN/SWITCH and closes at the next STOP/SWITCH on that thread);
 * pass 2 sorts every run slice by (task, start) and adds a flow wherever
 * two consecutive runs of one task are on different rows; pass 3 sorts each
 * row by time and prints. Written to FILE.tmp.<pid>, fsync'ed and renamed
 * over FILE, so a reader sees the old file or the whole new one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "json.h"
#include "trace.h"

/* What one output event is. */
enum oph {
    O_RUN,     /* X run slice */
    O_BLOCKED, /* X blocking slice */
    O_INSTANT, /* i: what = the trace.h kind, or O_PREEMPT */
    O_FLOW_S,  /* s */
    O_FLOW_F,  /* f */
    O_COUNTER, /* C runq */
};
enum { O_PREEMPT = 100 };

struct oev {
    int64_t ts, dur;   /* ns since the origin; dur for X */
    uint64_t task;     /* the task (X run, instants) */
    uint64_t arg;      /* instants: per kind; counter: the value; flows: the id */
    uint32_t aux;      /* instants: per kind; X run: why it ended (+1; 0 = trace end) */
    int16_t cpu;       /* X run: cpu at start */
    uint8_t ph;        /* enum oph */
    uint8_t what;      /* instants: trace.h kind or O_PREEMPT */
    uint32_t seq;      /* insertion order, for a stable sort */
};

struct row {
    struct oev *e;
    size_t n, cap;
    int oom;
    char name[64];
    uint64_t only_task; /* the one task it ran, 0 none, UINT64_MAX several */
};

static struct oev *push(struct row *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        struct oev *e = realloc(r->e, cap * sizeof *e);
        if (!e) {
            r->oom = 1;
            return NULL;
        }
        r->e = e;
        r->cap = cap;
    }
    struct oev *o = &r->e[r->n];
    memset(o, 0, sizeof *o);
    o->seq = (uint32_t)r->n++;
    return o;
}

static void instant(struct row *r, int64_t ts, unsigned what, uint64_t task, uint64_t arg,
                    uint32_t aux)
{
    struct oev *o = push(r);
    if (o) *o = (struct oev){.ts = ts, .ph = O_INSTANT, .what = (uint8_t)what, .task = task,
                             .arg = arg, .aux = aux, .seq = o->seq};
}

/* A run slice of one task, for the migration pass. */
struct run {
    uint64_t task;
    int64_t start, end;
    int row;
};

struct runs {
    struct run *v;
    size_t n, cap;
    int oom;
};

static void run_add(struct runs *rs, uint64_t task, int64_t start, int64_t end, int row)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 1024;
        struct run *v = realloc(rs->v, cap * sizeof *v);
        if (!v) {
            rs->oom = 1;
            return;
        }
        rs->v = v;
        rs->cap = cap;
    }
    rs->v[rs->n++] = (struct run){task, start, end, row};
}

/* Pass 1 for one thread. `end` closes what is still open. */
static void convert(const struct tmi_trace_thread *t, int64_t origin, int64_t end, struct row *r,
                    int rowno, struct runs *rs)
{
    uint64_t cur = 0;           /* running task, 0 none */
    int64_t cur_ts = 0;         /* since when */
    int cur_cpu = -1;
    int64_t blk_ts = -1;        /* open blocking region, -1 none */
    uint64_t blk_task = 0;

#define CLOSE(ts_, why_)                                                                          \
    do {                                                                                          \
        struct oev *o_ = push(r);                                                                 \
        if (o_)                                                                                   \
            *o_ = (struct oev){.ts = cur_ts, .dur = (ts_)-cur_ts, .ph = O_RUN, .task = cur,        \
                               .cpu = (int16_t)cur_cpu, .aux = (why_), .seq = o_->seq};           \
        run_add(rs, cur, cur_ts, (ts_), rowno);                                                   \
        r->only_task = r->only_task == 0 || r->only_task == cur ? cur : UINT64_MAX;               \
        cur = 0;                                                                                  \
    } while (0)

    for (size_t i = 0; i < t->n; i++) {
        const struct tmi_trace_ev *e = tmi_trace_at(t, i);
        int64_t ts = e->ts - origin;
        switch (e->kind) {
        case TMI_TEV_RUN:
            if (cur) CLOSE(ts, 5); /* no STOP seen: "switch" */
            cur = e->task;
            cur_ts = ts;
            cur_cpu = e->cpu;
            break;
        case TMI_TEV_STOP:
        case TMI_TEV_SWITCH: {
            uint64_t from = e->kind == TMI_TEV_STOP ? e->task : e->arg;
            if (cur && (from == cur || from == 0)) CLOSE(ts, e->aux + 1);
            else if (cur) CLOSE(ts, 5);
            if (from && e->aux == TMI_WHY_PREEMPT) instant(r, ts, O_PREEMPT, from, 0, 0);
            if (e->kind == TMI_TEV_SWITCH && e->task) {
                cur = e->task;
                cur_ts = ts;
                cur_cpu = e->cpu;
            }
            break;
        }
        case TMI_TEV_BLOCK_ENTER:
            instant(r, ts, e->kind, e->task, 0, 0);
            blk_ts = ts;
            blk_task = e->task;
            break;
        case TMI_TEV_BLOCK_EXIT:
            instant(r, ts, e->kind, e->task, 0, 0);
            if (blk_ts >= 0) {
                struct oev *o = push(r);
                if (o) *o = (struct oev){.ts = blk_ts, .dur = ts - blk_ts, .ph = O_BLOCKED,
                                         .task = blk_task, .seq = o->seq};
            }
            blk_ts = -1;
            break;
        case TMI_TEV_RUNQ: {
            struct oev *o = push(r);
            if (o) *o = (struct oev){.ts = ts, .ph = O_COUNTER, .arg = e->arg, .seq = o->seq};
            break;
        }
        default: /* SPAWN, READY, STEAL, NETPOLL */
            instant(r, ts, e->kind, e->task, e->arg, e->aux);
            break;
        }
    }
    if (blk_ts >= 0) {
        struct oev *o = push(r);
        if (o) *o = (struct oev){.ts = blk_ts, .dur = end - blk_ts, .ph = O_BLOCKED,
                                 .task = blk_task, .seq = o->seq};
    }
    if (cur) CLOSE(end, 0);
#undef CLOSE
}

static int by_task_start(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    if (x->task != y->task) return x->task < y->task ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Time order; at one instant a longer slice (the parent) first. */
static int by_time(const void *a, const void *b)
{
    const struct oev *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->dur != y->dur) return x->dur > y->dur ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Pass 2: flows between consecutive runs of a task on different rows. */
static uint64_t add_flows(struct runs *rs, struct row *rows)
{
    uint64_t id = 0;
    qsort(rs->v, rs->n, sizeof *rs->v, by_task_start);
    for (size_t i = 1; i < rs->n; i++) {
        const struct run *a = &rs->v[i - 1], *b = &rs->v[i];
        if (a->task != b->task || a->row == b->row) continue;
        id++;
        /* inside each slice by 1 ns, so each arrow binds to its slice */
        struct oev *s = push(&rows[a->row]);
        if (s) *s = (struct oev){.ts = a->end > a->start ? a->end - 1 : a->start, .ph = O_FLOW_S,
                                 .task = a->task, .arg = id, .seq = s->seq};
        struct oev *f = push(&rows[b->row]);
        if (f) *f = (struct oev){.ts = b->end > b->start ? b->start + 1 : b->start, .ph = O_FLOW_F,
                                 .task = b->task, .arg = id, .seq = f->seq};
    }
    return id;
}

/* ns as microseconds with 3 decimals. */
static void put_us(FILE *f, int64_t ns)
{
    if (ns < 0) {
        fputc('-', f);
        ns = -ns;
    }
    fprintf(f, "%" PRId64 ".%03d", ns / 1000, (int)(ns % 1000));
}

static void put_str(FILE *f, const char *s)
{
    struct tmi_sb sb = {0};
    tmi_json_str(&sb, s);
    fputs(tmi_sb_str(&sb), f);
    tmi_sb_free(&sb);
}

static const char *why_name(uint32_t aux)
{
    static const char *names[] = {"trace-end", "yield", "park", "exit", "preempt", "switch"};
    return aux < 6 ? names[aux] : "?";
}

static void put_event(FILE *f, int pid, int tid, const struct row *r, const struct oev *o)
{
    fprintf(f, ",\n{\"pid\":%d,\"tid\":%d,\"ts\":", pid, tid);
    put_us(f, o->ts);
    switch (o->ph) {
    case O_RUN:
        fprintf(f, ",\"ph\":\"X\",\"cat\":\"run\",\"name\":\"task %" PRIu64 "\",\"dur\":", o->task);
        put_us(f, o->dur);
        fprintf(f, ",\"args\":{\"task\":%" PRIu64 ",\"cpu\":%d,\"end\":\"%s\"}}", o->task, o->cpu,
                why_name(o->aux));
        return;
    case O_BLOCKED:
        fputs(",\"ph\":\"X\",\"cat\":\"blocking\",\"name\":\"blocked in a system call\",\"dur\":", f);
        put_us(f, o->dur);
        fprintf(f, ",\"args\":{\"task\":%" PRIu64 "}}", o->task);
        return;
    case O_FLOW_S:
    case O_FLOW_F:
        fprintf(f, ",\"ph\":\"%s\",\"cat\":\"migration\",\"name\":\"migrate task %" PRIu64
                   "\",\"id\":%" PRIu64 "%s,\"args\":{\"task\":%" PRIu64 "}}",
                o->ph == O_FLOW_S ? "s" : "f", o->task, o->arg,
                o->ph == O_FLOW_F ? ",\"bp\":\"e\"" : "", o->task);
        return;
    case O_COUNTER:
        fputs(",\"ph\":\"C\",\"name\":", f);
        char name[80];
        snprintf(name, sizeof name, "runq %s", r->name);
        put_str(f, name);
        fprintf(f, ",\"args\":{\"tasks\":%" PRIu64 "}}", o->arg);
        return;
    }
    /* instants */
    fputs(",\"ph\":\"i\",\"s\":\"t\",\"cat\":\"sched\",\"name\":", f);
    switch (o->what) {
    case O_PREEMPT:
        fprintf(f, "\"preempt\",\"args\":{\"task\":%" PRIu64 "}}", o->task);
        break;
    case TMI_TEV_SPAWN:
        fprintf(f, "\"spawn\",\"args\":{\"task\":%" PRIu64 ",\"by\":%" PRIu64 "}}", o->task,
                o->arg);
        break;
    case TMI_TEV_READY:
        fprintf(f, "\"ready\",\"args\":{\"task\":%" PRIu64 ",\"by\":%" PRIu64 "}}", o->task,
                o->arg);
        break;
    case TMI_TEV_STEAL:
        fprintf(f, "\"steal\",\"args\":{\"task\":%" PRIu64 ",\"victim\":%" PRIu64 ",\"n\":%u}}",
                o->task, o->arg, o->aux);
        break;
    case TMI_TEV_BLOCK_ENTER:
    case TMI_TEV_BLOCK_EXIT:
        fprintf(f, "\"blocking %s\",\"args\":{\"task\":%" PRIu64 "}}",
                o->what == TMI_TEV_BLOCK_ENTER ? "enter" : "exit", o->task);
        break;
    case TMI_TEV_NETPOLL:
        fprintf(f, "\"netpoll wake-up\",\"args\":{\"readied\":%u}}", o->aux);
        break;
    default:
        fprintf(f, "\"event %u\",\"args\":{}}", o->what);
        break;
    }
}

static void put_meta(FILE *f, int pid, int tid, const char *what, const char *name, int sort)
{
    fprintf(f, ",\n{\"pid\":%d,\"tid\":%d,\"ph\":\"M\",\"name\":\"%s\",\"args\":{", pid, tid, what);
    if (name) {
        fputs("\"name\":", f);
        put_str(f, name);
    } else {
        fprintf(f, "\"sort_index\":%d", sort);
    }
    fputs("}}", f);
}

/* The run's description: "coro pingpong iters=1000". */
static void describe(const struct tmi_run_opts *o, struct tmi_sb *sb, int json)
{
    char word[64];
    for (int i = 0; i < o->wl->nparams; i++) {
        const struct tm_param_def *d = &o->wl->params[i];
        if (json) {
            tmi_sb_puts(sb, i ? "," : "");
            tmi_json_str(sb, d->name);
            tmi_sb_putc(sb, ':');
            if (d->type == TM_PARAM_ENUM)
                tmi_json_str(sb, tmi_enum_name(d->choices, o->param[i], word, sizeof word));
            else
                tmi_sb_printf(sb, "%" PRId64, o->param[i]);
        } else if (d->type == TM_PARAM_ENUM) {
            tmi_sb_printf(sb, " %s=%s", d->name,
                          tmi_enum_name(d->choices, o->param[i], word, sizeof word));
        } else {
            tmi_sb_printf(sb, " %s=%" PRId64, d->name, o->param[i]);
        }
    }
}

static int write_file(FILE *f, const struct tmi_run_opts *o, const struct tmi_result *res,
                      struct row *rows, int nth,
                      uint64_t events, uint64_t dropped, uint64_t flows, int64_t end)
{
    int pid = (int)getpid();
    struct tmi_sb sb = {0};
    tmi_sb_printf(&sb, "tmbench %s %s", tmi_opts_model(o), o->wl->name);
    describe(o, &sb, 0);
    fprintf(f, "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"schema\":\"tmbench-trace/1\","
               "\"model\":");
    put_str(f, tmi_opts_model(o));
    fputs(",\"workload\":", f);
    put_str(f, o->wl->name);
    fprintf(f, ",\"procs\":%d,\"params\":{", res->procs);
    struct tmi_sb ps = {0};
    describe(o, &ps, 1);
    fputs(tmi_sb_str(&ps), f);
    tmi_sb_free(&ps);
    fprintf(f, "},\"threads\":%d,\"events\":%" PRIu64 ",\"dropped_events\":%" PRIu64
               ",\"migrations\":%" PRIu64 ",\"duration_ns\":%" PRId64 ",\"version\":",
            nth, events, dropped, flows, end);
    put_str(f, tmi_build_version());
    fputs("},\n\"traceEvents\":[\n", f);
    fprintf(f, "{\"pid\":%d,\"tid\":0,\"ph\":\"M\",\"name\":\"process_name\",\"args\":{\"name\":",
            pid);
    put_str(f, tmi_sb_str(&sb));
    fputs("}}", f);
    tmi_sb_free(&sb);
    for (int i = 0; i < nth; i++) {
        struct row *r = &rows[i];
        put_meta(f, pid, i + 1, "thread_name", r->name, 0);
        put_meta(f, pid, i + 1, "thread_sort_index", NULL, i);
        if (r->n > 1) qsort(r->e, r->n, sizeof *r->e, by_time); /* r->e is NULL when empty */
        for (size_t k = 0; k < r->n; k++) put_event(f, pid, i + 1, r, &r->e[k]);
    }
    fputs("\n]}\n", f);
    return ferror(f) ? -1 : 0;
}

int tmi_trace_write(const char *path, const struct tmi_run_opts *o,
                    const struct tmi_result *res, char *err, size_t errsz)
{
    struct tmi_trace_thread *th = NULL;
    struct row *rows = NULL;
    struct runs rs = {0};
    char tmp[4200];
    FILE *f = NULL;
    int rc = -1;

    tmi_trace_end();
    int nth = tmi_trace_threads(&th);
    if (nth < 0) goto oom;
    rows = calloc((size_t)nth + 1, sizeof *rows);
    if (!rows) goto oom;

    /* the trace ends at its last event */
    int64_t origin = tmi_trace_origin(), end = 0;
    uint64_t events = 0, dropped = 0;
    for (int i = 0; i < nth; i++) {
        if (th[i].n) {
            int64_t last = tmi_trace_at(&th[i], th[i].n - 1)->ts - origin;
            if (last > end) end = last;
        }
        events += th[i].n;
        dropped += th[i].dropped;
    }
    for (int i = 0; i < nth; i++) {
        convert(&th[i], origin, end, &rows[i], i, &rs);
        if (rows[i].oom) goto oom;
        if (th[i].name[0])
            snprintf(rows[i].name, sizeof rows[i].name, "%s", th[i].name);
        else if (rows[i].only_task && rows[i].only_task != UINT64_MAX)
            snprintf(rows[i].name, sizeof rows[i].name, "task %" PRIu64 " (thread %d)",
                     rows[i].only_task, th[i].tid);
        else
            snprintf(rows[i].name, sizeof rows[i].name, "thread %d", th[i].tid);
    }
    if (rs.oom) goto oom;
    uint64_t flows = add_flows(&rs, rows);
    for (int i = 0; i < nth; i++)
        if (rows[i].oom) goto oom;

    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errsz, "--trace %s: %s", path, strerror(errno));
        goto out;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    if (write_file(f, o, res, rows, nth, events, dropped, flows, end) != 0 || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        snprintf(err, errsz, "--trace %s: %s", path, strerror(errno));
        fclose(f);
        unlink(tmp);
        goto out;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        snprintf(err, errsz, "--trace %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errsz, "--trace %s: out of memory", path);
out:
    if (rows)
        for (int i = 0; i < nth; i++) free(rows[i].e);
    free(rows);
    free(rs.v);
    free(th);
    return rc;
}
