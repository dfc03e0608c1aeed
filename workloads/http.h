/* http.h — the HTTP/1.1 request parser behind the http workload and
 * `tmbench serve -w http`. Pure: no IO, no allocation, so it can be fuzzed.
 */
#ifndef WL_HTTP_H
#define WL_HTTP_H

#include <stddef.h>
#include <stdint.h>

enum {
    WL_HTTP_MAX_HEAD = 8192,   /* request line + headers; more is 431 */
    WL_HTTP_MAX_BODY = 1 << 20 /* Content-Length above this is 413 */
};

struct wl_http_req {
    int method_get;      /* 1 for GET/HEAD, 0 for others (answered the same) */
    int head;            /* 1 for HEAD: no body in the response */
    int keep_alive;      /* HTTP/1.1 default, or Connection: keep-alive on 1.0 */
    size_t path_off;     /* the target, as an offset/length into the buffer */
    size_t path_len;
    size_t body_len;     /* Content-Length (no chunked bodies) */
};

/* Parse one request from buf[0..len). Returns the request's total size
 * (head + body) when it is complete, 0 when more bytes are needed, or a
 * negative HTTP status for a request that must be refused and the
 * connection closed: -400 malformed, -413 body too large, -431 head too
 * large, -501 Transfer-Encoding, -505 not HTTP/1.x. */
long wl_http_parse(const char *buf, size_t len, struct wl_http_req *req);

#endif
