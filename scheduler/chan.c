/* chan.c — channels and select, written once on the waiter seam.
 *
 * Design. A channel is a ring of `cap` elements plus two queues of parked
 * parties (senders, receivers), all under one spin lock. A parked party is
 * a `struct sel_node` on its own stack; it belongs to a `struct sel_wait`
 * that holds the task's one waiter. A plain send or receive is a wait
 * with one node; a select parks one node per case, all sharing one waiter.
 * Whoever pops a node must win tm_waiter_claim() before touching it: the
 * winner moves the element (straight into or out of the parked party's
 * buffer, as Go does), records which case fired, and readies the task after
 * dropping the lock. A node whose claim fails belongs to a wait that ended
 * elsewhere and is dropped. A woken select takes its other nodes off their
 * queues itself.
 *
 * Invariants: the ring is non-empty only if no receiver is parked; a
 * sender is parked only if the ring is full; after close no party parks.
 * Select locks its channels in address order, so two selects over the same
 * channels cannot deadlock. Among the cases ready at once select picks one
 * uniformly, by checking them in a random order.
 *
 * Rejected: a lock-free ring for the buffered fast path (Go does not either:
 * close and parked parties need the lock anyway, and the uncontended spin
 * lock is two atomic operations); waking the party while holding the lock
 * (a pthreads futex wake inside the critical section stretches it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tm/chan.h"
#include "tm/tm.h"
#include "tmi.h"

struct sel_wait {
    struct tm_waiter w; /* one per wait; claim decides who ends it */
    int fired;          /* index of the case that fired; written by the claimant */
    int err;            /* 0 or EPIPE; written by the claimant */
};

struct sel_node {
    struct tmi_link link; /* on a channel queue; guarded by the channel lock */
    struct sel_wait *sw;  /* the wait this node belongs to */
    void *elem;           /* element to send / buffer to receive into */
    int index;            /* case index within the wait */
};

struct nodeq {
    struct tmi_link *head, *tail; /* FIFO of sel_node.link */
};

struct tm_chan {
    _Atomic int lock;     /* tmi_spin lock over everything below */
    int closed;           /* set once by tm_chan_close */
    size_t elem_size;     /* bytes per element */
    size_t cap;           /* ring capacity; 0 = unbuffered */
    size_t head, count;   /* ring: oldest element index, elements held */
    struct nodeq sendq;   /* parked senders */
    struct nodeq recvq;   /* parked receivers */
    unsigned char ring[]; /* cap * elem_size bytes */
};

static void q_push(struct nodeq *q, struct sel_node *n) { tmi_link_push(&q->head, &q->tail, &n->link); }

static void q_remove(struct nodeq *q, struct sel_node *n)
{
    tmi_link_remove(&q->head, &q->tail, &n->link);
}

/* Pop parked parties until one is claimed; NULL if none. */
static struct sel_node *q_claim(struct nodeq *q)
{
    while (q->head) {
        struct sel_node *n = tmi_container_of(q->head, struct sel_node, link);
        q_remove(q, n);
        if (tm_waiter_claim(&n->sw->w)) return n;
    }
    return NULL;
}

/* End a claimed party's wait: record the case and the error. The caller
 * readies it after unlocking. */
static void fire(struct sel_node *n, int err)
{
    n->sw->fired = n->index;
    n->sw->err = err;
}

static inline void copy_elem(struct tm_chan *ch, void *dst, const void *src)
{
    if (!dst || !src) return;
    switch (ch->elem_size) { /* fixed sizes compile to one move; the rest call memcpy */
    case 8: memcpy(dst, src, 8); break;
    case 4: memcpy(dst, src, 4); break;
    case 16: memcpy(dst, src, 16); break;
    default: memcpy(dst, src, ch->elem_size);
    }
}

static unsigned char *slot(struct tm_chan *ch, size_t i)
{
    return ch->ring + ((ch->head + i) % ch->cap) * ch->elem_size;
}

struct tm_chan *tm_chan_make(size_t elem_size, size_t cap)
{
    if (elem_size == 0 || elem_size > 65536 || cap > ((size_t)1 << 32)) {
        errno = EINVAL;
        return NULL;
    }
    struct tm_chan *ch = calloc(1, sizeof *ch + elem_size * cap);
    if (!ch) return NULL;
    atomic_init(&ch->lock, 0);
    ch->elem_size = elem_size;
    ch->cap = cap;
    return ch;
}

