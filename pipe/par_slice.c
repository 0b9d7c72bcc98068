/*
 * par_slice.c — scale-out slices (docs/scale-out.md): one process of n
 * (--partition-index i --partition-count n, or a Kubernetes Indexed Job's
 * JOB_COMPLETION_INDEX) reads the windows k with k mod n = i of the plan
 * every process computes alike (par_read.c), into a part of its own named
 * by the run id: a part file next to a file destination, or a table
 * "<dest-table>__tdspipe_<run>_<i>" (replaced by the slice's load) in a
 * database. tdspipe_finalize() checks that every part was committed and,
 * for plain CSV and JSONL, joins them into the destination file in one
 * rename, or in a database makes them the destination table in one
 * transaction (sink_slices_finalize).
 * Invariant: a part exists only once its slice committed (file sinks write
 * a temporary file and rename it at commit; a database load commits its
 * table in its transaction), so a killed slice leaves nothing a finalize
 * could take for done, and its rerun replaces only its own part.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load_int.h" /* pipe_redact_uri */
#include "par_int.h"
#include "tds_ascii.h"

static const char *const file_schemes[] = {"csv://", "jsonl://", "ndjson://", "parquet://", NULL};

static bool is_file_uri(const char *uri)
{
    for (size_t i = 0; file_schemes[i]; i++)
        if (!tds_ascii_ncasecmp(uri, file_schemes[i], strlen(file_schemes[i])))
            return true;
    return false;
}

static bool run_id_ok(const char *r)
{
    if (!r || !*r || strlen(r) > 100)
        return false;
    for (; *r; r++)
        if (!((*r >= 'a' && *r <= 'z') || (*r >= 'A' && *r <= 'Z') || (*r >= '0' && *r <= '9') || strchr("._-", *r)))
            return false;
    return true;
}

int pipe_slice_check(const tdspipe_load_opts *o, tdspipe_error *err)
{
    if (o->slice_count <= 1)
        return o->slice_index ? pipe__fail(err, TDSPIPE_E_USAGE, "--partition-index needs --partition-count") : 0;
    if (o->slice_index >= o->slice_count)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--partition-index must be below --partition-count (%u)", o->slice_count);
    if (!run_id_ok(o->run_id))
        return pipe__fail(err, TDSPIPE_E_USAGE, "--partition-count needs --run-id: letters, digits, '.', '_' or '-' "
                                                "(at most 100), the same in every slice");
    if (!is_file_uri(o->dest_uri) && !o->dest_table)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--partition-count with a database destination needs --dest-table "
                                                "(the slices' tables are named after it)");
    if (o->sql_limit > 0)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--sql-limit cannot be combined with --partition-count");
    return 0;
}

/* Where in the URI text the part's name goes: before the file's extension
 * (".csv", ".csv.gz", ".jsonl", ".parquet", …), else at the path's end. */
static size_t insert_at(const char *uri)
{
    size_t end = strcspn(uri, "?");
    const char *sep = strstr(uri, "://");
    size_t base = sep ? (size_t)(sep - uri) + 3 : 0;
    for (size_t i = base; i < end; i++)
        if (uri[i] == '/')
            base = i + 1;
    static const char *const ext[] = {".csv.gz", ".jsonl.gz", ".ndjson.gz", ".csv", ".jsonl", ".ndjson",
                                      ".parquet", ".gz", NULL};
    for (size_t k = 0; ext[k]; k++) {
        size_t l = strlen(ext[k]);
        if (end - base > l && !tds_ascii_ncasecmp(uri + end - l, ext[k], l))
            return end - l;
    }
    return end;
}

char *pipe_slice_table(const char *table, const char *run_id, unsigned index)
{
    size_t len = strlen(table) + strlen(run_id) + 32;
    char *out = malloc(len);
    if (!out)
        return NULL;
    snprintf(out, len, "%s__tdspipe_%s_%u", table, run_id, index);
    for (char *p = out + strlen(table); *p; p++) /* '.' would split "schema.table" */
        if (*p == '.' || *p == '-')
            *p = '_';
    return out;
}

bool pipe_slice_is_file(const char *uri) { return is_file_uri(uri); }

char *pipe_slice_uri(const char *uri, const char *run_id, unsigned index, unsigned count)
{
    size_t at = insert_at(uri), len = strlen(uri) + strlen(run_id) + 48;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%.*s.%s.part-%05u-of-%05u%s", (int)at, uri, run_id, index, count, uri + at);
    return out;
}

/* --------------------------------------------------------- finalize */

/* A killed slice leaves its sink's "<part>.tmp-XXXXXX": removed once the
 * run is complete. */
static void remove_stale(const char *part)
{
    const char *slash = strrchr(part, '/');
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - part) : 1, slash ? part : ".");
    const char *base = slash ? slash + 1 : part;
    size_t bl = strlen(base);
    DIR *d = opendir(slash && slash == part ? "/" : dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, base, bl) && !strncmp(e->d_name + bl, ".tmp-", 5)) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", slash && slash == part ? "" : dir, e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
}

/* Appends src to f; skip_line: leave out its first line (a CSV header,
 * checked to equal header). 0 or -1. */
static int append_part(FILE *f, const char *src, bool skip_line, char *header, size_t hcap, bool first)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return -1;
    int rc = 0;
    if (skip_line) {
        char line[8192];
        if (!fgets(line, sizeof line, in))
            line[0] = '\0';
        if (first)
            snprintf(header, hcap, "%s", line);
        else if (strcmp(line, header))
            rc = -1; /* the slices were not made alike */
        if (first && !rc)
            fputs(line, f);
    }
    char buf[65536];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, in)) > 0)
        rc = fwrite(buf, 1, n, f) == n ? 0 : -1;
    rc |= ferror(in) ? -1 : 0;
    fclose(in);
    return rc;
}

