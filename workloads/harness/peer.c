/* peer.c — peers: real runtimes (the Go runtime, Boost.Fiber) run through
 * the same CLI as extra models, so their records land in the same files.
 *
 * A peer is a separate program that runs Go (or C++) versions of the
 * catalogue's workloads, because a runtime cannot be linked in as a
 * struct tm_model_ops: Go owns its process, Boost.Fiber is C++. tmbench
 * does everything model-independent itself — the workload, its parameters
 * and their ranges come from the C catalogue tm_workloads[]; the checksum
 * is judged by the C workload's expected(); records are built and written
 * by report.c and out.c — and asks the peer only to run and measure.
 *
 * PROTOCOL tmbench-peer/1
 *
 * The executable is $TMBENCH_PEER_<NAME> (NAME upper-cased) when set, else
 * tmbench-<name> beside the tmbench binary. It gets argv, an inherited
 * environment, /dev/null as stdin; it answers on stdout, one JSON object
 * per line (UTF-8, no newlines inside), and writes diagnostics to stderr.
 *
 *   PEER info
 *     {"protocol":"tmbench-peer/1","name":"go","version":"go1.19.8 linux/amd64",
 *      "workloads":["spawn","yield",...]}                      then exit 0
 *
 *   PEER run WORKLOAD --procs N --reps R --warmup W [--stack-kb K]
 *            --tmbench PATH --set KEY=VALUE ...
 *     Arguments are complete and already validated: every parameter the C
 *     catalogue declares for WORKLOAD (integers in decimal, enums as their
 *     word), procs with the default filled in, --stack-kb only for a peer
 *     with fixed-size stacks, and this tmbench (for echo and http, which
 *     drive the server with `tmbench load` as net.c does). First line: the hello object above, without
 *     "workloads". Then one line per repetition, warm-ups first, in order:
 *       {"warmup":false,"rep":0,"status":"ok",
 *        "wall_ns":..,"cpu_user_ns":..,"cpu_sys_ns":..,"max_rss_kb":..,
 *        "ctx_vol":..,"ctx_invol":..,"ops":..,"checksum":..,
 *        "latency_ns":{"count","p50","p90","p99","p999","min","max"},  optional
 *        "metrics":{"name":number,...},   optional: the workload's metrics
 *        "runtime":{"name":number,...}}   optional: the runtime's (GC, ...)
 *     status "failed" or "unsupported" comes with "error" (one line), and
 *     with the measurements above only when the body ran; such a line is
 *     the last. A workload or parameter the peer does not know is
 *     "unsupported", as is a --procs it cannot honour. Exit 0 when every
 *     repetition was ok, 1 otherwise, 2 on a usage error (one line on
 *     stderr). Like runner.c, the peer times only the body: setup untimed,
 *     the wall clock around the body, getrusage(RUSAGE_SELF) deltas over
 *     it, ru_maxrss after it. It does not judge its checksum.
 *
 * What tmbench makes of it (each case is a record, never a crash):
 *   peer not built                          -> unsupported, exit 1
 *   --placement/--slice-us/--trace, or --stack-kb where stacks grow
 *                                           -> unsupported, peer not started
 *   a line not ok                           -> that status and error
 *   checksum != expected()                  -> failed "checksum mismatch"
 *   a crash, an exit before the last line,
 *   a malformed line                        -> failed, with the first line
 *                                              the peer wrote on stderr
 *   no line for $TMBENCH_PEER_TIMEOUT s (default 600) -> killed, failed
 * A warm-up that is not ok is recorded as repetition 0, as in runner.c.
 *
 * Rejected: the peer writing whole records (two writers of one contract
 * drift apart; the machine{} and build{} code exists once, here); the
 * peer judging its own checksum (the expected value must come from the
 * one catalogue); one child per repetition (a warm-up would not warm the
 * process that is measured); a line-silence timeout only per run (a run
 * of many repetitions needs no guess at its total length).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"

#define PEER_PROTOCOL "tmbench-peer/1"

const struct tmi_peer tmi_peers[] = {
    {.name = "go",
     .summary = "peer: the real Go runtime (GOMAXPROCS = procs) running Go versions of "
                "the workloads",
     .caps = TM_CAP_PARALLEL | TM_CAP_PREEMPTIVE | TM_CAP_HANDOFF | TM_CAP_MANY_TASKS,
     .slice_ns = 10000000 /* sysmon's forcePreemptNS */,
     .serves = 1},
    {.name = "boost",
     .summary = "peer: Boost.Fiber fibers on one thread (--procs must be 1), "
                "round-robin scheduler",
     .caps = TM_CAP_MANY_TASKS,
     .one_thread = 1,
     .stacks = 1},
    {.name = NULL},
};

