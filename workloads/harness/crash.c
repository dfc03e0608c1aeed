/* crash.c — the record of a repetition that kills the process.
 *
 * A task that overflows its stack cannot be unwound: the overflow handler
 * (scheduler/stack.c) reports it and exits 1 from a signal handler. So that
 * the run still leaves its failed record, the runner arms this module
 * before every repetition: the record that repetition would leave if it
 * died — status "failed", no measurements — is rendered in advance, as the
 * JSON text before and after its error message. The fatal hook then only
 * copies the message in (escaping it) and writes the line with write(2):
 * to stdout (--format json; a short line for human) and appended to -o,
 * all async-signal-safe. A CSV -o gets nothing (its columns may need
 * rewriting, which is not a signal handler's job); stderr always has the
 * message.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "record.h"
#include "stack.h"

#define MARK "@@tmbench-crash-9f3c@@" /* printable: the JSON writer keeps it as is */

static struct {
    char *before, *after; /* the JSON line around the error text */
    int rep;              /* for the human line */
    int json;             /* --format json */
    const char *out;      /* -o, when not CSV */
    int armed;
} cr;

static void put(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void fatal(const char *msg, size_t len)
{
    if (!cr.armed) return;
    char esc[600];
    size_t n = 0;
    for (size_t i = 0; i < len && n + 2 < sizeof esc; i++) {
        char c = msg[i];
        if (c == '"' || c == '\\') esc[n++] = '\\';
        esc[n++] = (unsigned char)c < 0x20 ? '?' : c;
    }
    size_t nb = strlen(cr.before), na = strlen(cr.after);
    if (cr.json) {
        put(1, cr.before, nb), put(1, esc, n), put(1, cr.after, na), put(1, "\n", 1);
    } else {
        char head[64];
        int h = snprintf(head, sizeof head, "rep %-3d failed ", cr.rep);
        put(1, head, (size_t)h), put(1, msg, len), put(1, "\n", 1);
    }
    if (cr.out) {
        int fd = open(cr.out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            put(fd, cr.before, nb), put(fd, esc, n), put(fd, cr.after, na), put(fd, "\n", 1);
            close(fd);
        }
    }
}

void tmi_crash_arm(const struct tmi_run_opts *o, const struct tmi_result *res, int rep)
{
    struct tmi_rep rp;
    memset(&rp, 0, sizeof rp);
    rp.rep = rep;
    rp.status = TMI_FAILED;
    snprintf(rp.error, sizeof rp.error, "%s", MARK);
    clock_gettime(CLOCK_REALTIME, &rp.when);
    struct tmi_rec rec = {0};
    struct tmi_sb sb = {0};
    tmi_rep_record(o, res, &rp, &rec);
    tmi_rec_json(&rec, &sb);
    tmi_rec_free(&rec);
    char *m = sb.buf ? strstr(sb.buf, MARK) : NULL;
    cr.armed = 0;
    free(cr.before);
    free(cr.after);
    cr.before = cr.after = NULL;
    if (m) {
        cr.before = strndup(sb.buf, (size_t)(m - sb.buf));
        cr.after = strdup(m + strlen(MARK));
    }
    tmi_sb_free(&sb);
    if (!cr.before || !cr.after) return;
    size_t ol = o->out ? strlen(o->out) : 0;
    cr.out = ol >= 4 && strcmp(o->out + ol - 4, ".csv") == 0 ? NULL : o->out;
    cr.json = o->format == TMI_FMT_JSON;
    cr.rep = rep;
    fflush(stdout); /* what was printed so far goes before the crash line */
    tmi_stack_set_fatal_hook(fatal);
    cr.armed = 1;
}

void tmi_crash_disarm(void) { cr.armed = 0; }
