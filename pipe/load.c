/*
 * load.c — tdspipe_load(): one load, in this order. Everything that needs
 * no connection is checked first (options, --columns, the source's and the
 * destination's URI); the source opens (connects, reads its catalog: a
 * missing table fails before the destination is touched); the destination
 * opens; the source reads its cursor and the engine its incremental
 * bounds; the source streams its rows into the sink in page_size batches
 * (load_rows.c); the source's cursor is saved and the sink commits.
 *
 * Any failure aborts the sink: the destination stays exactly as it was (a
 * database file this load created is removed) and no cursor moves. The
 * message returned never holds a password or token of the load's URIs
 * (redact.c).
 */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "load_int.h"
#include "par_int.h"

int pipe_load_fail(pipe_load *l, int code, const char *fmt, ...)
{
    if (l->err.code)
        return -1;
    char msg[sizeof l->err.message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pipe__fail(&l->err, code, "%s", msg);
    return -1;
}

/* "source URI has no scheme" or "unsupported source scheme 'x'". */
static int source_find(pipe_load *l)
{
    const char *uri = l->o->source_uri;
    l->vt = pipe_source_find(uri);
    if (l->vt)
        return 0;
    const char *sep = strstr(uri, "://");
    if (!sep || sep == uri || sep - uri > 31)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "source URI has no scheme (expected mssql://user:password@host:1433/db)");
    char sch[32];
    size_t n = (size_t)(sep - uri);
    for (size_t i = 0; i < n; i++)
        sch[i] = (char)(uri[i] >= 'A' && uri[i] <= 'Z' ? uri[i] + 32 : uri[i]);
    sch[n] = '\0';
    return pipe_load_fail(l, TDSPIPE_E_USAGE, "unsupported source scheme '%s' (use mssql, sqlserver, azuresql or azure-sql)",
                          sch);
}

/* The options into the plan; what can be checked without a connection. */
static int prepare(pipe_load *l)
{
    const tdspipe_load_opts *o = l->o;
    if (!o->source_uri || !o->source_table || !o->dest_uri)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "a load needs source_uri, source_table and dest_uri");
    if (o->ncolumns && !(l->specs = calloc(o->ncolumns, sizeof *l->specs)))
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
    char why[400];
    for (size_t i = 0; i < o->ncolumns; i++)
        if (pipe_colspec_parse(o->columns[i], &l->specs[i], why, sizeof why))
            return pipe_load_fail(l, TDSPIPE_E_USAGE, "%s", why);
    pipe_plan *p = &l->plan;
    p->o = o;
    p->specs = l->specs;
    p->nspecs = o->ncolumns;
    p->naming = o->naming == TDSPIPE_NAMING_AUTO ? TDSPIPE_NAMING_SNAKE : o->naming;
    p->strategy = o->full_refresh ? SINK_REPLACE : o->strategy;
    p->limit = o->sql_limit > 0 ? o->sql_limit : -1;
    p->est_rows = p->limit;
    l->page_size = o->page_size ? o->page_size : PIPE_PAGE_SIZE;
    if (source_find(l))
        return -1;
    if ((o->extract_partition_by || o->extract_partition_interval) && l->vt != &pipe_src_mssql)
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "--extract-partition-by/--extract-partition-interval split SQL Server "
                                                  "table sources only (docs/parallel.md)");
    return pipe_dest_check(o->dest_uri, &l->err) ? -1 : 0;
}

/* The destination table: the options', else the source's schema.table
 * in the load's naming. */
static int name_target(pipe_load *l)
{
    if (l->o->dest_table) {
        l->dest_table = strdup(l->o->dest_table);
    } else if (l->desc.schema && l->desc.table) {
        char *s = pipe_name_apply(l->plan.naming, l->desc.schema);
        char *t = pipe_name_apply(l->plan.naming, l->desc.table);
        size_t len = s && t ? strlen(s) + strlen(t) + 2 : 0;
        if (len && (l->dest_table = malloc(len)))
            snprintf(l->dest_table, len, "%s.%s", s, t);
        free(s);
        free(t);
    } else {
        return pipe_load_fail(l, TDSPIPE_E_USAGE, "--dest-table is required for this source");
    }
    if (!l->dest_table)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "out of memory");
    l->plan.dest_table = l->dest_table;
    return 0;
}

static int open_sink(pipe_load *l)
{
    sink_options so;
    memset(&so, 0, sizeof so);
    so.duckdb_lib = l->o->duckdb_lib;
    so.cancel = l->o->cancel;
    l->new_file = pipe_dest_new_file(l->o->dest_uri);
    char why[600] = "";
    int rc = sink_open(l->o->dest_uri, &so, &l->sk, why, sizeof why);
    if (!rc)
        return 0;
    if (!why[0])
        snprintf(why, sizeof why, "cannot open the destination: %s", sink_strerror(rc));
    return pipe_load_fail(l, rc == SINK_E_URI ? TDSPIPE_E_USAGE : TDSPIPE_E_LOAD, "%s", why);
}

/* Source open, describe, the target's name, the destination, the cursor,
 * the bounds and the estimate: everything before the first row. */
static int open_all(pipe_load *l)
{
    if (l->vt->open(&l->plan, &l->src, &l->err))
        return -1;
    if (l->vt->describe && l->vt->describe(l->src, &l->desc, &l->err))
        return -1;
    if (name_target(l) || open_sink(l))
        return -1;
    if (l->vt->cursor_read && l->vt->cursor_read(l->src, l->sk, &l->plan, &l->err))
        return -1;
    if (pipe_load_bounds(l))
        return -1;
    if (l->o->estimate_rows && l->vt->estimate) {
        int64_t est = l->vt->estimate(l->src, &l->plan);
        if (est >= 0 && (l->plan.est_rows < 0 || est < l->plan.est_rows))
            l->plan.est_rows = est;
    }
    return 0;
}