const char *tmi_opts_model(const struct tmi_run_opts *o)
{
    return o->peer ? o->peer->name : o->model->name;
}

/* "TMBENCH_PEER_GO": the variable that overrides p's executable. */
static const char *env_name(const struct tmi_peer *p, char *buf, size_t bufsz)
{
    int n = snprintf(buf, bufsz, "TMBENCH_PEER_");
    for (const char *c = p->name; *c && (size_t)n + 1 < bufsz; c++)
        buf[n++] = (char)toupper((unsigned char)*c);
    buf[n] = '\0';
    return buf;
}

int tmi_peer_path(const struct tmi_peer *p, char *buf, size_t bufsz)
{
    char env[64];
    const char *over = getenv(env_name(p, env, sizeof env));
    if (over && over[0]) {
        snprintf(buf, bufsz, "%s", over);
    } else {
        char self[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
        self[len > 0 ? len : 0] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) *slash = '\0';
        snprintf(buf, bufsz, "%s/tmbench-%s", slash ? self : ".", p->name);
    }
    return access(buf, X_OK) == 0 ? 0 : -1;
}

/* ---- a reply line: a JSON object, flattened ---- */

/* One member: top level (group "") or one level down ("metrics", ...).
 * An array of strings is kept as its elements joined with ','. */
struct jmember {
    char group[16];
    char key[48];
    char type;     /* 's' string, 'n' number, 'b' boolean, 'z' null, 'a' array */
    char val[320]; /* the string unescaped, the number as written, "true"... */
};

struct jline {
    struct jmember m[96];
    int n;
};

struct jparse {
    const char *s;     /* next character */
    struct jline *out; /* members found so far */
};

static void jws(struct jparse *p)
{
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\r' || *p->s == '\n')
        p->s++;
}

/* A string into buf (truncated to fit); \u escapes outside ASCII become '?'. */
static int jstring(struct jparse *p, char *buf, size_t bufsz)
{
    size_t n = 0;
    if (*p->s++ != '"') return -1;
    for (;;) {
        char c = *p->s++;
        if (c == '\0' || (unsigned char)c < 0x20) return -1;
        if (c == '"') break;
        if (c == '\\') {
            const char *esc = "\"\"\\\\//b\bf\fn\nr\rt\t", *e;
            c = *p->s++;
            for (e = esc; *e && *e != c; e += 2)
                ;
            if (*e) {
                c = e[1];
            } else if (c == 'u') {
                char hex[5] = {0}, *end;
                memcpy(hex, p->s, strnlen(p->s, 4));
                unsigned long v = strtoul(hex, &end, 16);
                if (end != hex + 4 || !isxdigit((unsigned char)hex[0])) return -1;
                c = v >= 0x20 && v < 0x7f ? (char)v : '?';
                p->s += 4;
            } else {
                return -1;
            }
        }
        if (n + 1 < bufsz) buf[n++] = c;
    }
    buf[n] = '\0';
    return 0;
}

static int jnumber(struct jparse *p, char *buf, size_t bufsz)
{
    const char *b = p->s;
    if (*p->s == '-') p->s++;
    if (!isdigit((unsigned char)*p->s)) return -1;
    while (isdigit((unsigned char)*p->s) || strchr(".eE+-", *p->s))
        p->s++;
    if ((size_t)(p->s - b) >= bufsz) return -1;
    snprintf(buf, bufsz, "%.*s", (int)(p->s - b), b);
    return 0;
}

static int jobject(struct jparse *p, const char *group);

