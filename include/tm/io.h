/* io.h — task-aware IO with deadlines.
 *
 * tm_read/tm_write/tm_accept/tm_connect work on non-blocking descriptors:
 * when the call would block, the task waits for readiness in its model's
 * own way (pthreads: poll() on its thread; coro, mn, goroutine: the
 * netpoller) and other tasks keep running. The tm_blocking_* variants make
 * the plain blocking call inside a blocking region: on coro that stalls
 * every task, on goroutine the P is handed off — the contrast the suite
 * exists to show.
 */
#ifndef TM_IO_H
#define TM_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Readiness events for tm_wait_fd. */
enum { TM_IN = 1, TM_OUT = 2 };

/* Put fd in non-blocking mode. Errors: as fcntl. */
int tm_fd_nonblock(int fd);

/* A pipe / socketpair / listening TCP socket whose ends are non-blocking
 * and close-on-exec. tm_listen binds host:port (host NULL = 127.0.0.1,
 * port 0 = any; the chosen port is stored in *port). Errors: as the
 * syscalls. */
int tm_pipe(int fds[2]);
int tm_listen(const char *host, int *port, int backlog);

/* Wait until fd is ready for events (TM_IN and/or TM_OUT) or the deadline.
 * Returns the ready events. Errors: ETIMEDOUT, EBADF. */
int tm_wait_fd(int fd, int events, int64_t deadline);

/* Like read/write/accept/connect on a non-blocking fd, but the task waits
 * for readiness instead of getting EAGAIN. tm_read returns as soon as some
 * bytes arrive (0 at EOF); tm_write_all writes all n bytes.
 * Errors: ETIMEDOUT, plus the syscall's own. tm_accept's result is
 * non-blocking and close-on-exec. */
ssize_t tm_read(int fd, void *buf, size_t n, int64_t deadline);
ssize_t tm_write(int fd, const void *buf, size_t n, int64_t deadline);
int tm_write_all(int fd, const void *buf, size_t n, int64_t deadline);
int tm_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline);
int tm_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline);

/* The plain blocking syscall inside tm_blocking_enter/exit. The fd should
 * be in blocking mode; nothing here waits for readiness. */
ssize_t tm_blocking_read(int fd, void *buf, size_t n);
ssize_t tm_blocking_write(int fd, const void *buf, size_t n);

#ifdef __cplusplus
}
#endif

#endif
