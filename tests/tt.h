/* tt.h — the tiny test kit: CHECK aborts the program with file:line, and
 * tt_main runs a test body as the main task of the model named in argv[1]. */
#ifndef TT_H
#define TT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm/tm.h"

/* errno through a call the compiler cannot merge: glibc declares
 * __errno_location const, so a test function may compute the address once
 * and read it after a tm call that resumed the task on another kernel
 * thread (mn, goroutine) — reading the old thread's errno. */
__attribute__((noinline, unused)) static int *tt_errno_location(void)
{
    int *p = &errno;
    __asm__ volatile("" : "+r"(p)); /* not const, not pure: called every time */
    return p;
}
#undef errno
#define errno (*tt_errno_location())

#define CHECK_DETAIL() tm_last_error()
#include "check.h"

static const char *tt_model = "pthreads";

static void tt_body(void *fn) { ((void (*)(void))fn)(); }

/* Run each test as the model's main task: argv[1] names the model,
 * argv[2] (optional) the procs. Each test prints its name once it passes. */
struct tt_case {
    const char *name;
    void (*fn)(void);
};

static inline int tt_main(int argc, char **argv, const struct tt_case *cases)
{
    if (argc > 1) tt_model = argv[1];
    struct tm_config cfg = {.model = tt_model, .procs = argc > 2 ? atoi(argv[2]) : 1};
    if (tm_init(&cfg) != 0) {
        fprintf(stderr, "tm_init(%s): %s %s\n", tt_model, strerror(errno), tm_last_error());
        return 1;
    }
    for (const struct tt_case *c = cases; c->name; c++) {
        CHECK(tm_run(tt_body, (void *)c->fn) == 0);
        printf("ok %s (%s)\n", c->name, tt_model);
    }
    tm_fini();
    return 0;
}

/* Spawn n tasks of fn(arg_i) where arg_i = base + i * stride, join all. */
static inline void tt_spawn_join(int n, void (*fn)(void *), char *base, size_t stride)
{
    struct tm_task **t = calloc((size_t)n, sizeof *t);
    CHECK(t);
    for (int i = 0; i < n; i++) CHECK((t[i] = tm_spawn(fn, base + (size_t)i * stride)));
    for (int i = 0; i < n; i++) CHECK(tm_join(t[i]) == 0);
    free(t);
}

#endif
