/* trace.c — per-thread event buffers behind the hooks of trace.h (where
 * the design note is).
 *
 * Ownership. A buffer is written only by the thread it belongs to (through
 * the thread-local `mine`) and read only after tmi_trace_end, once the
 * model has stopped its threads. The list of buffers is guarded by
 * `list_lock`, taken once per thread at registration and by the reader.
 * A new tmi_trace_begin bumps `generation`: a thread whose `mine` belongs
 * to an older generation registers again, so stale buffers are never
 * written after they are freed.
 *
 * Preemption. Recording raises tmi_preempt_off (tmi.h), so a model with
 * signal preemption never switches a task away in the middle of a record:
 * the task could resume on another worker still holding this thread's
 * buffer, or re-enter realloc from the signal handler.
 */
#include "trace.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tm/tm.h"
#include "tmi.h"

enum {
    FIRST_CAP = 64,      /* events in a new buffer (2 KiB) */
    MAX_CAP = 1 << 20,   /* events one buffer may grow to (32 MiB) */
    RUNQ_EVERY = 10000,  /* ns between two run-queue samples */
};
#define BUDGET ((size_t)512 << 20) /* bytes all buffers together may grow to */

struct tbuf {
    struct tbuf *next;       /* the global list; guarded by list_lock */
    struct tmi_trace_ev *ev; /* cap events; owner thread only until tmi_trace_end */
    size_t cap;
    uint64_t n;              /* events ever written; ev[n % cap] is next once n >= cap */
    uint64_t current;        /* task running on this thread (0: none) */
    int64_t runq_ts;         /* last run-queue sample kept, and its value */
    uint64_t runq_len;
    unsigned generation;     /* tmi_trace_begin round it belongs to */
    int tid, seq;
    char name[48];
};

_Atomic int tmi_trace_on;
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tbuf *list;               /* newest first; guarded by list_lock */
static int nthreads;                    /* in list; guarded by list_lock */
static _Atomic unsigned generation;     /* relaxed: pairs with nothing, a round number */
static _Atomic size_t budget_used;      /* bytes of all buffers; relaxed, a soft limit */
static _Atomic uint64_t next_id;        /* TMI_TRACE_NEW_ID */
static int64_t origin;                  /* tmi_trace_begin's time */
static _Thread_local struct tbuf *mine; /* this thread's buffer, or NULL */
static _Thread_local int refused;       /* registration failed this generation */

static struct tbuf *register_thread(void)
{
    unsigned gen = atomic_load_explicit(&generation, memory_order_relaxed);
    if (refused == (int)gen + 1) return NULL;
    struct tbuf *b = calloc(1, sizeof *b);
    if (b) b->ev = malloc(FIRST_CAP * sizeof *b->ev);
    if (!b || !b->ev) {
        free(b);
        refused = (int)gen + 1; /* no memory: this thread records nothing */
        return NULL;
    }
    atomic_fetch_add_explicit(&budget_used, FIRST_CAP * sizeof *b->ev, memory_order_relaxed);
    b->cap = FIRST_CAP;
    b->generation = gen;
    b->tid = (int)gettid();
    b->runq_len = UINT64_MAX;
    pthread_mutex_lock(&list_lock);
    b->seq = nthreads++;
    b->next = list;
    list = b;
    pthread_mutex_unlock(&list_lock);
    return mine = b;
}

static inline struct tbuf *buf(void)
{
    struct tbuf *b = mine;
    if (__builtin_expect(b && b->generation == atomic_load_explicit(&generation,
                                                                    memory_order_relaxed), 1))
        return b;
    return register_thread();
}

/* Room for one more event: grow while under both caps, else overwrite. */
static struct tmi_trace_ev *slot(struct tbuf *b)
{
    if (b->n == b->cap && b->cap < MAX_CAP) {
        size_t add = b->cap * sizeof *b->ev;
        if (atomic_fetch_add_explicit(&budget_used, add, memory_order_relaxed) + add <= BUDGET) {
            struct tmi_trace_ev *ev = realloc(b->ev, 2 * add);
            if (ev) {
                b->ev = ev;
                b->cap *= 2;
                return &b->ev[b->n++];
            }
        }
        atomic_fetch_sub_explicit(&budget_used, add, memory_order_relaxed);
    }
    return &b->ev[b->n++ % b->cap];
}

