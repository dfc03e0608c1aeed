/* test_place.c — placement plans (scheduler/place.c).
 *
 *   test_place synthetic|caches|errors|apply
 *
 * synthetic, caches and errors plan on hwloc synthetic topologies, so they
 * assert exact plans on any machine; apply binds real threads on this
 * machine and checks each one's affinity against its plan.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "place.h"
#include "tm/tm.h"

#define CHECK_DETAIL() tm_last_error()
#include "check.h"

enum { S = TMI_LV_SMT, L2 = TMI_LV_L2, L3 = TMI_LV_L3, P = TMI_LV_PACKAGE, R = TMI_LV_REMOTE };

static struct tmi_topo *load(const char *synthetic)
{
    struct tmi_topo *t;
    CHECK(tmi_topo_load(&t, synthetic, NULL) == 0);
    return t;
}

/* Plan n workers and compare with one PU per worker. */
static void expect_one(struct tmi_topo *t, const char *policy, int n, const int *pus)
{
    struct tmi_place_plan p;
    CHECK(tmi_place_plan(t, policy, n, &p) == 0);
    CHECK(p.nworkers == n && p.binds == 1);
    for (int i = 0; i < n; i++) {
        int c;
        const int *got = tmi_place_pus(&p, i, &c);
        if (c != 1 || got[0] != pus[i]) {
            fprintf(stderr, "%s, worker %d: PU %d (of %d), want %d\n", policy, i, got[0], c,
                    pus[i]);
            exit(1);
        }
    }
    tmi_place_plan_free(&p);
}

/* Plan n workers and compare the distance levels (i, j) listed. */
static void expect_levels(struct tmi_topo *t, const char *policy, int n, const int (*ijl)[3],
                          int count)
{
    struct tmi_place_plan p;
    CHECK(tmi_place_plan(t, policy, n, &p) == 0);
    for (int k = 0; k < count; k++) {
        int i = ijl[k][0], j = ijl[k][1], want = ijl[k][2];
        int got = (int)tmi_place_level(&p, i, j);
        if (got != want || (int)tmi_place_level(&p, j, i) != want) {
            fprintf(stderr, "%s: level(%d,%d) = %s, want %s\n", policy, i, j,
                    tmi_place_level_name[got], tmi_place_level_name[want]);
            exit(1);
        }
    }
    tmi_place_plan_free(&p);
}

