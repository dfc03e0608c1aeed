/* net.c — the network workloads: a TCP echo server and an HTTP/1.1
 * keep-alive server, one task per connection, measured by `tmbench load`
 * running as a separate process.
 *
 * body() listens on 127.0.0.1 (any port), serves in a task, and starts
 * `tmbench load` (this very executable, /proc/self/exe) as a child that
 * drives the load and reports on a pipe: counts and its latency histogram.
 * The record's latency_ns is the client's: measured from each request's
 * intended send time in open loop (--set rate=N), so a stalled server
 * shows in the tail. checksum = connections whose every reply was right
 * (the client checks each echo byte for byte and each HTTP status), which
 * must equal conns on every model; bytes and requests are in metrics.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "tm/io.h"
#include "tm/sync.h"
#include "wl.h"

enum { IDLE_TIMEOUT_NS = 10 * 1000000000LL }; /* a silent connection is closed */

struct server {
    int lfd;
    _Atomic int *stop;
    void (*conn_fn)(void *);
    struct tm_waitgroup wg;     /* connection tasks alive */
    _Atomic int64_t requests;   /* served (echo: reads echoed) */
    _Atomic int64_t bytes;      /* written back */
    _Atomic int64_t refused;    /* HTTP requests answered 4xx/5xx */
    _Atomic int64_t conns;      /* accepted */
};

struct conn {
    struct server *srv;
    int fd;
};

static void echo_conn(void *p)
{
    struct conn c = *(struct conn *)p;
    free(p);
    char buf[4096];
    for (;;) {
        ssize_t n = tm_read(c.fd, buf, sizeof buf, tm_now() + IDLE_TIMEOUT_NS);
        if (n <= 0) break;
        if (tm_write_all(c.fd, buf, (size_t)n, tm_now() + IDLE_TIMEOUT_NS) != 0) break;
        atomic_fetch_add_explicit(&c.srv->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c.srv->bytes, n, memory_order_relaxed);
    }
    close(c.fd);
    tm_waitgroup_done(&c.srv->wg);
}

static const char HTTP_OK[] = "HTTP/1.1 200 OK\r\nServer: tmbench\r\nContent-Type: text/plain\r\n"
                              "Content-Length: 13\r\n\r\nHello, World!";

static int http_refuse(int fd, int status)
{
    const char *why = status == 413 ? "Payload Too Large" : status == 431 ? "Request Header Fields Too Large"
                    : status == 501 ? "Not Implemented" : status == 505 ? "HTTP Version Not Supported"
                                                      : "Bad Request";
    char msg[160];
    int n = snprintf(msg, sizeof msg, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                     status, why);
    int rc = tm_write_all(fd, msg, (size_t)n, tm_now() + 1000000000);
    /* Lingering close: closing with unread request bytes makes the kernel
     * send RST, which can destroy the reply before the client reads it.
     * So stop writing, and drain (at most 1 s, 1 MiB) until the peer closes. */
    shutdown(fd, SHUT_WR);
    char sink[512];
    int64_t until = tm_now() + 1000000000;
    for (size_t drained = 0; drained < (1u << 20);) {
        ssize_t got = tm_read(fd, sink, sizeof sink, until);
        if (got <= 0) break;
        drained += (size_t)got;
    }
    return rc;
}

static void http_conn(void *p)
{
    struct conn c = *(struct conn *)p;
    free(p);
    enum { CAP = WL_HTTP_MAX_HEAD + 4096 };
    char *buf = malloc(CAP);
    size_t have = 0;
    int open = buf != NULL;
    while (open) {
        ssize_t n = tm_read(c.fd, buf + have, CAP - have, tm_now() + IDLE_TIMEOUT_NS);
        if (n <= 0) break;
        have += (size_t)n;
        for (;;) { /* every complete request in the buffer (pipelining) */
            struct wl_http_req req;
            long used = wl_http_parse(buf, have, &req);
            if (used == 0) {
                if (have == CAP) { /* a body larger than the buffer: not for a benchmark */
                    http_refuse(c.fd, 413);
                    atomic_fetch_add(&c.srv->refused, 1);
                    open = 0;
                }
                break;
            }
            if (used < 0) {
                http_refuse(c.fd, (int)-used);
                atomic_fetch_add(&c.srv->refused, 1);
                open = 0;
                break;
            }
            size_t len = req.head ? sizeof HTTP_OK - 1 - 13 : sizeof HTTP_OK - 1;
            if (tm_write_all(c.fd, HTTP_OK, len, tm_now() + IDLE_TIMEOUT_NS) != 0) open = 0;
            atomic_fetch_add_explicit(&c.srv->requests, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&c.srv->bytes, (int64_t)len, memory_order_relaxed);
            memmove(buf, buf + used, have - (size_t)used);
            have -= (size_t)used;
            if (!req.keep_alive || !open) {
                open = 0;
                break;
            }
        }
    }
    free(buf);
    close(c.fd);
    tm_waitgroup_done(&c.srv->wg);
}

