/* netpoll.c — epoll netpoller; the design is in netpoll.h. */
#include "netpoll.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tm/io.h"
#include "tmi.h"
#include "trace.h"

struct pdesc {
    _Atomic int lock;     /* tmi_spin lock over the two slots */
    struct tm_waiter *rd; /* parked reader, or NULL */
    struct tm_waiter *wr; /* parked writer, or NULL */
    int fd;
};

enum { CHUNK = 1024, MAX_CHUNKS = 4096 }; /* up to 4M descriptors */

static struct pdesc *_Atomic chunks[MAX_CHUNKS]; /* grown once, never moved */
static int epfd = -1, evfd = -1;                 /* set by tmi_netpoll_init */
_Atomic int tmi_netpoll_npending;                 /* parked IO waiters */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

int tmi_netpoll_init(void)
{
    pthread_mutex_lock(&init_lock);
    int r = 0;
    if (epfd < 0) {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epfd < 0 || evfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) < 0) r = -1;
    }
    pthread_mutex_unlock(&init_lock);
    return r;
}

void tmi_netpoll_term(void)
{
    pthread_mutex_lock(&init_lock);
    if (epfd >= 0) close(epfd);
    if (evfd >= 0) close(evfd);
    epfd = evfd = -1;
    for (int i = 0; i < MAX_CHUNKS; i++) {
        free(atomic_load(&chunks[i]));
        atomic_store(&chunks[i], NULL);
    }
    atomic_store(&tmi_netpoll_npending, 0);
    pthread_mutex_unlock(&init_lock);
}

static struct pdesc *lookup(int fd)
{
    if (fd < 0 || fd / CHUNK >= MAX_CHUNKS) return NULL;
    /* acquire: pairs with the release publishing a new chunk */
    struct pdesc *c = atomic_load_explicit(&chunks[fd / CHUNK], memory_order_acquire);
    if (!c) {
        struct pdesc *n = calloc(CHUNK, sizeof *n), *expect = NULL;
        if (!n) return NULL;
        if (atomic_compare_exchange_strong_explicit(&chunks[fd / CHUNK], &expect, n,
                                                    memory_order_acq_rel, memory_order_acquire))
            c = n;
        else {
            free(n);
            c = expect;
        }
    }
    return &c[fd % CHUNK];
}

/* Arm fd for what its waiters want. Caller holds pd->lock. */
static int arm(struct pdesc *pd)
{
    struct epoll_event ev = {.events = EPOLLONESHOT | EPOLLRDHUP, .data.ptr = pd};
    if (pd->rd) ev.events |= EPOLLIN;
    if (pd->wr) ev.events |= EPOLLOUT;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, pd->fd, &ev) == 0) return 0;
    if (errno != ENOENT) return -1;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, pd->fd, &ev);
}

int tmi_netpoll_wait_fd(int fd, int events, int64_t deadline)
{
    struct pdesc *pd = lookup(fd);
    if (!pd) {
        errno = EBADF;
        return -1;
    }
    if (deadline == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    struct tm_waiter w;
    tm_waiter_init(&w);
    tmi_spin_lock(&pd->lock);
    /* One task per direction: a second reader of the same fd is a bug */
    tm_assert(!(events & TM_IN) || !pd->rd, "netpoll: two tasks wait to read one fd");
    tm_assert(!(events & TM_OUT) || !pd->wr, "netpoll: two tasks wait to write one fd");
    pd->fd = fd;
    if (events & TM_IN) pd->rd = &w;
    if (events & TM_OUT) pd->wr = &w;
    int r = arm(pd);
    if (r < 0) {
        int e = errno;
        if (pd->rd == &w) pd->rd = NULL;
        if (pd->wr == &w) pd->wr = NULL;
        tmi_spin_unlock(&pd->lock);
        errno = e == EPERM ? EINVAL : e; /* EPERM: a regular file; not pollable */
        return -1;
    }
    atomic_fetch_add_explicit(&tmi_netpoll_npending, 1, memory_order_relaxed);
    tmi_spin_unlock(&pd->lock);

    r = tm_park(&w, deadline);

    atomic_fetch_sub_explicit(&tmi_netpoll_npending, 1, memory_order_relaxed);
    tmi_spin_lock(&pd->lock);
    if (pd->rd == &w) pd->rd = NULL;
    if (pd->wr == &w) pd->wr = NULL;
    tmi_spin_unlock(&pd->lock);
    return r == 0 ? events : -1; /* the next syscall tells what exactly is ready */
}

int tmi_netpoll_poll(int64_t deadline)
{
    struct epoll_event evs[128];
    /* epoll_pwait2 takes a nanosecond timeout; epoll_wait's milliseconds
     * would make every timer up to 1 ms late. Older kernels: ENOSYS. */
    static _Atomic int no_pwait2;
    struct timespec ts, *tsp = NULL;
    int64_t left = 0;
    if (deadline >= 0) {
        left = deadline - tm_now();
        if (left < 0) left = 0;
        ts = (struct timespec){.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
        tsp = &ts;
    }
    int n = -1;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        n = epoll_pwait2(epfd, evs, 128, tsp, NULL);
        if (n < 0 && errno == ENOSYS) atomic_store(&no_pwait2, 1);
    }
    if (atomic_load_explicit(&no_pwait2, memory_order_relaxed))
        n = epoll_wait(epfd, evs, 128, deadline < 0 ? -1 : (int)((left + 999999) / 1000000));
    if (n < 0) return 0; /* EINTR: the caller loops */
    int readied = 0;
    for (int i = 0; i < n; i++) {
        struct pdesc *pd = evs[i].data.ptr;
        if (!pd) { /* the wake-up eventfd */
            uint64_t v;
            while (read(evfd, &v, sizeof v) > 0) {
            }
            continue;
        }
        uint32_t e = evs[i].events;
        struct tm_waiter *wake[2] = {NULL, NULL};
        tmi_spin_lock(&pd->lock);
        int in = (e & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0;
        int out = (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0;
        if (in && pd->rd) {
            wake[0] = pd->rd;
            pd->rd = NULL;
        }
        if (out && pd->wr) {
            if (pd->wr != wake[0]) wake[1] = pd->wr;
            pd->wr = NULL;
        }
        if (pd->rd || pd->wr) arm(pd); /* the other direction still waits */
        /* Claim under the lock: a parker that timed out takes the lock
         * before it returns, so its waiter is alive while we hold it. */
        for (int k = 0; k < 2; k++)
            if (wake[k] && !tm_waiter_claim(wake[k])) wake[k] = NULL;
        tmi_spin_unlock(&pd->lock);
        for (int k = 0; k < 2; k++)
            if (wake[k]) {
                tm_ready(wake[k]);
                readied++;
            }
    }
    TMI_TRACE_NETPOLL(readied);
    return readied;
}

void tmi_netpoll_wake(void)
{
    uint64_t one = 1;
    ssize_t r = write(evfd, &one, sizeof one);
    (void)r; /* EAGAIN: a wake-up is already pending */
}

