/*
 * src_mssql.c — the SQL Server source: a table ("schema.table",
 * "db.schema.table") or a query ("query:SELECT …") read with one batch.
 * Open checks the URI and the name, connects and reads a table's catalog
 * (a missing table fails before the destination is touched); read sends
 * the SELECT (mssql_select.c), or reads a table in windows over several
 * connections (par_read.c, docs/parallel.md), and hands the first result
 * set to the engine through the adapter below, where net's result callbacks (called
 * by net) meet pipe_rows_cb. Change Tracking's ct_rows.c has callbacks of
 * its own that add the _cdc_ columns and feed the same pipe_mssql_*
 * functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ct_int.h"
#include "mssql_int.h"

/* ------------------------------------------------ result adapter */

static int stop(pipe_mssql *m)
{
    m->stopped = true;
    return NET_ROW_ABORT;
}

int pipe_mssql_columns(pipe_mssql *m, const tds_column *cols, size_t ncols)
{
    if (m->begun) { /* later result sets are read and dropped */
        m->dropping = true;
        return NET_ROW_NEXT;
    }
    m->begun = true;
    return m->cb->columns(m->ud, cols, ncols) == PIPE_NEXT ? NET_ROW_NEXT : stop(m);
}

int pipe_mssql_row(pipe_mssql *m, const tds_value *vals)
{
    if (m->dropping || !m->begun)
        return NET_ROW_NEXT;
    return m->cb->row(m->ud, vals) == PIPE_NEXT ? NET_ROW_NEXT : stop(m);
}

/* A chunk of a (max) value of the row being decoded (the engine sends a
 * value's chunks before the ROW event); len 0 ends the value. */
int pipe_mssql_chunk(pipe_mssql *m, size_t col, const uint8_t *data, size_t len)
{
    if (m->dropping || !m->begun)
        return NET_ROW_NEXT;
    return m->cb->chunk(m->ud, col, data, len) == PIPE_NEXT ? NET_ROW_NEXT : stop(m);
}

static int on_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    return pipe_mssql_columns(ud, cols, ncols);
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    (void)cols;
    (void)ncols;
    return pipe_mssql_row(ud, vals);
}

static int on_plp(void *ud, uint16_t col, const uint8_t *data, size_t len)
{
    return pipe_mssql_chunk(ud, col, data, len);
}

const net_result_cb pipe_mssql_rows = {
    .columns = on_columns,
    .row = on_row,
    .plp = on_plp,
};

int pipe_mssql_read_result(pipe_mssql *m, int rc, const net_error *ne, tdspipe_error *err)
{
    if (m->stopped)
        return PIPE_STOPPED; /* the engine knows why */
    if (rc != NET_OK)
        return pipe__fail(err, TDSPIPE_E_LOAD, "reading from SQL Server failed: %s",
                          ne->message[0] ? ne->message : net_strerror(rc));
    return TDSPIPE_OK;
}

/* ------------------------------------------------ open / describe */

/* What needs no server: the name, and the flags a query allows. */
static int check_name(pipe_mssql *m, bool ct, tdspipe_error *err)
{
    const pipe_plan *p = m->plan;
    char why[400];
    if (pipe_mssql_name_parse(p->o->source_table, &m->name, why, sizeof why))
        return pipe__fail(err, TDSPIPE_E_USAGE, "%s", why);
    if (ct) {
        int rc = pipe_ct_check_flags(p, &m->name, err);
        if (rc)
            return rc;
    }
    if (m->name.is_query && !p->o->dest_table)
        return pipe__fail(err, TDSPIPE_E_USAGE, "--dest-table is required with a query: source");
    return 0;
}

