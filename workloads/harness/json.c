/* json.c — string builder and value escaping for the JSON and CSV writers. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tmi_sb_free(struct tmi_sb *sb)
{
    free(sb->buf);
    memset(sb, 0, sizeof *sb);
}

void tmi_sb_reset(struct tmi_sb *sb)
{
    sb->len = 0;
    if (sb->buf) sb->buf[0] = '\0';
}

/* Make room for n more bytes plus the NUL. 0, or -1 after setting oom. */
static int sb_grow(struct tmi_sb *sb, size_t n)
{
    if (sb->oom) return -1;
    if (sb->len + n + 1 <= sb->cap) return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + n + 1) {
        if (cap > SIZE_MAX / 2) {
            sb->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(sb->buf, cap);
    if (!p) {
        sb->oom = 1;
        return -1;
    }
    sb->buf = p;
    sb->cap = cap;
    return 0;
}

void tmi_sb_putn(struct tmi_sb *sb, const char *s, size_t n)
{
    if (sb_grow(sb, n) < 0) return;
    memcpy(sb->buf + sb->len, s, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void tmi_sb_putc(struct tmi_sb *sb, char c)
{
    tmi_sb_putn(sb, &c, 1);
}

void tmi_sb_puts(struct tmi_sb *sb, const char *s)
{
    tmi_sb_putn(sb, s, strlen(s));
}

void tmi_sb_printf(struct tmi_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[128];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        tmi_sb_putn(sb, small, (size_t)n);
        return;
    }
    if (sb_grow(sb, (size_t)n) < 0) return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

const char *tmi_sb_str(const struct tmi_sb *sb)
{
    return sb->buf ? sb->buf : "";
}

void tmi_json_str(struct tmi_sb *sb, const char *s)
{
    if (!s) {
        tmi_sb_puts(sb, "null");
        return;
    }
    tmi_sb_putc(sb, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            tmi_sb_puts(sb, "\\\"");
            break;
        case '\\':
            tmi_sb_puts(sb, "\\\\");
            break;
        case '\n':
            tmi_sb_puts(sb, "\\n");
            break;
        case '\r':
            tmi_sb_puts(sb, "\\r");
            break;
        case '\t':
            tmi_sb_puts(sb, "\\t");
            break;
        case '\b':
            tmi_sb_puts(sb, "\\b");
            break;
        case '\f':
            tmi_sb_puts(sb, "\\f");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                tmi_sb_printf(sb, "\\u%04x", *p);
            else
                tmi_sb_putc(sb, (char)*p);
        }
    }
    tmi_sb_putc(sb, '"');
}

void tmi_fmt_dbl(struct tmi_sb *sb, double v)
{
    if (!isfinite(v)) return;
    char buf[40];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, sizeof buf, "%.17g", v);
    tmi_sb_puts(sb, buf);
}

void tmi_json_dbl(struct tmi_sb *sb, double v)
{
    if (!isfinite(v))
        tmi_sb_puts(sb, "null");
    else
        tmi_fmt_dbl(sb, v);
}

void tmi_csv_field(struct tmi_sb *sb, const char *s)
{
    size_t n = strlen(s);
    int quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (const char *p = s; *p && !quote; p++)
        quote = *p == ',' || *p == '"' || *p == '\n' || *p == '\r';
    if (!quote) {
        tmi_sb_putn(sb, s, n);
        return;
    }
    tmi_sb_putc(sb, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            tmi_sb_puts(sb, "\"\"");
        else if (*p == '\n' || *p == '\r')
            tmi_sb_putc(sb, ' ');
        else
            tmi_sb_putc(sb, *p);
    }
    tmi_sb_putc(sb, '"');
}