/* The parts joined into path through a temporary file and one rename;
 * the parts are removed after it. */
static int join_parts(const char *path, char *const *parts, unsigned n, bool csv, tdspipe_error *err)
{
    size_t len = strlen(path) + 16;
    char *tmp = malloc(len), header[8192] = "";
    if (!tmp)
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    snprintf(tmp, len, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    int rc = f ? 0 : -1;
    for (unsigned i = 0; !rc && i < n; i++)
        rc = append_part(f, parts[i], csv, header, sizeof header, i == 0);
    if (f && (fflush(f) || fsync(fileno(f))))
        rc = -1;
    if (f)
        fclose(f);
    else if (fd >= 0)
        close(fd);
    if (!rc && rename(tmp, path))
        rc = -1;
    if (rc) {
        unlink(tmp);
        free(tmp);
        return pipe__fail(err, TDSPIPE_E_LOAD, "finalize: joining the parts into the destination failed (%s)",
                          errno ? strerror(errno) : "their headers differ");
    }
    free(tmp);
    for (unsigned i = 0; i < n; i++)
        unlink(parts[i]);
    return 0;
}

/* A database destination: the slices' tables become the destination
 * table in one transaction (sink_slices_finalize). */
static int finalize_tables(const tdspipe_load_opts *o, const char *run_id, tdspipe_error *err)
{
    if (!o->dest_table)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--finalize with a database destination needs --dest-table");
    if (o->incremental_predicate && o->incremental_predicate[0])
        return pipe__fail(err, TDSPIPE_E_USAGE, "--finalize does not take --incremental-predicate");
    unsigned n = o->slice_count;
    char **parts = calloc(n, sizeof *parts), why[600] = "";
    int rc = parts ? 0 : pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    for (unsigned i = 0; !rc && i < n; i++)
        if (!(parts[i] = pipe_slice_table(o->dest_table, run_id, i)))
            rc = pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    sink *sk = NULL;
    sink_options so;
    memset(&so, 0, sizeof so);
    so.duckdb_lib = o->duckdb_lib;
    if (!rc && (rc = sink_open(o->dest_uri, &so, &sk, why, sizeof why)))
        rc = pipe__fail(err, rc == SINK_E_URI ? TDSPIPE_E_USAGE : TDSPIPE_E_LOAD, "finalize %s: %s", run_id,
                        why[0] ? why : sink_strerror(rc));
    sink_strategy st = o->full_refresh ? SINK_REPLACE : o->strategy;
    if (!rc && (rc = sink_slices_finalize(sk, o->dest_table, (const char *const *)parts, n, st, o->primary_keys,
                                          o->nprimary_keys)))
        rc = pipe__fail(err, rc == SINK_E_UNSUPPORTED ? TDSPIPE_E_USAGE : TDSPIPE_E_LOAD, "finalize %s: %s%s", run_id,
                        sink_errmsg(sk), strstr(sink_errmsg(sk), "not committed") ? "; run them, then finalize again" : "");
    sink_close(sk);
    for (unsigned i = 0; parts && i < n; i++)
        free(parts[i]);
    free(parts);
    if (err)
        pipe_redact_uri(err->message, o->dest_uri);
    return rc;
}

int tdspipe_finalize(const tdspipe_load_opts *o, const char *run_id, tdspipe_error *err)
{
    if (!o || !o->dest_uri || o->slice_count <= 1 || !run_id_ok(run_id))
        return pipe__fail(err, TDSPIPE_E_USAGE, "--finalize RUN_ID needs --dest-uri and --partition-count (> 1), "
                                                "and a run id of letters, digits, '.', '_' or '-'");
    if (!is_file_uri(o->dest_uri))
        return finalize_tables(o, run_id, err);
    unsigned n = o->slice_count;
    char **parts = calloc(n, sizeof *parts), missing[300] = "", why[300];
    int rc = parts ? 0 : pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    size_t nmiss = 0;
    for (unsigned i = 0; !rc && i < n; i++) {
        char *uri = pipe_slice_uri(o->dest_uri, run_id, i, n);
        struct stat st;
        if (!uri || sink_file_path(uri, &parts[i], why, sizeof why))
            rc = pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
        else if (stat(parts[i], &st) && nmiss++ < 20)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%u", nmiss > 1 ? ", " : "", i);
        free(uri);
    }
    if (!rc && nmiss)
        rc = pipe__fail(err, TDSPIPE_E_LOAD, "finalize %s: %zu of %u slices have not committed (index %s%s); "
                        "run them, then finalize again", run_id, nmiss, n, missing, nmiss > 20 ? ", …" : "");
    char *path = NULL;
    const char *u = o->dest_uri;
    bool csv = !tds_ascii_ncasecmp(u, "csv://", 6), text = csv || !tds_ascii_ncasecmp(u, "jsonl://", 8) ||
                                                             !tds_ascii_ncasecmp(u, "ndjson://", 9);
    if (!rc && text && sink_file_path(u, &path, why, sizeof why))
        rc = pipe__fail(err, TDSPIPE_E_USAGE, "%s", why);
    size_t pl = path ? strlen(path) : 0;
    if (!rc && text && !(pl > 3 && !strcmp(path + pl - 3, ".gz"))) /* compressed parts stay as they are */
        rc = join_parts(path, parts, n, csv, err);
    for (unsigned i = 0; !rc && i < n; i++)
        remove_stale(parts[i]);
    for (unsigned i = 0; parts && i < n; i++)
        free(parts[i]);
    free(parts);
    free(path);
    return rc;
}
