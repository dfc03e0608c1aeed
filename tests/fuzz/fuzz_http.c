/* fuzz_http.c — libFuzzer harness for the HTTP/1.1 request parser.
 * Checks, beyond "no crash, no out-of-bounds read" (ASan): a complete
 * request never claims more bytes than it was given, its target lies
 * inside the buffer, and parsing is a pure function of its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    if (!buf) return 0;
    memcpy(buf, data, size);
    struct wl_http_req a, b;
    long r = wl_http_parse(buf, size, &a);
    if (r > (long)size) abort();
    if (r > 0 && (a.path_off + a.path_len > (size_t)r || a.path_len == 0)) abort();
    if (r < 0 && r != -400 && r != -413 && r != -431 && r != -501 && r != -505) abort();
    if (wl_http_parse(buf, size, &b) != r || (r > 0 && memcmp(&a, &b, sizeof a) != 0)) abort();
    free(buf);
    return 0;
}
