/* load.c — `tmbench load`: the out-of-process load generator for the echo
 * and http servers (and anything else that speaks them on loopback).
 *
 * One task per connection, on a tm model of its own (coro by default: one
 * kernel thread, so the client's footprint on a 2-core machine is one
 * core). Each connection keeps one request in flight.
 *
 * Open loop (--rate R > 0): connection k of C sends its i-th request at
 * the intended time start + (k + i*C) / R and latency is measured from that
 * intended time, not from when the request actually left. A server that
 * stalls for 100 ms therefore shows 100 ms of latency on every request that
 * should have gone out meanwhile — no coordinated omission (the wrk2
 * approach). Closed loop (--rate 0): send, wait, measure, repeat.
 *
 * Every echo reply is compared byte for byte with what was sent, and every
 * HTTP reply must be a complete "200" response; a connection with any
 * error or mismatch stops and does not count in conns_ok.
 *
 * Output: a JSON object (--format json, default) or "key value" lines with
 * the histogram's non-empty buckets as "lat <ns> <count>" (--format kv, read
 * by the echo/http workloads to fold the numbers into their record).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "hist.h"
#include "tm/io.h"
#include "tm/sync.h"

struct load {
    int http;                  /* 1: http, 0: echo */
    struct sockaddr_in addr;   /* the server */
    int64_t conns, rate, duration_ms, msgsize;
    int kv;                    /* --format kv */
    const char *model;
    int procs;
    int64_t start, end;        /* the sending window, tm_now() clock */
    struct tm_hist *lat;
    struct tm_waitgroup wg;
    _Atomic int64_t requests, errors, bytes, conns_ok;
};

static const char HTTP_REQ[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: tmbench-load\r\n\r\n";

/* Read one HTTP response; 0 if it is a complete 200, -1 otherwise. */
static int read_http(int fd, char *buf, size_t cap, int64_t deadline, int64_t *got)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = tm_read(fd, buf + have, cap - 1 - have, deadline);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) {
            if (have == cap - 1) return -1;
            continue;
        }
        if (strncmp(buf, "HTTP/1.1 200 ", 13) != 0) return -1;
        char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (!cl || cl > end) return -1;
        size_t body = strtoul(cl + 17, NULL, 10), head = (size_t)(end + 4 - buf);
        if (head + body > cap - 1) return -1;
        while (have < head + body) {
            n = tm_read(fd, buf + have, head + body - have, deadline);
            if (n <= 0) return -1;
            have += (size_t)n;
        }
        *got = (int64_t)have;
        return have == head + body ? 0 : -1; /* one request in flight: nothing may follow */
    }
}

struct conn_arg {
    struct load *L;
    int64_t k;
};

static void conn_task(void *p)
{
    struct conn_arg *a = p;
    struct load *L = a->L;
    size_t cap = L->http ? 16384 : (size_t)L->msgsize;
    char *out = malloc(L->http ? sizeof HTTP_REQ : cap), *in = malloc(cap + 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), ok = 1;
    int64_t deadline = L->end + 5000000000LL; /* a reply may take 5 s past the window */
    if (!out || !in || fd < 0 ||
        tm_connect(fd, (struct sockaddr *)&L->addr, sizeof L->addr, deadline) != 0)
        ok = 0;
    if (ok) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    size_t outlen = L->http ? sizeof HTTP_REQ - 1 : cap;
    if (L->http) memcpy(out, HTTP_REQ, outlen);
    int64_t interval = L->rate > 0 ? 1000000000LL * L->conns / L->rate : 0;
    for (int64_t i = 0; ok; i++) {
        int64_t intended = L->rate > 0 ? L->start + (a->k * 1000000000LL) / L->rate + i * interval
                                       : tm_now();
        if (intended >= L->end) break;
        if (L->rate > 0 && intended > tm_now()) tm_sleep_until(intended);
        if (!L->http) /* a pattern that differs per request, so stale bytes show */
            for (size_t b = 0; b < cap; b++) out[b] = (char)(a->k * 31 + i * 7 + (int64_t)b);
        int64_t sent = tm_now(), got = 0;
        if (tm_write_all(fd, out, outlen, deadline) != 0) {
            ok = 0;
            break;
        }
        if (L->http) {
            ok = read_http(fd, in, cap + 1, deadline, &got) == 0;
        } else {
            while (ok && got < (int64_t)cap) {
                ssize_t n = tm_read(fd, in + got, cap - (size_t)got, deadline);
                if (n <= 0) ok = 0;
                else got += n;
            }
            ok = ok && memcmp(in, out, cap) == 0;
        }
        if (!ok) break;
        tmi_hist_record(L->lat, tm_now() - (L->rate > 0 ? intended : sent));
        atomic_fetch_add_explicit(&L->requests, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&L->bytes, got, memory_order_relaxed);
    }
    if (ok)
        atomic_fetch_add(&L->conns_ok, 1);
    else
        atomic_fetch_add(&L->errors, 1);
    if (fd >= 0) close(fd);
    free(out);
    free(in);
    tm_waitgroup_done(&L->wg);
}

