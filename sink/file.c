/*
 * file.c — atomic output files for the CSV and JSONL sinks, and the path
 * a file URI names (ingestr's rule: everything after "scheme://" up to
 * '?', percent-decoded: "csv:///tmp/x.csv" is /tmp/x.csv, "csv://x.csv"
 * is relative; DuckDB and SQLite keep SQLAlchemy's rule in their sinks).
 *
 * A load writes "<target>.tmp-XXXXXX" in the target's directory, so the
 * final rename(2) is atomic on the same file system; the target is never
 * opened for writing. Missing directories on the way are created first,
 * as ingestr does (os.MkdirAll); a load that fails removes those it
 * created, so the file system is as it was. gzip goes through zlib's gzdopen on the temp file's
 * descriptor; for append, the old bytes are copied first and the new rows
 * form a further gzip member (concatenated members are one valid stream).
 * The bytes themselves are written by file_write.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "file_int.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sink__path_decode(const char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (p[i] != '%') {
            out[o++] = p[i];
        } else if (i + 2 < n && (h = hexval((unsigned char)p[i + 1])) >= 0 &&
                   (l = hexval((unsigned char)p[i + 2])) >= 0) {
            if (h == 0 && l == 0)
                return -1;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            memcpy(out, p, n); /* not an escape: nothing is decoded */
            o = n;
            break;
        }
    }
    out[o] = '\0';
    return 0;
}

/* target: the URI after "scheme://". */
static int path_of(const char *target, char **out, char *err, size_t errcap)
{
    size_t n = strcspn(target, "?");
    *out = NULL;
    if (!n)
        return sink__errf(err, errcap, SINK_E_URI,
                          "the URI names no file (csv:///abs/out.csv is absolute, csv://out.csv relative)");
    if (target[n - 1] == '/')
        return sink__errf(err, errcap, SINK_E_URI, "the URI's path names a directory, not a file");
    char *p = sink__malloc(n + 1);
    if (!p)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    if (sink__path_decode(target, n, p)) {
        free(p);
        return sink__errf(err, errcap, SINK_E_URI, "the URI's file path holds an escaped NUL (%%00)");
    }
    *out = p;
    return SINK_OK;
}

int sink_file_path(const char *uri, char **out, char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = '\0';
    const char *sep = uri ? strstr(uri, "://") : NULL;
    if (!out)
        return sink__errf(err, errcap, SINK_E_ARG, "no output");
    *out = NULL;
    if (!sep)
        return sink__errf(err, errcap, SINK_E_URI, "the URI has no scheme:// part");
    return path_of(sep + 3, out, err, errcap);
}

int sink__file_init(sink_file *f, const char *target, const sink_options *o,
                    char *err, size_t errcap)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    int rc = path_of(target, &f->path, err, errcap);
    if (rc)
        return rc;
    size_t n = strlen(f->path);
    f->gz = n > 3 && strcmp(f->path + n - 3, ".gz") == 0;
    f->level = o->gzip_level >= 1 && o->gzip_level <= 9 ? o->gzip_level : 6;
    return SINK_OK;
}

static int copy_old(sink *s, sink_file *f)
{
    int in = open(f->path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT)
            return SINK_OK;
        return sink__fail(s, SINK_E_IO, "cannot read %s: %s", f->path, strerror(errno));
    }
    char buf[65536];
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(in);
            return sink__fail(s, SINK_E_IO, "cannot read %s: %s", f->path, strerror(e));
        }
        if (r == 0)
            break;
        f->had_data = true;
        for (ssize_t o = 0; o < r;) {
            ssize_t w = write(f->fd, buf + o, (size_t)(r - o));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int e = errno;
                close(in);
                return sink__fail(s, SINK_E_IO, "cannot write %s: %s", f->tmp, strerror(e));
            }
            o += w;
        }
    }
    close(in);
    return SINK_OK;
}

/* Removes the directories this load made, deepest first, while they are
 * empty (a file someone else put there keeps its directory). */
static void remove_made(sink_file *f)
{
    sink__remove_dirs(f->made, f->made_top);
    f->made = NULL;
    f->made_top = 0;
}

/* The target's missing directories, top down (os.MkdirAll's effect);
 * f->made keeps the directory's path when any was made. */
static int make_parents(sink *s, sink_file *f)
{
    char err[512];
    int rc = sink__make_dirs(f->path, &f->made, &f->made_top, err, sizeof err);
    return rc ? sink__fail(s, rc, "%s", err) : SINK_OK;
}

