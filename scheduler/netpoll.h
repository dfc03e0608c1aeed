/* netpoll.h — the epoll netpoller shared by coro, mn and goroutine.
 *
 * A task that must wait for an fd calls tmi_netpoll_wait_fd: it records its
 * waiter in the fd's descriptor (one reader and one writer slot, like Go's
 * pollDesc), arms a one-shot epoll registration for what the fd's waiters
 * want, and parks. Whoever polls (the coro loop when it runs dry, an idle
 * mn worker, goroutine's findrunnable or sysmon) calls tmi_netpoll_poll,
 * which claims and readies the waiters of every fd that became ready.
 * tmi_netpoll_wake interrupts a poll blocked in epoll_wait (an eventfd).
 *
 * Design choices: one-shot (EPOLLONESHOT) registration re-armed on every
 * wait costs one epoll_ctl per wait, but it never misses an fd that was
 * closed and whose number was reused — edge-triggered registration once per
 * fd (Go's way) needs every close to go through the runtime, and workloads
 * here call plain close(). Descriptors live in a table indexed by fd, grown
 * in chunks that are never moved, so a poller can use one without locks on
 * the table.
 */
#ifndef TMI_NETPOLL_H
#define TMI_NETPOLL_H

#include <stdatomic.h>
#include <stdint.h>

#include "tm/tm.h"

/* Process-wide; started on first use. Errors: as epoll_create1/eventfd. */
int tmi_netpoll_init(void);
void tmi_netpoll_term(void);

/* Park the calling task until fd is ready for events (TM_IN/TM_OUT) or the
 * deadline. Returns the events, or -1 with errno ETIMEDOUT / EBADF. */
int tmi_netpoll_wait_fd(int fd, int events, int64_t deadline);

/* Poll once: wait up to the deadline (0: don't block, -1: forever) and
 * ready every waiter whose fd is ready. Returns the number of waiters
 * readied. Several threads may poll at once. */
int tmi_netpoll_poll(int64_t deadline);

/* Make a poll blocked in another thread return. Async-signal-safe. */
void tmi_netpoll_wake(void);

/* Waiters currently parked on fds (approximate; for schedulers that must
 * not sleep forever while IO is pending). Inline: schedulers read it on
 * every switch. */
extern _Atomic int tmi_netpoll_npending;
static inline int tmi_netpoll_pending(void)
{
    return atomic_load_explicit(&tmi_netpoll_npending, memory_order_relaxed);
}

#endif
