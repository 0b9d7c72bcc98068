/*
 * mssql.c — SQL Server (and Azure SQL) as a destination, through net/ and
 * bulk load: INSERT BULK, then a BulkLoadBCP message per appended batch
 * (COLMETADATA + ROW tokens + DONE) encoded straight from the source's
 * value views by a row plan — no text round trip, never row-by-row
 * INSERTs.
 *
 * One transaction per load (BEGIN at sink_begin, COMMIT at sink_commit,
 * XACT_ABORT ON), so a rejected load (constraint, truncation, permission)
 * or a dropped connection leaves the target as it was:
 *   append         bulk into the target (created with a primary key when
 *                  keys are known and it is missing)
 *   replace        bulk into "_tdspipe_stage_<t>", then DROP the target and
 *                  sp_rename the stage, in the transaction
 *   merge          stage with _tdspipe_ord, then one MERGE (distinct
 *                  non-text keys), or DELETE of the staged keys + INSERT of
 *                  the latest row per key, or the Change Tracking merge
 *                  (all mssql_sql.c)
 *   delete+insert  stage, DELETE the key window, INSERT the stage
 * Pending sink_state_set values go into _tdspipe_state in the same
 * transaction. After a failure inside a bulk message the connection is
 * closed (the server rolls back); the next load reconnects.
 *
 * URIs: mssql://, sqlserver:// (one vtable), azuresql://, azure-sql://
 * (another), all parsed by net_opts_from_uri: every TLS mode, access-token
 * login, named instances.
 *
 * This file: connecting, running batches, lookups (incremental maximum,
 * state), closing and the vtables. Loads: mssql_load.c (begin, commit,
 * abort), mssql_bulk.c (rows).
 */
#include <stdio.h>
#include <stdlib.h>

#include "mssql_int.h"

/* --------------------------------------------------------- requests */

typedef struct ms_req {
    char *out;
    size_t cap;
    bool got_row;
    bool found;
    int rc;
    sink_buf *lits;     /* every column of the first row as T-SQL literals,
                           each ending with '\n' ("NULL" for NULL) */
} ms_req;

static int r_row(void *ud, const tds_column *cols, uint16_t n, const tds_value *v)
{
    ms_req *q = ud;
    if (q->got_row || (!q->out && !q->lits) || !n)
        return NET_ROW_NEXT;
    q->got_row = true;
    for (uint16_t i = 0; q->lits && i < n && !q->rc; i++) {
        int e = v[i].flags & TDS_VF_NULL ? sink__buf_puts(q->lits, "NULL") : sink__ms_literal(q->lits, &cols[i], &v[i]);
        if (e || sink__buf_putc(q->lits, '\n'))
            q->rc = e ? e : SINK_E_NOMEM;
    }
    if (v[0].flags & TDS_VF_NULL)
        return NET_ROW_NEXT;
    size_t len = 0;
    if (!q->out)
        return NET_ROW_NEXT;
    int rc = tds_value_text(&cols[0], &v[0], q->out, q->cap, &len);
    if (rc == TDS_E_SPACE)
        q->rc = SINK_E_ARG;
    else if (rc)
        q->rc = SINK_E_VALUE;
    else
        q->found = true;
    return NET_ROW_NEXT;
}

static int ms_connect(ms_sink *m, char *err, size_t errcap);

/* Runs a batch; a server error becomes "mssql: what: <message>". With out,
 * the first column of the first row comes back as text. */
int sink__ms_run_l(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found,
                 sink_buf *lits)
{
    if (!m->cl) {
        char e[400];
        if (ms_connect(m, e, sizeof e))
            return sink__fail(&m->base, SINK_E_DEST, "%s", e);
    }
    ms_req q = {.out = out, .cap = cap, .lits = lits};
    if (out && cap)
        out[0] = '\0';
    net_result_cb cb = {.row = r_row};
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = net_client_batch(m->cl, sql, &cb, &q, &ne);
    if (rc) {
        if (!net_conn_is_open(net_client_conn(m->cl))) {
            net_client_close(m->cl);
            m->cl = NULL;
            m->in_txn = false;
        }
        return sink__fail(&m->base, SINK_E_DEST, "mssql: %s: %s", what,
                          ne.message[0] ? ne.message : net_strerror(rc));
    }
    if (q.rc)
        return sink__fail(&m->base, q.rc, "mssql: %s: value does not fit", what);
    if (found)
        *found = q.found;
    return SINK_OK;
}

int sink__ms_run_q(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found)
{
    return sink__ms_run_l(m, sql, what, out, cap, found, NULL);
}

int sink__ms_run(ms_sink *m, const char *sql, const char *what)
{
    return sink__ms_run_q(m, sql, what, NULL, 0, NULL);
}

