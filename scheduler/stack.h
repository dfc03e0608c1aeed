/* stack.h — task stacks: pooled, guard-paged while the VMA budget lasts,
 * canary-checked everywhere, with a one-line report on overflow.
 *
 * Every stack of a process has the same size (tmi_stack_init, default
 * 64 KiB). A stack is named by its descriptor, which lives in the top 64
 * bytes of the stack's own memory; the usable stack grows down from it:
 *
 *   guarded:  [guard page][canary][ usable ......... ][descriptor]
 *   carved:   [ usable .................. ][descriptor][canary of the
 *                                                      stack above]
 *
 * The first stacks of a process get a PROT_NONE guard page each (two VMAs
 * per stack, within a budget well under vm.max_map_count). Later ones are
 * carved back to back from large lazily-committed mappings; their overflow
 * is caught by the canary word just below `lo`, which the scheduler checks
 * with tmi_stack_check on every switch away from a task. An idle stack costs
 * one resident page (descriptor + its neighbour's canary) plus whatever its
 * task touched. Memory of free stacks is handed back by tmi_stack_trim.
 *
 * Thread safety: alloc and free may be called from any thread (a per-thread
 * cache in front of one locked global free list). Overflow reporting needs
 * tmi_stack_thread_init on every thread that runs tasks.
 */
#ifndef TMI_STACK_H
#define TMI_STACK_H

#include <stddef.h>
#include <stdint.h>

enum tmi_stack_kind {
    TMI_STACK_GUARDED = 1, /* a PROT_NONE page below: overflow faults at once */
    TMI_STACK_CARVED = 2,  /* carved from a shared mapping: canary check only */
};

/* The word a canary holds while nothing has overwritten it. */
#define TMI_STACK_CANARY UINT64_C(0x746d5374616b4321)

/* A stack. Lives at the top of its own memory (tmi_stack_top == the
 * descriptor's address). Fields are set by the pool and read-only for
 * everyone else, except `owner`. */
struct tmi_stack {
    struct tmi_stack *next; /* free-list link; meaningful only while free */
    void *owner;            /* the scheduler's: the task running here, for the
                               overflow hook; NULL after alloc */
    uint64_t *canary;       /* the canary word, just below lo */
    char *lo;               /* lowest usable byte */
    size_t size;            /* usable bytes, from lo up to the descriptor */
    unsigned kind;          /* enum tmi_stack_kind, fixed for the stack's life */
    unsigned pad_;
};

struct tmi_stack_opts {
    size_t size;    /* bytes per stack incl. descriptor, rounded up to whole
                       pages; 0 = 64 KiB; 8 KiB .. 1 GiB */
    long guard_max; /* stacks that get a guard page; -1 = from the VMA budget
                       (vm.max_map_count / 8, so guards use a quarter of it);
                       0 = none */
    long keep;      /* free stacks tmi_stack_trim leaves alone; beyond this
                       it drops their memory but the top page;
                       -1 = 256 MiB worth */
};

/* Counters for tests and metrics. A snapshot; taken under the pool lock. */
struct tmi_stack_stats {
    size_t stack_size; /* bytes per stack (slot), as configured */
    long guard_max;    /* the guard budget in stacks */
    long guarded;      /* guarded stacks ever made */
    long carved;       /* carved stacks ever made */
    long free_global;  /* stacks on the global free lists (not in thread caches) */
    long cold;         /* of which trimmed (tmi_stack_trim) */
    long chunks;       /* mappings made */
};

/* Configure the pool (NULL = all defaults). Optional: the first alloc
 * initialises with defaults. Call again only after tmi_stack_fini.
 * Errors: EINVAL bad size, EBUSY already initialised. */
int tmi_stack_init(const struct tmi_stack_opts *opts);

/* Unmap every stack. Every stack must be free and every other thread that
 * used the pool must have called tmi_stack_thread_fini (or exited without
 * freeing into its cache). Then tmi_stack_init may be called again. */
void tmi_stack_fini(void);

/* A stack, from the calling thread's cache, the global list, or a new slot.
 * Returns NULL on failure. Errors: ENOMEM (address space, or max_map_count). */
struct tmi_stack *tmi_stack_alloc(void);

/* Give s back. It must not be running or be switched to again. */
void tmi_stack_free(struct tmi_stack *s);

/* Give back the memory of free stacks beyond `keep` (all but their top
 * page, and only where something below it is resident). Freeing never does
 * this itself — it would put system calls on the task-exit path — so a
 * scheduler calls it when it is about to go idle; it returns at once (one
 * relaxed load) when there is nothing to do. Any thread. Returns the number
 * of stacks looked at. */
long tmi_stack_trim(void);

/* Top of the stack (where a context is made) — the descriptor itself. */
static inline void *tmi_stack_top(const struct tmi_stack *s)
{
    return (void *)s;
}

/* Per-thread set-up for threads that run tasks: an alternate signal stack
 * (unless the thread already has one) and, once per process, the SIGSEGV
 * handler that reports guard-page hits. Idempotent.
 * Errors: ENOMEM no memory for the signal stack. */
int tmi_stack_thread_init(void);

/* Undo tmi_stack_thread_init and return the thread's cached stacks to the
 * global list. Call before a thread that used the pool exits. */
void tmi_stack_thread_fini(void);

/* How the overflow report names the victim: "stack overflow in <describe>
 * (model <model>, stack <N> KiB)". describe(s, buf, len) writes at most len
 * bytes naming the task that owns s (e.g. "task 17", via s->owner) and
 * returns the count; it runs in a signal handler, so it must be
 * async-signal-safe (no locks, no malloc, no stdio). model is the model's
 * name. Either may be NULL ("task ?", "?"). Set once, before tasks run. */
void tmi_stack_set_overflow_hook(const char *model, size_t (*describe)(const struct tmi_stack *s,
                                                                       char *buf, size_t len));

/* Called with the one-line overflow report (no newline) right before the
 * process exits 1, e.g. to write the run's failed record. It runs in a
 * signal handler: async-signal-safe calls only. */
void tmi_stack_set_fatal_hook(void (*fatal)(const char *msg, size_t len));

/* For a thread running on a stack that is not the pool's (pthreads): a
 * fault in [lo, hi) — its guard page — is reported as an overflow of task
 * `id` with a `size`-byte stack. Call on that thread after it has an
 * alternate signal stack (sigaltstack); installs the SIGSEGV handler once
 * per process. Errors: as sigaction. */
int tmi_stack_thread_guard(const void *lo, const void *hi, uint64_t id, size_t size);

/* "<noun> <id>" into buf (at most len bytes, no NUL); returns the count.
 * Async-signal-safe: for a model's describe hook ("task 17"). */
size_t tmi_stack_describe_id(char *buf, size_t len, const char *noun, uint64_t id);

/* Report an overflow of s (as above) on stderr and _exit(1). */
_Noreturn void tmi_stack_overflowed(const struct tmi_stack *s);

/* The switch-time check: call on the stack of the task just left. Costs a
 * load and a compare; reports and exits when the canary was overwritten. */
static inline void tmi_stack_check(const struct tmi_stack *s)
{
    if (__builtin_expect(*s->canary != TMI_STACK_CANARY, 0)) tmi_stack_overflowed(s);
}

void tmi_stack_stats(struct tmi_stack_stats *st);

#endif