static int open_parts(pipe_mssql *m, bool ct, tdspipe_error *err)
{
    const pipe_plan *p = m->plan;
    int rc = pipe_mssql_opts(p->o, &m->no, err);
    if (!rc)
        rc = check_name(m, ct, err);
    if (!rc)
        rc = pipe_mssql_connect(p->o, &m->no, &m->cl, err);
    if (!rc && !ct && m->name.is_query)
        rc = pipe_par_check(m, err);
    if (rc || m->name.is_query)
        return rc;
    char why[700];
    if ((rc = pipe_catalog_read(m->cl, &m->name, &m->cat, why, sizeof why)))
        return pipe__fail(err, rc, "%s", why);
    if (!ct && p->strategy == SINK_MERGE && !p->o->nprimary_keys && !m->cat.pk.n)
        return pipe__fail(err, TDSPIPE_E_USAGE, "merge needs a primary key: the table has none, give --primary-key");
    return ct ? 0 : pipe_par_check(m, err);
}

int pipe_mssql_open(const pipe_plan *p, bool ct, pipe_mssql **out, tdspipe_error *err)
{
    *out = NULL;
    pipe_mssql *m = calloc(1, sizeof *m);
    if (!m)
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    m->plan = p;
    int rc = open_parts(m, ct, err);
    if (rc) {
        pipe_mssql_close((pipe_source *)m);
        return rc;
    }
    *out = m;
    return 0;
}

int pipe_mssql_describe(pipe_source *s, pipe_desc *d, tdspipe_error *err)
{
    pipe_mssql *m = (pipe_mssql *)s;
    (void)err;
    memset(d, 0, sizeof *d);
    if (m->name.is_query)
        return 0;
    d->pk = (const char *const *)m->cat.pk.v;
    d->npk = m->cat.pk.n;
    d->schema = m->name.schema;
    d->table = m->name.table;
    d->has_catalog = true;
    return 0;
}

void pipe_mssql_close(pipe_source *s)
{
    pipe_mssql *m = (pipe_mssql *)s;
    if (!m)
        return;
    if (m->ct)
        pipe_ct_free(m->ct);
    if (m->cl)
        net_client_close(m->cl);
    pipe_catalog_free(&m->cat);
    pipe_mssql_name_free(&m->name);
    net_opts_free(&m->no);
    free(m);
}

/* ------------------------------------------------ the table source */

static bool mssql_accepts(const char *uri) { return pipe_mssql_scheme(uri, false); }

static int mssql_open(const pipe_plan *p, pipe_source **out, tdspipe_error *err)
{
    pipe_mssql *m = NULL;
    int rc = pipe_mssql_open(p, false, &m, err);
    *out = (pipe_source *)m;
    return rc;
}

static int mssql_read(pipe_source *s, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    pipe_mssql *m = (pipe_mssql *)s;
    if (!m->name.is_query) { /* in windows over several connections? (par_read.c) */
        int prc = pipe_par_read(m, p, cb, ud, err);
        if (prc != PIPE_PAR_SEQUENTIAL)
            return prc;
    }
    pipe_select sel = PIPE_SELECT_FOR(p, m);
    char *sql = NULL;
    int bad = m->name.is_query ? pipe_select_query(&sel, m->name.query, p->lo, p->hi, &sql)
                               : pipe_select_table(&sel, &m->name, p->lo, p->lo_strict, p->hi, &sql);
    if (!bad && m->name.is_query && p->nspecs)
        bad = pipe_select_query_columns(&sel, m->cl, &sql);
    if (bad) {
        free(sql);
        return pipe__fail(err, sel.code, "%s", sel.err);
    }
    m->cb = cb;
    m->ud = ud;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = net_client_batch(m->cl, sql, &pipe_mssql_rows, m, &ne);
    free(sql);
    return pipe_mssql_read_result(m, rc, &ne, err);
}

static int64_t mssql_estimate(pipe_source *s, const pipe_plan *p)
{
    pipe_mssql *m = (pipe_mssql *)s;
    if (m->name.is_query || p->lo || p->hi)
        return -1;
    return pipe_select_estimate(m->cl, &m->name);
}

const pipe_source_vtable pipe_src_mssql = {
    .name = "mssql",
    .accepts = mssql_accepts,
    .open = mssql_open,
    .describe = pipe_mssql_describe,
    .read = mssql_read,
    .close = pipe_mssql_close,
    .estimate = mssql_estimate,
};
