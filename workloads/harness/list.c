/* list.c — `tmbench list [--json]`: the models with their capabilities, and
 * the workloads with what one op is and every parameter.
 *
 * --json prints one object:
 *   {"schema":"tmbench-list/1",
 *    "models":[{"name","summary","caps":["parallel",...],"peer":false}, ...
 *              {"name","summary","caps",
 *               "peer":true,"version","workloads":["spawn",...][,"error"]}],
 *    "workloads":[{"name","kind","summary","op","params":[
 *        {"name","type":"int","default","min","max","help"} |
 *        {"name","type":"enum","default","choices":[...],"help"}]}]}
 * A peer (peer.c) is listed only when its executable exists; version and
 * workloads come from asking it (`PEER info`), error says why that failed.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "json.h"
#include "model.h"

static const struct {
    unsigned bit;     /* TM_CAP_* */
    const char *name; /* in --json and the table */
} caps[] = {
    {TM_CAP_PARALLEL, "parallel"},
    {TM_CAP_PREEMPTIVE, "preemptive"},
    {TM_CAP_HANDOFF, "handoff"},
    {TM_CAP_MANY_TASKS, "many-tasks"},
};
#define NCAPS ((int)(sizeof caps / sizeof caps[0]))

static const char list_usage[] =
    "usage: tmbench list [--json]\n"
    "\n"
    "Print the threading models (with their capabilities) and the workloads\n"
    "(with what one op is, and every parameter's type, default and range).\n"
    "\n"
    "  --json      one JSON object instead of tables\n"
    "  -h, --help  this text\n";

/* One parameter as a JSON object. */
static void param_json(struct tmi_sb *sb, const struct tm_param_def *d)
{
    tmi_sb_puts(sb, "{\"name\":");
    tmi_json_str(sb, d->name);
    if (d->type == TM_PARAM_ENUM) {
        char word[64];
        int64_t def = d->def >= 0 && d->def < tmi_enum_count(d->choices) ? d->def : 0;
        tmi_sb_puts(sb, ",\"type\":\"enum\",\"default\":");
        tmi_json_str(sb, tmi_enum_name(d->choices, def, word, sizeof word));
        tmi_sb_puts(sb, ",\"choices\":[");
        for (int c = 0; c < tmi_enum_count(d->choices); c++) {
            if (c) tmi_sb_putc(sb, ',');
            tmi_json_str(sb, tmi_enum_name(d->choices, c, word, sizeof word));
        }
        tmi_sb_putc(sb, ']');
    } else {
        tmi_sb_printf(
            sb, ",\"type\":\"int\",\"default\":%" PRId64 ",\"min\":%" PRId64 ",\"max\":%" PRId64,
            d->def, d->min, d->max);
    }
    tmi_sb_puts(sb, ",\"help\":");
    tmi_json_str(sb, d->help);
    tmi_sb_putc(sb, '}');
}

/* A built peer and what it says about itself. */
struct peer_info {
    const struct tmi_peer *p;
    int ok;              /* it answered `info` */
    char version[96];    /* its runtime */
    char workloads[512]; /* comma-separated */
    char error[256];     /* why it did not answer */
};

/* The peers whose executable exists, asked once; returns how many. */
static int built_peers(struct peer_info *out, int max)
{
    int n = 0;
    for (const struct tmi_peer *p = tmi_peers; p->name && n < max; p++) {
        char path[PATH_MAX];
        if (tmi_peer_path(p, path, sizeof path) != 0) continue;
        struct peer_info *pi = &out[n++];
        pi->p = p;
        pi->ok = tmi_peer_info(p, pi->version, sizeof pi->version, pi->workloads,
                               sizeof pi->workloads, pi->error, sizeof pi->error) == 0;
    }
    return n;
}

static void caps_json(struct tmi_sb *sb, unsigned bits)
{
    tmi_sb_puts(sb, ",\"caps\":[");
    for (int c = 0, n = 0; c < NCAPS; c++)
        if (bits & caps[c].bit) {
            tmi_sb_puts(sb, n++ ? "," : "");
            tmi_json_str(sb, caps[c].name);
        }
    tmi_sb_putc(sb, ']');
}