static void test_synthetic(void)
{
    /* The worked example at the top of place.c. */
    struct tmi_topo *t = load("pack:2 core:2 pu:2");
    struct tmi_topo_info ti;
    tmi_topo_info(t, &ti);
    CHECK(ti.packages == 2 && ti.cores == 4 && ti.pus == 8 && ti.numa_nodes == 1);
    CHECK(strcmp(ti.source, "synthetic") == 0 && strcmp(ti.synthetic, "pack:2 core:2 pu:2") == 0);

    struct tmi_place_plan p;
    CHECK(tmi_place_plan(t, "none", 4, &p) == 0);
    CHECK(p.binds == 0);
    for (int i = 0; i < 4; i++) {
        int c;
        const int *pus = tmi_place_pus(&p, i, &c);
        CHECK(c == 8);
        for (int k = 0; k < 8; k++)
            CHECK(pus[k] == k);
    }
    tmi_place_plan_free(&p);
    CHECK(tmi_place_plan(t, NULL, 2, &p) == 0 && p.binds == 0); /* NULL = none */
    tmi_place_plan_free(&p);

    expect_one(t, "compact", 4, (const int[]){0, 1, 2, 3});
    expect_one(t, "scatter", 4, (const int[]){0, 4, 2, 6});
    expect_one(t, "scatter", 8, (const int[]){0, 4, 2, 6, 1, 5, 3, 7});
    expect_one(t, "pus:6,7,0-1", 4, (const int[]){6, 7, 0, 1});
    expect_one(t, "pus:3", 3, (const int[]){3, 3, 3});                         /* repeats */
    expect_one(t, "compact", 10, (const int[]){0, 1, 2, 3, 4, 5, 6, 7, 0, 1}); /* wraps */

    expect_levels(t, "none", 4, (const int[][3]){{0, 1, R}, {2, 3, R}}, 2);
    expect_levels(t, "compact", 4, (const int[][3]){{0, 1, S}, {0, 2, P}, {1, 3, P}, {2, 3, S}}, 4);
    expect_levels(t, "scatter", 4, (const int[][3]){{0, 1, R}, {0, 2, P}, {1, 3, P}, {0, 3, R}}, 4);
    expect_levels(t, "pus:6,7,0-1", 4, (const int[][3]){{0, 1, S}, {0, 2, R}, {2, 3, S}}, 3);
    expect_levels(t, "compact", 10, (const int[][3]){{0, 8, S}, {1, 9, S}}, 2);
    tmi_topo_free(t);

    /* Four packages of two NUMA nodes: 128 PUs, 16 per node. */
    t = load("pack:4 numa:2 core:8 pu:2");
    tmi_topo_info(t, &ti);
    CHECK(ti.packages == 4 && ti.numa_nodes == 8 && ti.cores == 64 && ti.pus == 128);
    expect_one(t, "compact", 8, (const int[]){0, 1, 2, 3, 4, 5, 6, 7});
    expect_one(t, "scatter", 8, (const int[]){0, 32, 64, 96, 16, 48, 80, 112});
    expect_one(t, "scatter", 10, (const int[]){0, 32, 64, 96, 16, 48, 80, 112, 2, 34});
    expect_levels(t, "compact", 17, (const int[][3]){{0, 1, S}, {0, 2, P}, {0, 16, P}, {15, 16, P}},
                  4);
    expect_levels(t, "scatter", 8, (const int[][3]){{0, 1, R}, {0, 4, P}, {1, 5, P}, {4, 5, R}}, 4);
    expect_levels(t, "pus:0,31,32", 3, (const int[][3]){{0, 1, P}, {1, 2, R}}, 2);
    tmi_topo_free(t);
    printf("ok synthetic\n");
}

static void test_caches(void)
{
    /* One package, two L3s of two L2s of two single-PU cores. */
    struct tmi_topo *t = load("pack:1 l3:2 l2:2 core:2 pu:1");
    struct tmi_topo_info ti;
    tmi_topo_info(t, &ti);
    CHECK(ti.l3 == 2 && ti.l2 == 4 && ti.cores == 8 && ti.pus == 8);
    expect_one(t, "compact", 8, (const int[]){0, 1, 2, 3, 4, 5, 6, 7});
    expect_one(t, "scatter", 8, (const int[]){0, 4, 2, 6, 1, 5, 3, 7});
    expect_levels(t, "compact", 8,
                  (const int[][3]){{0, 1, L2}, {0, 2, L3}, {1, 3, L3}, {0, 4, P}, {6, 7, L2}}, 5);
    expect_levels(t, "none", 2, (const int[][3]){{0, 1, P}}, 1); /* the package covers all */
    tmi_topo_free(t);
    printf("ok caches\n");
}

static void expect_einval(struct tmi_topo *t, const char *policy, int n, const char *words)
{
    struct tmi_place_plan p;
    errno = 0;
    CHECK(tmi_place_plan(t, policy, n, &p) == -1);
    CHECK(errno == EINVAL);
    const char *e = tm_last_error();
    if (strncmp(e, "place: ", 7) != 0 || !strstr(e, words) || strchr(e, '\n')) {
        fprintf(stderr, "policy '%s': message '%s' should name '%s'\n", policy, e, words);
        exit(1);
    }
}

