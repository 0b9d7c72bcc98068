/*
 * src_ct.c — the Change Tracking source (mssql+ct://, sqlserver+ct://,
 * azuresql+ct://, azure-sql+ct://): a SQL Server table source whose cursor
 * is the last synchronised Change Tracking version (ct_prepare.c), whose
 * read is one transaction (ct_read.c) and whose rows carry the _cdc_
 * columns (ct_rows.c), loaded by the sink's Change Tracking merge.
 */
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ct_int.h"

static bool ct_accepts(const char *uri) { return pipe_mssql_scheme(uri, true); }

static int ct_open(const pipe_plan *p, pipe_source **out, tdspipe_error *err)
{
    pipe_mssql *m = NULL;
    *out = NULL;
    int rc = pipe_mssql_open(p, true, &m, err);
    if (rc)
        return rc;
    m->ct = calloc(1, sizeof *m->ct);
    if (!m->ct) {
        pipe_mssql_close((pipe_source *)m);
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    }
    *out = (pipe_source *)m;
    return 0;
}

static int ct_cursor_read(pipe_source *s, sink *dest, pipe_plan *p, tdspipe_error *err)
{
    pipe_mssql *m = (pipe_mssql *)s;
    char why[700];
    int rc = pipe_ct_prepare(m->ct, m->cl, dest, p, &m->name, &m->cat, why, sizeof why);
    if (rc)
        return pipe__fail(err, rc, "%s", why);
    p->strategy = m->ct->strategy;
    p->cdc = m->ct->cdc;
    p->keep_cdc_names = true; /* snake_case would drop their leading '_' */
    return 0;
}

static int ct_read(pipe_source *s, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    pipe_mssql *m = (pipe_mssql *)s;
    (void)p;
    m->cb = cb;
    m->ud = ud;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = pipe_ct_read(m->ct, m->cl, m, &ne);
    return pipe_mssql_read_result(m, rc, &ne, err);
}

static int ct_cursor_save(pipe_source *s, sink *dest, tdspipe_error *err)
{
    pipe_mssql *m = (pipe_mssql *)s;
    if (pipe_ct_save(m->ct, dest))
        return pipe__fail(err, TDSPIPE_E_LOAD, "%s", sink_errmsg(dest));
    return 0;
}

static int64_t ct_estimate(pipe_source *s, const pipe_plan *p)
{
    pipe_mssql *m = (pipe_mssql *)s;
    (void)p;
    return m->ct->snapshot ? pipe_select_estimate(m->cl, &m->name) : -1;
}

/* Streaming: the version the run started from and the one it read up to. */
static void ct_position(pipe_source *s, char *cursor, char *head, size_t cap)
{
    const pipe_ct *ct = ((pipe_mssql *)s)->ct;
    if (ct->snapshot || !ct->have_cursor)
        snprintf(cursor, cap, "%s", "");
    else
        snprintf(cursor, cap, "%" PRIu64, ct->cursor);
    snprintf(head, cap, "%" PRIu64, ct->version);
}

static int64_t ct_retention(pipe_source *s) { return ((pipe_mssql *)s)->ct->retention_s; }

const pipe_source_vtable pipe_src_ct = {
    .name = "mssql+ct",
    .accepts = ct_accepts,
    .open = ct_open,
    .describe = pipe_mssql_describe,
    .cursor_read = ct_cursor_read,
    .read = ct_read,
    .cursor_save = ct_cursor_save,
    .close = pipe_mssql_close,
    .estimate = ct_estimate,
    .position = ct_position,
    .retention_s = ct_retention,
};