static int list_json(void)
{
    struct tmi_sb sb = {0};
    tmi_sb_puts(&sb, "{\"schema\":\"tmbench-list/1\",\"models\":[");
    for (int i = 0; tmi_models[i]; i++) {
        const struct tm_model_ops *m = tmi_models[i];
        tmi_sb_puts(&sb, i ? ",{\"name\":" : "{\"name\":");
        tmi_json_str(&sb, m->name);
        tmi_sb_puts(&sb, ",\"summary\":");
        tmi_json_str(&sb, m->summary);
        caps_json(&sb, m->caps);
        tmi_sb_puts(&sb, ",\"peer\":false}");
    }
    struct peer_info pi[8];
    for (int i = 0, n = built_peers(pi, 8); i < n; i++) {
        tmi_sb_puts(&sb, ",{\"name\":");
        tmi_json_str(&sb, pi[i].p->name);
        tmi_sb_puts(&sb, ",\"summary\":");
        tmi_json_str(&sb, pi[i].p->summary);
        caps_json(&sb, pi[i].p->caps);
        tmi_sb_puts(&sb, ",\"peer\":true,\"version\":");
        tmi_json_str(&sb, pi[i].ok ? pi[i].version : NULL);
        tmi_sb_puts(&sb, ",\"workloads\":[");
        for (char *w = pi[i].workloads, *next; *w; w = next) {
            next = w + strcspn(w, ",");
            if (w != pi[i].workloads) tmi_sb_putc(&sb, ',');
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(next - w), w);
            tmi_json_str(&sb, name);
            if (*next) next++;
        }
        tmi_sb_putc(&sb, ']');
        if (!pi[i].ok) {
            tmi_sb_puts(&sb, ",\"error\":");
            tmi_json_str(&sb, pi[i].error);
        }
        tmi_sb_putc(&sb, '}');
    }
    tmi_sb_puts(&sb, "],\"workloads\":[");
    for (int i = 0; tm_workloads[i]; i++) {
        const struct tm_workload_ops *w = tm_workloads[i];
        tmi_sb_puts(&sb, i ? ",{\"name\":" : "{\"name\":");
        tmi_json_str(&sb, w->name);
        tmi_sb_puts(&sb, ",\"kind\":");
        tmi_json_str(&sb, w->kind);
        tmi_sb_puts(&sb, ",\"summary\":");
        tmi_json_str(&sb, w->summary);
        tmi_sb_puts(&sb, ",\"op\":");
        tmi_json_str(&sb, w->op);
        tmi_sb_puts(&sb, ",\"params\":[");
        for (int p = 0; p < w->nparams; p++) {
            if (p) tmi_sb_putc(&sb, ',');
            param_json(&sb, &w->params[p]);
        }
        tmi_sb_puts(&sb, "]}");
    }
    tmi_sb_puts(&sb, "]}\n");
    int rc = 0;
    if (sb.oom)
        rc = tmi_usage_error("list: out of memory");
    else if (fputs(tmi_sb_str(&sb), stdout) == EOF || fflush(stdout) != 0)
        rc = tmi_usage_error("list: cannot write to stdout");
    tmi_sb_free(&sb);
    return rc;
}

static const char *s_or(const char *s)
{
    return s ? s : "";
}

static int list_human(void)
{
    printf("MODELS\n  %-10s %-8s %-10s %-7s %-10s %s\n", "name", "parallel", "preemptive",
           "handoff", "many-tasks", "summary");
    for (int i = 0; tmi_models[i]; i++) {
        const struct tm_model_ops *m = tmi_models[i];
        printf("  %-10s %-8s %-10s %-7s %-10s %s\n", m->name,
               m->caps & TM_CAP_PARALLEL ? "yes" : "no", m->caps & TM_CAP_PREEMPTIVE ? "yes" : "no",
               m->caps & TM_CAP_HANDOFF ? "yes" : "no", m->caps & TM_CAP_MANY_TASKS ? "yes" : "no",
               s_or(m->summary));
    }
    struct peer_info pi[8];
    int npeers = built_peers(pi, 8);
    for (int i = 0; i < npeers; i++) {
        unsigned c = pi[i].p->caps;
        printf("  %-10s %-8s %-10s %-7s %-10s %s\n", pi[i].p->name,
               c & TM_CAP_PARALLEL ? "yes" : "no", c & TM_CAP_PREEMPTIVE ? "yes" : "no",
               c & TM_CAP_HANDOFF ? "yes" : "no", c & TM_CAP_MANY_TASKS ? "yes" : "no",
               pi[i].p->summary);
        if (pi[i].ok) {
            printf("  %-10s %s; workloads:", "", pi[i].version);
            for (char *w = strtok(pi[i].workloads, ","); w; w = strtok(NULL, ","))
                printf(" %s", w);
            printf("\n");
        } else
            printf("  %-10s not usable: %s\n", "", pi[i].error);
    }
    printf("%s\nWORKLOADS\n", npeers ? "" : "  (peers: none in this build)\n");
    for (int i = 0; tm_workloads[i]; i++) {
        const struct tm_workload_ops *w = tm_workloads[i];
        printf("  %-10s %-10s %s\n", w->name, s_or(w->kind), s_or(w->summary));
        printf("  %-10s %-10s one op: %s\n", "", "", s_or(w->op));
        for (int p = 0; p < w->nparams; p++) {
            const struct tm_param_def *d = &w->params[p];
            char def[64], range[128], word[64];
            if (d->type == TM_PARAM_ENUM) {
                int64_t di = d->def >= 0 && d->def < tmi_enum_count(d->choices) ? d->def : 0;
                snprintf(def, sizeof def, "%s", tmi_enum_name(d->choices, di, word, sizeof word));
                snprintf(range, sizeof range, "%s", s_or(d->choices));
            } else {
                snprintf(def, sizeof def, "%" PRId64, d->def);
                snprintf(range, sizeof range, "%" PRId64 "..%" PRId64, d->min, d->max);
            }
            printf("  %-10s %-10s   %-10s %-4s %-9s %-22s %s\n", "", "", d->name,
                   d->type == TM_PARAM_ENUM ? "enum" : "int", def, range, s_or(d->help));
        }
    }
    if (fflush(stdout) != 0) return tmi_usage_error("list: cannot write to stdout");
    return 0;
}

int tmi_cmd_list(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(list_usage, stdout);
            return 0;
        } else {
            return tmi_usage_error("list: unknown argument '%s' (see 'tmbench list --help')",
                                   argv[i]);
        }
    }
    return json ? list_json() : list_human();
}
