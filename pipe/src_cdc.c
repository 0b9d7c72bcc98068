/*
 * src_cdc.c — the Change Data Capture source (mssql+cdc://,
 * sqlserver+cdc://, azuresql+cdc://, azure-sql+cdc://; docs/cdc.md): a
 * SQL Server table source whose rows are a snapshot or a window of its
 * capture instance's changes (cdc_read.c), whose cursor is the last LSN
 * loaded (cdc_prepare.c) and whose rows carry the _cdc_ columns
 * (cdc_rows.c), loaded by the sink's Change Tracking merge.
 *
 * The URI is read by net_opts_from_uri like every SQL Server URI (so
 * capture_instance, dest_schema and poll_interval are checked there). A
 * +cdc URI is never read as a plain table: the rows would lack the change
 * columns and the deletes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"
#include "stream_int.h"
#include "tds_ascii.h"

typedef struct cdc_source {
    pipe_mssql *m;
    pipe_cdc *c;
} cdc_source;

static bool cdc_accepts(const char *uri)
{
    static const char *const schemes[] = {"mssql+cdc://", "sqlserver+cdc://", "azuresql+cdc://",
                                          "azure-sql+cdc://", NULL};
    for (size_t i = 0; uri && schemes[i]; i++)
        if (!tds_ascii_ncasecmp(uri, schemes[i], strlen(schemes[i])))
            return true;
    return false;
}

static void cdc_close(pipe_source *s)
{
    cdc_source *cs = (cdc_source *)s;
    if (!cs)
        return;
    pipe_cdc_free(cs->c);
    pipe_mssql_close((pipe_source *)cs->m);
    free(cs);
}

static int cdc_open(const pipe_plan *p, pipe_source **out, tdspipe_error *err)
{
    *out = NULL;
    /* the URI first (a bad one says why), then what needs no server */
    net_opts uo;
    memset(&uo, 0, sizeof uo);
    int rc = pipe_mssql_opts(p->o, &uo, err);
    net_opts_free(&uo);
    if (!rc)
        rc = pipe_cdc_check_flags(p->o, err);
    if (rc)
        return rc;
    cdc_source *cs = calloc(1, sizeof *cs);
    if (!cs || !(cs->c = calloc(1, sizeof *cs->c))) {
        free(cs);
        return pipe__fail(err, TDSPIPE_E_LOAD, "out of memory");
    }
    rc = pipe_mssql_open(p, false, &cs->m, err);
    if (!rc) {
        char why[700];
        pipe_mssql *m = cs->m;
        rc = pipe_cdc_open_checks(cs->c, m->cl, p, &m->name, &m->cat, m->no.capture_instance, why, sizeof why);
        if (rc)
            pipe__fail(err, rc, "%s", why);
    }
    if (rc) {
        cdc_close((pipe_source *)cs);
        return rc;
    }
    *out = (pipe_source *)cs;
    return 0;
}

/* The key the capture instance is merged by; the default target is
 * dest_schema.table when the URI names a dest_schema. */
static int cdc_describe(pipe_source *s, pipe_desc *d, tdspipe_error *err)
{
    cdc_source *cs = (cdc_source *)s;
    int rc = pipe_mssql_describe((pipe_source *)cs->m, d, err);
    if (rc)
        return rc;
    d->pk = (const char *const *)cs->c->key.v;
    d->npk = cs->c->key.n;
    if (cs->m->no.dest_schema)
        d->schema = cs->m->no.dest_schema;
    return 0;
}

static int cdc_cursor_read(pipe_source *s, sink *dest, pipe_plan *p, tdspipe_error *err)
{
    cdc_source *cs = (cdc_source *)s;
    char why[700];
    int rc = pipe_cdc_prepare(cs->c, cs->m->cl, dest, p, &cs->m->name, why, sizeof why);
    if (rc)
        return pipe__fail(err, rc, "%s", why);
    p->strategy = cs->c->strategy;
    p->cdc = cs->c->cdc;
    p->cdc_images = true; /* a delete's row is its before image */
    p->keep_cdc_names = true; /* snake_case would drop their leading '_' */
    return 0;
}

static int cdc_read(pipe_source *s, const pipe_plan *p, const pipe_rows_cb *cb, void *ud, tdspipe_error *err)
{
    cdc_source *cs = (cdc_source *)s;
    (void)p;
    cs->m->cb = cb;
    cs->m->ud = ud;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = pipe_cdc_read(cs->c, cs->m->cl, cs->m, &ne);
    return pipe_mssql_read_result(cs->m, rc, &ne, err);
}

static int cdc_cursor_save(pipe_source *s, sink *dest, tdspipe_error *err)
{
    cdc_source *cs = (cdc_source *)s;
    if (pipe_cdc_save(cs->c, dest))
        return pipe__fail(err, TDSPIPE_E_LOAD, "%s", sink_errmsg(dest));
    return 0;
}

static int64_t cdc_estimate(pipe_source *s, const pipe_plan *p)
{
    cdc_source *cs = (cdc_source *)s;
    (void)p;
    return cs->c->snapshot ? pipe_select_estimate(cs->m->cl, &cs->m->name) : -1;
}

/* Streaming: the cursor the run started from and the LSN it read up to. */
static void cdc_position(pipe_source *s, char *cursor, char *head, size_t cap)
{
    cdc_source *cs = (cdc_source *)s;
    const pipe_cdc *c = cs->c;
    snprintf(cursor, cap, "%s", c->snapshot || !c->have_cursor ? "" : c->cursor);
    snprintf(head, cap, "%s", c->snapshot || c->empty ? c->next : c->to);
}

/* Streaming: the cleanup job's retention (cdc_retention.c), asked once
 * per poll (a one-row procedure); -1 when it cannot be read (stream.c
 * says so once and keeps its 5-minute default). */
static int64_t cdc_retention(pipe_source *s)
{
    cdc_source *cs = (cdc_source *)s;
    char why[600];
    return pipe_cdc_retention_s(cs->m->cl, cs->c->db, why, sizeof why);
}

const pipe_source_vtable pipe_src_cdc = {
    .name = "mssql+cdc",
    .accepts = cdc_accepts,
    .open = cdc_open,
    .describe = cdc_describe,
    .cursor_read = cdc_cursor_read,
    .read = cdc_read,
    .cursor_save = cdc_cursor_save,
    .close = cdc_close,
    .estimate = cdc_estimate,
    .position = cdc_position,
    .retention_s = cdc_retention,
};
