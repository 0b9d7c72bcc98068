/*
 * parquet_file.c — the Parquet sink's file system side (parquet_int.h):
 * the URI's path (ingestr's rule, sink_file_path) and parameters, temp
 * files beside the target, append's part names, and the atomic publish
 * (fsync, rename(2), fsync of the directory), as file.c does for CSV.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duckdb_feed.h"
#include "parquet_int.h"
#include "sink_int.h"

static const char *const codecs[] = { "uncompressed", "snappy", "gzip", "zstd", "lz4", "lz4_raw", "brotli", NULL };

/* One "key=value" of the query. */
static int param(pq_target *t, const char *kv, size_t n, char *err, size_t errcap)
{
    const char *eq = memchr(kv, '=', n);
    size_t kn = eq ? (size_t)(eq - kv) : n, vn = eq ? n - kn - 1 : 0;
    const char *v = eq ? eq + 1 : "";
    if (kn == 11 && !strncasecmp(kv, "compression", kn)) {
        for (size_t i = 0; codecs[i]; i++)
            if (strlen(codecs[i]) == vn && !strncasecmp(v, codecs[i], vn)) {
                snprintf(t->compression, sizeof t->compression, "%s", codecs[i]);
                return SINK_OK;
            }
        return sink__errf(err, errcap, SINK_E_URI,
                          "parquet: compression must be zstd, snappy, gzip, lz4, lz4_raw, brotli or uncompressed");
    }
    if (kn == 14 && !strncasecmp(kv, "row_group_size", kn)) {
        long x = 0;
        for (size_t i = 0; i < vn && x <= 1000000000L; i++) {
            if (v[i] < '0' || v[i] > '9')
                return sink__errf(err, errcap, SINK_E_URI, "parquet: row_group_size must be a number of rows");
            x = x * 10 + (v[i] - '0');
        }
        if (x < 1 || x > 1000000000L)
            return sink__errf(err, errcap, SINK_E_URI, "parquet: row_group_size must be 1 to 1000000000 rows");
        t->row_group_size = x;
        return SINK_OK;
    }
    if (kn == 7 && !strncasecmp(kv, "threads", kn)) {
        if (!(t->threads = sink__ddb_threads_value(v, vn)))
            return sink__errf(err, errcap, SINK_E_URI, "parquet: threads must be 1 to %d", SINK_DDB_MAX_THREADS);
        return SINK_OK;
    }
    return sink__errf(err, errcap, SINK_E_URI,
                      "parquet: unknown URI parameter '%.*s' (compression, row_group_size, threads)",
                      (int)(kn > 40 ? 40 : kn), kv);
}

int sink__pq_target(const char *target, pq_target *t, char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    t->threads = 1;
    snprintf(t->compression, sizeof t->compression, "zstd");
    size_t n = strlen(target);
    char *uri = sink__malloc(n + 11);
    if (!uri)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    memcpy(uri, "parquet://", 10);
    memcpy(uri + 10, target, n + 1);
    int rc = sink_file_path(uri, &t->path, err, errcap);
    free(uri);
    const char *q = strchr(target, '?');
    while (!rc && q && *q) {
        q++;
        size_t len = strcspn(q, "&#");
        if (len)
            rc = param(t, q, len, err, errcap);
        q += len;
        if (*q == '#')
            break;
    }
    if (rc)
        sink__pq_target_free(t);
    return rc;
}

void sink__pq_target_free(pq_target *t)
{
    free(t->path);
    t->path = NULL;
}

/* path split as dir ("" or with its '/'), stem and ext (".parquet" or ""). */
typedef struct pq_name {
    char *dir;
    const char *base;
    size_t stem_len;
    const char *ext;
} pq_name;

static bool split_name(const char *path, pq_name *nm)
{
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
    nm->dir = sink__malloc(dl + 2);
    if (!nm->dir)
        return false;
    memcpy(nm->dir, path, dl);
    nm->dir[dl] = '\0';
    nm->base = path + dl;
    size_t bl = strlen(nm->base);
    bool has_ext = bl > 8 && !strcasecmp(nm->base + bl - 8, ".parquet");
    nm->stem_len = has_ext ? bl - 8 : bl;
    nm->ext = has_ext ? nm->base + bl - 8 : "";
    return true;
}

/* The part number of file name f when it is a part of nm, else 0. */
static long part_number(const pq_name *nm, const char *f)
{
    if (strncmp(f, nm->base, nm->stem_len) || strncmp(f + nm->stem_len, ".part-", 6))
        return 0;
    const char *p = f + nm->stem_len + 6;
    long k = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++)
        k = k * 10 + (*p - '0');
    return digits && !strcmp(p, nm->ext) ? k : 0;
}

/* Calls fn on every part of path; returns the highest number. */
static long each_part(const char *path, void (*fn)(const char *dir, const char *f))
{
    pq_name nm;
    if (!split_name(path, &nm))
        return -1;
    DIR *dh = opendir(nm.dir[0] ? nm.dir : ".");
    long top = 0;
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        long k = part_number(&nm, e->d_name);
        if (k > top)
            top = k;
        if (k && fn)
            fn(nm.dir, e->d_name);
    }
    if (dh)
        closedir(dh);
    free(nm.dir);
    return top;
}

char *sink__pq_part_name(const char *path)
{
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return sink__strdup(path);
    long top = each_part(path, NULL);
    pq_name nm;
    if (top < 0 || !split_name(path, &nm))
        return NULL;
    size_t cap = strlen(path) + 32;
    char *out = sink__malloc(cap);
    if (out)
        snprintf(out, cap, "%s%.*s.part-%04ld%s", nm.dir, (int)nm.stem_len, nm.base, top + 1, nm.ext);
    free(nm.dir);
    return out;
}

static void remove_one(const char *dir, const char *f)
{
    size_t n = strlen(dir) + strlen(f) + 1;
    char *p = sink__malloc(n);
    if (!p)
        return;
    snprintf(p, n, "%s%s", dir, f);
    unlink(p);
    free(p);
}

void sink__pq_remove_parts(const char *path)
{
    (void)each_part(path, remove_one);
}

char *sink__pq_temp(const char *dest, char *err, size_t errcap)
{
    size_t n = strlen(dest);
    char *tmp = sink__malloc(n + 12);
    if (!tmp) {
        sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(tmp, dest, n);
    memcpy(tmp + n, ".tmp-XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sink__errf(err, errcap, SINK_E_IO, "cannot create a file beside %s: %s", dest, strerror(errno));
        free(tmp);
        return NULL;
    }
    /* mkstemp makes 0600; a finished file gets the usual 0666 & ~umask */
    mode_t um = umask(0);
    umask(um);
    fchmod(fd, 0666 & ~um);
    close(fd);
    return tmp;
}

int sink__pq_publish(const char *tmp, const char *dest, char *err, size_t errcap)
{
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return sink__errf(err, errcap, SINK_E_IO, "cannot write %s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, dest))
        return sink__errf(err, errcap, SINK_E_IO, "cannot rename into %s: %s", dest, strerror(errno));
    /* the rename itself survives a crash once the directory is synced */
    pq_name nm;
    if (split_name(dest, &nm)) {
        int dfd = open(nm.dir[0] ? nm.dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(nm.dir);
    }
    return SINK_OK;
}
