/* http.c — a strict, small HTTP/1.1 request parser (see http.h).
 *
 * Accepts what a benchmark client or a browser sends: a request line
 * "METHOD SP target SP HTTP/1.x CRLF", header lines "name: value CRLF",
 * an empty line, and an optional body of Content-Length bytes. Refuses
 * everything else rather than guess: bare LF line ends, control bytes,
 * NUL, spaces in names, duplicate or malformed Content-Length, negative
 * or huge lengths, Transfer-Encoding (no chunked bodies), oversized heads.
 */
#include "http.h"

#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Find CRLF at or after from; -1 if the head is incomplete. A bare LF or
 * CR, or a control byte, is an error (-2). */
static long find_crlf(const char *b, size_t len, size_t from)
{
    for (size_t i = from; i < len; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c == '\r') {
            if (i + 1 == len) return -1;
            return b[i + 1] == '\n' ? (long)i : -2;
        }
        if (c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f) return -2;
    }
    return -1;
}

static int header_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

static int value_has(const char *v, size_t n, const char *token)
{
    size_t t = strlen(token);
    for (size_t i = 0; i + t <= n; i++)
        if (strncasecmp(v + i, token, t) == 0) return 1;
    return 0;
}

long wl_http_parse(const char *b, size_t len, struct wl_http_req *req)
{
    memset(req, 0, sizeof *req);
    size_t scan = len < WL_HTTP_MAX_HEAD ? len : WL_HTTP_MAX_HEAD;
    long eol = find_crlf(b, scan, 0);
    if (eol == -2) return -400;
    if (eol == -1) return len >= WL_HTTP_MAX_HEAD ? -431 : 0;

    /* request line: METHOD SP target SP HTTP/1.x */
    size_t i = 0, line = (size_t)eol;
    while (i < line && is_tchar((unsigned char)b[i])) i++;
    if (i == 0 || i >= line || b[i] != ' ') return -400;
    req->method_get = (i == 3 && memcmp(b, "GET", 3) == 0) || (i == 4 && memcmp(b, "HEAD", 4) == 0);
    req->head = i == 4 && memcmp(b, "HEAD", 4) == 0;
    size_t t0 = ++i;
    while (i < line && b[i] != ' ') {
        if ((unsigned char)b[i] <= 0x20) return -400;
        i++;
    }
    if (i == t0 || i >= line) return -400;
    req->path_off = t0;
    req->path_len = i - t0;
    i++;
    /* exactly HTTP/d.d; a well-formed other version is 505, the rest 400 */
    const char *v = b + i;
    if (line - i != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return -400;
    char minor = v[7];
    if (v[5] != '1' || (minor != '0' && minor != '1')) return -505;
    req->keep_alive = minor == '1';

    /* headers */
    int have_len = 0;
    size_t pos = line + 2;
    for (;;) {
        eol = find_crlf(b, scan, pos);
        if (eol == -2) return -400;
        if (eol == -1) return len >= WL_HTTP_MAX_HEAD ? -431 : 0;
        size_t end = (size_t)eol;
        if (end == pos) { /* empty line: end of head */
            pos += 2;
            break;
        }
        size_t n = pos;
        while (n < end && is_tchar((unsigned char)b[n])) n++;
        if (n == pos || n >= end || b[n] != ':') return -400;
        const char *name = b + pos;
        size_t nlen = n - pos;
        size_t v = n + 1;
        while (v < end && (b[v] == ' ' || b[v] == '\t')) v++;
        size_t vend = end;
        while (vend > v && (b[vend - 1] == ' ' || b[vend - 1] == '\t')) vend--;
        if (header_is(name, nlen, "content-length")) {
            if (have_len || v == vend) return -400;
            size_t val = 0;
            for (size_t k = v; k < vend; k++) {
                if (b[k] < '0' || b[k] > '9') return -400;
                if (val > WL_HTTP_MAX_BODY) return -413;
                val = val * 10 + (size_t)(b[k] - '0');
            }
            if (val > WL_HTTP_MAX_BODY) return -413;
            req->body_len = val;
            have_len = 1;
        } else if (header_is(name, nlen, "transfer-encoding")) {
            return -501;
        } else if (header_is(name, nlen, "connection")) {
            if (value_has(b + v, vend - v, "close")) req->keep_alive = 0;
            if (value_has(b + v, vend - v, "keep-alive")) req->keep_alive = 1;
        }
        pos = end + 2;
    }
    if (len - pos < req->body_len) return 0;
    return (long)(pos + req->body_len);
}
