/*
 * src_file.c — CSV and JSONL files (gzip too) as sources of a load:
 * csv://PATH[.gz], jsonl://PATH[.gz] (also ndjson://), PATH read by
 * ingestr's rule (sink_file_path: "csv:///data/in.csv" is the absolute
 * /data/in.csv, "csv://in.csv" relative; the query is not part of it).
 * A CSV's ?encoding= may only name UTF-8: other encodings are refused,
 * never misread. Two vtables over one reader state
 * (file_int.h): open checks the URI and the --columns types and opens the
 * file (a missing file fails before the destination is touched); read
 * streams it once — columns after the type sample, then rows — into the
 * engine's callbacks (file_csv.c, file_jsonl.c, file_sample.c).
 *
 * No key, no cursor: describe gives no primary key (--primary-key does);
 * the default target is --source-table's name read as SQL Server's
 * ("people" → dbo.people), as it was before the sources moved to pipe/
 * (a query: name or none: --dest-table is required). cursor_read and
 * cursor_save are NULL, so incremental flags
 * do not filter a file's rows — the whole file is loaded with the chosen
 * strategy. Every failure is TDSPIPE_E_LOAD (exit 1, as before the
 * sources moved to pipe/) with one line naming the file, line and column.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "file_int.h"
#include "mssql_int.h"
#include "tds_ascii.h"

struct pipe_source {
    file_src f;
    pipe_mssql_name name;   /* --source-table: the default target's name */
};

static bool csv_accepts(const char *uri) { return uri && !tds_ascii_ncasecmp(uri, "csv://", 6); }
static bool jsonl_accepts(const char *uri)
{
    return uri && (!tds_ascii_ncasecmp(uri, "jsonl://", 8) || !tds_ascii_ncasecmp(uri, "ndjson://", 9));
}

/* Every --columns type must be one a file's text converts to. */
static int check_spec_types(const pipe_plan *p, tdspipe_error *err)
{
    for (size_t s = 0; s < p->nspecs; s++) {
        tds_column c;
        if (p->specs[s].sqltype[0] && pipe_file_column(p->specs[s].sqltype, &c))
            return pipe__fail(err, TDSPIPE_E_LOAD, "--columns: type '%s' cannot be read from a file",
                              p->specs[s].sqltype);
    }
    return TDSPIPE_OK;
}

/* ingestr reads ?encoding=NAME on a CSV source (WHATWG names). The
 * reader knows UTF-8 only: any other name is refused. Other parameters
 * are ignored, as ingestr ignores them. */
static int check_encoding(const char *uri, tdspipe_error *err)
{
    const char *q = strchr(uri, '?');
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "&#");
        if (n > 9 && !tds_ascii_ncasecmp(q, "encoding=", 9)) {
            size_t v = n - 9;
            const char *val = q + 9;
            if (!((v == 5 && !tds_ascii_ncasecmp(val, "utf-8", 5)) || (v == 4 && !tds_ascii_ncasecmp(val, "utf8", 4))))
                return pipe__fail(err, TDSPIPE_E_USAGE,
                                  "csv source: encoding '%.*s' is not supported (files are read as UTF-8)",
                                  (int)(v > 40 ? 40 : v), val);
        }
        q += n;
        if (*q == '#')
            break;
    }
    return TDSPIPE_OK;
}

static void src_free(pipe_source *s)
{
    if (!s)
        return;
    if (s->f.gz)
        gzclose(s->f.gz);
    file_free_columns(&s->f);
    free(s->f.buf);
    free(s->f.path);
    pipe_mssql_name_free(&s->name);
    free(s);
}

/* The file, opened for reading (gzip or plain: zlib tells). */
static int open_file(pipe_source *s, tdspipe_error *err)
{
    errno = 0;
    if (!(s->f.gz = gzopen(s->f.path, "rb")))
        return pipe__fail(err, TDSPIPE_E_LOAD, "cannot open %s: %s", s->f.path,
                          errno ? strerror(errno) : "out of memory");
    gzbuffer(s->f.gz, 256 * 1024);
    return TDSPIPE_OK;
}

static int file_open(const pipe_plan *p, bool jsonl, pipe_source **out, tdspipe_error *err)
{
    *out = NULL;
    char *path = NULL, why[300];
    int rc = sink_file_path(p->o->source_uri, &path, why, sizeof why);
    if (rc)
        return pipe__fail(err, TDSPIPE_E_LOAD, "source: %s", why);
    if ((rc = jsonl ? 0 : check_encoding(p->o->source_uri, err)) || (rc = check_spec_types(p, err))) {
        free(path);
        return rc;
    }
    pipe_source *s = calloc(1, sizeof *s);
    if (s)
        s->f.path = path;
    else
        free(path);
    if (!s || !(s->f.buf = malloc(PIPE_FILE_READ_BUF))) {
        src_free(s);
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    }
    s->f.jsonl = jsonl;
    s->f.specs = p->specs;
    s->f.nspecs = p->nspecs;
    why[0] = '\0';
    if (p->o->source_table && pipe_mssql_name_parse(p->o->source_table, &s->name, why, sizeof why)) {
        src_free(s);
        return pipe__fail(err, TDSPIPE_E_USAGE, "%s", why[0] ? why : "out of memory");
    }
    if ((rc = open_file(s, err))) {
        src_free(s);
        return rc;
    }
    *out = s;
    return TDSPIPE_OK;
}

static int csv_open(const pipe_plan *p, pipe_source **out, tdspipe_error *err) { return file_open(p, false, out, err); }
static int jsonl_open(const pipe_plan *p, pipe_source **out, tdspipe_error *err) { return file_open(p, true, out, err); }

static int file_describe(pipe_source *s, pipe_desc *d, tdspipe_error *err)
{
    (void)err;
    memset(d, 0, sizeof *d);
    if (!s->name.is_query) {
        d->schema = s->name.schema;
        d->table = s->name.table;
    }
    return TDSPIPE_OK;
}

static int file_read(pipe_source *s, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    file_src *f = &s->f;
    if (f->read_done)
        return pipe__fail(err, TDSPIPE_E_LOAD, "%s: the file was read already", f->path);
    f->read_done = true;
    f->specs = p->specs;
    f->nspecs = p->nspecs;
    f->cb = cb;
    f->ud = ud;
    int rc = f->jsonl ? file_read_jsonl(f) : file_read_csv(f);
    if (!rc)
        file_end(f);
    if (f->outcome == FILE_STOPPED)
        return PIPE_STOPPED; /* the engine knows why; err is its own */
    if (f->outcome == FILE_FAILED)
        return pipe__fail(err, TDSPIPE_E_LOAD, "%s", f->msg);
    return TDSPIPE_OK;
}

static void file_close(pipe_source *s) { src_free(s); }

const pipe_source_vtable pipe_src_csv = {
    .name = "csv",
    .accepts = csv_accepts,
    .open = csv_open,
    .describe = file_describe,
    .read = file_read,
    .close = file_close,
};

const pipe_source_vtable pipe_src_jsonl = {
    .name = "jsonl",
    .accepts = jsonl_accepts,
    .open = jsonl_open,
    .describe = file_describe,
    .read = file_read,
    .close = file_close,
};
