/*
 * source_file.c — CSV and JSONL files (gzip too) as ingest sources:
 * csv:///path.csv[.gz], jsonl:///path.jsonl[.gz] (the sinks' path rule:
 * "scheme:///rel", "scheme:////abs"). The file is read once, streaming;
 * the first SAMPLE records are held to infer the column types (unless
 * --columns gives them), then columns and rows go to the same
 * net_result_cb callbacks a SQL Server result drives, as tds_column
 * metadata and typed value views, so the rest of the load is shared.
 *
 * CSV: the first record is the header (the column names); an empty
 * unquoted field is NULL, "" an empty string. JSONL: one object per line,
 * the columns are the keys of the sampled lines in order of first
 * appearance (plus --columns ones); a missing key is NULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "cli_int.h"
#include "csv_parse.h"
#include "file_int.h"

#define SAMPLE 1000
#define MAX_RECORD (256u << 20)
#define MAX_COLS 4096

typedef struct rec {
    cli_fv *v;       /* n fields (text in the same block); later columns NULL */
    size_t n;
} rec;

typedef struct fsrc {
    bool jsonl;
    const char *path;
    const cli_colspec *specs;
    size_t nspecs;
    const net_result_cb *cb;
    void *ud;
    /* columns */
    char **names;     /* as in the file */
    size_t ncols, capcols;
    tds_column *cols;
    char **outnames;  /* after --columns renames */
    cli_infer *inf;
    size_t ninf;
    bool started;     /* columns sent */
    /* the sample */
    rec *sample;
    size_t nsample;
    uint64_t *sample_line;
    /* one row being converted */
    cli_fv *row;      /* ncols */
    uint8_t *arena;
    size_t arena_cap;
    tds_value *vals;
    size_t *voff;
    uint64_t line;
    int code;         /* NET_OK, NET_E_CANCELLED (a callback aborted), NET_E_IO… */
    char msg[480];
} fsrc;