int sink__file_start(sink *s, sink_file *f, bool append)
{
    sink__file_abort(f);
    f->had_data = false;
    f->out.len = 0;
    int mrc = make_parents(s, f);
    if (mrc)
        return mrc;
    size_t n = strlen(f->path);
    f->tmp = sink__malloc(n + 16);
    if (!f->tmp)
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    memcpy(f->tmp, f->path, n);
    memcpy(f->tmp + n, ".tmp-XXXXXX", 12);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) {
        int e = errno;
        free(f->tmp);
        f->tmp = NULL;
        return sink__fail(s, SINK_E_IO, "cannot create a file beside %s: %s", f->path, strerror(e));
    }
    /* mkstemp makes 0600; a finished file gets the usual 0666 & ~umask. */
    mode_t um = umask(0);
    umask(um);
    fchmod(f->fd, 0666 & ~um);
    int rc = append ? copy_old(s, f) : SINK_OK;
    if (rc)
        return rc;
    if (f->gz) {
        char mode[8];
        snprintf(mode, sizeof mode, "wb%d", f->level);
        int dupfd = dup(f->fd);
        if (dupfd < 0 || !(f->gzf = gzdopen(dupfd, mode))) {
            if (dupfd >= 0)
                close(dupfd);
            return sink__fail(s, SINK_E_IO, "cannot start gzip output for %s", f->path);
        }
        gzbuffer(f->gzf, 256 * 1024);
    }
    return SINK_OK;
}

int sink__file_flush(sink *s, sink_file *f, size_t min)
{
    if (f->out.len < min || !f->out.len)
        return SINK_OK;
    /* A load that fills a whole buffer is a big one: its writes move to
     * a thread of their own (file_write.c); a small one never starts it. */
    if (!f->w && min > 0)
        sink__file_writer_start(f);
    return f->w ? sink__file_writer_post(s, f) : sink__file_write_now(s, f);
}

int sink__file_commit(sink *s, sink_file *f)
{
    int rc = sink__file_flush(s, f, 0);
    int wrc = sink__file_writer_stop(s, f);
    if (rc || wrc)
        return rc ? rc : wrc;
    if (f->gzf) {
        int zr = gzclose(f->gzf);
        f->gzf = NULL;
        if (zr != Z_OK)
            return sink__fail(s, SINK_E_IO, "cannot finish gzip output %s", f->tmp);
    }
    if (fsync(f->fd) || close(f->fd)) {
        f->fd = -1;
        return sink__fail(s, SINK_E_IO, "cannot write %s: %s", f->tmp, strerror(errno));
    }
    f->fd = -1;
    if (rename(f->tmp, f->path))
        return sink__fail(s, SINK_E_IO, "cannot rename into %s: %s", f->path, strerror(errno));
    free(f->tmp);
    f->tmp = NULL;
    free(f->made); /* the directories stay with the file */
    f->made = NULL;
    f->made_top = 0;
    /* the rename itself survives a crash once the directory is synced */
    char *slash = strrchr(f->path, '/');
    int dfd;
    if (slash == f->path) {
        dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else if (slash) {
        *slash = '\0';
        dfd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *slash = '/';
    } else {
        dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return SINK_OK;
}

void sink__file_abort(sink_file *f)
{
    sink__file_writer_stop(NULL, f);
    if (f->gzf) {
        gzclose(f->gzf);
        f->gzf = NULL;
    }
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
    if (f->tmp) {
        unlink(f->tmp);
        free(f->tmp);
        f->tmp = NULL;
    }
    remove_made(f);
    f->out.len = 0;
}

void sink__file_free(sink_file *f)
{
    sink__file_abort(f);
    free(f->path);
    f->path = NULL;
    sink__buf_free(&f->out);
}

int sink__db_path(const char *target, bool decode, char **out)
{
    const char *p = target + (target[0] == '/');
    size_t n = strcspn(p, "?");
    *out = NULL;
    if (!n)
        return SINK_E_URI;
    char *path = sink__malloc(n + 1);
    if (!path)
        return SINK_E_NOMEM;
    if (!decode) {
        memcpy(path, p, n);
        path[n] = '\0';
    } else if (sink__path_decode(p, n, path) || !path[0]) {
        free(path);
        return SINK_E_URI;
    }
    *out = path;
    return SINK_OK;
}

char *sink_db_file(const char *uri)
{
    bool duck = !strncasecmp(uri, "duckdb://", 9);
    char *path = NULL;
    if ((duck || !strncasecmp(uri, "sqlite://", 9)) && sink__db_path(uri + 9, duck, &path))
        return NULL;
    return path;
}