/* The rows, the last batch, the cursor, the commit. */
static int run(pipe_load *l)
{
    pipe_load_report(l, "reading");
    l->reading = true;
    tdspipe_error re;
    memset(&re, 0, sizeof re);
    int rc = l->vt->read(l->src, &l->plan, &pipe_load_rows_cb, l, &re);
    if (l->err.code)
        return -1; /* the engine stopped the read: its reason */
    if (rc == PIPE_STOPPED && !l->limit_hit)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "the source stopped reading");
    if (rc != TDSPIPE_OK && rc != PIPE_STOPPED)
        return pipe_load_fail(l, re.code ? re.code : TDSPIPE_E_LOAD, "%s", re.message);
    if (!l->begun)
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "the source returned no result set");
    if (pipe_load_flush_all(l))
        return -1;
    pipe_load_report(l, "committing");
    if (l->o->cancel && *l->o->cancel) /* the last chance to keep the destination as it was */
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "the load was cancelled");
    bool save = l->vt->cursor_save != NULL;
    if (l->out && l->vt->retention_s)
        l->out->retention_s = l->vt->retention_s(l->src);
    if (l->out && l->vt->position) {
        l->vt->position(l->src, l->out->cursor, l->out->head, sizeof l->out->cursor);
        if (l->hold_idle && !l->seen && l->out->cursor[0]) /* idle: restamped by stream.c */
            save = false;
    }
    if (save && l->vt->cursor_save(l->src, l->sk, &l->err))
        return -1;
    if (sink_commit(l->sk))
        return pipe_load_fail(l, TDSPIPE_E_LOAD, "%s", sink_errmsg(l->sk));
    if (l->out) {
        l->out->rows = l->seen;
        l->out->committed = true;
        l->out->cursor_saved = save;
    }
    return 0;
}

static void finish(pipe_load *l)
{
    if (l->err.code && l->sk)
        sink_abort(l->sk);
    if (l->reading)
        pipe_load_report(l, l->err.code ? "failed" : "done");
    if (l->src)
        l->vt->close(l->src);
    sink_close(l->sk);
    if (l->err.code && l->new_file)
        pipe_dest_remove_file(l->new_file);
    free(l->new_file);
    pipe_load_lanes_free(l);
    pipe_xform_free(l->xf);
    if (l->names)
        for (size_t i = 0; i <= l->nsrc; i++)
            free(l->names[i]);
    free(l->names);
    free(l->cols);
    free(l->map);
    free(l->keep);
    free(l->rowbuf);
    free(l->specs);
    free(l->dest_table);
}

static int load_one(const tdspipe_load_opts *o, bool hold_idle, pipe_load_out *out, tdspipe_error *err);

/* A slice (par_slice.c): the same load into the slice's part file; the
 * read takes the slice's windows (par_read.c). */
static int load_slice(const tdspipe_load_opts *o, bool hold_idle, pipe_load_out *out, tdspipe_error *err)
{
    int rc = pipe_slice_check(o, err);
    if (rc)
        return rc;
    if (pipe_source_find(o->source_uri) != &pipe_src_mssql)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--partition-count splits SQL Server table sources only");
    tdspipe_load_opts so = *o;
    char *uri = NULL, *table = NULL;
    if (pipe_slice_is_file(o->dest_uri)) { /* a part file next to the destination */
        if (!(uri = pipe_slice_uri(o->dest_uri, o->run_id, o->slice_index, o->slice_count)))
            return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
        so.dest_uri = uri;
    } else { /* a table of its own, replaced: a retried slice rewrites only it */
        if (!(table = pipe_slice_table(o->dest_table, o->run_id, o->slice_index)))
            return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
        so.dest_table = table;
        so.strategy = SINK_REPLACE;
    }
    rc = load_one(&so, hold_idle, out, err);
    free(uri);
    free(table);
    return rc;
}

int tdspipe_load(const tdspipe_load_opts *o, tdspipe_error *err)
{
    return pipe_load_once(o, false, NULL, err);
}

int pipe_load_once(const tdspipe_load_opts *o, bool hold_idle, pipe_load_out *out, tdspipe_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!o)
        return pipe__fail(err, TDSPIPE_E_USAGE, "no load options");
    if (pipe_cdc_multi(o)) /* several tables: one load each */
        return pipe_cdc_load_tables(o, err);
    if (o->slice_count > 1 || o->slice_index) /* one slice of a scaled-out run: its own part file */
        return load_slice(o, hold_idle, out, err);
    return load_one(o, hold_idle, out, err);
}

static int load_one(const tdspipe_load_opts *o, bool hold_idle, pipe_load_out *out, tdspipe_error *err)
{
    pipe_load l;
    memset(&l, 0, sizeof l);
    l.o = o;
    l.hold_idle = hold_idle;
    l.out = out;
    if (!prepare(&l) && !open_all(&l))
        run(&l);
    finish(&l);
    if (l.err.code) {
        if (!l.err.message[0])
            snprintf(l.err.message, sizeof l.err.message, "the load failed");
        pipe_redact_uri(l.err.message, o->source_uri);
        pipe_redact_uri(l.err.message, o->dest_uri);
    }
    if (err)
        *err = l.err;
    return l.err.code;
}