static void rec(unsigned kind, uint64_t task, uint64_t arg, uint32_t aux)
{
    struct tbuf *b = buf();
    if (!b || (kind == TMI_TEV_RUNQ && arg == b->runq_len)) return; /* unchanged: no clock read */
    int64_t now = tm_now();
    int cpu = -1;
    switch (kind) {
    case TMI_TEV_RUN:
        b->current = task;
        cpu = sched_getcpu();
        break;
    case TMI_TEV_SWITCH:
        b->current = task;
        cpu = sched_getcpu();
        break;
    case TMI_TEV_STOP:
        b->current = 0;
        break;
    case TMI_TEV_SPAWN:
    case TMI_TEV_READY:
        arg = b->current;
        break;
    case TMI_TEV_BLOCK_ENTER:
    case TMI_TEV_BLOCK_EXIT:
        task = b->current;
        break;
    case TMI_TEV_RUNQ:
        /* keep a change at most every RUNQ_EVERY ns, and always a drop to 0 */
        if (arg != 0 && now - b->runq_ts < RUNQ_EVERY) return;
        b->runq_ts = now;
        b->runq_len = arg;
        break;
    default:
        break;
    }
    struct tmi_trace_ev *e = slot(b);
    *e = (struct tmi_trace_ev){.ts = now, .task = task, .arg = arg, .aux = aux,
                               .kind = (uint16_t)kind, .cpu = (int16_t)cpu};
}

void tmi_trace_rec(unsigned kind, uint64_t task, uint64_t arg, uint32_t aux)
{
    tmi_preempt_off++;
    atomic_signal_fence(memory_order_seq_cst); /* the handler sees it raised */
    rec(kind, task, arg, aux);
    atomic_signal_fence(memory_order_seq_cst);
    tmi_preempt_off--;
}

void tmi_trace_set_name(const char *name)
{
    tmi_preempt_off++;
    atomic_signal_fence(memory_order_seq_cst);
    struct tbuf *b = buf();
    if (b) strncpy(b->name, name, sizeof b->name - 1);
    atomic_signal_fence(memory_order_seq_cst);
    tmi_preempt_off--;
}

uint64_t tmi_trace_id_slow(void)
{
    return atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed) + 1;
}

void tmi_trace_begin(void)
{
    pthread_mutex_lock(&list_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_relaxed);
    while (list) {
        struct tbuf *b = list;
        list = b->next;
        free(b->ev);
        free(b);
    }
    nthreads = 0;
    atomic_store_explicit(&budget_used, 0, memory_order_relaxed);
    atomic_store_explicit(&next_id, 0, memory_order_relaxed);
    origin = tm_now();
    pthread_mutex_unlock(&list_lock);
    atomic_store_explicit(&tmi_trace_on, 1, memory_order_relaxed);
}

void tmi_trace_end(void) { atomic_store_explicit(&tmi_trace_on, 0, memory_order_relaxed); }

int64_t tmi_trace_origin(void) { return origin; }

int tmi_trace_threads(struct tmi_trace_thread **out)
{
    pthread_mutex_lock(&list_lock);
    struct tmi_trace_thread *v = calloc((size_t)nthreads + 1, sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&list_lock);
        return -1;
    }
    int n = nthreads;
    for (struct tbuf *b = list; b; b = b->next) {
        struct tmi_trace_thread *t = &v[b->seq];
        t->name = b->name;
        t->tid = b->tid;
        t->seq = b->seq;
        t->ev = b->ev;
        t->cap = b->cap;
        t->n = b->n < b->cap ? (size_t)b->n : b->cap;
        t->first = b->n < b->cap ? 0 : (size_t)(b->n % b->cap);
        t->dropped = b->n - t->n;
    }
    pthread_mutex_unlock(&list_lock);
    *out = v;
    return n;
}