static void load_main(void *p)
{
    struct load *L = p;
    struct conn_arg *args = calloc((size_t)L->conns, sizeof *args);
    tm_waitgroup_init(&L->wg);
    L->start = tm_now() + 20000000; /* 20 ms for the connections to open */
    L->end = L->start + L->duration_ms * 1000000;
    for (int64_t k = 0; args && k < L->conns; k++) {
        args[k] = (struct conn_arg){L, k};
        tm_waitgroup_add(&L->wg, 1);
        if (tm_go(conn_task, &args[k]) != 0) {
            tm_waitgroup_done(&L->wg);
            atomic_fetch_add(&L->errors, 1);
        }
    }
    if (!args) atomic_store(&L->errors, L->conns);
    tm_waitgroup_wait(&L->wg, -1);
    free(args);
}

static void report(const struct load *L)
{
    double secs = (double)L->duration_ms / 1000.0;
    if (L->kv) {
        printf("requests %lld\nerrors %lld\nbytes %lld\nconns_ok %lld\n",
               (long long)L->requests, (long long)L->errors, (long long)L->bytes,
               (long long)L->conns_ok);
        for (int i = 0; i < TMI_HIST_NBUCKETS; i++) {
            uint64_t c = atomic_load_explicit(&L->lat->bucket[i], memory_order_relaxed);
            if (c)
                printf("lat %lld %llu\n",
                       (long long)((tmi_hist_bucket_low(i) + tmi_hist_bucket_high(i)) / 2),
                       (unsigned long long)c);
        }
        return;
    }
    printf("{\"proto\":\"%s\",\"conns\":%lld,\"rate\":%lld,\"duration_ms\":%lld,\"model\":\"%s\","
           "\"requests\":%lld,\"errors\":%lld,\"bytes\":%lld,\"conns_ok\":%lld,"
           "\"requests_per_s\":%.1f,\"latency_ns\":{\"count\":%llu,\"p50\":%lld,\"p90\":%lld,"
           "\"p99\":%lld,\"p999\":%lld,\"max\":%lld}}\n",
           L->http ? "http" : "echo", (long long)L->conns, (long long)L->rate,
           (long long)L->duration_ms, L->model, (long long)L->requests, (long long)L->errors,
           (long long)L->bytes, (long long)L->conns_ok, (double)L->requests / secs,
           (unsigned long long)tmi_hist_count(L->lat), (long long)tmi_hist_percentile(L->lat, 50),
           (long long)tmi_hist_percentile(L->lat, 90), (long long)tmi_hist_percentile(L->lat, 99),
           (long long)tmi_hist_percentile(L->lat, 99.9), (long long)tmi_hist_max(L->lat));
}