static int fail(fsrc *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(fsrc *f, int code, const char *fmt, ...)
{
    if (f->code)
        return -1;
    f->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    return -1;
}

bool cli_source_file_is(const char *uri)
{
    return uri && (!strncasecmp(uri, "csv://", 6) || !strncasecmp(uri, "jsonl://", 8));
}

static int add_name(fsrc *f, const char *name, size_t n)
{
    if (f->ncols >= MAX_COLS)
        return fail(f, NET_E_ARG, "%s: more than %d columns", f->path, MAX_COLS);
    if (f->ncols == f->capcols) {
        size_t cap = f->capcols ? f->capcols * 2 : 32;
        char **p = realloc(f->names, cap * sizeof *p);
        if (!p)
            return fail(f, NET_E_NOMEM, "out of memory");
        f->names = p;
        f->capcols = cap;
    }
    if (!(f->names[f->ncols] = strndup(name, n)))
        return fail(f, NET_E_NOMEM, "out of memory");
    f->ncols++;
    return 0;
}

static int find_name(const fsrc *f, const char *name, size_t hint)
{
    if (hint < f->ncols && !strcmp(f->names[hint], name))
        return (int)hint;
    for (size_t i = 0; i < f->ncols; i++)
        if (!strcmp(f->names[i], name))
            return (int)i;
    return -1;
}

static const cli_colspec *spec_for(const fsrc *f, const char *name)
{
    for (size_t s = 0; s < f->nspecs; s++)
        if (!strcasecmp(f->specs[s].source, name))
            return &f->specs[s];
    return NULL;
}

/* A copy of ncols fields in one block. */
static int keep(fsrc *f, const cli_fv *row)
{
    size_t bytes = f->ncols * sizeof(cli_fv);
    for (size_t i = 0; i < f->ncols; i++)
        bytes += row[i].len + 1;
    cli_fv *v = malloc(bytes);
    if (!v)
        return fail(f, NET_E_NOMEM, "out of memory");
    char *t = (char *)(v + f->ncols);
    for (size_t i = 0; i < f->ncols; i++) {
        v[i] = row[i];
        if (row[i].len)
            memcpy(t, row[i].p, row[i].len);
        t[row[i].len] = '\0';
        v[i].p = t;
        t += row[i].len + 1;
    }
    f->sample[f->nsample].v = v;
    f->sample[f->nsample].n = f->ncols;
    f->sample_line[f->nsample] = f->line;
    f->nsample++;
    return 0;
}

/* Types fixed: COLMETADATA to the callbacks. */
static int start(fsrc *f)
{
    for (size_t s = 0; s < f->nspecs; s++) {
        bool found = false;
        for (size_t i = 0; i < f->ncols; i++)
            found |= !strcasecmp(f->specs[s].source, f->names[i]);
        if (!found && f->jsonl && f->specs[s].sqltype[0]) {
            if (add_name(f, f->specs[s].source, strlen(f->specs[s].source)))
                return -1;
        } else if (!found) {
            return fail(f, NET_E_ARG, "--columns: %s has no column '%s'", f->path, f->specs[s].source);
        }
    }
    if (!f->ncols)
        return fail(f, NET_E_ARG, "%s has no columns", f->path);
    f->cols = calloc(f->ncols, sizeof *f->cols);
    f->outnames = calloc(f->ncols, sizeof *f->outnames);
    f->vals = calloc(f->ncols, sizeof *f->vals);
    f->voff = calloc(f->ncols, sizeof *f->voff);
    cli_fv *row = realloc(f->row, f->ncols * sizeof *row);
    if (row)
        f->row = row;
    if (!f->cols || !f->outnames || !f->vals || !f->voff || !row)
        return fail(f, NET_E_NOMEM, "out of memory");
    for (size_t i = 0; i < f->ncols; i++) {
        const cli_colspec *sp = spec_for(f, f->names[i]);
        cli_infer none;
        cli_infer_init(&none);
        int rc = sp && sp->sqltype[0] ? cli_file_column(sp->sqltype, &f->cols[i])
                                      : cli_infer_column(i < f->ninf ? &f->inf[i] : &none, &f->cols[i]);
        if (rc)
            return fail(f, NET_E_ARG, "--columns: type '%s' cannot be read from a file", sp ? sp->sqltype : "?");
        f->outnames[i] = strdup(sp ? sp->name : f->names[i]);
        if (!f->outnames[i])
            return fail(f, NET_E_NOMEM, "out of memory");
        f->cols[i].name.ptr = f->outnames[i];
        f->cols[i].name.len = strlen(f->outnames[i]);
        f->cols[i].ordinal = (uint16_t)i;
    }
    f->started = true;
    if (f->cb->columns && f->cb->columns(f->ud, f->cols, (uint16_t)f->ncols) < 0)
        return fail(f, NET_E_CANCELLED, "cancelled");
    return 0;
}

/* One row: fields → values → the row callback. */
static int emit(fsrc *f, const cli_fv *row, uint64_t line)
{
    size_t need = 0;
    for (size_t i = 0; i < f->ncols; i++)
        need += cli_fv_bound(&row[i]);
    if (need > f->arena_cap) {
        size_t cap = f->arena_cap ? f->arena_cap : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *a = realloc(f->arena, cap);
        if (!a)
            return fail(f, NET_E_NOMEM, "out of memory");
        f->arena = a;
        f->arena_cap = cap;
    }
    size_t used = 0;
    for (size_t i = 0; i < f->ncols; i++) {
        size_t n = 0;
        bool null = false;
        char why[160];
        if (cli_fv_encode(&f->cols[i], &row[i], f->arena + used, f->arena_cap - used, &n, &null, why, sizeof why)) {
            const cli_colspec *sp = spec_for(f, f->names[i]);
            return fail(f, NET_E_ARG, "%s %s %llu, column '%s': %s%s%s%s", f->path, f->jsonl ? "line" : "record at line",
                        (unsigned long long)line, f->names[i], why,
                        sp && sp->sqltype[0] ? "" : " (the type was inferred from the first records; declare it with --columns ",
                        sp && sp->sqltype[0] ? "" : f->names[i], sp && sp->sqltype[0] ? "" : ":string)");
        }
        f->vals[i].flags = null ? TDS_VF_NULL : 0;
        f->vals[i].len = (uint32_t)n;
        f->voff[i] = used;
        used += n;
    }
    for (size_t i = 0; i < f->ncols; i++)
        f->vals[i].ptr = f->vals[i].flags & TDS_VF_NULL ? NULL : f->arena + f->voff[i];
    if (f->cb->row && f->cb->row(f->ud, f->cols, (uint16_t)f->ncols, f->vals) < 0)
        return fail(f, NET_E_CANCELLED, "cancelled");
    return 0;
}

static int flush_sample(fsrc *f)
{
    if (!f->started && start(f))
        return -1;
    for (size_t r = 0; r < f->nsample; r++) {
        /* a JSONL key first seen later: NULL in the rows before */
        for (size_t i = 0; i < f->ncols; i++)
            f->row[i] = i < f->sample[r].n ? f->sample[r].v[i] : (cli_fv){.kind = CLI_FV_NULL};
        int rc = emit(f, f->row, f->sample_line[r]);
        free(f->sample[r].v);
        f->sample[r].v = NULL;
        if (rc)
            return rc;
    }
    f->nsample = 0;
    return 0;
}

/* A record of ncols fields (JSONL: already placed by column). */
static int record(fsrc *f, const cli_fv *row)
{
    if (f->started)
        return emit(f, row, f->line);
    if (f->ninf < f->ncols) {
        cli_infer *inf = realloc(f->inf, f->ncols * sizeof *inf);
        if (!inf)
            return fail(f, NET_E_NOMEM, "out of memory");
        f->inf = inf;
        for (size_t i = f->ninf; i < f->ncols; i++)
            cli_infer_init(&f->inf[i]);
        f->ninf = f->ncols;
    }
    if (!f->sample) {
        f->sample = calloc(SAMPLE, sizeof *f->sample);
        f->sample_line = calloc(SAMPLE, sizeof *f->sample_line);
        if (!f->sample || !f->sample_line)
            return fail(f, NET_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < f->ncols; i++)
        cli_infer_add(&f->inf[i], &row[i]);
    if (keep(f, row))
        return -1;
    return f->nsample == SAMPLE ? flush_sample(f) : 0;
}

/* ------------------------------------------------------------- CSV */

static int on_csv(void *ud, char **fields, const size_t *lens, const bool *quoted, size_t n, uint64_t line)
{
    fsrc *f = ud;
    f->line = line;
    if (!f->names) { /* the header */
        for (size_t i = 0; i < n; i++) {
            if (!lens[i])
                return fail(f, NET_E_ARG, "%s: column %zu of the header has no name", f->path, i + 1);
            for (size_t j = 0; j < i; j++)
                if (!strcmp(fields[i], fields[j]))
                    return fail(f, NET_E_ARG, "%s: two columns are named '%s'", f->path, fields[i]);
            if (add_name(f, fields[i], lens[i]))
                return -1;
        }
        return 0;
    }
    if (n != f->ncols)
        return fail(f, NET_E_ARG, "%s line %llu: %zu fields, the header has %zu", f->path, (unsigned long long)line,
                    n, f->ncols);
    if (!f->row && !(f->row = malloc(n * sizeof *f->row)))
        return fail(f, NET_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        f->row[i].p = fields[i];
        f->row[i].len = lens[i];
        f->row[i].kind = !lens[i] && !quoted[i] ? CLI_FV_NULL : CLI_FV_STRING;
    }
    return record(f, f->row);
}

static int read_csv(fsrc *f, gzFile gz)
{
    cli_csv *c = cli_csv_new(',', MAX_RECORD, MAX_COLS, on_csv, f);
    if (!c)
        return fail(f, NET_E_NOMEM, "out of memory");
    static char buf[1 << 16];
    int rc = 0, n;
    while (!rc && (n = gzread(gz, buf, sizeof buf)) > 0)
        rc = cli_csv_feed(c, buf, (size_t)n);
    if (!rc && n < 0) {
        int e;
        const char *m = gzerror(gz, &e);
        rc = fail(f, NET_E_IO, "%s: %s", f->path, e == Z_ERRNO ? strerror(errno) : m);
    }
    if (!rc)
        rc = cli_csv_finish(c);
    if (rc == CLI_CSV_BAD)
        fail(f, NET_E_ARG, "%s %s", f->path, cli_csv_error(c));
    cli_csv_free(c);
    if (!rc && !f->names)
        return fail(f, NET_E_ARG, "%s is empty (no header)", f->path);
    return rc ? -1 : 0;
}

/* ----------------------------------------------------------- JSONL */

typedef struct jrow {
    fsrc *f;
    bool *set;
    size_t next;     /* expected position of the next key */
    char *copies;    /* sampling: keys may add columns as we go */
} jrow;

static int on_member(void *ud, const char *key, const cli_fv *v)
{
    jrow *j = ud;
    fsrc *f = j->f;
    int i = find_name(f, key, j->next);
    if (i < 0) {
        if (f->started)
            return fail(f, NET_E_ARG,
                        "%s line %llu: key '%s' is not among the columns of the first %d lines (declare it with "
                        "--columns %s:string)",
                        f->path, (unsigned long long)f->line, key, SAMPLE, key);
        if (add_name(f, key, strlen(key)))
            return -1;
        cli_fv *row = realloc(f->row, f->ncols * sizeof *row);
        bool *set = realloc(j->set, f->ncols * sizeof *set);
        if (row)
            f->row = row;
        if (set)
            j->set = set;
        if (!row || !set)
            return fail(f, NET_E_NOMEM, "out of memory");
        j->set[f->ncols - 1] = false;
        i = (int)f->ncols - 1;
    }
    if (j->set[i])
        return fail(f, NET_E_ARG, "%s line %llu: key '%s' twice", f->path, (unsigned long long)f->line, key);
    j->set[i] = true;
    f->row[i] = *v;
    j->next = (size_t)i + 1;
    /* the member's text dies with the parse: copy what the walk keeps */
    if (v->len || v->kind != CLI_FV_NULL) {
        char *t = malloc(v->len + 1);
        if (!t)
            return fail(f, NET_E_NOMEM, "out of memory");
        memcpy(t, v->p, v->len);
        t[v->len] = '\0';
        f->row[i].p = t;
    }
    return 0;
}

static void free_row_texts(fsrc *f, const bool *set)
{
    for (size_t i = 0; i < f->ncols; i++)
        if (set[i] && f->row[i].p) {
            free((char *)f->row[i].p);
            f->row[i].p = NULL;
        }
}

static int jsonl_line(fsrc *f, jrow *j, const char *line, size_t len)
{
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r'))
        k++;
    if (k == len)
        return 0; /* blank */
    if (f->ncols) {
        bool *set = realloc(j->set, f->ncols * sizeof *set);
        if (!set)
            return fail(f, NET_E_NOMEM, "out of memory");
        j->set = set;
        memset(j->set, 0, f->ncols * sizeof *set);
    }
    if (!f->row && f->ncols && !(f->row = calloc(f->ncols, sizeof *f->row)))
        return fail(f, NET_E_NOMEM, "out of memory");
    j->next = 0;
    char why[160] = "";
    int rc = cli_jsonl_record(line, len, on_member, j, why, sizeof why);
    if (rc && !f->code)
        fail(f, NET_E_ARG, "%s line %llu: %s", f->path, (unsigned long long)f->line, why);
    if (!rc) {
        for (size_t i = 0; i < f->ncols; i++)
            if (!j->set || !j->set[i])
                f->row[i] = (cli_fv){.kind = CLI_FV_NULL};
        rc = record(f, f->row);
    }
    if (j->set)
        free_row_texts(f, j->set);
    return rc ? -1 : 0;
}

static int read_jsonl(fsrc *f, gzFile gz)
{
    jrow j = {.f = f};
    char *line = NULL;
    size_t len = 0, cap = 0;
    static char buf[1 << 16];
    int n, rc = 0;
    f->line = 1;
    while (!rc && (n = gzread(gz, buf, sizeof buf)) > 0) {
        for (int i = 0; i < n && !rc; i++) {
            if (buf[i] == '\n') {
                rc = jsonl_line(f, &j, line ? line : "", len);
                len = 0;
                f->line++;
                continue;
            }
            if (len + 1 >= cap) {
                if (cap >= MAX_RECORD) {
                    rc = fail(f, NET_E_ARG, "%s line %llu: longer than %u bytes", f->path, (unsigned long long)f->line,
                              MAX_RECORD);
                    break;
                }
                cap = cap ? cap * 2 : 4096;
                char *p = realloc(line, cap);
                if (!p) {
                    rc = fail(f, NET_E_NOMEM, "out of memory");
                    break;
                }
                line = p;
            }
            line[len++] = buf[i];
        }
    }
    if (!rc && n < 0) {
        int e;
        const char *m = gzerror(gz, &e);
        rc = fail(f, NET_E_IO, "%s: %s", f->path, e == Z_ERRNO ? strerror(errno) : m);
    }
    if (!rc && len)
        rc = jsonl_line(f, &j, line, len);
    free(line);
    free(j.set);
    return rc;
}

/* ------------------------------------------------------------ entry */

int cli_source_file_run(const char *uri, const cli_colspec *specs, size_t nspecs, const net_result_cb *cb, void *ud,
                        net_error *ne)
{
    fsrc f;
    memset(&f, 0, sizeof f);
    memset(ne, 0, sizeof *ne);
    f.jsonl = !strncasecmp(uri, "jsonl://", 8);
    f.specs = specs;
    f.nspecs = nspecs;
    f.cb = cb;
    f.ud = ud;
    const char *p = strstr(uri, "://") + 3;
    if (*p == '/')
        p++;
    f.path = p;
    gzFile gz = NULL;
    if (!*p)
        fail(&f, NET_E_ARG, "source URI has no file path (e.g. csv:///data.csv)");
    else if (!(gz = gzopen(p, "rb")))
        fail(&f, NET_E_IO, "cannot open %s: %s", p, strerror(errno));
    if (gz) {
        gzbuffer(gz, 256 * 1024);
        int rc = f.jsonl ? read_jsonl(&f, gz) : read_csv(&f, gz);
        if (!rc && !f.started)
            flush_sample(&f);
        gzclose(gz);
    }
    for (size_t r = 0; r < f.nsample; r++)
        free(f.sample[r].v);
    free(f.sample);
    free(f.sample_line);
    for (size_t i = 0; i < f.ncols; i++) {
        free(f.names[i]);
        if (f.outnames)
            free(f.outnames[i]);
    }
    free(f.names);
    free(f.outnames);
    free(f.cols);
    free(f.inf);
    free(f.row);
    free(f.arena);
    free(f.vals);
    free(f.voff);
    ne->code = f.code;
    snprintf(ne->message, sizeof ne->message, "%s", f.msg);
    return f.code;
}
