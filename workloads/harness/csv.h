/* csv.h — flat CSV rows for result records.
 *
 * Columns are the records' value fields in order of first appearance, nested
 * ones flattened to "group.name" (machine.cpu_model, latency_ns.p99,
 * params.n, metrics.steals). A record lacking a column leaves its cell empty,
 * as does a null. One record is always one line (CR/LF in text become spaces),
 * which is what lets tmi_csv_widen() add columns to an existing file.
 */
#ifndef TMI_CSV_H
#define TMI_CSV_H

#include "json.h"
#include "record.h"

struct tmi_cols {
    char **name; /* column names, owned */
    int n, cap;  /* used and allocated */
    int oom;     /* 1 once an allocation failed */
};

void tmi_cols_free(struct tmi_cols *c);
int tmi_cols_find(const struct tmi_cols *c, const char *name); /* index or -1 */
/* Add every value column of rec that c lacks, at the end. */
void tmi_cols_add_rec(struct tmi_cols *c, const struct tmi_rec *rec);
/* Parse one CSV header line (without its newline) into c. */
void tmi_cols_parse(struct tmi_cols *c, const char *line, size_t len);

void tmi_csv_header(struct tmi_sb *sb, const struct tmi_cols *c);
void tmi_csv_row(struct tmi_sb *sb, const struct tmi_cols *c, const struct tmi_rec *rec);

/* Rewrite existing CSV text (whose header had `old` columns) for a header
 * with `cols` (old first, then more): the new header line, then every old
 * row with empty cells appended. */
void tmi_csv_widen(struct tmi_sb *sb, const char *text, size_t len, int old,
                   const struct tmi_cols *cols);

#endif