void tm_chan_free(struct tm_chan *ch) { free(ch); }

size_t tm_chan_len(struct tm_chan *ch)
{
    tmi_spin_lock(&ch->lock);
    size_t n = ch->count;
    tmi_spin_unlock(&ch->lock);
    return n;
}

/* ---- the two operations, with ch->lock held ----
 * Each returns 1 if it completed (with *wake set to a claimed party to
 * ready after unlocking, or NULL) and *err set, or 0 if it would block. */

static int try_send(struct tm_chan *ch, const void *elem, struct sel_node **wake, int *err)
{
    *wake = NULL;
    if (ch->closed) {
        *err = EPIPE;
        return 1;
    }
    *err = 0;
    struct sel_node *r = q_claim(&ch->recvq);
    if (r) { /* a parked receiver means the ring is empty: hand over directly */
        copy_elem(ch, r->elem, elem);
        fire(r, 0);
        *wake = r;
        return 1;
    }
    if (ch->count < ch->cap) {
        copy_elem(ch, slot(ch, ch->count), elem);
        ch->count++;
        return 1;
    }
    return 0;
}

static int try_recv(struct tm_chan *ch, void *elem, struct sel_node **wake, int *err)
{
    *wake = NULL;
    *err = 0;
    if (ch->count > 0) {
        copy_elem(ch, elem, slot(ch, 0));
        ch->head = (ch->head + 1) % ch->cap;
        ch->count--;
        struct sel_node *s = q_claim(&ch->sendq);
        if (s) { /* the ring was full: move the oldest parked sender in */
            copy_elem(ch, slot(ch, ch->count), s->elem);
            ch->count++;
            fire(s, 0);
            *wake = s;
        }
        return 1;
    }
    struct sel_node *s = q_claim(&ch->sendq);
    if (s) { /* unbuffered: take straight from the sender */
        copy_elem(ch, elem, s->elem);
        fire(s, 0);
        *wake = s;
        return 1;
    }
    if (ch->closed) {
        *err = EPIPE;
        return 1;
    }
    return 0;
}

static int finish(int err)
{
    if (err == 0) return 0;
    errno = err;
    return -1;
}

/* The queue a party waiting for op parks on. */
static inline struct nodeq *queue_for(struct tm_chan *ch, enum tm_select_op op)
{
    return op == TM_SELECT_SEND ? &ch->sendq : &ch->recvq;
}

/* One-channel wait shared by send and receive: park n on q, then sort out
 * how the wait ended. */
static int park_one(struct tm_chan *ch, struct nodeq *q, void *elem, int64_t deadline)
{
    struct sel_wait sw = {.fired = -1};
    struct sel_node n = {.sw = &sw, .elem = elem, .index = 0};
    tm_waiter_init(&sw.w);
    q_push(q, &n);
    tmi_spin_unlock(&ch->lock);
    if (tm_park(&sw.w, deadline) != 0) {
        tmi_spin_lock(&ch->lock);
        q_remove(q, &n);
        tmi_spin_unlock(&ch->lock);
        return -1; /* errno ETIMEDOUT from tm_park */
    }
    return finish(sw.err);
}

/* Try op under the lock; done (or deadline 0): wake the counterpart after
 * unlocking; otherwise park on op's queue. op is a constant at each call
 * site, so the compiler folds the choices away. */
static inline int chan_op(struct tm_chan *ch, enum tm_select_op op, void *elem, int64_t deadline)
{
    struct sel_node *wake;
    int err;
    tmi_spin_lock(&ch->lock);
    int done = op == TM_SELECT_SEND ? try_send(ch, elem, &wake, &err)
                                    : try_recv(ch, elem, &wake, &err);
    if (!done && deadline != 0) return park_one(ch, queue_for(ch, op), elem, deadline);
    tmi_spin_unlock(&ch->lock);
    if (!done) return finish(ETIMEDOUT);
    if (wake) tm_ready(&wake->sw->w);
    return finish(err);
}

int tm_chan_send(struct tm_chan *ch, const void *elem, int64_t deadline)
{
    return chan_op(ch, TM_SELECT_SEND, (void *)elem, deadline);
}

