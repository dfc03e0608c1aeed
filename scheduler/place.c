/* place.c — hwloc placement: policies, the pure plan, and apply.
 *
 * Policy grammar (the --placement value):
 *
 *   policy := "none" | "compact" | "scatter" | "pus:" list
 *   list   := range ( "," range )*
 *   range  := INDEX | INDEX "-" INDEX      decimal OS PU indices, lo <= hi
 *
 *   none     no binding; the plan still gives every worker all PUs, so the
 *            steal distances say "anywhere in the machine". Apply only
 *            nudges worker i onto the i-th PU of compact order at start.
 *   compact  worker i on the i-th PU in hwloc's logical order: fill the PUs
 *            of a core, then the cores of a cache, then a package.
 *   scatter  spread: packages (and NUMA nodes under them) first, then
 *            caches, then cores, and hyper-thread siblings last. Worker i
 *            gets the i-th PU when PUs are sorted by their path from the
 *            root read backwards (PU rank, core rank, ..., package rank).
 *   pus:L    worker i on the i-th PU of the list, by OS index, in the order
 *            written ("pus:6,0-2" puts worker 0 on PU 6). A PU may repeat.
 *
 * When N exceeds the PUs a policy orders, worker i takes entry i mod count:
 * workers share PUs (oversubscription is allowed, not refused).
 *
 * Worked example: "pack:2 core:2 pu:2" (OS index = logical index), N = 4.
 *
 *   policy       worker 0  worker 1  worker 2  worker 3   level(0,1)  level(0,2)
 *   none         0-7       0-7       0-7       0-7        remote      remote
 *   compact      0         1         2         3          smt         package
 *   scatter      0         4         2         6          remote      package
 *   pus:6,7,0-1  6         7         0         1          smt         remote
 *
 * and "pack:4 numa:2 core:8 pu:2" (128 PUs; a NUMA node = 16 PUs), N = 8:
 * compact 0..7; scatter 0 32 64 96 16 48 80 112 — one worker per package,
 * then the second NUMA node of each package.
 *
 * Distance levels: two workers' level is the smallest object that covers
 * both workers' PUs (hwloc_get_obj_covering_cpuset), walked upwards: a core
 * or PU = smt; a cache of depth <= 2 = l2; a deeper cache = l3; a package,
 * or an object holding one of several NUMA nodes = package; the machine =
 * remote. Computed once per plan; the plan is then pure data.
 *
 * Rejected: hwloc_distrib for scatter (it hands consecutive workers to the
 * same subtree, so -p 2 would land both workers in package 0); binding to
 * whole cores under compact (on SMT machines -p 2 would then mean 2 cores
 * and 4 PUs, which is not what --procs promises).
 */
#include "place.h"

#include <ctype.h>
#include <errno.h>
#include <hwloc.h>
#include <stdlib.h>
#include <string.h>

#include "tmi.h"

struct tmi_topo {
    hwloc_topology_t h;
    struct tmi_topo_info info;
    char *synthetic, *xml; /* copies, for info */
};

const char *const tmi_place_level_name[TMI_LV_COUNT] = {"smt", "l2", "l3", "package", "remote"};

/* ---- topology ---- */

static int count(hwloc_topology_t h, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(h, type);
    return n < 0 ? 0 : n; /* -1: several depths (never for these types) */
}

/* hwloc builds every object of a synthetic topology in memory, in time
 * that grows with the square of a level's width: "pack:100 core:1000
 * pu:1000" would take minutes and gigabytes, and so would "100 100 100"
 * (levels given by their arity alone); a flat "8192" takes 5.6 s, "4096"
 * 0.7 s (release build). 4,096 PUs is more than any machine we model. */
enum { MAX_SYNTHETIC_PUS = 4096 };

/* Attributes: "(" anything but parentheses ")" -- hwloc ends them at the
 * first ')'. Returns the character after, or NULL. */
static const char *synthetic_attrs(const char *p)
{
    if (*p != '(') return p;
    for (p++; *p && *p != ')'; p++)
        if (*p == '(') return NULL;
    return *p == ')' ? p + 1 : NULL;
}

static const char *synthetic_name(const char *p)
{
    if (!isalpha((unsigned char)*p)) return NULL;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    return p;
}

