/* out.c — writing records: to a stream, and appended to -o FILE.
 *
 * -o FILE appends atomically: under an flock on FILE's directory (so two
 * tmbench runs writing to one directory serialise), read what FILE holds,
 * write old + new to FILE.tmp.<pid> in the same directory, fsync, rename
 * over FILE, fsync the directory. A reader never sees half a record, and a
 * crash leaves either the old file or the new one (plus at worst a stray
 * .tmp file). FILE ending in ".csv" gets CSV (a header only when it was
 * empty or new; when new records bring new columns, the header is widened
 * and older rows padded); anything else gets JSON Lines.
 *
 * Rejected: O_APPEND writes (not atomic for CSV header changes, and a torn
 * line is possible on a full disk); a separate lock file (litter).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"
#include "harness.h"

/* The directory part of path ("." when there is none). */
static void dir_of(const char *path, char *buf, size_t bufsz)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, bufsz, ".");
    else if (slash == path)
        snprintf(buf, bufsz, "/");
    else
        snprintf(buf, bufsz, "%.*s", (int)(slash - path), path);
}

int tmi_out_check(const char *path, const char *what, char *err, size_t errsz)
{
    char dir[4096];
    struct stat st;
    int is_o = strcmp(what, "-o") == 0;
    if (!path[0]) {
        snprintf(err, errsz, "%s: empty file name", what);
        return -1;
    }
    if (strlen(path) >= sizeof dir - 32) {
        snprintf(err, errsz, "%s: file name too long", what);
        return -1;
    }
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, errsz, "%s %s: is a directory", what, path);
        return -1;
    }
    if (exists && is_o && !S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s %s: not a regular file", what, path);
        return -1;
    }
    if (exists && access(path, is_o ? R_OK | W_OK : W_OK) != 0) {
        snprintf(err, errsz, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (exists && !is_o) return 0; /* the model writes the trace in place */
    char real[PATH_MAX];
    if (exists && realpath(path, real))
        path = real; /* a symlink: the target is what gets replaced */
    dir_of(path, dir, sizeof dir);
    if (stat(dir, &st) != 0 && errno == ENOENT) {
        snprintf(err, errsz, "%s %s: directory '%s' does not exist", what, path, dir);
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
        int e = errno ? errno : ENOTDIR;
        if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) e = ENOTDIR;
        snprintf(err, errsz, "%s %s: directory '%s' is not writable: %s", what, path, dir,
                 strerror(e));
        return -1;
    }
    return 0;
}

static int ends_with_csv(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".csv") == 0;
}

/* Read all of fd into sb. 0 or -1. */
static int read_all(int fd, struct tmi_sb *sb)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        if (n == 0) return sb->oom ? (errno = ENOMEM, -1) : 0;
        tmi_sb_putn(sb, buf, (size_t)n);
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int blank(const struct tmi_sb *sb)
{
    for (size_t i = 0; i < sb->len; i++)
        if (sb->buf[i] != ' ' && sb->buf[i] != '\n' && sb->buf[i] != '\r' && sb->buf[i] != '\t')
            return 0;
    return 1;
}

