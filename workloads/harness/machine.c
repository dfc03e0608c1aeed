/* machine.c — the machine{} object of every record: who ran this, where.
 *
 * Collected once per process, before tm_init (so the model's affinity
 * changes cannot shrink what hwloc sees), and cached.
 */
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "harness.h"

struct machine {
    int done;                             /* collected */
    char hostname[256];                   /* gethostname */
    char cpu_model[256];                  /* /proc/cpuinfo "model name"; "" unknown */
    int pus, cores, packages, numa_nodes; /* hwloc counts; -1 unknown */
    char kernel[512];                     /* uname release + " " + version */
    char arch[80];                        /* uname machine */
    char governor[64];                    /* cpu0 scaling_governor; "" unreadable */
    long long mem_total_kb;               /* /proc/meminfo MemTotal; -1 unknown */
    char os[256];                         /* /etc/os-release PRETTY_NAME; "" unknown */
};

static struct machine m;

/* Copy the value of the first line of path that starts with key, after the
 * key, any spaces/tabs, an optional ':' or '=' and optional quotes. */
static void read_key(const char *path, const char *key, char *out, size_t outsz)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0) continue;
        char *p = line + klen;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':' && *p != '=') continue;
        p++;
        while (*p == ' ' || *p == '\t' || *p == '"')
            p++;
        size_t n = strcspn(p, "\"\n");
        snprintf(out, outsz, "%.*s", (int)n, p);
        break;
    }
    fclose(f);
}

static void read_line(const char *path, char *out, size_t outsz)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)outsz, f))
        out[strcspn(out, "\n")] = '\0';
    else
        out[0] = '\0';
    fclose(f);
}

static int count(hwloc_topology_t t, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(t, type);
    return n < 0 ? -1 : n;
}

static void collect(void)
{
    if (m.done) return;
    m.done = 1;
    if (gethostname(m.hostname, sizeof m.hostname - 1) != 0) m.hostname[0] = '\0';
    read_key("/proc/cpuinfo", "model name", m.cpu_model, sizeof m.cpu_model);
    m.pus = m.cores = m.packages = m.numa_nodes = -1;
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) == 0) {
        if (hwloc_topology_load(t) == 0) {
            m.pus = count(t, HWLOC_OBJ_PU);
            m.cores = count(t, HWLOC_OBJ_CORE);
            m.packages = count(t, HWLOC_OBJ_PACKAGE);
            m.numa_nodes = count(t, HWLOC_OBJ_NUMANODE);
        }
        hwloc_topology_destroy(t);
    }
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(m.kernel, sizeof m.kernel, "%s %s", u.release, u.version);
        snprintf(m.arch, sizeof m.arch, "%s", u.machine);
    }
    read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", m.governor,
              sizeof m.governor);
    char mem[64];
    read_key("/proc/meminfo", "MemTotal", mem, sizeof mem);
    m.mem_total_kb = mem[0] ? atoll(mem) : -1;
    read_key("/etc/os-release", "PRETTY_NAME", m.os, sizeof m.os);
}

int tmi_machine_pus(void)
{
    collect();
    if (m.pus > 0) return m.pus;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void str_or_null(struct tmi_rec *r, const char *name, const char *s)
{
    tmi_rec_str(r, "machine", name, s[0] ? s : NULL);
}

static void int_or_null(struct tmi_rec *r, const char *name, long long v)
{
    if (v < 0)
        tmi_rec_null(r, "machine", name);
    else
        tmi_rec_i64(r, "machine", name, v);
}

void tmi_machine_add(struct tmi_rec *r)
{
    collect();
    tmi_rec_group(r, "machine");
    str_or_null(r, "hostname", m.hostname);
    str_or_null(r, "cpu_model", m.cpu_model);
    int_or_null(r, "pus", m.pus);
    int_or_null(r, "cores", m.cores);
    int_or_null(r, "packages", m.packages);
    int_or_null(r, "numa_nodes", m.numa_nodes);
    str_or_null(r, "kernel", m.kernel);
    str_or_null(r, "arch", m.arch);
    str_or_null(r, "os", m.os);
    str_or_null(r, "governor", m.governor);
    int_or_null(r, "mem_total_kb", m.mem_total_kb);
}
