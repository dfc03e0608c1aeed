/* topo.c — `tmbench topo`: print the placement plan for a topology.
 *
 * The plan is scheduler/place.c's, the same one mn applies to its workers:
 * one set of PUs (OS indices) per worker and every worker's steal order.
 * Nothing is bound here, so any topology can be inspected: this machine,
 * an hwloc synthetic description, or an XML export (`lstopo file.xml`).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json.h"
#include "place.h"

static const char topo_usage[] =
    "usage: tmbench topo [--synthetic DESC | --xml FILE] [--placement P] [-p N] [--json]\n"
    "\n"
    "Print how N workers would be placed: each worker's PUs (OS indices) and\n"
    "its steal order, nearest first (smt, l2, l3, package, remote).\n"
    "\n"
    "      --synthetic DESC  an hwloc synthetic topology, e.g. \"pack:2 core:8 pu:2\"\n"
    "      --xml FILE        a topology exported by lstopo (default: this machine)\n"
    "      --placement P     none (default), compact, scatter, or pus:LIST\n"
    "                        (OS indices, e.g. pus:0,2,4-7)\n"
    "  -p, --procs N         workers, 1..1024 (default: one per PU)\n"
    "      --json            one JSON object:\n"
    "                        {\"workers\":[{\"worker\":0,\"pus\":[...],\"steal_order\":[...]}, "
    "...],\n"
    "                         \"topology\":{...}, \"placement\":P, \"binds\":true|false}\n"
    "  -h, --help            this text\n"
    "\n"
    "Exit status: 0 ok, 2 bad option, topology or policy.\n";

/* "0-3,8,10-11" from a sorted list. */
static void pu_ranges(struct tmi_sb *sb, const int *pu, int n)
{
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && pu[j + 1] == pu[j] + 1)
            j++;
        tmi_sb_printf(sb, "%s%d", i ? "," : "", pu[i]);
        if (j > i) tmi_sb_printf(sb, "-%d", pu[j]);
        i = j + 1;
    }
}

/* Worker i's victims in steal order: by level, then by distance in index
 * (the order mn's workers use before randomising within a level). */
static int steal_order(const struct tmi_place_plan *p, int i, int *victim, int *level)
{
    int k = 0, n = p->nworkers;
    for (int lv = 0; lv < TMI_LV_COUNT; lv++)
        for (int d = 1; d < n; d++) {
            int j = (i + d) % n;
            if ((int)tmi_place_level(p, i, j) == lv) {
                victim[k] = j;
                level[k++] = lv;
            }
        }
    return k;
}

static void print_json(struct tmi_sb *sb, const struct tmi_topo_info *ti,
                       const struct tmi_place_plan *p, int *victim, int *level)
{
    tmi_sb_puts(sb, "{\"workers\":[");
    for (int i = 0; i < p->nworkers; i++) {
        int c;
        const int *pu = tmi_place_pus(p, i, &c);
        tmi_sb_printf(sb, "%s{\"worker\":%d,\"pus\":[", i ? "," : "", i);
        for (int k = 0; k < c; k++)
            tmi_sb_printf(sb, "%s%d", k ? "," : "", pu[k]);
        tmi_sb_puts(sb, "],\"steal_order\":[");
        int nv = steal_order(p, i, victim, level);
        for (int k = 0; k < nv; k++) {
            tmi_sb_printf(sb, "%s{\"worker\":%d,\"level\":", k ? "," : "", victim[k]);
            tmi_json_str(sb, tmi_place_level_name[level[k]]);
            tmi_sb_putc(sb, '}');
        }
        tmi_sb_puts(sb, "]}");
    }
    tmi_sb_printf(sb, "],\"topology\":{\"source\":");
    tmi_json_str(sb, ti->source);
    if (ti->synthetic) {
        tmi_sb_puts(sb, ",\"synthetic\":");
        tmi_json_str(sb, ti->synthetic);
    }
    if (ti->xml) {
        tmi_sb_puts(sb, ",\"xml\":");
        tmi_json_str(sb, ti->xml);
    }
    tmi_sb_printf(sb,
                  ",\"packages\":%d,\"numa_nodes\":%d,\"l3\":%d,\"l2\":%d,\"cores\":%d,"
                  "\"pus\":%d},\"placement\":",
                  ti->packages, ti->numa_nodes, ti->l3, ti->l2, ti->cores, ti->pus);
    tmi_json_str(sb, p->policy);
    tmi_sb_printf(sb, ",\"binds\":%s}\n", p->binds ? "true" : "false");
}

