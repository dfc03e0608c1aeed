/* registry.c — the workload catalogue, by contract name (DESIGN.md §5). */
#include <string.h>

#include "tm/workload.h"

extern const struct tm_workload_ops tm_wl_spawn, tm_wl_yield, tm_wl_pingpong, tm_wl_mutex;
extern const struct tm_workload_ops tm_wl_idle, tm_wl_fib, tm_wl_skynet, tm_wl_parfor;
extern const struct tm_workload_ops tm_wl_sleep, tm_wl_ring, tm_wl_echo, tm_wl_http;
extern const struct tm_workload_ops tm_wl_blockio, tm_wl_hoglat, tm_wl_overflow;

const struct tm_workload_ops *const tm_workloads[] = {
    &tm_wl_spawn, &tm_wl_yield,  &tm_wl_pingpong, &tm_wl_mutex, &tm_wl_idle,
    &tm_wl_fib,   &tm_wl_skynet, &tm_wl_parfor,   &tm_wl_sleep, &tm_wl_ring,
    &tm_wl_echo,  &tm_wl_http,   &tm_wl_blockio,  &tm_wl_hoglat,
    &tm_wl_overflow, NULL,
};

const struct tm_workload_ops *tm_workload_find(const char *name)
{
    for (int i = 0; tm_workloads[i]; i++)
        if (strcmp(tm_workloads[i]->name, name) == 0) return tm_workloads[i];
    return NULL;
}