int tmi_synthetic_size(const char *s, uint64_t *pus)
{
    const uint64_t cap = (uint64_t)1 << 32;
    uint64_t product = 1;
    int levels = 0;
    for (const char *p = s, *gap = s;; gap = p) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        if (p == gap && p != s) return -1; /* items are separated by spaces */
        if (*p == '(' && gap == s) { /* the root's attributes come first */
            if (!(p = synthetic_attrs(p))) return -1;
            continue;
        }
        if (*p == '[') { /* memory attached here: "[NUMANode(memory=1GB)]" */
            if (!(p = synthetic_name(p + 1)) || !(p = synthetic_attrs(p)) || *p++ != ']')
                return -1;
            continue;
        }
        const char *colon = synthetic_name(p); /* "pack:2"; a bare "2" has no type */
        if (colon && *colon != ':') return -1;
        if (colon) p = colon + 1;
        if (!isdigit((unsigned char)*p)) return -1;
        uint64_t n = 0;
        for (; isdigit((unsigned char)*p); p++)
            if (n <= cap) n = n * 10 + (uint64_t)(*p - '0');
        if (!(p = synthetic_attrs(p))) return -1;
        product = n > cap || (n && product > cap / n) ? cap + 1 : product * n;
        levels++;
    }
    *pus = product;
    return levels > 0 ? 0 : -1; /* hwloc 2.9 leaks on "[numa]" alone (fuzz_place) */
}

int tmi_topo_load(struct tmi_topo **out, const char *synthetic, const char *xml)
{
    *out = NULL;
    if (synthetic && xml)
        return tmi_fail(EINVAL, "place: give a synthetic topology or XML, not both");
    uint64_t pus = 0;
    if (synthetic && tmi_synthetic_size(synthetic, &pus) != 0)
        return tmi_fail(EINVAL,
                        "place: bad synthetic topology '%s' (levels such as 'pack:2 core:4 pu:2', "
                        "attributes in parentheses, memory in brackets)",
                        synthetic);
    if (synthetic && pus > MAX_SYNTHETIC_PUS)
        return tmi_fail(EINVAL, "place: synthetic topology '%s' is too large (more than %d PUs)",
                        synthetic, MAX_SYNTHETIC_PUS);
    struct tmi_topo *t = calloc(1, sizeof *t);
    if (!t) return tmi_fail(ENOMEM, "place: out of memory");
    if (hwloc_topology_init(&t->h) < 0) {
        free(t);
        return tmi_fail(ENOMEM, "place: hwloc_topology_init failed");
    }
    int err = 0;
    if (synthetic && hwloc_topology_set_synthetic(t->h, synthetic) < 0)
        err = tmi_fail(EINVAL, "place: bad synthetic topology '%s'", synthetic);
    else if (xml && hwloc_topology_set_xml(t->h, xml) < 0)
        err = tmi_fail(EINVAL, "place: cannot read topology XML '%s'", xml);
    else if (hwloc_topology_load(t->h) < 0)
        err = tmi_fail(synthetic || xml ? EINVAL : ENOSYS, "place: hwloc cannot load %s",
                       synthetic ? "the synthetic topology"
                       : xml     ? "the XML"
                                 : "this machine");
    if (!err &&
        ((synthetic && !(t->synthetic = strdup(synthetic))) || (xml && !(t->xml = strdup(xml)))))
        err = tmi_fail(ENOMEM, "place: out of memory");
    if (!err && count(t->h, HWLOC_OBJ_PU) < 1)
        err = tmi_fail(EINVAL, "place: the topology has no PUs");
    if (err) {
        tmi_topo_free(t);
        return -1;
    }
    hwloc_topology_t h = t->h;
    t->info = (struct tmi_topo_info){
        .packages = count(h, HWLOC_OBJ_PACKAGE),
        .numa_nodes = count(h, HWLOC_OBJ_NUMANODE),
        .l3 = count(h, HWLOC_OBJ_L3CACHE),
        .l2 = count(h, HWLOC_OBJ_L2CACHE),
        .cores = count(h, HWLOC_OBJ_CORE),
        .pus = count(h, HWLOC_OBJ_PU),
        .source = synthetic ? "synthetic"
                  : xml     ? "xml"
                            : "this machine",
        .synthetic = t->synthetic,
        .xml = t->xml,
    };
    *out = t;
    return 0;
}

void tmi_topo_free(struct tmi_topo *t)
{
    if (!t) return;
    hwloc_topology_destroy(t->h);
    free(t->synthetic);
    free(t->xml);
    free(t);
}

void tmi_topo_info(const struct tmi_topo *t, struct tmi_topo_info *info)
{
    *info = t->info;
}

/* ---- policies: each fills order[0..k) with OS indices and returns k ---- */

static int order_compact(hwloc_topology_t h, int *order)
{
    int n = count(h, HWLOC_OBJ_PU);
    for (int i = 0; i < n; i++)
        order[i] = (int)hwloc_get_obj_by_type(h, HWLOC_OBJ_PU, (unsigned)i)->os_index;
    return n;
}

/* Scatter sorts PUs by their root-to-PU path of sibling ranks, compared
 * from the PU end: every PU has an ancestor at every depth, so the paths
 * have one length. */
struct scatter_key {
    unsigned rank[32]; /* rank[0] = the PU's sibling rank, then its parent's, ... */
    int os;
};

