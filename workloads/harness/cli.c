/* cli.c — `tmbench run`: parse and validate every flag, run, write.
 *
 * Nothing runs until every argument has been checked: an unknown option,
 * model, workload or --set key, a malformed or out-of-range number, an
 * unknown format or an unwritable -o/--trace path is one line on stderr
 * ("tmbench: ...") and exit 2. Exit 1 means a repetition failed (its
 * record is still written), 0 that every repetition was ok.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model.h"
#include "place.h"

static const char run_usage[] =
    "usage: tmbench run -m MODEL -w WORKLOAD [options]\n"
    "\n"
    "Run WORKLOAD on threading model MODEL and write one result record per\n"
    "repetition (see 'tmbench list' for models, workloads and their parameters).\n"
    "\n"
    "  -m, --model MODEL        pthreads, coro, mn, goroutine, ..., or a peer: go, boost\n"
    "  -w, --workload NAME      fib, spawn, pingpong, ...\n"
    "  -p, --procs N            cores the run may use, 1..1024 (default: the model's;\n"
    "                           all cores, or 1 for coro)\n"
    "      --set KEY=VALUE      set a workload parameter (repeatable); unknown keys are\n"
    "                           an error. Integers: 1000000, 1_000_000, 1e6, 1M, 64Ki\n"
    "      --reps N             recorded repetitions, 1..100000 (default 1)\n"
    "      --warmup N           unrecorded repetitions first, 0..100000 (default 0)\n"
    "      --placement P        hwloc placement policy: none, compact, scatter or\n"
    "                           pus:LIST (e.g. pus:0,2-3), checked against this machine\n"
    "                           (default: the model's, normally none)\n"
    "      --slice-us N         preemption slice for mn/goroutine, 1..10000000 (the\n"
    "                           others have none: an unsupported record)\n"
    "      --stack-kb N         task stack size, 4..1048576 KiB (default 64)\n"
    "      --format F           stdout: human (default), json (JSON Lines) or csv\n"
    "  -o, --output FILE        also append the records to FILE, atomically: CSV if it\n"
    "                           ends in .csv, otherwise JSON Lines\n"
    "      --trace FILE.json    write a Chrome trace-event file (Perfetto)\n"
    "  -h, --help               this text\n"
    "\n"
    "Peers (go, boost: real runtimes run as a child process) take the same\n"
    "options, but --placement, --slice-us, --trace and (where stacks grow)\n"
    "--stack-kb give an unsupported record. $TMBENCH_PEER_GO (_BOOST) names the\n"
    "peer's executable (default: tmbench-go beside tmbench); the peer may stay\n"
    "silent for $TMBENCH_PEER_TIMEOUT seconds (default 600) before it is killed.\n"
    "\n"
    "A failed repetition is recorded and ends the run. ns_per_op is null when a\n"
    "run does no ops. Exit status: 0 all repetitions ok, 1 a repetition failed,\n"
    "unsupported or did not verify, 2 usage error.\n";

enum opt_id {
    O_MODEL,
    O_WORKLOAD,
    O_PROCS,
    O_SET,
    O_REPS,
    O_WARMUP,
    O_PLACEMENT,
    O_SLICE,
    O_STACK,
    O_FORMAT,
    O_OUTPUT,
    O_TRACE,
    O_HELP
};

static const struct opt {
    const char *name; /* long form without "--" */
    char short_name;  /* 0 = none */
    int arg;          /* takes a value */
    enum opt_id id;
} opts[] = {
    {"model", 'm', 1, O_MODEL},       {"workload", 'w', 1, O_WORKLOAD},
    {"procs", 'p', 1, O_PROCS},       {"set", 0, 1, O_SET},
    {"reps", 0, 1, O_REPS},           {"warmup", 0, 1, O_WARMUP},
    {"placement", 0, 1, O_PLACEMENT}, {"slice-us", 0, 1, O_SLICE},
    {"stack-kb", 0, 1, O_STACK},      {"format", 0, 1, O_FORMAT},
    {"output", 'o', 1, O_OUTPUT},     {"trace", 0, 1, O_TRACE},
    {"help", 'h', 0, O_HELP},
};
#define NOPTS ((int)(sizeof opts / sizeof opts[0]))

void tmi_one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int tmi_usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tmi_one_line(msg); /* user input echoed in the message must not break the line */
    fprintf(stderr, "tmbench: %s\n", msg);
    return 2;
}

/* A number option in [lo, hi]; 0, or 2 after the message. */
static int num_opt(const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out)
{
    int rc = tmi_parse_int(val, out);
    if (rc != 0 && errno == EINVAL)
        return tmi_usage_error("%s: '%s' is not a whole number", flag, val);
    if (rc != 0 || *out < lo || *out > hi)
        return tmi_usage_error("%s: '%s' is out of range %" PRId64 "..%" PRId64, flag, val, lo, hi);
    return 0;
}

