/* record.c — building a result record and writing it as JSON. */
#include "record.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void tmi_rec_free(struct tmi_rec *r)
{
    for (int i = 0; i < r->n; i++) {
        free(r->f[i].name);
        if (r->f[i].type == TMI_F_STR) free(r->f[i].v.s);
    }
    free(r->f);
    memset(r, 0, sizeof *r);
}

/* Append a field with a copy of name; NULL (and oom set) on failure. */
static struct tmi_field *add(struct tmi_rec *r, const char *group, const char *name,
                             enum tmi_ftype type)
{
    if (r->oom) return NULL;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        struct tmi_field *f = realloc(r->f, (size_t)cap * sizeof *f);
        if (!f) {
            r->oom = 1;
            return NULL;
        }
        r->f = f;
        r->cap = cap;
    }
    struct tmi_field *f = &r->f[r->n];
    memset(f, 0, sizeof *f);
    f->group = group;
    f->type = type;
    if (name && !(f->name = strdup(name))) {
        r->oom = 1;
        return NULL;
    }
    r->n++;
    return f;
}

void tmi_rec_group(struct tmi_rec *r, const char *group)
{
    add(r, group, NULL, TMI_F_GROUP);
}

void tmi_rec_null(struct tmi_rec *r, const char *group, const char *name)
{
    add(r, group, name, TMI_F_NULL);
}

void tmi_rec_bool(struct tmi_rec *r, const char *group, const char *name, int b)
{
    struct tmi_field *f = add(r, group, name, TMI_F_BOOL);
    if (f) f->v.b = !!b;
}

void tmi_rec_i64(struct tmi_rec *r, const char *group, const char *name, int64_t v)
{
    struct tmi_field *f = add(r, group, name, TMI_F_I64);
    if (f) f->v.i = v;
}

void tmi_rec_u64(struct tmi_rec *r, const char *group, const char *name, uint64_t v)
{
    struct tmi_field *f = add(r, group, name, TMI_F_U64);
    if (f) f->v.u = v;
}

void tmi_rec_dbl(struct tmi_rec *r, const char *group, const char *name, double v)
{
    struct tmi_field *f = add(r, group, name, TMI_F_DBL);
    if (f) f->v.d = v;
}

void tmi_rec_str(struct tmi_rec *r, const char *group, const char *name, const char *s)
{
    if (!s) {
        tmi_rec_null(r, group, name);
        return;
    }
    char *copy = strdup(s);
    if (!copy) {
        r->oom = 1;
        return;
    }
    struct tmi_field *f = add(r, group, name, TMI_F_STR);
    if (f)
        f->v.s = copy;
    else
        free(copy);
}

static int same_group(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

const struct tmi_field *tmi_rec_get(const struct tmi_rec *r, const char *group, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (r->f[i].name && same_group(r->f[i].group, group) && strcmp(r->f[i].name, name) == 0)
            return &r->f[i];
    return NULL;
}

static void json_value(const struct tmi_field *f, struct tmi_sb *sb)
{
    switch (f->type) {
    case TMI_F_GROUP:
    case TMI_F_NULL:
        tmi_sb_puts(sb, "null");
        break;
    case TMI_F_BOOL:
        tmi_sb_puts(sb, f->v.b ? "true" : "false");
        break;
    case TMI_F_I64:
        tmi_sb_printf(sb, "%" PRId64, f->v.i);
        break;
    case TMI_F_U64:
        tmi_sb_printf(sb, "%" PRIu64, f->v.u);
        break;
    case TMI_F_DBL:
        tmi_json_dbl(sb, f->v.d);
        break;
    case TMI_F_STR:
        tmi_json_str(sb, f->v.s);
        break;
    }
}

void tmi_rec_json(const struct tmi_rec *r, struct tmi_sb *sb)
{
    const char *open = NULL; /* the group whose object is open */
    int first = 1;           /* no member written yet at the current level */
    tmi_sb_putc(sb, '{');
    for (int i = 0; i < r->n; i++) {
        const struct tmi_field *f = &r->f[i];
        if (!same_group(f->group, open)) {
            if (open) tmi_sb_putc(sb, '}');
            if (open) first = 0;
            open = NULL;
            if (f->group) {
                if (!first) tmi_sb_putc(sb, ',');
                tmi_json_str(sb, f->group);
                tmi_sb_puts(sb, ":{");
                open = f->group;
                first = 1;
            }
        }
        if (!f->name) continue;
        if (!first) tmi_sb_putc(sb, ',');
        first = 0;
        tmi_json_str(sb, f->name);
        tmi_sb_putc(sb, ':');
        json_value(f, sb);
    }
    if (open) tmi_sb_putc(sb, '}');
    tmi_sb_putc(sb, '}');
}

void tmi_field_column(const struct tmi_field *f, struct tmi_sb *sb)
{
    if (f->group) {
        tmi_sb_puts(sb, f->group);
        tmi_sb_putc(sb, '.');
    }
    tmi_sb_puts(sb, f->name ? f->name : "");
}

void tmi_field_text(const struct tmi_field *f, struct tmi_sb *sb)
{
    switch (f->type) {
    case TMI_F_GROUP:
    case TMI_F_NULL:
        break;
    case TMI_F_DBL:
        tmi_fmt_dbl(sb, f->v.d);
        break;
    case TMI_F_STR:
        tmi_sb_puts(sb, f->v.s);
        break;
    default:
        json_value(f, sb);
    }
}
