/* epoll_http.c — `tmbench-epoll-http [--port N]`: the yardstick for the
 * http server. A minimal single-threaded edge-triggered epoll server that
 * answers every complete request with the same 13-byte response as the
 * http workload, with no tasks, no stacks and no scheduler: what one
 * kernel thread can do when the program is the event loop. Pipelined
 * requests are answered in one write; it counts "\r\n\r\n" and does not
 * parse (it serves benchmark clients, not the internet). Exits on SIGINT or
 * SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char OK[] = "HTTP/1.1 200 OK\r\nServer: tmbench\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 13\r\n\r\nHello, World!";

struct conn {
    int fd;
    size_t have;   /* bytes of an unfinished request kept in buf */
    char buf[4096];
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

/* Read everything available; answer each complete request. 0 keeps the
 * connection, -1 closes it. */
static int serve_conn(struct conn *c)
{
    char out[sizeof OK * 64];
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
        if (n == 0) return -1;
        if (n < 0) return errno == EAGAIN ? 0 : -1;
        c->have += (size_t)n;
        size_t used = 0, nout = 0;
        char *end;
        while ((end = memmem(c->buf + used, c->have - used, "\r\n\r\n", 4)) != NULL) {
            used = (size_t)(end + 4 - c->buf);
            if (nout + sizeof OK > sizeof out) {
                if (write(c->fd, out, nout) != (ssize_t)nout) return -1;
                nout = 0;
            }
            memcpy(out + nout, OK, sizeof OK - 1);
            nout += sizeof OK - 1;
        }
        if (nout && write(c->fd, out, nout) != (ssize_t)nout) return -1;
        memmove(c->buf, c->buf + used, c->have - used);
        c->have -= used;
        if (c->have == sizeof c->buf) return -1; /* a head over 4 KiB */
    }
}

int main(int argc, char **argv)
{
    int port = 8081;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            char *e;
            long p = strtol(argv[++i], &e, 10);
            if (*e || p < 0 || p > 65535) {
                fprintf(stderr, "tmbench-epoll-http: --port must be 0..65535, not '%s'\n", argv[i]);
                return 2;
            }
            port = (int)p;
        } else {
            fprintf(stderr, "tmbench-epoll-http: unknown argument '%s' (usage: --port N)\n", argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        fprintf(stderr, "tmbench-epoll-http: cannot listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    fprintf(stderr, "tmbench-epoll-http: serving on 127.0.0.1:%d\n", port);
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) { /* the listener */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    if (!nc) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLET, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    if (serve_conn(nc) < 0) close(fd), free(nc);
                }
                continue;
            }
            if (serve_conn(c) < 0) {
                close(c->fd); /* also leaves the epoll set */
                free(c);
            }
        }
    }
    return 0;
}
