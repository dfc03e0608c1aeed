/* check.h — CHECK and CHECK_EQ for every C test. A failed check prints one
 * line (file:line, the expression, errno, and CHECK_DETAIL() when the file
 * defines it before including this, e.g. tm_last_error()) and ends the
 * process with _exit(1): safe in forked children and signal-heavy tests,
 * and stdout is flushed first so the cases that passed stay visible. */
#ifndef TM_TESTS_CHECK_H
#define TM_TESTS_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef CHECK_DETAIL
#define CHECK_DETAIL() ""
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            int e_ = errno;                                                                        \
            fflush(stdout);                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s (errno %d %s) %s\n", __FILE__, __LINE__,      \
                    #cond, e_, strerror(e_), CHECK_DETAIL());                                      \
            fflush(stderr);                                                                        \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fflush(stdout);                                                                        \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n", __FILE__,          \
                    __LINE__, #a, a_, #b, b_);                                                     \
            fflush(stderr);                                                                        \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

#endif