static int unknown_name(const char *what, const char *name, const char *const *names)
{
    char list[512];
    size_t len = 0;
    list[0] = '\0';
    for (int i = 0; names[i] && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
    return tmi_usage_error("unknown %s '%s' (%ss: %s)", what, name, what, list);
}

/* A model, or a peer (peer.c): a real runtime run as a child process. */
static int find_model(const char *name, struct tmi_run_opts *o)
{
    const char *names[64] = {0};
    int n = 0;
    for (int i = 0; tmi_models[i]; i++) {
        if (strcmp(tmi_models[i]->name, name) == 0) {
            o->model = tmi_models[i];
            return 0;
        }
        if (n < 63) names[n++] = tmi_models[i]->name;
    }
    for (const struct tmi_peer *p = tmi_peers; p->name; p++) {
        if (strcmp(p->name, name) == 0) {
            o->peer = p;
            return 0;
        }
        if (n < 63) names[n++] = p->name;
    }
    return unknown_name("model", name, names);
}

static int find_workload(const char *name, const struct tm_workload_ops **out)
{
    const char *names[64] = {0};
    for (int i = 0; tm_workloads[i]; i++) {
        if (strcmp(tm_workloads[i]->name, name) == 0) {
            *out = tm_workloads[i];
            return 0;
        }
        if (i < 63) names[i] = tm_workloads[i]->name;
    }
    return unknown_name("workload", name, names);
}

/* A placement policy, planned on this machine for the run's procs as the
 * model would ("bogus", "pus:0,9" on 2 PUs: refused here, exit 2). When
 * hwloc cannot read the machine the model says so when it starts. */
static int check_placement(const char *p, int procs, int peer)
{
    if (!p[0]) return tmi_usage_error("--placement: empty policy");
    for (const char *c = p; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:,.", *c))
            return tmi_usage_error("--placement: '%s' is not a policy name", p);
    struct tmi_topo *t;
    if (peer || tmi_topo_load(&t, NULL, NULL) != 0) return 0; /* peers: an unsupported record */
    struct tmi_topo_info info;
    tmi_topo_info(t, &info);
    struct tmi_place_plan plan;
    int rc = 0;
    if (tmi_place_plan(t, p, procs > 0 ? procs : info.pus, &plan) == 0)
        tmi_place_plan_free(&plan);
    else
        rc = tmi_usage_error("--placement: %s", tm_last_error());
    tmi_topo_free(t);
    return rc;
}

/* Parse argv (argv[0] = "run") into o. 0, 1 for --help, or 2. */
static int parse(int argc, char **argv, struct tmi_run_opts *o)
{
    const char *model = NULL, *workload = NULL, *format = "human";
    const char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0, rc = 0;
    int64_t v;
    if (!sets) return tmi_usage_error("out of memory");
    o->reps = 1;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i], *val = NULL;
        const struct opt *op = NULL;
        char flag[64];
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            size_t n = strcspn(a + 2, "=");
            for (int k = 0; k < NOPTS && !op; k++)
                if (strlen(opts[k].name) == n && strncmp(opts[k].name, a + 2, n) == 0)
                    op = &opts[k];
            if (a[2 + n] == '=') val = a + 3 + n;
            snprintf(flag, sizeof flag, "--%.*s", (int)n, a + 2);
        } else if (a[0] == '-' && a[1] && a[1] != '-') {
            for (int k = 0; k < NOPTS && !op; k++)
                if (opts[k].short_name == a[1]) op = &opts[k];
            if (a[2]) val = a + 2;
            snprintf(flag, sizeof flag, "-%c", a[1]);
        } else {
            rc = tmi_usage_error("run: unexpected argument '%s' (see 'tmbench run --help')", a);
            break;
        }
        if (!op) {
            rc = tmi_usage_error("run: unknown option '%s' (see 'tmbench run --help')", flag);
            break;
        }
        if (op->arg && !val) {
            if (i + 1 >= argc) {
                rc = tmi_usage_error("%s needs a value", flag);
                break;
            }
            val = argv[++i];
        } else if (!op->arg && val) {
            rc = tmi_usage_error("%s takes no value", flag);
            break;
        }
        switch (op->id) {
        case O_HELP:
            rc = 1;
            break;
        case O_MODEL:
            model = val;
            break;
        case O_WORKLOAD:
            workload = val;
            break;
        case O_SET:
            sets[nsets++] = val;
            break;
        case O_FORMAT:
            format = val;
            break;
        case O_OUTPUT:
            o->out = val;
            break;
        case O_TRACE:
            o->trace = val;
            break;
        case O_PLACEMENT:
            o->placement = val;
            break;
        case O_PROCS:
            if (!(rc = num_opt(flag, val, 1, TMI_MAX_PROCS, &v))) o->procs = (int)v;
            break;
        case O_REPS:
            if (!(rc = num_opt(flag, val, 1, TMI_MAX_REPS, &v))) o->reps = (int)v;
            break;
        case O_WARMUP:
            if (!(rc = num_opt(flag, val, 0, TMI_MAX_REPS, &v))) o->warmup = (int)v;
            break;
        case O_SLICE:
            rc = num_opt(flag, val, 1, 10000000, &o->slice_us);
            break;
        case O_STACK:
            rc = num_opt(flag, val, 4, 1048576, &o->stack_kb);
            break;
        }
    }
    if (rc == 0 && !model)
        rc = tmi_usage_error("run: no model given: use -m MODEL (see 'tmbench list')");
    if (rc == 0 && !workload)
        rc = tmi_usage_error("run: no workload given: use -w WORKLOAD (see 'tmbench list')");
    if (rc == 0) rc = find_model(model, o);
    if (rc == 0) rc = find_workload(workload, &o->wl);
    if (rc == 0) {
        if (o->wl->nparams > TMI_MAX_PARAMS)
            rc = tmi_usage_error("workload '%s' declares %d parameters, more than %d", o->wl->name,
                                 o->wl->nparams, TMI_MAX_PARAMS);
        else
            tmi_param_defaults(o->wl, o->param);
    }
    for (int i = 0; rc == 0 && i < nsets; i++) {
        char err[512];
        if (tmi_param_set(o->wl, o->param, sets[i], err, sizeof err) != 0)
            rc = tmi_usage_error("%s", err);
    }
    if (rc == 0) {
        if (strcmp(format, "human") == 0)
            o->format = TMI_FMT_HUMAN;
        else if (strcmp(format, "json") == 0)
            o->format = TMI_FMT_JSON;
        else if (strcmp(format, "csv") == 0)
            o->format = TMI_FMT_CSV;
        else
            rc = tmi_usage_error("--format: '%s' is not one of human, json, csv", format);
    }
    if (rc == 0 && o->placement) rc = check_placement(o->placement, o->procs, o->peer != NULL);
    if (rc == 0 && o->peer && tmi_peer_timeout_ms() < 0)
        rc = tmi_usage_error("TMBENCH_PEER_TIMEOUT: '%s' is not 1..86400 seconds",
                             getenv("TMBENCH_PEER_TIMEOUT"));
    char err[512];
    if (rc == 0 && o->out && tmi_out_check(o->out, "-o", err, sizeof err) != 0)
        rc = tmi_usage_error("%s", err);
    if (rc == 0 && o->trace && tmi_out_check(o->trace, "--trace", err, sizeof err) != 0)
        rc = tmi_usage_error("%s", err);
    free(sets);
    return rc;
}