static int ms_connect(ms_sink *m, char *err, size_t errcap)
{
    net_error ne;
    memset(&ne, 0, sizeof ne);
    m->cl = net_client_open(&m->no, &ne);
    if (!m->cl)
        return sink__errf(err, errcap, SINK_E_DEST, "mssql: cannot connect: %s",
                          ne.message[0] ? ne.message : net_strerror(ne.code));
    net_client_cancel_flag(m->cl, NULL); /* TODO(issue 12): sink_options.cancel */
    /* Double-quoted identifiers (sink/sql.c, sink_max_value); any error
     * rolls the whole transaction back. */
    if (sink__ms_run(m, "SET QUOTED_IDENTIFIER ON; SET ANSI_NULLS ON; SET XACT_ABORT ON; SET NOCOUNT ON", "session setup")) {
        sink__errf(err, errcap, SINK_E_DEST, "%s", m->base.err);
        if (m->cl)
            net_client_close(m->cl);
        m->cl = NULL;
        return SINK_E_DEST;
    }
    return SINK_OK;
}

static int open_scheme(const char *scheme, const char *target, sink **out, char *err, size_t errcap)
{
    ms_sink *m = sink__calloc(1, sizeof *m);
    size_t n = strlen(scheme) + 3 + strlen(target) + 1;
    char *uri = sink__malloc(n);
    if (!m || !uri) {
        free(m);
        free(uri);
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    }
    snprintf(uri, n, "%s://%s", scheme, target);
    char e[400] = "";
    int rc = net_opts_from_uri(&m->no, uri, e, sizeof e);
    net_wipe(uri, n);
    free(uri);
    if (rc) {
        net_opts_free(&m->no);
        free(m);
        return sink__errf(err, errcap, SINK_E_URI, "mssql destination: %s", e);
    }
    m->no.stream_plp = false; /* lookups read whole values */
    if ((rc = ms_connect(m, err, errcap))) {
        net_opts_free(&m->no);
        free(m);
        return rc;
    }
    *out = &m->base;
    return SINK_OK;
}

static int ms_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    (void)o;
    return open_scheme("mssql", target, out, err, errcap);
}

static int az_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    (void)o;
    return open_scheme("azuresql", target, out, err, errcap);
}

void sink__ms_load_free(ms_sink *m)
{
    tds_row_plan_free(m->plan);
    m->plan = NULL;
    free(m->wcols);
    m->wcols = NULL;
    free(m->wide);
    m->wide = NULL;
    m->wide_cap = 0;
    free(m->ords);
    m->ords = NULL;
    free(m->keys);
    m->keys = NULL;
    m->keys_cap = m->keys_n = 0;
    m->dup_keys = false;
}

int sink__ms_nomem(ms_sink *m) { return sink__fail(&m->base, SINK_E_NOMEM, "out of memory"); }

static void ms_close(sink *s)
{
    ms_sink *m = (ms_sink *)s;
    if (m->cl)
        net_client_close(m->cl);
    sink__schema_free(&m->sc);
    sink__buf_free(&m->sql);
    free(m->stage);
    sink__ms_load_free(m);
    net_opts_free(&m->no);
    free(m);
}

static int ms_lookup(sink *s, const char *table, const char *expr, const char *where, char *out, size_t cap,
                     bool *found)
{
    ms_sink *m = (ms_sink *)s;
    *found = false;
    /* "schema.table" or "table" */
    const char *dot = strrchr(table, '.');
    sink_buf q = {0}, b = {0};
    int rc = 0;
    if (dot) {
        char *sch = strndup(table, (size_t)(dot - table));
        if (!sch)
            return sink__ms_nomem(m);
        rc |= sink__ms_ident(&q, sch) || sink__buf_putc(&q, '.');
        free(sch);
    }
    rc |= sink__ms_ident(&q, dot ? dot + 1 : table);
    rc |= sink__buf_puts(&b, "SELECT OBJECT_ID(N");
    rc |= sink__sql_string(&b, q.p, q.len);
    rc |= sink__buf_puts(&b, ", N'U')");
    if (rc || sink__buf_cstr(&b) || sink__buf_cstr(&q)) {
        sink__buf_free(&q);
        sink__buf_free(&b);
        return sink__ms_nomem(m);
    }
    char id[32];
    bool exists = false;
    rc = sink__ms_run_q(m, b.p, "table lookup", id, sizeof id, &exists);
    if (!rc && exists) {
        b.len = 0;
        int e = sink__buf_puts(&b, "SELECT TOP 1 ");
        e |= sink__buf_puts(&b, expr);
        e |= sink__buf_puts(&b, " FROM ");
        e |= sink__buf_put(&b, q.p, q.len);
        if (where) {
            e |= sink__buf_puts(&b, " WHERE ");
            e |= sink__buf_puts(&b, where);
        }
        if (e || sink__buf_cstr(&b))
            rc = sink__ms_nomem(m);
        else
            rc = sink__ms_run_q(m, b.p, "lookup", out, cap, found);
    }
    sink__buf_free(&q);
    sink__buf_free(&b);
    return rc;
}

const sink_vtable sink_mssql_vtable = {.scheme = "mssql", .alias = "sqlserver", .open = ms_open,
                                       .begin = sink__ms_begin, .append = sink__ms_append, .commit = sink__ms_commit,
                                       .abort = sink__ms_abort, .close = ms_close, .lookup = ms_lookup};
const sink_vtable sink_azuresql_vtable = {.scheme = "azuresql", .alias = "azure-sql", .open = az_open,
                                          .begin = sink__ms_begin, .append = sink__ms_append, .commit = sink__ms_commit,
                                          .abort = sink__ms_abort, .close = ms_close, .lookup = ms_lookup};
