/* fuzz_place.c — libFuzzer harness for the topology and placement parsers:
 * an hwloc synthetic topology string, a --placement policy (none, compact,
 * scatter, pus:LIST) and a worker count, as `tmbench topo` takes them.
 * Input: SYNTHETIC '\n' POLICY '\n' N (one byte). Checks: a refusal says
 * why (tm_last_error); an accepted plan gives every worker at least one PU,
 * each PU one that the topology has. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "place.h"
#include "tm/tm.h"

/* Topologies here stay small (at most 512 PUs): hwloc's time grows with
 * the square of a level's width, and the 4,096 PUs tmi_topo_load accepts
 * (the CLI test checks that limit) take seconds under ASan. The fuzzing is
 * for our parsers, not for hwloc's allocator. */
static int small_enough(const char *s)
{
    uint64_t pus = 0;
    return tmi_synthetic_size(s, &pus) != 0 || pus <= 512; /* unreadable: refused anyway */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 512) return 0; /* strings longer than this are not topologies */
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    char *synthetic = buf, *policy = strchr(buf, '\n'), *nstr = NULL;
    if (policy) {
        *policy++ = 0;
        if ((nstr = strchr(policy, '\n'))) *nstr++ = 0;
    }
    int n = nstr && *nstr ? (unsigned char)*nstr % 64 + 1 : 2;
    if (!small_enough(synthetic)) synthetic = "pack:2 core:2 pu:2"; /* still fuzz the policy */
    struct tmi_topo *t;
    if (tmi_topo_load(&t, synthetic, NULL) != 0) {
        if (!*tm_last_error()) abort();
        free(buf);
        return 0;
    }
    struct tmi_topo_info info;
    tmi_topo_info(t, &info);
    struct tmi_place_plan plan;
    if (tmi_place_plan(t, policy, n, &plan) == 0) {
        for (int i = 0; i < n; i++) {
            int count = 0;
            const int *pus = tmi_place_pus(&plan, i, &count);
            if (count < 1) abort();
            for (int k = 0; k < count; k++)
                if (pus[k] < 0 || pus[k] >= info.pus) abort();
        }
        tmi_place_plan_free(&plan);
    } else if (!*tm_last_error()) {
        abort();
    }
    tmi_topo_free(t);
    free(buf);
    return 0;
}