static void print_human(struct tmi_sb *sb, const struct tmi_topo_info *ti,
                        const struct tmi_place_plan *p, int *victim, int *level)
{
    tmi_sb_printf(sb, "topology: %s", ti->source);
    if (ti->synthetic) tmi_sb_printf(sb, " \"%s\"", ti->synthetic);
    if (ti->xml) tmi_sb_printf(sb, " %s", ti->xml);
    tmi_sb_printf(sb, ": %d packages, %d NUMA nodes, %d L3, %d L2, %d cores, %d PUs\n",
                  ti->packages, ti->numa_nodes, ti->l3, ti->l2, ti->cores, ti->pus);
    tmi_sb_printf(sb, "placement: %s, %d workers, %s\n\n", p->policy, p->nworkers,
                  p->binds ? "each worker thread bound to its PUs" : "threads not bound");
    tmi_sb_printf(sb, "%-7s %-16s %s\n", "worker", "PUs", "steal order (nearest first)");
    for (int i = 0; i < p->nworkers; i++) {
        int c;
        const int *pu = tmi_place_pus(p, i, &c);
        struct tmi_sb col = {0};
        pu_ranges(&col, pu, c);
        tmi_sb_printf(sb, "%-7d %-16s", i, tmi_sb_str(&col));
        tmi_sb_free(&col);
        int nv = steal_order(p, i, victim, level), shown = 0;
        for (int k = 0; k < nv; k++) {
            if (shown == 8) {
                tmi_sb_printf(sb, " ... (%d more)", nv - k);
                break;
            }
            if (k == 0 || level[k] != level[k - 1])
                tmi_sb_printf(sb, " %s:", tmi_place_level_name[level[k]]);
            tmi_sb_printf(sb, " %d", victim[k]);
            shown++;
        }
        if (nv == 0) tmi_sb_puts(sb, " -");
        tmi_sb_putc(sb, '\n');
    }
}

int tmi_cmd_topo(int argc, char **argv)
{
    const char *synthetic = NULL, *xml = NULL, *policy = "none", *procs = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        const char *names[] = {"--synthetic", "--xml", "--placement", "--procs", "-p"};
        const char **slot[] = {&synthetic, &xml, &policy, &procs, &procs};
        int k;
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(topo_usage, stdout);
            return fflush(stdout) == 0 ? 0 : 2;
        }
        for (k = 0; k < 5; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n) != 0) continue;
            if (a[n] == '\0') {
                if (i + 1 >= argc) return tmi_usage_error("topo: %s needs a value", names[k]);
                val = argv[++i];
            } else if (a[n] == '=' && k < 4) {
                val = a + n + 1;
            } else if (k == 4) {
                val = a + n; /* -p4 */
            } else {
                continue;
            }
            *slot[k] = val;
            break;
        }
        if (k == 5)
            return tmi_usage_error("topo: unknown argument '%s' (see 'tmbench topo --help')", a);
    }
    if (synthetic && xml) return tmi_usage_error("topo: give --synthetic or --xml, not both");
    struct tmi_topo *t;
    if (tmi_topo_load(&t, synthetic, xml) != 0) return tmi_usage_error("topo: %s", tm_last_error());
    struct tmi_topo_info ti;
    tmi_topo_info(t, &ti);
    int64_t n = ti.pus;
    if (procs && (tmi_parse_int(procs, &n) != 0 || n < 1 || n > TMI_MAX_PROCS)) {
        tmi_topo_free(t);
        return tmi_usage_error("topo: -p: '%s' is not a number in 1..%d", procs, TMI_MAX_PROCS);
    }
    struct tmi_place_plan p;
    if (tmi_place_plan(t, policy, (int)n, &p) != 0) {
        int rc = tmi_usage_error("topo: --placement: %s", tm_last_error());
        tmi_topo_free(t);
        return rc;
    }
    int *victim = malloc(sizeof(int) * (size_t)n), *level = malloc(sizeof(int) * (size_t)n);
    struct tmi_sb sb = {0};
    if (victim && level) {
        if (json)
            print_json(&sb, &ti, &p, victim, level);
        else
            print_human(&sb, &ti, &p, victim, level);
    }
    int rc = 0;
    if (!victim || !level || sb.oom)
        rc = tmi_usage_error("topo: out of memory");
    else if (fputs(tmi_sb_str(&sb), stdout) == EOF || fflush(stdout) != 0)
        rc = tmi_usage_error("topo: cannot write the plan: %s", strerror(errno));
    free(victim);
    free(level);
    tmi_sb_free(&sb);
    tmi_place_plan_free(&p);
    tmi_topo_free(t);
    return rc;
}