static int cmp_scatter(const void *a, const void *b)
{
    const struct scatter_key *x = a, *y = b;
    for (int d = 0; d < 32; d++)
        if (x->rank[d] != y->rank[d]) return x->rank[d] < y->rank[d] ? -1 : 1;
    return x->os < y->os ? -1 : x->os > y->os;
}

static int order_scatter(hwloc_topology_t h, int *order)
{
    int n = count(h, HWLOC_OBJ_PU);
    struct scatter_key *k = calloc((size_t)n, sizeof *k);
    if (!k) return tmi_fail(ENOMEM, "place: out of memory");
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(h, HWLOC_OBJ_PU, (unsigned)i);
        k[i].os = (int)o->os_index;
        for (int d = 0; o && o->parent && d < 32; o = o->parent, d++)
            k[i].rank[d] = o->sibling_rank;
    }
    qsort(k, (size_t)n, sizeof *k, cmp_scatter);
    for (int i = 0; i < n; i++)
        order[i] = k[i].os;
    free(k);
    return n;
}

/* "0,2,4-7" -> OS indices in order; each must be a PU of the topology. */
static int order_list(hwloc_topology_t h, const char *policy, const char *s, int **orderp)
{
    int cap = 16, k = 0, *order = malloc((size_t)cap * sizeof *order);
    if (!order) return tmi_fail(ENOMEM, "place: out of memory");
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(h);
    const char *p = s;
    for (;;) {
        char *end;
        long lo, hi;
        if (*p < '0' || *p > '9') goto bad;
        lo = hi = strtol(p, &end, 10);
        p = end;
        if (*p == '-') {
            if (p[1] < '0' || p[1] > '9') goto bad;
            hi = strtol(p + 1, &end, 10);
            p = end;
        }
        if (lo > hi || hi > 1 << 20) goto bad;
        for (long i = lo; i <= hi; i++) {
            if (!hwloc_bitmap_isset(all, (unsigned)i)) {
                int last = hwloc_bitmap_last(all);
                free(order);
                return tmi_fail(EINVAL, "place: '%s': PU %ld is not in this topology (PUs 0-%d)",
                                policy, i, last);
            }
            if (k == cap) {
                int *o2 = realloc(order, (size_t)(cap *= 2) * sizeof *order);
                if (!o2) {
                    free(order);
                    return tmi_fail(ENOMEM, "place: out of memory");
                }
                order = o2;
            }
            order[k++] = (int)i;
        }
        if (*p == '\0') break;
        if (*p++ != ',') goto bad;
    }
    *orderp = order;
    return k;
bad:
    free(order);
    return tmi_fail(EINVAL, "place: '%s': bad PU list (want e.g. pus:0,2,4-7)", policy);
}

/* ---- distances ---- */

static enum tmi_place_level level_of(hwloc_topology_t h, hwloc_const_cpuset_t set, int multi_numa)
{
    hwloc_obj_t o = hwloc_get_obj_covering_cpuset(h, set);
    for (; o; o = o->parent) {
        if (o->type == HWLOC_OBJ_PU || o->type == HWLOC_OBJ_CORE) return TMI_LV_SMT;
        if (hwloc_obj_type_is_dcache(o->type))
            return o->attr->cache.depth <= 2 ? TMI_LV_L2 : TMI_LV_L3;
        if (o->type == HWLOC_OBJ_PACKAGE || o->type == HWLOC_OBJ_DIE) return TMI_LV_PACKAGE;
        if (multi_numa && o->memory_arity > 0 && o->parent) return TMI_LV_PACKAGE;
    }
    return TMI_LV_REMOTE;
}

/* ---- the plan ---- */

void tmi_place_plan_free(struct tmi_place_plan *plan)
{
    free(plan->first);
    free(plan->count);
    free(plan->pu);
    free(plan->hint);
    free(plan->level);
    memset(plan, 0, sizeof *plan);
}

