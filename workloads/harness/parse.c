/* parse.c — numbers and workload parameters as the CLI accepts them.
 *
 * Integers are exact: "1e6", "2.5k" and "1_000_000" are read as decimal
 * digits times a power of ten, never through a double, and must come out
 * whole ("1.5" and "1e-3" are errors, not rounded).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Suffixes: decimal ones add to the power of ten, binary ones shift. */
static const struct {
    const char *s; /* suffix text */
    int exp10;     /* times 10^exp10 */
    int shift;     /* times 2^shift */
} suffixes[] = {
    {"k", 3, 0},   {"K", 3, 0},   {"M", 6, 0},   {"G", 9, 0},   {"T", 12, 0},
    {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40},
};

static int fail(int e)
{
    errno = e;
    return -1;
}

int tmi_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    uint64_t mant = 0; /* all digits, ignoring the point */
    int ndig = 0;      /* digits seen */
    int frac = 0;      /* digits after the point */
    int dot = 0;       /* a point was seen */
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            unsigned d = (unsigned)(*p - '0');
            if (mant > (UINT64_MAX - d) / 10) return fail(ERANGE);
            mant = mant * 10 + d;
            ndig++;
            frac += dot;
        } else if (*p == '_' && p > s && isdigit((unsigned char)p[-1]) &&
                   isdigit((unsigned char)p[1])) {
            continue; /* digit separator */
        } else if (*p == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (ndig == 0) return fail(EINVAL);
    int exp10 = 0, shift = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        int eneg = 0, edig = 0, e = 0;
        if (*p == '+' || *p == '-') eneg = *p++ == '-';
        for (; isdigit((unsigned char)*p); p++, edig++)
            if (e < 1000) e = e * 10 + (*p - '0');
        if (edig == 0) return fail(EINVAL);
        exp10 = eneg ? -e : e;
    }
    if (*p) {
        size_t i, n = sizeof suffixes / sizeof suffixes[0];
        for (i = 0; i < n && strcmp(p, suffixes[i].s) != 0; i++)
            ;
        if (i == n) return fail(EINVAL);
        exp10 += suffixes[i].exp10;
        shift = suffixes[i].shift;
    }
    for (exp10 -= frac; exp10 < 0; exp10++) {
        if (mant % 10) return fail(EINVAL); /* not a whole number */
        mant /= 10;
    }
    for (; exp10 > 0 && mant; exp10--) {
        if (mant > UINT64_MAX / 10) return fail(ERANGE);
        mant *= 10;
    }
    if (shift && mant > (UINT64_MAX >> shift)) return fail(ERANGE);
    mant <<= shift;
    if (mant > (uint64_t)INT64_MAX + (uint64_t)neg) return fail(ERANGE);
    *out = neg ? (int64_t)(0 - mant) : (int64_t)mant;
    return 0;
}

int tmi_enum_count(const char *choices)
{
    int n = 1;
    for (const char *p = choices; p && *p; p++)
        n += *p == '|';
    return n;
}

const char *tmi_enum_name(const char *choices, int64_t i, char *buf, size_t bufsz)
{
    const char *p = choices ? choices : "";
    for (; i > 0 && p; i--) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || i < 0) p = "?";
    snprintf(buf, bufsz, "%.*s", (int)strcspn(p, "|"), p);
    return buf;
}

void tmi_param_defaults(const struct tm_workload_ops *wl, int64_t *param)
{
    memset(param, 0, TMI_MAX_PARAMS * sizeof *param);
    for (int i = 0; i < wl->nparams && i < TMI_MAX_PARAMS; i++) {
        const struct tm_param_def *d = &wl->params[i];
        if (d->type == TM_PARAM_ENUM) /* "the first is the default": def is an index, normally 0 */
            param[i] = d->def >= 0 && d->def < tmi_enum_count(d->choices) ? d->def : 0;
        else
            param[i] = d->def;
    }
}

/* "n, cutoff" for messages. */
static void param_names(const struct tm_workload_ops *wl, char *buf, size_t bufsz)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < wl->nparams && len < bufsz; i++)
        len += (size_t)snprintf(buf + len, bufsz - len, "%s%s", i ? ", " : "", wl->params[i].name);
    if (wl->nparams == 0) snprintf(buf, bufsz, "none");
}

static int param_set(const struct tm_workload_ops *wl, int64_t *param, const char *kv, char *err,
                  size_t errsz)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errsz, "--set '%s': expected key=value", kv);
        return -1;
    }
    int klen = (int)(eq - kv);
    const char *val = eq + 1;
    int i;
    for (i = 0; i < wl->nparams; i++)
        if ((int)strlen(wl->params[i].name) == klen &&
            strncmp(wl->params[i].name, kv, (size_t)klen) == 0)
            break;
    if (i == wl->nparams || i >= TMI_MAX_PARAMS) {
        char names[256];
        param_names(wl, names, sizeof names);
        snprintf(err, errsz, "--set %s: workload '%s' has no parameter '%.*s' (parameters: %s)", kv,
                 wl->name, klen, kv, names);
        return -1;
    }
    const struct tm_param_def *d = &wl->params[i];
    if (d->type == TM_PARAM_ENUM) {
        int n = tmi_enum_count(d->choices);
        char word[64];
        for (int c = 0; c < n; c++) {
            if (strcmp(tmi_enum_name(d->choices, c, word, sizeof word), val) == 0) {
                param[i] = c;
                return 0;
            }
        }
        snprintf(err, errsz, "--set %s: '%s' is not one of %s", kv, val, d->choices);
        return -1;
    }
    int64_t v = 0;
    int rc = tmi_parse_int(val, &v);
    if (rc != 0 && errno == EINVAL) {
        snprintf(err, errsz, "--set %s: '%s' is not a whole number", kv, val);
        return -1;
    }
    if (rc != 0 || v < d->min || v > d->max) {
        snprintf(err, errsz, "--set %s: %s of %s must be in %" PRId64 "..%" PRId64, kv, d->name,
                 wl->name, d->min, d->max);
        return -1;
    }
    param[i] = v;
    return 0;
}

int tmi_param_set(const struct tm_workload_ops *wl, int64_t *param, const char *kv, char *err,
                  size_t errsz)
{
    int rc = param_set(wl, param, kv, err, errsz);
    if (rc != 0) tmi_one_line(err); /* kv may hold a newline: the error stays one line */
    return rc;
}