/* The value of member key, stored under group. */
static int jvalue(struct jparse *p, const char *group, const char *key)
{
    struct jline *l = p->out;
    jws(p);
    if (*p->s == '{') return group[0] ? -1 : jobject(p, key); /* one level only */
    if (l->n == (int)(sizeof l->m / sizeof l->m[0])) return -1;
    struct jmember *m = &l->m[l->n];
    snprintf(m->group, sizeof m->group, "%s", group);
    snprintf(m->key, sizeof m->key, "%s", key);
    m->val[0] = '\0';
    if (*p->s == '"') {
        m->type = 's';
        if (jstring(p, m->val, sizeof m->val) != 0) return -1;
    } else if (*p->s == '[') { /* strings only: workload names */
        size_t len = 0;
        char item[64];
        m->type = 'a';
        p->s++;
        for (jws(p); *p->s != ']';) {
            if (jstring(p, item, sizeof item) != 0) return -1;
            len +=
                (size_t)snprintf(m->val + len, sizeof m->val - len, "%s%s", len ? "," : "", item);
            if (len >= sizeof m->val) return -1;
            jws(p);
            if (*p->s == ',')
                p->s++;
            else if (*p->s != ']')
                return -1;
            jws(p);
        }
        p->s++;
    } else if (strncmp(p->s, "true", 4) == 0 || strncmp(p->s, "false", 5) == 0) {
        m->type = 'b';
        snprintf(m->val, sizeof m->val, "%s", *p->s == 't' ? "true" : "false");
        p->s += *p->s == 't' ? 4 : 5;
    } else if (strncmp(p->s, "null", 4) == 0) {
        m->type = 'z';
        p->s += 4;
    } else {
        m->type = 'n';
        if (jnumber(p, m->val, sizeof m->val) != 0) return -1;
    }
    l->n++;
    return 0;
}

static int jobject(struct jparse *p, const char *group)
{
    char key[48];
    jws(p);
    if (*p->s++ != '{') return -1;
    jws(p);
    if (*p->s == '}') return p->s++, 0;
    for (;;) {
        jws(p);
        if (jstring(p, key, sizeof key) != 0) return -1;
        jws(p);
        if (*p->s++ != ':') return -1;
        if (jvalue(p, group, key) != 0) return -1;
        jws(p);
        if (*p->s == '}') return p->s++, 0;
        if (*p->s++ != ',') return -1;
    }
}

/* Parse one line; 0, or -1 when it is not one JSON object. */
static int jline_parse(const char *s, struct jline *l)
{
    struct jparse p = {.s = s, .out = l};
    l->n = 0;
    if (jobject(&p, "") != 0) return -1;
    jws(&p);
    return *p.s ? -1 : 0;
}

static const struct jmember *jget(const struct jline *l, const char *group, const char *key)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->m[i].group, group) == 0 && strcmp(l->m[i].key, key) == 0) return &l->m[i];
    return NULL;
}

static const char *jstr(const struct jline *l, const char *key)
{
    const struct jmember *m = jget(l, "", key);
    return m && m->type == 's' ? m->val : NULL;
}

/* An integer member: 0, or -1 when absent or not a whole number. */
static int jint(const struct jline *l, const char *group, const char *key, int64_t *out)
{
    const struct jmember *m = jget(l, group, key);
    char *end;
    if (!m || m->type != 'n') return -1;
    errno = 0;
    *out = strtoll(m->val, &end, 10);
    return *end || errno ? -1 : 0;
}

/* ---- the child ---- */

struct child {
    pid_t pid;         /* 0 once reaped */
    int out, err;      /* our ends of its stdout and stderr; -1 at EOF */
    char *obuf;        /* stdout bytes not yet returned as lines */
    size_t olen, ocap; /* used and allocated */
    char ebuf[1024];   /* the start of its stderr, for messages */
    size_t elen;       /* used */
    int status;        /* waitpid status once reaped */
};

