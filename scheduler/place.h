/* place.h — hwloc placement of worker threads: a pure plan, then apply.
 *
 * tmi_place_plan turns (topology, policy, N) into one set of PUs per worker,
 * as OS indices, plus the topological distance between every two workers
 * (what an idle worker's steal order is built from). It changes nothing in
 * the process, so the same call works on this machine, on an hwloc synthetic
 * description ("pack:2 core:8 pu:2") or on an XML export: placement is
 * tested on topologies the test machine does not have. tmi_place_apply then
 * binds the *calling* thread to one worker's set (each worker applies its
 * own entry when it starts). pthreads uses the same plan for --procs; mn
 * and goroutine bind their worker threads.
 *
 * The policy grammar and a worked example are at the top of place.c.
 * Errors are -1 with errno and a one-line tm_last_error ("place: ...").
 */
#ifndef TMI_PLACE_H
#define TMI_PLACE_H

#include <stdint.h>

/* A loaded topology (an hwloc topology underneath). Opaque. */
struct tmi_topo;

/* What `tmbench topo` and the record's machine{} print about it. */
struct tmi_topo_info {
    int packages, numa_nodes, l3, l2, cores, pus; /* object counts */
    const char *source;                           /* "this machine", "synthetic" or "xml" */
    const char *synthetic;                        /* the description, for "synthetic"; else NULL */
    const char *xml;                              /* the file, for "xml"; else NULL */
};

/* Load this machine's topology (both NULL), a synthetic one or an XML
 * file (at most one of them). On this machine only the PUs the process may
 * run on are seen. Errors: EINVAL bad synthetic string or unreadable XML
 * (the message names it), ENOMEM, ENOSYS hwloc cannot read this machine. */
int tmi_topo_load(struct tmi_topo **out, const char *synthetic, const char *xml);

/* Reads a synthetic description the way hwloc writes one -- levels
 * "type:N" or a bare "N", each with optional "(attributes)", memory in
 * "[NUMANode(...)]", root attributes first, items separated by spaces, at
 * least one level -- and sets *pus to the product of the level counts
 * (saturating above 2^32). Returns -1 for anything else: hwloc's own parser
 * is lenient ("l2(:4 pu:20000" is L2:4 PU:20000), so a guard that guessed
 * would let giants through. tmi_topo_load refuses more than 4,096 PUs
 * before hwloc builds anything. */
int tmi_synthetic_size(const char *s, uint64_t *pus);
void tmi_topo_free(struct tmi_topo *t);
void tmi_topo_info(const struct tmi_topo *t, struct tmi_topo_info *info);

/* How far apart two workers are: the smallest part of the machine that
 * holds both workers' PUs. Idle workers steal from nearer levels first. */
enum tmi_place_level {
    TMI_LV_SMT,     /* one core: hyper-thread siblings */
    TMI_LV_L2,      /* one L2 (or L1) cache */
    TMI_LV_L3,      /* one L3 (or larger) cache */
    TMI_LV_PACKAGE, /* one package, or one NUMA node of several */
    TMI_LV_REMOTE,  /* nothing smaller than the machine */
    TMI_LV_COUNT
};
/* "smt", "l2", "l3", "package", "remote" */
extern const char *const tmi_place_level_name[TMI_LV_COUNT];

/* A plan: pure data, independent of the topology it came from. */
struct tmi_place_plan {
    int nworkers;         /* N */
    int binds;            /* 0 for policy none: threads stay unbound (apply nudges) */
    char policy[64];      /* the policy as given (truncated) */
    int *first, *count;   /* worker i's PUs: pu[first[i] .. first[i] + count[i]) */
    int *pu;              /* OS indices, ascending within a worker (none: one
                             list of every PU, shared by all workers) */
    int *hint;            /* none only: the PU each worker starts on (compact
                             order), else NULL; see tmi_place_apply */
    unsigned char *level; /* level[i * N + j]: enum tmi_place_level of workers i, j */
};

/* Plan N workers (N >= 1) under policy (NULL = "none"). When N exceeds the
 * PUs a policy names, workers wrap around and share PUs.
 * Errors: EINVAL unknown policy, bad PU list, PU not in the topology,
 * N < 1; ENOMEM. */
int tmi_place_plan(const struct tmi_topo *t, const char *policy, int n,
                   struct tmi_place_plan *plan);
void tmi_place_plan_free(struct tmi_place_plan *plan);

/* Worker i's PUs; *count gets their number. */
static inline const int *tmi_place_pus(const struct tmi_place_plan *p, int i, int *count)
{
    *count = p->count[i];
    return p->pu + p->first[i];
}

static inline enum tmi_place_level tmi_place_level(const struct tmi_place_plan *p, int i, int j)
{
    return (enum tmi_place_level)p->level[i * p->nworkers + j];
}

/* Bind the calling thread to worker i's PUs. Under none the thread ends up
 * unbound (all PUs) but is first moved onto hint[i] for a moment: a nudge
 * so the kernel starts the workers on different PUs, where each one's
 * later wake-ups then land (the kernel wakes a thread on its previous PU
 * when that one is idle). Without it a virtual machine's kernel was seen
 * running two freshly woken workers on one core for tens of milliseconds.
 * t must be this machine's topology. Errors: as hwloc_set_cpubind, EINVAL
 * a synthetic or XML topology (for a binding policy). */
int tmi_place_apply(const struct tmi_topo *t, const struct tmi_place_plan *plan, int i);

/* Bind the whole process to the union of the plan's PUs (pthreads: its
 * threads inherit it). Nothing when !plan->binds. Errors: as apply. */
int tmi_place_apply_process(const struct tmi_topo *t, const struct tmi_place_plan *plan);

#endif