static const char LOAD_USAGE[] =
    "usage: tmbench load --proto echo|http --port N [--host 127.0.0.1] [--conns 50]\n"
    "                    [--rate R (0 = closed loop)] [--duration-ms 1000] [--msgsize 64]\n"
    "                    [-m MODEL (coro)] [-p PROCS] [--format json|kv]\n";

/* One integer option value within [lo, hi]; exits 2 through tmi_usage_error. */
static int int_opt(const char *name, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (!v) return tmi_usage_error("load: %s needs a value", name);
    if (tmi_parse_int(v, out) != 0 || *out < lo || *out > hi)
        return tmi_usage_error("load: %s must be a whole number in %lld..%lld, not '%s'", name,
                               (long long)lo, (long long)hi, v);
    return 0;
}

int tmi_cmd_load(int argc, char **argv)
{
    struct load L = {.conns = 50, .duration_ms = 1000, .msgsize = 64, .model = "coro"};
    const char *proto = NULL, *host = "127.0.0.1";
    int64_t port = -1, procs = 0;
    for (int i = 1; i < argc; i += 2) { /* every option but --help takes a value */
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            fputs(LOAD_USAGE, stdout);
            return 0;
        } else if (!strcmp(o, "--proto")) {
            if (!v || (strcmp(v, "echo") && strcmp(v, "http")))
                return tmi_usage_error("load: --proto must be echo or http, not '%s'", v ? v : "");
            proto = v;
        } else if (!strcmp(o, "--host")) {
            if (!v || inet_pton(AF_INET, v, &L.addr.sin_addr) != 1)
                return tmi_usage_error("load: --host must be an IPv4 address, not '%s'", v ? v : "");
            host = v;
        } else if (!strcmp(o, "--port")) rc = int_opt(o, v, 1, 65535, &port);
        else if (!strcmp(o, "--conns")) rc = int_opt(o, v, 1, 100000, &L.conns);
        else if (!strcmp(o, "--rate")) rc = int_opt(o, v, 0, 100000000, &L.rate);
        else if (!strcmp(o, "--duration-ms")) rc = int_opt(o, v, 1, 86400000, &L.duration_ms);
        else if (!strcmp(o, "--msgsize")) rc = int_opt(o, v, 0, 65536, &L.msgsize);
        else if (!strcmp(o, "-p") || !strcmp(o, "--procs")) rc = int_opt(o, v, 1, 1024, &procs);
        else if (!strcmp(o, "-m") || !strcmp(o, "--model")) {
            if (!v) return tmi_usage_error("load: %s needs a value", o);
            L.model = v;
        } else if (!strcmp(o, "--format")) {
            if (!v || (strcmp(v, "json") && strcmp(v, "kv")))
                return tmi_usage_error("load: --format must be json or kv, not '%s'", v ? v : "");
            L.kv = !strcmp(v, "kv");
        } else
            return tmi_usage_error("load: unknown option '%s' (see tmbench load --help)", o);
        if (rc) return rc;
    }
    if (!proto) return tmi_usage_error("load: --proto echo|http is required");
    if (port < 0) return tmi_usage_error("load: --port is required");
    L.http = !strcmp(proto, "http");
    if (!L.http && L.msgsize < 1) /* 0 is for http, which sends no fixed-size messages */
        return tmi_usage_error("load: --msgsize must be 1..65536 for echo, not %lld",
                               (long long)L.msgsize);
    L.addr.sin_family = AF_INET;
    L.addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &L.addr.sin_addr);
    if (!(L.lat = tmi_hist_new())) return fprintf(stderr, "tmbench: load: out of memory\n"), 1;
    struct tm_config cfg = {.model = L.model, .procs = (int)procs};
    if (tm_init(&cfg) != 0) {
        fprintf(stderr, "tmbench: load: cannot start model '%s': %s\n", L.model,
                *tm_last_error() ? tm_last_error() : strerror(errno));
        return errno == ENOENT ? 2 : 1;
    }
    tm_run(load_main, &L);
    tm_fini();
    report(&L);
    tmi_hist_free(L.lat);
    return L.conns_ok == L.conns ? 0 : 1;
}
