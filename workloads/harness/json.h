/* json.h — a growable string builder and the JSON/CSV value writers.
 *
 * Allocation failure is sticky: the builder sets `oom`, stops growing, and
 * every later call is a no-op; check it once at the end.
 */
#ifndef TMI_JSON_H
#define TMI_JSON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct tmi_sb {
    char *buf;  /* NUL-terminated text, or NULL before the first write */
    size_t len; /* bytes used, excluding the NUL */
    size_t cap; /* bytes allocated */
    int oom;    /* 1 once an allocation has failed */
};

void tmi_sb_free(struct tmi_sb *sb);
void tmi_sb_reset(struct tmi_sb *sb); /* len = 0, keep the buffer */
void tmi_sb_putc(struct tmi_sb *sb, char c);
void tmi_sb_putn(struct tmi_sb *sb, const char *s, size_t n);
void tmi_sb_puts(struct tmi_sb *sb, const char *s);
void tmi_sb_printf(struct tmi_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty); valid until the next write. */
const char *tmi_sb_str(const struct tmi_sb *sb);

/* JSON values. Strings: quotes, backslash and control characters escaped,
 * other bytes (UTF-8 or not) copied as they are; NULL writes null.
 * Doubles: the shortest of %.15g/%.17g that reads back exactly; NaN and
 * infinities write null. */
void tmi_json_str(struct tmi_sb *sb, const char *s);
void tmi_json_dbl(struct tmi_sb *sb, double v);

/* A plain number as text (same rules as tmi_json_dbl, "" for NaN/inf). */
void tmi_fmt_dbl(struct tmi_sb *sb, double v);

/* One CSV field: quoted when it holds a comma, quote, CR/LF or edge space;
 * quotes doubled; CR and LF become spaces so one record is one line. */
void tmi_csv_field(struct tmi_sb *sb, const char *s);

#endif
