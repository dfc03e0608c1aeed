/* chan.h — Go-style channels and select for tasks.
 *
 * Written once in scheduler/chan.c on the waiter seam of tm.h. A channel
 * carries fixed-size elements; capacity 0 makes it unbuffered (every send
 * meets a receive). A sender that finds a parked receiver copies straight
 * into the receiver's buffer and readies it, as Go does.
 */
#ifndef TM_CHAN_H
#define TM_CHAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct tm_chan; /* opaque */

/* Make a channel of elements of elem_size bytes (1..65536) holding up to cap
 * buffered elements. Returns NULL on failure. Errors: EINVAL, ENOMEM. */
struct tm_chan *tm_chan_make(size_t elem_size, size_t cap);

/* Free ch. No task may be using it. */
void tm_chan_free(struct tm_chan *ch);

/* Send one element. Errors: EPIPE ch is closed (also when it closes while
 * the sender waits), ETIMEDOUT. */
int tm_chan_send(struct tm_chan *ch, const void *elem, int64_t deadline);

/* Receive one element into elem (may be NULL to drop it). Buffered elements
 * are still delivered after close. Errors: EPIPE closed and empty,
 * ETIMEDOUT. */
int tm_chan_recv(struct tm_chan *ch, void *elem, int64_t deadline);

/* Close ch: wakes every parked receiver (EPIPE) and sender (EPIPE).
 * Errors: EPIPE already closed. */
int tm_chan_close(struct tm_chan *ch);

/* Elements buffered now (a snapshot). */
size_t tm_chan_len(struct tm_chan *ch);

enum tm_select_op { TM_SELECT_SEND = 1, TM_SELECT_RECV = 2 };

struct tm_select_case {
    struct tm_chan *ch;    /* the channel; NULL cases are ignored */
    enum tm_select_op op;  /* send or receive */
    void *elem;            /* element to send, or buffer to receive into (may be NULL) */
    int err;               /* out: 0, or EPIPE when the case fired because ch is closed */
};

/* Wait until one case can proceed, perform it and return its index. Among
 * cases ready at the same time, each is chosen with equal probability.
 * A deadline of 0 is Go's `default:`: return at once if none is ready.
 * Errors: ETIMEDOUT (no case fired), EINVAL (n < 0 or > 64). */
int tm_select(struct tm_select_case *cases, int n, int64_t deadline);

#ifdef __cplusplus
}
#endif

#endif