int tm_chan_recv(struct tm_chan *ch, void *elem, int64_t deadline)
{
    return chan_op(ch, TM_SELECT_RECV, elem, deadline);
}

int tm_chan_close(struct tm_chan *ch)
{
    struct sel_node *woken = NULL, *n;
    tmi_spin_lock(&ch->lock);
    if (ch->closed) {
        tmi_spin_unlock(&ch->lock);
        return finish(EPIPE);
    }
    ch->closed = 1;
    /* Collect every parked party; `next` is free once a node is off its
     * queue, and a claimed node stays valid until its tm_ready. */
    while ((n = q_claim(&ch->recvq)) || (n = q_claim(&ch->sendq))) {
        fire(n, EPIPE);
        n->link.next = woken ? &woken->link : NULL;
        woken = n;
    }
    tmi_spin_unlock(&ch->lock);
    while (woken) {
        n = woken;
        woken = n->link.next ? tmi_container_of(n->link.next, struct sel_node, link) : NULL;
        tm_ready(&n->sw->w);
    }
    return 0;
}

/* ---- select ---- */

enum { MAX_CASES = 64 };

/* Lock each distinct channel of the cases once, in address order. */
static int sorted_chans(struct tm_select_case *c, int n, struct tm_chan **out)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!c[i].ch) continue;
        int j = k;
        while (j > 0 && out[j - 1] > c[i].ch) j--;
        if (j > 0 && out[j - 1] == c[i].ch) continue;
        memmove(out + j + 1, out + j, (size_t)(k - j) * sizeof *out);
        out[j] = c[i].ch;
        k++;
    }
    return k;
}

static void lock_all(struct tm_chan **chs, int k)
{
    for (int i = 0; i < k; i++) tmi_spin_lock(&chs[i]->lock);
}

static void unlock_all(struct tm_chan **chs, int k)
{
    for (int i = k - 1; i >= 0; i--) tmi_spin_unlock(&chs[i]->lock);
}

int tm_select(struct tm_select_case *cases, int n, int64_t deadline)
{
    if (n < 0 || n > MAX_CASES) {
        errno = EINVAL;
        return -1;
    }
    struct tm_chan *chs[MAX_CASES];
    int order[MAX_CASES];
    int k = sorted_chans(cases, n, chs);
    /* Random poll order (Fisher-Yates) makes the choice among ready
     * cases uniform. */
    for (int i = 0; i < n; i++) {
        int j = (int)(tmi_rand() % (uint64_t)(i + 1));
        order[i] = order[j];
        order[j] = i;
    }

    lock_all(chs, k);
    for (int o = 0; o < n; o++) {
        struct tm_select_case *c = &cases[order[o]];
        struct sel_node *wake;
        int err, done;
        if (!c->ch) continue;
        if (c->op == TM_SELECT_SEND)
            done = try_send(c->ch, c->elem, &wake, &err);
        else
            done = try_recv(c->ch, c->elem, &wake, &err);
        if (done) {
            unlock_all(chs, k);
            if (wake) tm_ready(&wake->sw->w);
            c->err = err;
            return order[o];
        }
    }
    if (deadline == 0 || k == 0) {
        unlock_all(chs, k);
        if (k == 0 && deadline < 0) { /* select{} with no cases: block forever, as Go */
            struct tm_waiter w;
            tm_waiter_init(&w);
            tm_park(&w, -1);
        }
        if (k == 0 && deadline > 0) tm_sleep_until(deadline);
        errno = ETIMEDOUT;
        return -1;
    }

    struct sel_wait sw = {.fired = -1};
    struct sel_node nodes[MAX_CASES];
    tm_waiter_init(&sw.w);
    for (int i = 0; i < n; i++) {
        nodes[i] = (struct sel_node){.sw = &sw, .elem = cases[i].elem, .index = i};
        if (!cases[i].ch) continue;
        q_push(queue_for(cases[i].ch, cases[i].op), &nodes[i]);
    }
    unlock_all(chs, k);

    int r = tm_park(&sw.w, deadline);

    lock_all(chs, k);
    for (int i = 0; i < n; i++)
        if (cases[i].ch)
            q_remove(queue_for(cases[i].ch, cases[i].op), &nodes[i]);
    unlock_all(chs, k);
    if (r != 0) return -1; /* ETIMEDOUT */
    cases[sw.fired].err = sw.err;
    return sw.fired;
}
