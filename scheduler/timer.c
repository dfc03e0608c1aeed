/* timer.c — deadline min-heap; see timer.h. */
#include "timer.h"

#include <errno.h>
#include <stdlib.h>

void tmi_timers_init(struct tmi_timers *h) { *h = (struct tmi_timers){0}; }

void tmi_timers_term(struct tmi_timers *h)
{
    free(h->heap);
    *h = (struct tmi_timers){0};
}

static void put(struct tmi_timers *h, int i, struct tmi_timer *t)
{
    h->heap[i] = t;
    t->slot = i;
}

static void sift_up(struct tmi_timers *h, int i)
{
    struct tmi_timer *t = h->heap[i];
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (h->heap[parent]->when <= t->when) break;
        put(h, i, h->heap[parent]);
        i = parent;
    }
    put(h, i, t);
}

static void sift_down(struct tmi_timers *h, int i)
{
    struct tmi_timer *t = h->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && h->heap[c + 1]->when < h->heap[c]->when) c++;
        if (h->heap[c]->when >= t->when) break;
        put(h, i, h->heap[c]);
        i = c;
    }
    put(h, i, t);
}

int tmi_timers_add(struct tmi_timers *h, struct tmi_timer *t)
{
    if (h->len == h->cap) {
        int cap = h->cap ? h->cap * 2 : 64;
        struct tmi_timer **n = realloc(h->heap, (size_t)cap * sizeof *n);
        if (!n) {
            errno = ENOMEM;
            return -1;
        }
        h->heap = n;
        h->cap = cap;
    }
    put(h, h->len++, t);
    sift_up(h, t->slot);
    return 0;
}

void tmi_timers_del(struct tmi_timers *h, struct tmi_timer *t)
{
    int i = t->slot;
    if (i < 0 || i >= h->len || h->heap[i] != t) return;
    t->slot = -1;
    struct tmi_timer *last = h->heap[--h->len];
    if (i == h->len) return;
    put(h, i, last);
    sift_down(h, i);
    sift_up(h, last->slot);
}

struct tmi_timer *tmi_timers_pop_due(struct tmi_timers *h, int64_t now)
{
    if (h->len == 0 || h->heap[0]->when > now) return NULL;
    struct tmi_timer *t = h->heap[0];
    tmi_timers_del(h, t);
    return t;
}