int tmi_place_plan(const struct tmi_topo *t, const char *policy, int n, struct tmi_place_plan *plan)
{
    hwloc_topology_t h = t->h;
    memset(plan, 0, sizeof *plan);
    if (!policy) policy = "none";
    if (n < 1) return tmi_fail(EINVAL, "place: need at least 1 worker, not %d", n);
    int npus = t->info.pus, k = -1, none = 0;
    int *order = NULL;
    if (strcmp(policy, "none") == 0) {
        none = 1;
        if (!(order = malloc((size_t)npus * sizeof *order)))
            return tmi_fail(ENOMEM, "place: out of memory");
        k = order_compact(h, order); /* for the start-up nudge */
    } else if (strcmp(policy, "compact") == 0 || strcmp(policy, "scatter") == 0) {
        if (!(order = malloc((size_t)npus * sizeof *order)))
            return tmi_fail(ENOMEM, "place: out of memory");
        k = policy[0] == 'c' ? order_compact(h, order) : order_scatter(h, order);
    } else if (strncmp(policy, "pus:", 4) == 0) {
        k = order_list(h, policy, policy + 4, &order);
    } else {
        return tmi_fail(
            EINVAL, "place: unknown placement '%s' (none, compact, scatter or pus:LIST)", policy);
    }
    if (k < 0) {
        free(order);
        return -1;
    }
    plan->nworkers = n;
    plan->binds = !none;
    snprintf(plan->policy, sizeof plan->policy, "%s", policy);
    /* none: one shared list of every PU (n copies of 64k PUs would be
     * gigabytes) and one level for every pair; else one PU per worker. */
    size_t npu = none ? (size_t)npus : (size_t)n;
    plan->first = malloc((size_t)n * sizeof *plan->first);
    plan->count = malloc((size_t)n * sizeof *plan->count);
    plan->pu = malloc(npu * sizeof *plan->pu);
    plan->level = malloc((size_t)n * (size_t)n);
    if (none) plan->hint = malloc((size_t)n * sizeof *plan->hint);
    hwloc_bitmap_t *sets = calloc((size_t)n, sizeof *sets), u = hwloc_bitmap_alloc();
    int err = !plan->first || !plan->count || !plan->pu || !plan->level || !sets || !u ||
              (none && !plan->hint);
    if (!err && none) {
        int j = 0, os;
        hwloc_bitmap_foreach_begin(os, hwloc_topology_get_topology_cpuset(h)) plan->pu[j++] = os;
        hwloc_bitmap_foreach_end();
        unsigned char lv = (unsigned char)level_of(h, hwloc_topology_get_topology_cpuset(h),
                                                   t->info.numa_nodes > 1);
        memset(plan->level, lv, (size_t)n * (size_t)n);
        for (int i = 0; i < n; i++) {
            plan->first[i] = 0;
            plan->count[i] = j;
            plan->hint[i] = order[i % k];
        }
    }
    for (int i = 0; i < n && !err && !none; i++) {
        if (!(sets[i] = hwloc_bitmap_alloc())) {
            err = 1;
            break;
        }
        plan->first[i] = i;
        plan->count[i] = 1;
        plan->pu[i] = order[i % k];
        hwloc_bitmap_only(sets[i], (unsigned)order[i % k]);
    }
    if (!err && !none) {
        int multi_numa = t->info.numa_nodes > 1;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                hwloc_bitmap_or(u, sets[i], sets[j]);
                plan->level[i * n + j] = (unsigned char)level_of(h, u, multi_numa);
            }
    }
    for (int i = 0; sets && i < n; i++)
        hwloc_bitmap_free(sets[i]);
    free(sets);
    hwloc_bitmap_free(u);
    free(order);
    if (err) {
        tmi_place_plan_free(plan);
        return tmi_fail(ENOMEM, "place: out of memory");
    }
    return 0;
}

/* ---- apply ---- */

static int bind(const struct tmi_topo *t, const struct tmi_place_plan *plan, int first, int last,
                int flags)
{
    if (!hwloc_topology_is_thissystem(t->h))
        return tmi_fail(EINVAL, "place: cannot bind to a %s topology", t->info.source);
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) return tmi_fail(ENOMEM, "place: out of memory");
    for (int i = first; i <= last; i++)
        for (int k = 0; k < plan->count[i]; k++)
            hwloc_bitmap_set(set, (unsigned)plan->pu[plan->first[i] + k]);
    int r = hwloc_set_cpubind(t->h, set, flags);
    int e = errno;
    hwloc_bitmap_free(set);
    if (r < 0)
        return tmi_fail(e, "place: binding to the PUs of '%s' failed: %s", plan->policy,
                        strerror(e));
    return 0;
}

/* none: a moment on the hint PU, then every PU again. Best effort. */
static void nudge(const struct tmi_topo *t, const struct tmi_place_plan *plan, int i)
{
    if (!plan->hint || !hwloc_topology_is_thissystem(t->h)) return;
    hwloc_bitmap_t one = hwloc_bitmap_alloc();
    if (!one) return;
    hwloc_bitmap_only(one, (unsigned)plan->hint[i]);
    if (hwloc_set_cpubind(t->h, one, HWLOC_CPUBIND_THREAD) == 0)
        bind(t, plan, i, i, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(one);
}

int tmi_place_apply(const struct tmi_topo *t, const struct tmi_place_plan *plan, int i)
{
    if (!plan->binds) {
        nudge(t, plan, i);
        return 0;
    }
    return bind(t, plan, i, i, HWLOC_CPUBIND_THREAD);
}

int tmi_place_apply_process(const struct tmi_topo *t, const struct tmi_place_plan *plan)
{
    return plan->binds ? bind(t, plan, 0, plan->nworkers - 1, HWLOC_CPUBIND_PROCESS) : 0;
}
