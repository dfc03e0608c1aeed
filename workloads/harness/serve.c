/* serve.c — `tmbench serve -m MODEL -w echo|http [-p N] [--port P]
 * [--host H]`: run a workload's server on a model until SIGINT or SIGTERM,
 * for outside clients such as wrk or `tmbench load`.
 *
 * SIGINT and SIGTERM are blocked before the model starts (so every thread
 * it creates inherits the mask) and read from a signalfd by the main task
 * through tm_wait_fd: the signal arrives as ordinary task-aware IO on any
 * model. On a signal the accept loop is stopped and the process exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "tm/io.h"

struct serving {
    const struct tm_workload_ops *wl;
    struct tm_run run;
    int lfd, sfd;
    _Atomic int stop;
};

static void server_task(void *p)
{
    struct serving *s = p;
    s->wl->serve(&s->run, s->lfd, &s->stop);
}

static void serve_main(void *p)
{
    struct serving *s = p;
    struct tm_task *t = tm_spawn(server_task, s);
    if (!t) {
        fprintf(stderr, "tmbench: serve: cannot start the server task: %s\n", strerror(errno));
        return;
    }
    struct signalfd_siginfo si;
    while (tm_read(s->sfd, &si, sizeof si, -1) != (ssize_t)sizeof si) {
        if (errno != EINTR && errno != EAGAIN) break;
    }
    atomic_store(&s->stop, 1);
    shutdown(s->lfd, SHUT_RDWR); /* wakes the accept loop */
    tm_join(t);
}

/* A peer serves in a process of its own: exec it, so that the signals
 * that stop it and the status it exits with are its own. */
static int serve_peer(const struct tmi_peer *pe, const char *wname, const char *host,
                      int64_t port, int64_t procs)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1)
        return tmi_usage_error("serve: --host must be an IPv4 address, not '%s'", host);
    if (!pe->serves)
        return tmi_usage_error("serve: peer '%s' has no servers (echo and http: -m go)", pe->name);
    char path[PATH_MAX], sport[24], sprocs[24];
    if (tmi_peer_path(pe, path, sizeof path) != 0) {
        fprintf(stderr, "tmbench: serve: the %s peer is not built (no %s)\n", pe->name, path);
        return 1;
    }
    snprintf(sport, sizeof sport, "%lld", (long long)port);
    snprintf(sprocs, sizeof sprocs, "%lld", (long long)(procs ? procs : pe->one_thread ? 1 : 0));
    char *argv[] = {path, "serve", (char *)wname, "--port", sport, "--host", (char *)host,
                    procs || pe->one_thread ? "--procs" : NULL, sprocs, NULL};
    execv(path, argv);
    fprintf(stderr, "tmbench: serve: cannot run %s: %s\n", path, strerror(errno));
    return 1;
}

static const char SERVE_USAGE[] =
    "usage: tmbench serve -m MODEL -w echo|http [-p PROCS] [--port N (8080)] [--host 127.0.0.1]\n"
    "                     [--stack-kb N]\n"
    "Serves until SIGINT or SIGTERM, then exits 0. Binds 127.0.0.1 unless --host says otherwise.\n"
    "MODEL may be the go peer: its Go version of the server (-p is GOMAXPROCS).\n";

int tmi_cmd_serve(int argc, char **argv)
{
    const char *model = NULL, *wname = NULL, *host = "127.0.0.1";
    int64_t port = 8080, procs = 0, stack_kb = 0;
    for (int i = 1; i < argc; i += 2) { /* every option but --help takes a value */
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t *num = NULL, lo = 0, hi = 0;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(SERVE_USAGE, stdout);
            return 0;
        }
        if (!v) return tmi_usage_error("serve: %s needs a value", o);
        if (!strcmp(o, "-m") || !strcmp(o, "--model")) model = v;
        else if (!strcmp(o, "-w") || !strcmp(o, "--workload")) wname = v;
        else if (!strcmp(o, "--host")) host = v;
        else if (!strcmp(o, "--port")) num = &port, lo = 0, hi = 65535;
        else if (!strcmp(o, "-p") || !strcmp(o, "--procs")) num = &procs, lo = 1, hi = 1024;
        else if (!strcmp(o, "--stack-kb")) num = &stack_kb, lo = 4, hi = 1048576;
        else return tmi_usage_error("serve: unknown option '%s' (see tmbench serve --help)", o);
        if (num && (tmi_parse_int(v, num) != 0 || *num < lo || *num > hi))
            return tmi_usage_error("serve: %s must be a whole number in %lld..%lld, not '%s'", o,
                                   (long long)lo, (long long)hi, v);
    }
    if (!model) return tmi_usage_error("serve: -m MODEL is required");
    if (!wname) return tmi_usage_error("serve: -w echo|http is required");
    struct serving s = {.wl = tm_workload_find(wname)};
    if (!s.wl || !s.wl->serve)
        return tmi_usage_error("serve: workload '%s' cannot serve (echo or http)", wname);
    for (const struct tmi_peer *pe = tmi_peers; pe->name; pe++)
        if (!strcmp(pe->name, model)) return serve_peer(pe, wname, host, port, procs);
    s.run.wl = s.wl;
    tmi_param_defaults(s.wl, s.run.param);

    int p = (int)port;
    if ((s.lfd = tm_listen(host, &p, 4096)) < 0)
        return errno == EINVAL ? tmi_usage_error("serve: --host must be an IPv4 address, not '%s'", host)
                               : (fprintf(stderr, "tmbench: serve: cannot listen on %s:%lld: %s\n",
                                          host, (long long)port, strerror(errno)), 1);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((s.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "tmbench: serve: signalfd: %s\n", strerror(errno));
        return 1;
    }
    struct tm_config cfg = {.model = model, .procs = (int)procs, .stack_size = (size_t)stack_kb * 1024};
    if (tm_init(&cfg) != 0) {
        if (errno == ENOENT) return tmi_usage_error("serve: unknown model '%s' (see tmbench list)", model);
        if (errno == EINVAL) return tmi_usage_error("serve: %s", tm_last_error()); /* coro -p 2 */
        fprintf(stderr, "tmbench: serve: cannot start model '%s': %s\n", model,
                *tm_last_error() ? tm_last_error() : strerror(errno));
        return 1;
    }
    fprintf(stderr, "tmbench: serving %s on %s:%d (model %s, procs %d); SIGINT or SIGTERM stops\n",
            wname, host, p, model, tm_config()->procs);
    tm_run(serve_main, &s);
    tm_fini();
    close(s.lfd);
    close(s.sfd);
    return 0;
}
