/* test_http.c — the HTTP/1.1 request parser: what it accepts, what it
 * refuses and with which status, and that it never reads past the buffer
 * (every prefix of every case is parsed too; ASan would catch a read past
 * the end). */
#include <stdlib.h>

#include "http.h"
#include "check.h"

struct want {
    const char *req;
    long result; /* > 0: complete, its size is strlen(req); 0 incomplete; < 0 refused */
    int keep_alive, head;
};

static const struct want cases[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 1, 0},
    {"HEAD /x HTTP/1.1\r\n\r\n", 1, 1, 1},
    {"GET / HTTP/1.0\r\n\r\n", 1, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 1, 1, 0},
    {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 1, 0, 0},
    {"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 1, 1, 0},
    {"GET / HTTP/1.1\r\nX-Tab:\tv \r\n\r\n", 1, 1, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\n", 0, 0, 0},
    {"GET / HTT", 0, 0, 0},
    {"", 0, 0, 0},
    {"GET / HTTP/1.1\nHost: a\n\n", -400, 0, 0},          /* bare LF */
    {"GET  / HTTP/1.1\r\n\r\n", -400, 0, 0},              /* empty target */
    {"GET / HTTP/1.1 x\r\n\r\n", -400, 0, 0},
    {"G@T / HTTP/1.1\r\n\r\n", -400, 0, 0},               /* not a token */
    {"GET / HTTP/2.0\r\n\r\n", -505, 0, 0},
    {"GET / HTTP/1.7\r\n\r\n", -505, 0, 0},
    {"GET / FTP/1.1\r\n\r\n", -400, 0, 0},
    {"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", -400, 0, 0},
    {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", -400, 0, 0},
    {"GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", -400, 0, 0}, /* control byte */
    {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", -400, 0, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -400, 0, 0},
    {"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", -400, 0, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", -400, 0, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", -413, 0, 0},
    {"GET / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", -413, 0, 0},
    {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -501, 0, 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct want *w = &cases[i];
        size_t len = strlen(w->req);
        struct wl_http_req req;
        /* exactly sized copies, so ASan sees any read past the end */
        char *buf = malloc(len + 1);
        memcpy(buf, w->req, len + 1);
        long got = wl_http_parse(buf, len, &req);
        long want = w->result > 0 ? (long)len : w->result;
        if (got != want) fprintf(stderr, "case %zu: %s\n", i, w->req);
        CHECK_EQ(got, want);
        if (got > 0) {
            CHECK_EQ(req.keep_alive, w->keep_alive);
            CHECK_EQ(req.head, w->head);
        }
        for (size_t k = 0; k < len; k++) { /* no prefix crashes; complete ones need all */
            char *p = malloc(k ? k : 1);
            memcpy(p, w->req, k);
            long r = wl_http_parse(p, k, &req);
            CHECK(r <= (long)k);
            free(p);
        }
        free(buf);
    }
    /* pipelined: the first request's size, not the buffer's */
    const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    struct wl_http_req req;
    CHECK_EQ(wl_http_parse(two, strlen(two), &req), 19);
    CHECK_EQ(req.path_len, 2);
    /* a head that never ends: 431 once it passes the limit, NUL included */
    char *big = malloc(WL_HTTP_MAX_HEAD + 100);
    memcpy(big, "GET / HTTP/1.1\r\n", 16);
    for (size_t k = 16; k < WL_HTTP_MAX_HEAD + 100; k++) big[k] = 'a';
    CHECK_EQ(wl_http_parse(big, WL_HTTP_MAX_HEAD + 100, &req), -431);
    memset(big, 0, WL_HTTP_MAX_HEAD + 100);
    CHECK_EQ(wl_http_parse(big, WL_HTTP_MAX_HEAD + 100, &req), -400);
    free(big);
    printf("ok http\n");
    return 0;
}