static void test_errors(void)
{
    struct tmi_topo *t = load("pack:2 core:2 pu:2");
    expect_einval(t, "bogus", 2, "unknown placement 'bogus'");
    expect_einval(t, "Compact", 2, "unknown placement");
    expect_einval(t, "pus:", 2, "bad PU list");
    expect_einval(t, "pus:3-1", 2, "bad PU list");
    expect_einval(t, "pus:1,,2", 2, "bad PU list");
    expect_einval(t, "pus:1,", 2, "bad PU list");
    expect_einval(t, "pus:a", 2, "bad PU list");
    expect_einval(t, "pus:-1", 2, "bad PU list");
    expect_einval(t, "pus:1-", 2, "bad PU list");
    expect_einval(t, "pus:0, 1", 2, "bad PU list");
    expect_einval(t, "pus:2,9", 2, "PU 9 is not in this topology (PUs 0-7)");
    expect_einval(t, "compact", 0, "at least 1 worker");
    /* the size guard reads hwloc's grammar: bare arities count, attributes,
     * type names with digits and attached memory do not */
    uint64_t pus = 0;
    CHECK(tmi_synthetic_size("pack:2 l2:4 pu:2", &pus) == 0 && pus == 16);
    CHECK(tmi_synthetic_size("numa:2(memory=1000000000) pu:4", &pus) == 0 && pus == 8);
    CHECK(tmi_synthetic_size(" 100 100 100 ", &pus) == 0 && pus == 1000000);
    CHECK(tmi_synthetic_size("[numa] pu:2 [numa]", &pus) == 0 && pus == 2);
    CHECK(tmi_synthetic_size("99999999999999999999 2", &pus) == 0 && pus > ((uint64_t)1 << 32));
    CHECK(tmi_synthetic_size("65536 65536 65536 65536", &pus) == 0 && pus > ((uint64_t)1 << 32));
    CHECK(tmi_synthetic_size("(memory=1GB) Package:2 [NUMANode(memory=1073741824)] "
                             "L3Cache:1(size=16777216) Core:2 PU:2(indexes=0,2,1,3,4,6,5,7)",
                             &pus) == 0 &&
          pus == 8); /* as lstopo --of synthetic writes it */
    const char *unread[] = {"l2(:4 pu:20000", /* hwloc reads L2:4 PU:20000 (found by fuzz_place) */
                            "pack:2(", "pack:2(a(b)) pu:2", "pack:2pu:2", "pack:2 (x) pu:2",
                            "pack2", "[numa pu:2", "[pu:2] pu:2", ":2", "pack:-2",
                            "", "(memory=1GB)",
                            "[no_p]" /* memory but no level: hwloc leaks (fuzz_place) */};
    for (size_t i = 0; i < sizeof unread / sizeof *unread; i++)
        if (tmi_synthetic_size(unread[i], &pus) != -1) {
            fprintf(stderr, "tmi_synthetic_size read '%s'\n", unread[i]);
            CHECK(!"an unreadable synthetic string");
        }
    struct tmi_topo *big;
    CHECK(tmi_topo_load(&big, "2 4096", NULL) == -1 && errno == EINVAL && !big);
    CHECK(strstr(tm_last_error(), "too large"));
    /* a synthetic plan cannot be applied */
    struct tmi_place_plan p;
    CHECK(tmi_place_plan(t, "compact", 2, &p) == 0);
    CHECK(tmi_place_apply(t, &p, 0) == -1 && errno == EINVAL);
    tmi_place_plan_free(&p);
    tmi_topo_free(t);

    struct tmi_topo *bad;
    CHECK(tmi_topo_load(&bad, "pack:2 bogus:3", NULL) == -1 && errno == EINVAL && !bad);
    CHECK(strstr(tm_last_error(), "bad synthetic topology 'pack:2 bogus:3'"));
    CHECK(tmi_topo_load(&bad, NULL, "/nonexistent/topo.xml") == -1 && errno == EINVAL);
    CHECK(strstr(tm_last_error(), "/nonexistent/topo.xml"));
    printf("ok errors\n");
}

/* ---- apply on this machine ---- */

