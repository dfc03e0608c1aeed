/* model.h — the ops table every threading model exports, and the glue the
 * shared code uses to reach the running model.
 *
 * One model = one folder = one `const struct tm_model_ops`. The public
 * functions of tm.h and io.h are thin wrappers over these ops; sync.c and
 * chan.c are written only on park/ready and never see a model directly.
 */
#ifndef TMI_MODEL_H
#define TMI_MODEL_H

#include <stdint.h>

#include "tm/tm.h"

/* Capabilities, shown by `tmbench list` and recorded. */
enum {
    TM_CAP_PARALLEL = 1 << 0,   /* tasks run on several cores at once */
    TM_CAP_PREEMPTIVE = 1 << 1, /* a task that never yields is still interrupted */
    TM_CAP_HANDOFF = 1 << 2,    /* a blocking syscall does not stall other tasks */
    TM_CAP_MANY_TASKS = 1 << 3, /* a million live tasks is in reach */
};

struct tm_model_ops {
    const char *name;    /* CLI name (contract) */
    const char *summary; /* one line for `tmbench list` */
    unsigned caps;       /* TM_CAP_* */

    /* ---- required ---- */
    /* Start the model with cfg (defaults filled in, except procs: 0 means
     * the model's default, which init writes back). */
    int (*init)(struct tm_config *cfg);
    /* Stop it; every task has finished or been abandoned. */
    void (*fini)(void);
    /* Run main(arg) as the main task; return when it returns. */
    int (*run)(void (*main)(void *), void *arg);
    /* Start fn(arg); detached tasks free themselves, joinable ones are
     * freed by join. NULL + errno (EAGAIN, ENOMEM) on failure. */
    struct tm_task *(*spawn)(void (*fn)(void *), void *arg, int detached);
    int (*join)(struct tm_task *t);
    void (*yield)(void);
    struct tm_task *(*self)(void);
    /* Block until ready(w) or the deadline. 0 = readied, ETIMEDOUT (as a
     * positive return, errno untouched) = deadline passed. No spurious
     * returns. Called only by w->task. */
    int (*park)(struct tm_waiter *w, int64_t deadline);
    /* Make w->task runnable after (or before) it parks on w. */
    void (*ready)(struct tm_waiter *w);

    /* ---- optional ---- */
    /* Wait for fd readiness. NULL: poll() on the calling kernel thread. */
    int (*wait_fd)(int fd, int events, int64_t deadline);
    /* Blocking regions. NULL: nothing to do. */
    void (*blocking_enter)(void);
    void (*blocking_exit)(void);
    /* Model metrics for the record's metrics{} (steals, preemptions, ...).
     * NULL: none. add(name, value) once per metric. */
    void (*metrics)(void (*add)(void *ctx, const char *name, double value), void *ctx);
};

/* The running model; set by tm_init. */
extern const struct tm_model_ops *tmi_model;

/* Registry (models/registry.c): every model built in, NULL-terminated. */
extern const struct tm_model_ops *const tmi_models[];
const struct tm_model_ops *tmi_model_find(const char *name);

#endif
