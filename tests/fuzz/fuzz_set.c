/* fuzz_set.c — libFuzzer harness for `--set key=value` and the integer
 * syntax behind it (1000000, 1_000_000, 1e6, 1M, 64Ki ...). The first byte
 * picks a workload from the catalogue; the rest is the argument. Checks:
 * an accepted value is within the parameter's declared range (or a valid
 * choice index), and a refusal always explains itself in one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int nwl = 0;
    while (tm_workloads[nwl]) nwl++;
    const struct tm_workload_ops *wl = tm_workloads[data[0] % nwl];
    char *kv = malloc(size);
    if (!kv) return 0;
    memcpy(kv, data + 1, size - 1);
    kv[size - 1] = 0;
    int64_t param[TMI_MAX_PARAMS];
    char err[512] = "";
    tmi_param_defaults(wl, param);
    if (tmi_param_set(wl, param, kv, err, sizeof err) == 0) {
        for (int i = 0; i < wl->nparams; i++) {
            const struct tm_param_def *d = &wl->params[i];
            if (d->type == TM_PARAM_INT && (param[i] < d->min || param[i] > d->max)) abort();
            if (d->type == TM_PARAM_ENUM && (param[i] < 0 || param[i] >= tmi_enum_count(d->choices)))
                abort();
        }
    } else if (err[0] == 0 || strchr(err, '\n')) {
        abort();
    }
    int64_t v;
    (void)tmi_parse_int(kv, &v);
    free(kv);
    return 0;
}