/* The accept loop. It checks *stop at least every 100 ms; shutting the
 * listening socket down wakes it at once. */
static void accept_loop(struct server *s)
{
    while (!atomic_load(s->stop)) {
        int fd = tm_accept(s->lfd, NULL, NULL, tm_now() + 100000000);
        if (fd < 0) {
            if (errno == ETIMEDOUT || errno == EINTR) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                tm_sleep_ns(10000000); /* out of descriptors: let connections finish */
                continue;
            }
            break; /* shut down, or a real error */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        *c = (struct conn){s, fd};
        tm_waitgroup_add(&s->wg, 1);
        if (tm_go(s->conn_fn, c) != 0) { /* out of tasks: refuse this one */
            free(c);
            close(fd);
            tm_waitgroup_done(&s->wg);
            continue;
        }
        atomic_fetch_add_explicit(&s->conns, 1, memory_order_relaxed);
    }
}

static int serve_with(struct tm_run *r, int lfd, _Atomic int *stop, void (*conn_fn)(void *))
{
    struct server s = {.lfd = lfd, .stop = stop, .conn_fn = conn_fn};
    tm_waitgroup_init(&s.wg);
    accept_loop(&s);
    tm_waitgroup_wait(&s.wg, tm_now() + 2 * IDLE_TIMEOUT_NS);
    tm_run_metric(r, "server_conns", (double)atomic_load(&s.conns));
    tm_run_metric(r, "server_requests", (double)atomic_load(&s.requests));
    tm_run_metric(r, "server_bytes", (double)atomic_load(&s.bytes));
    tm_run_metric(r, "server_refused", (double)atomic_load(&s.refused));
    return 0;
}

static int echo_serve(struct tm_run *r, int lfd, _Atomic int *stop)
{
    return serve_with(r, lfd, stop, echo_conn);
}

static int http_serve(struct tm_run *r, int lfd, _Atomic int *stop)
{
    return serve_with(r, lfd, stop, http_conn);
}

/* ---- body: server task + `tmbench load` child ---- */

struct served {
    struct tm_run *r;
    int lfd;
    _Atomic int stop;
};

static void server_task(void *p)
{
    struct served *s = p;
    s->r->wl->serve(s->r, s->lfd, &s->stop);
}

struct client_report {
    int64_t requests, errors, bytes, conns_ok;
};

/* Read the child's "key value" lines; "lat <ns> <count>" are histogram
 * buckets, folded into the run's histogram. */
static int read_report(struct tm_run *r, int fd, struct client_report *rep)
{
    enum { CAP = 1 << 16 };
    char *buf = malloc(CAP); /* not on the stack: task stacks may be small */
    size_t have = 0;
    int rc = buf ? 1 : -1;
    struct tm_hist *h = tm_run_hist(r);
    while (rc == 1) {
        ssize_t n = tm_read(fd, buf + have, CAP - 1 - have, -1);
        if (n < 0) {
            rc = -1;
            break;
        }
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            long long a, b;
            if (sscanf(line, "lat %lld %lld", &a, &b) == 2) {
                for (long long i = 0; h && i < b; i++) tm_hist_record(h, a);
            } else if (sscanf(line, "requests %lld", &a) == 1) rep->requests = a;
            else if (sscanf(line, "errors %lld", &a) == 1) rep->errors = a;
            else if (sscanf(line, "bytes %lld", &a) == 1) rep->bytes = a;
            else if (sscanf(line, "conns_ok %lld", &a) == 1) rep->conns_ok = a;
            line = nl + 1;
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (n == 0) rc = 0;
        else if (have == CAP - 1) rc = -1; /* a line longer than 64 KiB */
    }
    free(buf);
    return rc;
}

static struct client_report net_report;