/* The new content of the file: old followed by recs. */
static void compose(struct tmi_sb *out, const struct tmi_sb *old, int csv,
                    const struct tmi_rec *recs, int n)
{
    if (!csv) {
        tmi_sb_putn(out, tmi_sb_str(old), old->len);
        if (old->len && old->buf[old->len - 1] != '\n') tmi_sb_putc(out, '\n');
        for (int i = 0; i < n; i++) {
            tmi_rec_json(&recs[i], out);
            tmi_sb_putc(out, '\n');
        }
        return;
    }
    struct tmi_cols cols = {0};
    if (blank(old)) {
        for (int i = 0; i < n; i++)
            tmi_cols_add_rec(&cols, &recs[i]);
        tmi_csv_header(out, &cols);
    } else {
        const char *text = old->buf;
        const char *nl = memchr(text, '\n', old->len);
        size_t hlen = nl ? (size_t)(nl - text) : old->len;
        if (hlen && text[hlen - 1] == '\r') hlen--;
        tmi_cols_parse(&cols, text, hlen);
        int had = cols.n;
        for (int i = 0; i < n; i++)
            tmi_cols_add_rec(&cols, &recs[i]);
        if (cols.n > had) {
            tmi_csv_widen(out, text, old->len, had, &cols);
        } else {
            tmi_sb_putn(out, text, old->len);
            if (text[old->len - 1] != '\n') tmi_sb_putc(out, '\n');
        }
    }
    for (int i = 0; i < n; i++)
        tmi_csv_row(out, &cols, &recs[i]);
    if (cols.oom) out->oom = 1;
    tmi_cols_free(&cols);
}

int tmi_out_append(const char *path, const struct tmi_rec *recs, int n, char *err, size_t errsz)
{
    char dir[4096], tmp[4200];
    struct tmi_sb old = {0}, out = {0};
    struct stat st;
    int have_mode = 0, rc = -1, tfd = -1;
    const char *step = "open";
    const char *shown = path; /* as the user wrote it, for messages */
    char real[PATH_MAX];
    if (realpath(path, real)) path = real; /* write through a symlink instead of replacing it */

    dir_of(path, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) flock(dfd, LOCK_EX); /* best effort: serialises tmbench writers */

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) goto fail;
    if (fd >= 0) {
        step = "read";
        have_mode = fstat(fd, &st) == 0;
        int r = read_all(fd, &old);
        close(fd);
        if (r < 0) goto fail;
    }
    compose(&out, &old, ends_with_csv(path), recs, n);
    if (out.oom) {
        errno = ENOMEM;
        goto fail;
    }
    step = "create temporary file";
    tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (tfd < 0) goto fail;
    if (have_mode) fchmod(tfd, st.st_mode & 07777);
    step = "write";
    if (write_all(tfd, tmi_sb_str(&out), out.len) < 0) goto fail_unlink;
    step = "fsync";
    if (fsync(tfd) < 0) goto fail_unlink;
    step = "close";
    int c = close(tfd);
    tfd = -1;
    if (c < 0) goto fail_unlink;
    step = "rename";
    if (rename(tmp, path) < 0) goto fail_unlink;
    if (dfd >= 0) fsync(dfd);
    rc = 0;
    goto done;

fail_unlink : {
    int e = errno;
    if (tfd >= 0) close(tfd);
    unlink(tmp);
    errno = e;
}
fail:
    snprintf(err, errsz, "-o %s: %s: %s", shown, step, strerror(errno));
done:
    if (dfd >= 0) close(dfd); /* drops the flock */
    tmi_sb_free(&old);
    tmi_sb_free(&out);
    return rc;
}

int tmi_out_stream(FILE *f, enum tmi_format fmt, const struct tmi_rec *recs, int n)
{
    struct tmi_sb sb = {0};
    if (fmt == TMI_FMT_CSV) {
        struct tmi_cols cols = {0};
        for (int i = 0; i < n; i++)
            tmi_cols_add_rec(&cols, &recs[i]);
        tmi_csv_header(&sb, &cols);
        for (int i = 0; i < n; i++)
            tmi_csv_row(&sb, &cols, &recs[i]);
        if (cols.oom) sb.oom = 1;
        tmi_cols_free(&cols);
    } else {
        for (int i = 0; i < n; i++) {
            tmi_rec_json(&recs[i], &sb);
            tmi_sb_putc(&sb, '\n');
        }
    }
    int rc = sb.oom ? -1 : 0;
    if (rc == 0 && sb.len && fwrite(sb.buf, 1, sb.len, f) != sb.len) rc = -1;
    if (fflush(f) != 0) rc = -1;
    tmi_sb_free(&sb);
    return rc;
}