enum { LINE_MAX_BYTES = 1 << 16 };

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Start path with argv; 0, or -1 with a message in err. */
static int child_start(struct child *c, char *const argv[], char *err, size_t errsz)
{
    int o[2], e[2];
    memset(c, 0, sizeof *c);
    c->out = c->err = -1;
    if (!(c->obuf = malloc(LINE_MAX_BYTES))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    c->ocap = LINE_MAX_BYTES;
    if (pipe2(o, O_CLOEXEC) != 0) goto fail;
    if (pipe2(e, O_CLOEXEC) != 0) {
        close(o[0]), close(o[1]);
        goto fail;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, o[1], 1);
    posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    int rc = posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(o[1]), close(e[1]);
    if (rc != 0) {
        close(o[0]), close(e[0]);
        c->pid = 0;
        errno = rc;
        goto fail;
    }
    c->out = o[0];
    c->err = e[0];
    return 0;
fail:
    snprintf(err, errsz, "cannot start %s: %s", argv[0], strerror(errno));
    free(c->obuf);
    c->obuf = NULL;
    return -1;
}

/* Read what fd has into the buffer; keep only the start of stderr. */
static void child_drain(struct child *c, int *fd)
{
    char tmp[4096];
    ssize_t n = read(*fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }
    if (fd == &c->err) {
        size_t k =
            (size_t)n < sizeof c->ebuf - 1 - c->elen ? (size_t)n : sizeof c->ebuf - 1 - c->elen;
        memcpy(c->ebuf + c->elen, tmp, k);
        c->elen += k;
        c->ebuf[c->elen] = '\0';
        return;
    }
    if ((size_t)n > c->ocap - c->olen) n = (ssize_t)(c->ocap - c->olen); /* caught below */
    memcpy(c->obuf + c->olen, tmp, (size_t)n);
    c->olen += (size_t)n;
}

/* The next line of the child's stdout (without its newline) into line,
 * waiting at most timeout_ms. 1 a line, 0 end of output, -1 timeout,
 * -2 a line longer than LINE_MAX_BYTES. */
static int child_line(struct child *c, char *line, int timeout_ms)
{
    int64_t end = mono_ms() + timeout_ms;
    for (;;) {
        char *nl = memchr(c->obuf, '\n', c->olen);
        if (nl) {
            size_t k = (size_t)(nl - c->obuf);
            memcpy(line, c->obuf, k);
            line[k] = '\0';
            memmove(c->obuf, nl + 1, c->olen - k - 1);
            c->olen -= k + 1;
            return 1;
        }
        if (c->olen == c->ocap) return -2;
        if (c->out < 0) {
            if (c->olen == 0) return 0;
            memcpy(line, c->obuf, c->olen); /* a last line without a newline */
            line[c->olen] = '\0';
            c->olen = 0;
            return 1;
        }
        int64_t left = end - mono_ms();
        if (left <= 0) return -1;
        struct pollfd pf[2] = {{.fd = c->out, .events = POLLIN}, {.fd = c->err, .events = POLLIN}};
        int r = poll(pf, 2, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno != EINTR) return 0;
        if (r > 0 && pf[0].revents) child_drain(c, &c->out);
        if (r > 0 && pf[1].revents) child_drain(c, &c->err);
    }
}

/* Reap the child: wait up to grace_ms for it to exit, reading (and
 * dropping) what it still writes, then kill it. Leaves the wait status in
 * c->status and the start of its stderr in c->ebuf. */
static void child_finish(struct child *c, int grace_ms)
{
    int64_t end = mono_ms() + grace_ms;
    while (c->pid > 0) {
        pid_t r = waitpid(c->pid, &c->status, WNOHANG);
        if (r == c->pid || (r < 0 && errno != EINTR)) break;
        if (mono_ms() >= end) {
            kill(c->pid, SIGKILL);
            while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        struct pollfd pf[2] = {{.fd = c->out, .events = POLLIN}, {.fd = c->err, .events = POLLIN}};
        if (poll(pf, 2, 20) > 0) {
            if (pf[0].revents) c->olen = 0, child_drain(c, &c->out);
            if (pf[1].revents) child_drain(c, &c->err);
        }
    }
    c->pid = 0;
    while (c->err >= 0) { /* the rest of stderr, unless a grandchild holds it open */
        struct pollfd pf = {.fd = c->err, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0) break;
        child_drain(c, &c->err);
    }
    if (c->out >= 0) close(c->out);
    if (c->err >= 0) close(c->err);
    c->out = c->err = -1;
    free(c->obuf);
    c->obuf = NULL;
}

/* The first non-blank line the child wrote on stderr, or "". */
static const char *child_stderr(struct child *c, char *buf, size_t bufsz)
{
    const char *s = c->ebuf;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strcspn(s, "\r\n");
    snprintf(buf, bufsz, "%.*s", (int)n, s);
    return buf;
}

/* "exited with status 2" / "killed by signal 11 (Segmentation fault)" */
static const char *exit_text(int status, char *buf, size_t bufsz)
{
    if (WIFSIGNALED(status))
        snprintf(buf, bufsz, "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, bufsz, "exited with status %d", WEXITSTATUS(status));
    return buf;
}

/* Check the hello line; 0, or -1 with a message. */
static int hello(const struct tmi_peer *p, const char *line, struct jline *l, char *version,
                 size_t vsz, char *err, size_t errsz)
{
    if (jline_parse(line, l) != 0) {
        snprintf(err, errsz, "%s: peer's first line is not a JSON object: %.80s", p->name, line);
        return -1;
    }
    const char *proto = jstr(l, "protocol"), *v = jstr(l, "version");
    if (!proto || strcmp(proto, PEER_PROTOCOL) != 0) {
        snprintf(err, errsz, "%s: peer speaks protocol '%s', tmbench wants '%s'", p->name,
                 proto ? proto : "(none)", PEER_PROTOCOL);
        return -1;
    }
    snprintf(version, vsz, "%s", v ? v : "");
    return 0;
}

int tmi_peer_timeout_ms(void)
{
    const char *s = getenv("TMBENCH_PEER_TIMEOUT");
    int64_t v;
    if (!s || !s[0]) return 600 * 1000;
    return tmi_parse_int(s, &v) == 0 && v >= 1 && v <= 86400 ? (int)(v * 1000) : -1;
}

int tmi_peer_info(const struct tmi_peer *p, char *version, size_t vsz, char *workloads, size_t wsz,
                  char *err, size_t errsz)
{
    char path[PATH_MAX], line[1024], tail[256], st[64];
    struct child c;
    struct jline *l = malloc(sizeof *l);
    int rc = -1;
    version[0] = workloads[0] = '\0';
    if (!l) return snprintf(err, errsz, "out of memory"), -1;
    if (tmi_peer_path(p, path, sizeof path) != 0) {
        snprintf(err, errsz, "%s: %s is not an executable", p->name, path);
    } else if (child_start(&c, (char *[]){path, "info", NULL}, err, errsz) == 0) {
        char *big = malloc(LINE_MAX_BYTES + 1);
        int got = big ? child_line(&c, big, 10000) : 0;
        if (got == 1) snprintf(line, sizeof line, "%s", big);
        free(big);
        child_finish(&c, 2000);
        if (got != 1)
            snprintf(err, errsz, "%s: `%s info` %s: %s", p->name, path,
                     exit_text(c.status, st, sizeof st), child_stderr(&c, tail, sizeof tail));
        else if (hello(p, line, l, version, vsz, err, errsz) == 0) {
            const struct jmember *w = jget(l, "", "workloads");
            snprintf(workloads, wsz, "%s", w && w->type == 'a' ? w->val : "");
            rc = 0;
        }
    }
    free(l);
    return rc;
}

/* ---- running ---- */

struct peer_run {
    const struct tmi_run_opts *o;
    struct tmi_result *res;
    struct jline *l;   /* the line being read */
    uint64_t expected; /* the C workload's checksum for these parameters */
};

/* A repetition that never reached the peer, or lost it. */
static void whole_run_fails(struct tmi_result *res, enum tmi_status st, const char *msg)
{
    struct tmi_rep *rp = &res->rep[res->nrep];
    memset(rp, 0, sizeof *rp);
    rp->rep = res->nrep++;
    clock_gettime(CLOCK_REALTIME, &rp->when);
    rp->status = st;
    snprintf(rp->error, sizeof rp->error, "%s", msg);
}

/* The C workload's expected checksum for these parameters. Computed once,
 * before the peer starts: parfor's takes as long as a serial run, and
 * computed per reply it competed with the peer's next repetition for a
 * core (Go's parfor on 2 procs lost a third of its speed-up to it). */
static uint64_t expected(const struct tmi_run_opts *o, int procs)
{
    struct tm_run r;
    memset(&r, 0, sizeof r);
    r.wl = o->wl;
    memcpy(r.param, o->param, sizeof r.param);
    r.procs = procs;
    return o->wl->expected(&r);
}

/* Fill rp from a repetition line; 0, or -1 with a message in err. */
static int take_rep(struct peer_run *pr, struct tmi_rep *rp, int *warm, char *err, size_t errsz)
{
    const struct jline *l = pr->l;
    const char *st = jstr(l, "status"), *e = jstr(l, "error");
    const struct jmember *w = jget(l, "", "warmup");
    int64_t v;
    *warm = w && w->type == 'b' && strcmp(w->val, "true") == 0;
    if (!st || (strcmp(st, "ok") && strcmp(st, "failed") && strcmp(st, "unsupported"))) {
        snprintf(err, errsz, "no valid \"status\"");
        return -1;
    }
    rp->status = !strcmp(st, "ok") ? TMI_OK : !strcmp(st, "failed") ? TMI_FAILED : TMI_UNSUPPORTED;
    if (rp->status != TMI_OK)
        snprintf(rp->error, sizeof rp->error, "%s", e && e[0] ? e : "peer gave no reason");
    static const struct {
        const char *key;
        size_t off;
    } meas[] = {
        {"wall_ns", offsetof(struct tmi_rep, wall_ns)},
        {"cpu_user_ns", offsetof(struct tmi_rep, cpu_user_ns)},
        {"cpu_sys_ns", offsetof(struct tmi_rep, cpu_sys_ns)},
        {"max_rss_kb", offsetof(struct tmi_rep, max_rss_kb)},
        {"ctx_vol", offsetof(struct tmi_rep, ctx_vol)},
        {"ctx_invol", offsetof(struct tmi_rep, ctx_invol)},
    };
    rp->measured = jget(l, "", "wall_ns") != NULL;
    for (size_t i = 0; rp->measured && i < sizeof meas / sizeof meas[0]; i++) {
        if (jint(l, "", meas[i].key, &v) != 0) {
            snprintf(err, errsz, "\"%s\" missing or not an integer", meas[i].key);
            return -1;
        }
        *(int64_t *)((char *)rp + meas[i].off) = v;
    }
    if (rp->measured) {
        if (jint(l, "", "ops", &v) != 0 || v < 0) {
            snprintf(err, errsz, "\"ops\" missing or not a whole number");
            return -1;
        }
        rp->ops = (uint64_t)v;
    }
    const struct jmember *cs = jget(l, "", "checksum");
    if (rp->status == TMI_OK) {
        char *end;
        errno = 0;
        if (!cs || cs->type != 'n' || cs->val[0] == '-' || !rp->measured ||
            (rp->checksum = strtoull(cs->val, &end, 10), *end || errno)) {
            snprintf(err, errsz, "an ok repetition needs measurements and a 64-bit \"checksum\"");
            return -1;
        }
        rp->verified = 1;
    }
    for (int i = 0; i < l->n; i++) {
        const struct jmember *m = &l->m[i];
        struct tmi_metric *dst = NULL;
        if (m->type != 'n') continue;
        if (!strcmp(m->group, "metrics") && rp->nmetrics < 16)
            dst = &rp->metric[rp->nmetrics++];
        else if (!strcmp(m->group, "runtime") && rp->nmodel < TMI_MAX_MODEL_METRICS)
            dst = &rp->model[rp->nmodel++];
        if (dst) {
            snprintf(dst->name, sizeof dst->name, "%s", m->key);
            dst->value = strtod(m->val, NULL);
        }
    }
    if (jget(l, "latency_ns", "count")) {
        struct {
            const char *k;
            int64_t *p;
        } lat[] = {{"p50", &rp->lat.p50},   {"p90", &rp->lat.p90}, {"p99", &rp->lat.p99},
                   {"p999", &rp->lat.p999}, {"min", &rp->lat.min}, {"max", &rp->lat.max}};
        if (jint(l, "latency_ns", "count", &v) != 0 || v < 0) {
            snprintf(err, errsz, "\"latency_ns.count\" is not a whole number");
            return -1;
        }
        rp->lat.count = (uint64_t)v;
        for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++)
            if (jint(l, "latency_ns", lat[i].k, lat[i].p) != 0) *lat[i].p = 0;
        rp->has_lat = 1;
    }
    tmi_rep_expect(rp, pr->expected);
    return 0;
}

/* Why a run cannot go to this peer at all ("" when it can). */
static void refuse(const struct tmi_run_opts *o, char *why, size_t whysz)
{
    const struct tmi_peer *p = o->peer;
    why[0] = '\0';
    if (o->placement && strcmp(o->placement, "none") != 0)
        snprintf(why, whysz, "%s: --placement: a peer's runtime places its own threads", p->name);
    else if (o->slice_us)
        snprintf(why, whysz, "%s: --slice-us: %s", p->name,
                 p->slice_ns ? "the runtime's preemption slice is fixed"
                             : "the runtime is not preemptive");
    else if (o->stack_kb && !p->stacks)
        snprintf(why, whysz, "%s: --stack-kb: the runtime grows its stacks itself", p->name);
    else if (o->trace)
        snprintf(why, whysz, "%s: --trace: peers write no scheduling trace", p->name);
}

/* argv of the child, built in a fixed store. */
struct args {
    char *argv[16 + 2 * TMI_MAX_PARAMS]; /* NULL-terminated */
    int n;
    char store[8192]; /* the strings */
    size_t used;
    int overflow; /* something did not fit: do not run */
};

static void arg(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct args *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(a->store + a->used, sizeof a->store - a->used, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof a->store - a->used ||
        a->n + 1 >= (int)(sizeof a->argv / sizeof a->argv[0])) {
        a->overflow = 1;
        return;
    }
    a->argv[a->n++] = a->store + a->used;
    a->argv[a->n] = NULL;
    a->used += (size_t)k + 1;
}

/* `PEER run WORKLOAD ...` with every argument resolved. 0, or -1. */
static int run_argv(struct args *a, const struct tmi_run_opts *o, const struct tmi_result *res,
                    const char *path)
{
    arg(a, "%s", path);
    arg(a, "run");
    arg(a, "%s", o->wl->name);
    arg(a, "--procs");
    arg(a, "%d", res->procs);
    arg(a, "--reps");
    arg(a, "%d", o->reps);
    arg(a, "--warmup");
    arg(a, "%d", o->warmup);
    if (o->peer->stacks) {
        arg(a, "--stack-kb");
        arg(a, "%" PRId64, res->stack_bytes / 1024);
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    self[len > 0 ? len : 0] = '\0';
    arg(a, "--tmbench");
    arg(a, "%s", len > 0 ? self : "tmbench");
    for (int i = 0; i < o->wl->nparams && i < TMI_MAX_PARAMS; i++) {
        const struct tm_param_def *d = &o->wl->params[i];
        char word[64];
        arg(a, "--set");
        if (d->type == TM_PARAM_ENUM)
            arg(a, "%s=%s", d->name, tmi_enum_name(d->choices, o->param[i], word, sizeof word));
        else
            arg(a, "%s=%" PRId64, d->name, o->param[i]);
    }
    return a->overflow ? -1 : 0;
}

/* Read the hello line and every repetition; the child has started. */
static void converse(struct peer_run *pr, struct child *c, char *line)
{
    const struct tmi_run_opts *o = pr->o;
    struct tmi_result *res = pr->res;
    const char *name = o->peer->name;
    char msg[512], err[256], tail[256], st[64];
    int tmo = tmi_peer_timeout_ms(), got, lineno = 1, warm_seen = 0, problem = 0;
    struct timespec when;

    got = child_line(c, line, tmo);
    if (got == 1 && hello(o->peer, line, pr->l, res->peer_version, sizeof res->peer_version, msg,
                          sizeof msg) != 0) {
        problem = 1;
    }
    clock_gettime(CLOCK_REALTIME, &when);
    while (got == 1 && !problem && res->nrep < o->reps) {
        got = child_line(c, line, tmo);
        lineno++;
        if (got != 1) break;
        struct tmi_rep *rp = &res->rep[res->nrep];
        int warm = 0;
        memset(rp, 0, sizeof *rp);
        rp->when = when;
        clock_gettime(CLOCK_REALTIME, &when); /* the next one starts about now */
        if (jline_parse(line, pr->l) != 0)
            snprintf(err, sizeof err, "not a JSON object");
        else if (take_rep(pr, rp, &warm, err, sizeof err) == 0)
            err[0] = '\0';
        if (err[0]) {
            snprintf(msg, sizeof msg, "%s: bad reply line %d (%s): %.100s", name, lineno, err,
                     line);
            problem = 1;
            break;
        }
        if (warm && ++warm_seen > o->warmup) {
            snprintf(msg, sizeof msg, "%s: more warm-ups than the %d asked for", name, o->warmup);
            problem = 1;
            break;
        }
        if (warm && rp->status == TMI_OK) continue; /* the slot is reused */
        if (warm) {
            char buf[sizeof rp->error];
            int k = snprintf(buf, sizeof buf, "warm-up %d of %d: ", warm_seen, o->warmup);
            snprintf(buf + k, sizeof buf - (size_t)k, "%.*s", (int)(sizeof buf - 1 - (size_t)k),
                     rp->error);
            memcpy(rp->error, buf, sizeof buf);
            rp->rep = 0;
        } else {
            rp->rep = res->nrep;
        }
        res->nrep++;
        if (rp->status != TMI_OK) break;
    }
    int done = res->nrep > 0 && (res->nrep == o->reps || res->rep[res->nrep - 1].status != TMI_OK);
    child_finish(c, problem || got < 0 ? 0 : 10000); /* a clean exit gives the real status */
    if (done && !problem) return;
    if (!problem) {
        if (got == -1)
            snprintf(msg, sizeof msg, "%s: no reply for %d s; peer killed", name, tmo / 1000);
        else if (got == -2)
            snprintf(msg, sizeof msg, "%s: reply line %d longer than %d bytes", name, lineno,
                     LINE_MAX_BYTES);
        else
            snprintf(msg, sizeof msg, "%s: peer %s after %d of %d repetitions", name,
                     exit_text(c->status, st, sizeof st), res->nrep, o->reps);
    }
    if (child_stderr(c, tail, sizeof tail)[0])
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), ": %s", tail);
    whole_run_fails(res, TMI_FAILED, msg);
}

int tmi_peer_runner(const struct tmi_run_opts *o, struct tmi_result *res)
{
    const struct tmi_peer *p = o->peer;
    char path[PATH_MAX], why[512], *line = NULL;
    struct peer_run pr = {.o = o, .res = res};
    struct args *args = NULL;
    memset(res, 0, sizeof *res);
    /* one slot more than reps: a protocol failure after the last repetition */
    res->rep = calloc((size_t)o->reps + 1, sizeof *res->rep);
    pr.l = malloc(sizeof *pr.l);
    args = calloc(1, sizeof *args);
    line = malloc(LINE_MAX_BYTES + 1);
    if (!res->rep || !pr.l || !args || !line) {
        free(res->rep), free(pr.l), free(args), free(line);
        res->rep = NULL;
        errno = ENOMEM;
        return -1;
    }
    res->procs = o->procs > 0 ? o->procs : p->one_thread ? 1 : tmi_machine_pus();
    snprintf(res->placement, sizeof res->placement, "none");
    res->slice_ns = p->slice_ns;
    res->stack_bytes = p->stacks ? (o->stack_kb ? o->stack_kb : 64) * 1024 : 0;

    struct child c;
    refuse(o, why, sizeof why);
    if (why[0]) {
        whole_run_fails(res, TMI_UNSUPPORTED, why);
    } else if (tmi_peer_path(p, path, sizeof path) != 0) {
        char env[64];
        snprintf(why, sizeof why, "%s: peer not built: no executable %.300s (build it, or set %s)",
                 p->name, path, env_name(p, env, sizeof env));
        whole_run_fails(res, TMI_UNSUPPORTED, why);
    } else if (run_argv(args, o, res, path) != 0) {
        whole_run_fails(res, TMI_FAILED, "peer: arguments too long");
    } else {
        pr.expected = expected(o, res->procs);
        if (child_start(&c, args->argv, why, sizeof why) != 0)
            whole_run_fails(res, TMI_FAILED, why);
        else
            converse(&pr, &c, line);
    }
    free(pr.l);
    free(args);
    free(line);
    return 0;
}