static int net_body(struct tm_run *r)
{
    const char *proto = r->wl->name;
    struct served s = {.r = r};
    int port = 0, rc = 0;
    net_report = (struct client_report){0};
    if ((s.lfd = tm_listen(NULL, &port, 1024)) < 0)
        return tm_run_fail(r, "%s: cannot listen on 127.0.0.1: %s", proto, strerror(errno));
    struct tm_task *srv = tm_spawn(server_task, &s);
    if (!srv) {
        close(s.lfd);
        return wl_spawn_failed(r, 0, 1);
    }
    char a[6][32];
    snprintf(a[0], 32, "%d", port);
    snprintf(a[1], 32, "%lld", (long long)tm_run_param(r, "conns"));
    snprintf(a[2], 32, "%lld", (long long)tm_run_param(r, "rate"));
    snprintf(a[3], 32, "%lld", (long long)tm_run_param(r, "duration_ms"));
    snprintf(a[4], 32, "%lld", strcmp(proto, "echo") == 0 ? (long long)tm_run_param(r, "msgsize") : 0LL);
    char *argv[] = {"tmbench", "load", "--proto", (char *)proto, "--port", a[0], "--conns", a[1],
                    "--rate", a[2], "--duration-ms", a[3], "--msgsize", a[4], "--format", "kv",
                    NULL};
    int pfd[2];
    pid_t pid = -1;
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        rc = tm_run_fail(r, "%s: pipe: %s", proto, strerror(errno));
    } else {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
        int e = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, NULL);
        posix_spawn_file_actions_destroy(&fa);
        close(pfd[1]);
        if (e != 0) {
            rc = tm_run_fail(r, "%s: cannot start the load generator: %s", proto, strerror(e));
        } else {
            tm_fd_nonblock(pfd[0]);
            if (read_report(r, pfd[0], &net_report) != 0)
                rc = tm_run_fail(r, "%s: unreadable report from the load generator", proto);
            int st = 0;
            waitpid(pid, &st, 0); /* it has closed its stdout: it is exiting */
            /* exit 1 means some connections failed: the checksum says so */
            if (rc == 0 && !(WIFEXITED(st) && WEXITSTATUS(st) <= 1))
                rc = tm_run_fail(r, "%s: the load generator failed (status %d)", proto, st);
        }
        close(pfd[0]);
    }
    atomic_store(&s.stop, 1);
    shutdown(s.lfd, SHUT_RDWR); /* wakes the accept loop */
    tm_join(srv);
    close(s.lfd);
    tm_run_metric(r, "requests", (double)net_report.requests);
    tm_run_metric(r, "errors", (double)net_report.errors);
    tm_run_metric(r, "bytes", (double)net_report.bytes);
    r->ops = (uint64_t)net_report.requests;
    return rc;
}

static uint64_t net_verify(struct tm_run *r) { return (uint64_t)net_report.conns_ok; }
static uint64_t net_expected(const struct tm_run *r) { return (uint64_t)tm_run_param(r, "conns"); }

static const struct tm_param_def echo_params[] = {
    {"conns", TM_PARAM_INT, 50, 1, 100000, NULL, "client connections, one server task each"},
    {"rate", TM_PARAM_INT, 0, 0, 10000000, NULL, "requests/s over all connections (0: closed loop)"},
    {"duration_ms", TM_PARAM_INT, 1000, 10, 3600000, NULL, "how long the client sends"},
    {"msgsize", TM_PARAM_INT, 64, 1, 65536, NULL, "bytes per message"},
};

const struct tm_workload_ops tm_wl_echo = {
    .name = "echo",
    .kind = "io",
    .summary = "TCP echo on loopback, one task per connection, driven by `tmbench load`",
    .op = "one message echoed (client round trip)",
    .params = echo_params,
    .nparams = WL_NPARAMS(echo_params),
    .body = net_body,
    .verify = net_verify,
    .expected = net_expected,
    .serve = echo_serve,
};

static const struct tm_param_def http_params[] = {
    {"conns", TM_PARAM_INT, 50, 1, 100000, NULL, "client connections, one server task each"},
    {"rate", TM_PARAM_INT, 0, 0, 10000000, NULL, "requests/s over all connections (0: closed loop)"},
    {"duration_ms", TM_PARAM_INT, 1000, 10, 3600000, NULL, "how long the client sends"},
};

const struct tm_workload_ops tm_wl_http = {
    .name = "http",
    .kind = "io",
    .summary = "HTTP/1.1 keep-alive server, one task per connection (also for wrk via serve)",
    .op = "one request answered (client round trip)",
    .params = http_params,
    .nparams = WL_NPARAMS(http_params),
    .body = net_body,
    .verify = net_verify,
    .expected = net_expected,
    .serve = http_serve,
};