int tmi_cmd_run(int argc, char **argv)
{
    struct tmi_run_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc == 1) {
        fputs(run_usage, stdout);
        return 0;
    }
    if (rc != 0) return rc;

    if (o.format == TMI_FMT_HUMAN) {
        tmi_human_header(stdout, &o);
        fflush(stdout);
    }
    struct tmi_result res;
    if ((o.peer ? tmi_peer_runner(&o, &res) : tmi_runner(&o, &res)) != 0) {
        tmi_usage_error("run: %s", strerror(errno));
        return 1;
    }

    /* Records are data: even after a write error, try every destination. */
    int failed = 0, werr = 0;
    struct tmi_rec *recs = calloc((size_t)res.nrep, sizeof *recs);
    for (int i = 0; recs && i < res.nrep; i++) {
        tmi_rep_record(&o, &res, &res.rep[i], &recs[i]);
        failed |= res.rep[i].status != TMI_OK;
        werr |= recs[i].oom;
    }
    if (!recs || werr) {
        tmi_usage_error("run: out of memory building the records");
        for (int i = 0; recs && i < res.nrep; i++)
            tmi_rec_free(&recs[i]);
        free(recs);
        tmi_result_free(&res);
        return 2;
    }
    if (o.format == TMI_FMT_HUMAN) {
        for (int i = 0; i < res.nrep; i++)
            tmi_human_rep(stdout, &res.rep[i]);
        tmi_human_summary(stdout, &res, o.reps);
        werr = fflush(stdout) != 0;
    } else {
        werr = tmi_out_stream(stdout, o.format, recs, res.nrep) != 0;
    }
    if (werr) tmi_usage_error("stdout: %s", strerror(errno));
    char err[512];
    if (o.out && tmi_out_append(o.out, recs, res.nrep, err, sizeof err) != 0) {
        tmi_usage_error("%s", err);
        werr = 1;
    }
    rc = werr ? 2 : failed ? 1 : 0;
    for (int i = 0; i < res.nrep; i++)
        tmi_rec_free(&recs[i]);
    free(recs);
    tmi_result_free(&res);
    return rc;
}
