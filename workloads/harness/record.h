/* record.h — one result record (DESIGN.md §4) as an ordered list of fields.
 *
 * A field has an optional group ("params", "metrics", "latency_ns",
 * "machine", "build") and a name. JSON nests a group as an object; CSV
 * flattens it to the column "group.name". Fields of one group must be
 * added contiguously; tmi_rec_group() opens a group explicitly so that an
 * empty one still appears in JSON as {}.
 */
#ifndef TMI_RECORD_H
#define TMI_RECORD_H

#include <stdint.h>

#include "json.h"

enum tmi_ftype {
    TMI_F_GROUP, /* marker: the group begins (no value) */
    TMI_F_NULL,
    TMI_F_BOOL,
    TMI_F_I64,
    TMI_F_U64,
    TMI_F_DBL, /* NaN/inf print as null */
    TMI_F_STR, /* NULL prints as null */
};

struct tmi_field {
    const char *group;   /* static string, or NULL for top level */
    char *name;          /* owned copy; NULL for a group marker */
    enum tmi_ftype type; /* which member below is valid */
    union {
        int b;      /* TMI_F_BOOL */
        int64_t i;  /* TMI_F_I64 */
        uint64_t u; /* TMI_F_U64 */
        double d;   /* TMI_F_DBL */
        char *s;    /* TMI_F_STR, owned copy or NULL */
    } v;
};

struct tmi_rec {
    struct tmi_field *f; /* fields in output order */
    int n, cap;          /* used and allocated */
    int oom;             /* 1 once an allocation failed; the record is incomplete */
};

void tmi_rec_free(struct tmi_rec *r);
void tmi_rec_group(struct tmi_rec *r, const char *group);
void tmi_rec_null(struct tmi_rec *r, const char *group, const char *name);
void tmi_rec_bool(struct tmi_rec *r, const char *group, const char *name, int b);
void tmi_rec_i64(struct tmi_rec *r, const char *group, const char *name, int64_t v);
void tmi_rec_u64(struct tmi_rec *r, const char *group, const char *name, uint64_t v);
void tmi_rec_dbl(struct tmi_rec *r, const char *group, const char *name, double v);
void tmi_rec_str(struct tmi_rec *r, const char *group, const char *name, const char *s);

/* The field called group.name (group may be NULL), or NULL. */
const struct tmi_field *tmi_rec_get(const struct tmi_rec *r, const char *group, const char *name);

/* The record as one line of JSON (no newline). */
void tmi_rec_json(const struct tmi_rec *r, struct tmi_sb *sb);

/* A value field's CSV column name ("group.name") and cell text (unquoted;
 * "" for null). */
void tmi_field_column(const struct tmi_field *f, struct tmi_sb *sb);
void tmi_field_text(const struct tmi_field *f, struct tmi_sb *sb);

#endif
