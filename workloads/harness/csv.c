/* csv.c — flattening records into CSV columns and rows. */
#include "csv.h"

#include <stdlib.h>
#include <string.h>

void tmi_cols_free(struct tmi_cols *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->name[i]);
    free(c->name);
    memset(c, 0, sizeof *c);
}

int tmi_cols_find(const struct tmi_cols *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->name[i], name) == 0) return i;
    return -1;
}

/* Append name (taking ownership) or free it on failure. */
static void cols_push(struct tmi_cols *c, char *name)
{
    if (!name || c->oom) {
        c->oom = 1;
        free(name);
        return;
    }
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        char **p = realloc(c->name, (size_t)cap * sizeof *p);
        if (!p) {
            c->oom = 1;
            free(name);
            return;
        }
        c->name = p;
        c->cap = cap;
    }
    c->name[c->n++] = name;
}

void tmi_cols_add_rec(struct tmi_cols *c, const struct tmi_rec *rec)
{
    struct tmi_sb col = {0};
    for (int i = 0; i < rec->n; i++) {
        if (!rec->f[i].name) continue;
        tmi_sb_reset(&col);
        tmi_field_column(&rec->f[i], &col);
        if (col.oom) {
            c->oom = 1;
            break;
        }
        if (tmi_cols_find(c, tmi_sb_str(&col)) < 0) cols_push(c, strdup(tmi_sb_str(&col)));
    }
    tmi_sb_free(&col);
}

void tmi_cols_parse(struct tmi_cols *c, const char *line, size_t len)
{
    struct tmi_sb cell = {0};
    size_t i = 0;
    for (;;) {
        tmi_sb_reset(&cell);
        tmi_sb_puts(&cell, ""); /* make the buffer exist for empty cells */
        if (i < len && line[i] == '"') {
            for (i++; i < len; i++) {
                if (line[i] == '"' && i + 1 < len && line[i + 1] == '"')
                    tmi_sb_putc(&cell, line[i++]);
                else if (line[i] == '"')
                    break;
                else
                    tmi_sb_putc(&cell, line[i]);
            }
            while (i < len && line[i] != ',')
                i++;
        } else {
            size_t start = i;
            while (i < len && line[i] != ',')
                i++;
            tmi_sb_putn(&cell, line + start, i - start);
        }
        if (cell.oom) {
            c->oom = 1;
            break;
        }
        cols_push(c, strdup(tmi_sb_str(&cell)));
        if (i >= len) break;
        i++; /* the comma */
    }
    tmi_sb_free(&cell);
}

void tmi_csv_header(struct tmi_sb *sb, const struct tmi_cols *c)
{
    for (int i = 0; i < c->n; i++) {
        if (i) tmi_sb_putc(sb, ',');
        tmi_csv_field(sb, c->name[i]);
    }
    tmi_sb_putc(sb, '\n');
}

void tmi_csv_row(struct tmi_sb *sb, const struct tmi_cols *c, const struct tmi_rec *rec)
{
    struct tmi_sb tmp = {0};
    /* cell[i] = the record field for column i, found by one pass per field */
    const struct tmi_field **cell = calloc((size_t)(c->n ? c->n : 1), sizeof *cell);
    if (!cell) {
        sb->oom = 1;
        return;
    }
    for (int i = 0; i < rec->n; i++) {
        if (!rec->f[i].name) continue;
        tmi_sb_reset(&tmp);
        tmi_field_column(&rec->f[i], &tmp);
        int k = tmi_cols_find(c, tmi_sb_str(&tmp));
        if (k >= 0) cell[k] = &rec->f[i];
    }
    for (int k = 0; k < c->n; k++) {
        if (k) tmi_sb_putc(sb, ',');
        if (!cell[k]) continue;
        tmi_sb_reset(&tmp);
        tmi_field_text(cell[k], &tmp);
        tmi_csv_field(sb, tmi_sb_str(&tmp));
    }
    tmi_sb_putc(sb, '\n');
    if (tmp.oom) sb->oom = 1;
    tmi_sb_free(&tmp);
    free(cell);
}

void tmi_csv_widen(struct tmi_sb *sb, const char *text, size_t len, int old,
                   const struct tmi_cols *cols)
{
    tmi_csv_header(sb, cols);
    const char *end = text + len;
    const char *p = memchr(text, '\n', len);
    p = p ? p + 1 : end; /* skip the old header */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t n = (size_t)(stop - p);
        if (n && p[n - 1] == '\r') n--;
        if (n) { /* blank lines stay dropped */
            tmi_sb_putn(sb, p, n);
            for (int i = old; i < cols->n; i++)
                tmi_sb_putc(sb, ',');
            tmi_sb_putc(sb, '\n');
        }
        p = nl ? nl + 1 : end;
    }
}
