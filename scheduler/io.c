/* io.c — task-aware IO: try the syscall, and when it would block wait for
 * readiness through the model (tm_wait_fd), so only this task waits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "model.h"
#include "tm/io.h"
#include "tmi.h"

int tm_fd_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    return (fl & O_NONBLOCK) ? 0 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int tm_pipe(int fds[2]) { return pipe2(fds, O_NONBLOCK | O_CLOEXEC); }

int tm_listen(const char *host, int *port, int backlog)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
    if (inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* The default readiness wait: ppoll on the calling kernel thread. */
static int poll_fd(int fd, int events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = (short)((events & TM_IN ? POLLIN : 0) |
                                                   (events & TM_OUT ? POLLOUT : 0))};
    for (;;) {
        struct timespec ts, *tsp = NULL;
        if (deadline >= 0) {
            int64_t left = deadline - tm_now();
            if (left < 0) left = 0;
            ts.tv_sec = left / 1000000000;
            ts.tv_nsec = left % 1000000000;
            tsp = &ts;
        }
        int r = ppoll(&p, 1, tsp, NULL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (p.revents & POLLNVAL) {
            errno = EBADF;
            return -1;
        }
        /* errors and hang-ups count as ready: the next syscall reports them */
        int got = 0;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) got |= events & TM_IN;
        if (p.revents & (POLLOUT | POLLHUP | POLLERR)) got |= events & TM_OUT;
        return got ? got : events;
    }
}

int tm_wait_fd(int fd, int events, int64_t deadline)
{
    if (tmi_model->wait_fd) return tmi_model->wait_fd(fd, events, deadline);
    return poll_fd(fd, events, deadline);
}

ssize_t tm_read(int fd, void *buf, size_t n, int64_t deadline)
{
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        if (tm_wait_fd(fd, TM_IN, deadline) < 0) return -1;
    }
}

ssize_t tm_write(int fd, const void *buf, size_t n, int64_t deadline)
{
    for (;;) {
        ssize_t r = write(fd, buf, n);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        if (tm_wait_fd(fd, TM_OUT, deadline) < 0) return -1;
    }
}

int tm_write_all(int fd, const void *buf, size_t n, int64_t deadline)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t r = tm_write(fd, p, n, deadline);
        if (r < 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int tm_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
    for (;;) {
        int c = accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) return c;
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        if (tm_wait_fd(fd, TM_IN, deadline) < 0) return -1;
    }
}

int tm_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
    if (connect(fd, addr, len) == 0) return 0;
    if (errno != EINPROGRESS && errno != EINTR) return -1;
    if (tm_wait_fd(fd, TM_OUT, deadline) < 0) return -1;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

ssize_t tm_blocking_read(int fd, void *buf, size_t n)
{
    tm_blocking_enter();
    ssize_t r = read(fd, buf, n);
    int e = errno;
    tm_blocking_exit();
    errno = e;
    return r;
}

ssize_t tm_blocking_write(int fd, const void *buf, size_t n)
{
    tm_blocking_enter();
    ssize_t r = write(fd, buf, n);
    int e = errno;
    tm_blocking_exit();
    errno = e;
    return r;
}