struct binder {
    struct tmi_topo *t;
    struct tmi_place_plan *p;
    int i;
    cpu_set_t got; /* the thread's affinity after apply */
    int rc;
};

static void *bind_main(void *arg)
{
    struct binder *b = arg;
    b->rc = tmi_place_apply(b->t, b->p, b->i);
    CPU_ZERO(&b->got);
    if (b->rc == 0 && sched_getaffinity(0, sizeof b->got, &b->got) != 0) b->rc = -1;
    return NULL;
}

static void check_policy(struct tmi_topo *t, const char *policy, int n, const cpu_set_t *start)
{
    struct tmi_place_plan p;
    CHECK(tmi_place_plan(t, policy, n, &p) == 0);
    struct binder *b = calloc((size_t)n, sizeof *b);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    CHECK(b && th);
    for (int i = 0; i < n; i++) {
        b[i] = (struct binder){.t = t, .p = &p, .i = i};
        CHECK(pthread_create(&th[i], NULL, bind_main, &b[i]) == 0);
    }
    for (int i = 0; i < n; i++) {
        CHECK(pthread_join(th[i], NULL) == 0);
        CHECK(b[i].rc == 0);
        cpu_set_t want;
        CPU_ZERO(&want);
        int c;
        const int *pus = tmi_place_pus(&p, i, &c);
        for (int k = 0; k < c; k++)
            CPU_SET(pus[k], &want);
        if (!p.binds) CHECK(CPU_EQUAL(&want, start)); /* none: all the PUs we may use */
        if (!CPU_EQUAL(&b[i].got, &want)) {
            fprintf(stderr, "%s: worker %d runs on %d PUs, plan says %d (first PU %d)\n", policy, i,
                    CPU_COUNT(&b[i].got), c, pus[0]);
            exit(1);
        }
    }
    free(b);
    free(th);
    tmi_place_plan_free(&p);
}

static void test_apply(void)
{
    cpu_set_t start;
    CHECK(sched_getaffinity(0, sizeof start, &start) == 0);
    struct tmi_topo *t = load(NULL);
    struct tmi_topo_info ti;
    tmi_topo_info(t, &ti);
    CHECK(strcmp(ti.source, "this machine") == 0 && ti.pus == CPU_COUNT(&start));
    char last[32];
    struct tmi_place_plan p;
    CHECK(tmi_place_plan(t, "compact", ti.pus, &p) == 0);
    int c;
    snprintf(last, sizeof last, "pus:%d", tmi_place_pus(&p, ti.pus - 1, &c)[0]);
    tmi_place_plan_free(&p);
    const char *policies[] = {"none", "compact", "scatter", last};
    for (int k = 0; k < 4; k++) {
        check_policy(t, policies[k], ti.pus, &start);
        check_policy(t, policies[k], 1, &start);
        check_policy(t, policies[k], ti.pus + 1, &start); /* wraps */
    }
    /* the whole process (pthreads' --procs), in a child: it stays bound */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(tmi_place_plan(t, last, 1, &p) == 0);
        CHECK(tmi_place_apply_process(t, &p) == 0);
        cpu_set_t got;
        CHECK(sched_getaffinity(0, sizeof got, &got) == 0);
        CHECK(CPU_COUNT(&got) == 1 && CPU_ISSET(tmi_place_pus(&p, 0, &c)[0], &got));
        _exit(0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    tmi_topo_free(t);
    printf("ok apply (%d PUs)\n", ti.pus);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"synthetic", test_synthetic},
        {"caches", test_caches},
        {"errors", test_errors},
        {"apply", test_apply},
    };
    for (size_t i = 0; argc == 2 && i < sizeof tests / sizeof tests[0]; i++) {
        if (strcmp(argv[1], tests[i].name) == 0) {
            tests[i].fn();
            return 0;
        }
    }
    fprintf(stderr, "usage: test_place synthetic|caches|errors|apply\n");
    return 2;
}
