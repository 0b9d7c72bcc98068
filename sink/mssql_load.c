/*
 * mssql_load.c — a load into SQL Server from begin to commit: the
 * transaction, schema and table creation, the stage, and at commit the
 * strategy's statements and the state rows (see mssql.c for the plan of
 * each strategy). Abort rolls back.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mssql_int.h"

/* N'[schema].[t]' for OBJECT_ID */
static int object_literal(ms_sink *m, sink_buf *b, const char *t)
{
    sink_buf q = {0};
    int rc = 0;
    if (m->sc.schema)
        rc |= sink__ms_ident(&q, m->sc.schema) || sink__buf_putc(&q, '.');
    rc |= sink__ms_ident(&q, t);
    rc |= sink__buf_putc(b, 'N');
    rc |= sink__sql_string(b, q.p, q.len);
    sink__buf_free(&q);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static int table_exists(ms_sink *m, const char *t, bool *exists)
{
    sink_buf b = {0};
    char out[32];
    int rc = sink__buf_puts(&b, "SELECT OBJECT_ID(") || object_literal(m, &b, t) ||
             sink__buf_puts(&b, ", N'U')") || sink__buf_cstr(&b);
    rc = rc ? sink__ms_nomem(m) : sink__ms_run_q(m, b.p, "table lookup", out, sizeof out, exists);
    sink__buf_free(&b);
    return rc;
}

static int qname(sink_buf *b, const ms_sink *m, const char *t) { return sink__sql_qname(b, m->sc.schema, t); }

int sink__ms_begin(sink *s, const sink_table *t)
{
    ms_sink *m = (ms_sink *)s;
    sink__schema_free(&m->sc);
    free(m->stage);
    m->stage = NULL;
    sink__ms_load_free(m);
    m->ord = 0;
    if (sink__schema_copy(&m->sc, t))
        return sink__ms_nomem(m);
    size_t n = strlen(m->sc.table);
    if (!(m->stage = sink__malloc(sizeof SINK__STAGE_PREFIX + n)))
        return sink__ms_nomem(m);
    memcpy(m->stage, SINK__STAGE_PREFIX, sizeof SINK__STAGE_PREFIX - 1);
    memcpy(m->stage + sizeof SINK__STAGE_PREFIX - 1, m->sc.table, n + 1);
    m->staged = t->strategy != SINK_APPEND;
    m->with_ord = t->strategy == SINK_MERGE;
    m->cdc = t->cdc && t->strategy == SINK_MERGE;
    if (t->cdc && t->strategy == SINK_MERGE) {
        bool lsn = false, del = false;
        for (size_t i = 0; i < m->sc.ncols; i++) {
            lsn |= !strcmp(m->sc.names[i], "_cdc_lsn");
            del |= !strcmp(m->sc.names[i], "_cdc_deleted");
        }
        if (!lsn || !del)
            return sink__fail(s, SINK_E_ARG, "a Change Tracking merge needs the _cdc_lsn and _cdc_deleted columns");
    }

    /* the bulk description: the sink's names, the target for text types */
    size_t nw = m->sc.ncols + (m->with_ord ? 1 : 0);
    if (!(m->wcols = sink__calloc(nw, sizeof *m->wcols)))
        return sink__ms_nomem(m);
    for (size_t i = 0; i < m->sc.ncols; i++)
        if (sink__ms_wire_col(&m->wcols[i], &m->sc.cols[i], m->sc.names[i], m->sc.full))
            return sink__fail(s, SINK_E_UNSUPPORTED, "column %s: type not supported by bulk load", m->sc.names[i]);
    if (m->with_ord) {
        tds_column *o = &m->wcols[m->sc.ncols];
        tds_column_init(o, TDS_T_INTN, 8, 0, 0);
        o->flags = 0;
        o->name.ptr = SINK__ORD;
        o->name.len = strlen(SINK__ORD);
    }

    int rc = sink__ms_run(m, "BEGIN TRANSACTION", "begin");
    if (rc)
        return rc;
    m->in_txn = true;
    sink_buf *b = &m->sql;
    char out[64];
    if (m->sc.schema) {
        bool found = false;
        b->len = 0;
        if (sink__buf_puts(b, "SELECT SCHEMA_ID(N") || sink__sql_string(b, m->sc.schema, strlen(m->sc.schema)) ||
            sink__buf_putc(b, ')') || sink__buf_cstr(b))
            return sink__ms_nomem(m);
        if ((rc = sink__ms_run_q(m, b->p, "schema lookup", out, sizeof out, &found)))
            return rc;
        if (!found) {
            b->len = 0;
            if (sink__buf_puts(b, "CREATE SCHEMA ") || sink__ms_ident(b, m->sc.schema) || sink__buf_cstr(b))
                return sink__ms_nomem(m);
            if ((rc = sink__ms_run(m, b->p, "create schema")))
                return rc;
        }
    }
    bool exists = false;
    if (t->strategy != SINK_REPLACE && (rc = table_exists(m, m->sc.table, &exists)))
        return rc;
    b->len = 0;
    int e = 0;
    if (t->strategy != SINK_REPLACE && !exists) {
        e |= sink__ms_create(b, &m->sc, m->sc.table, false, true);
        e |= sink__buf_puts(b, ";\n");
    }
    if (m->staged) {
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= qname(b, m, m->stage);
        e |= sink__buf_puts(b, ";\n");
        /* replace: the stage becomes the target, key and all */
        e |= sink__ms_create(b, &m->sc, m->stage, m->with_ord, t->strategy == SINK_REPLACE);
    }
    if (e || sink__buf_cstr(b))
        return sink__ms_nomem(m);
    if (b->len && (rc = sink__ms_run(m, b->p, "create table")))
        return rc;
    return SINK_OK;
}
static int ensure_state_table(ms_sink *m)
{
    bool exists = false;
    char out[32];
    int rc = sink__ms_run_q(m, "SELECT OBJECT_ID(N'[" SINK__STATE_TABLE "]', N'U')", "state lookup", out, sizeof out, &exists);
    if (rc || exists)
        return rc;
    return sink__ms_run(m, "CREATE TABLE [" SINK__STATE_TABLE "] ([name] nvarchar(450) NOT NULL PRIMARY KEY, "
                  "[value] nvarchar(max) NOT NULL)", "create state table");
}

static bool text_key(const sink_schema *sc)
{
    for (size_t k = 0; k < sc->npk; k++) {
        int kind = sc->cols[sc->pk[k]].kind;
        if (kind == TDS_K_CHAR || kind == TDS_K_NCHAR || kind == TDS_K_XML || kind == TDS_K_VARIANT)
            return true;
    }
    return false;
}

/* delete+insert without the caller's bounds: the window is the stage's
 * [MIN, MAX] of the key, read first and spelled as literals, so every
 * statement stays a plain one (no scalar subqueries). */
static int window_from_stage(ms_sink *m, sink_buf *b)
{
    const char *k = m->sc.names[m->sc.incr];
    sink_buf q = {0}, lits = {0};
    int e = sink__buf_puts(&q, "SELECT MIN(");
    e |= sink__ms_ident(&q, k);
    e |= sink__buf_puts(&q, "), MAX(");
    e |= sink__ms_ident(&q, k);
    e |= sink__buf_puts(&q, ") FROM ");
    e |= qname(&q, m, m->stage);
    e |= sink__buf_cstr(&q);
    int rc = e ? sink__ms_nomem(m) : sink__ms_run_l(m, q.p, "key window", NULL, 0, NULL, &lits);
    sink__buf_free(&q);
    if (!rc && (e = sink__buf_cstr(&lits)))
        rc = sink__ms_nomem(m);
    char *nl = !rc && lits.p ? strchr(lits.p, '\n') : NULL;
    if (nl && strncmp(lits.p, "NULL\n", 5)) { /* an empty stage deletes nothing */
        *nl = '\0';
        char *hi = nl + 1, *end = strchr(hi, '\n');
        if (end)
            *end = '\0';
        e = sink__buf_puts(b, "DELETE FROM ");
        e |= qname(b, m, m->sc.table);
        e |= sink__buf_puts(b, " WHERE ");
        e |= sink__ms_ident(b, k);
        e |= sink__buf_puts(b, " >= ");
        e |= sink__buf_puts(b, lits.p);
        e |= sink__buf_puts(b, " AND ");
        e |= sink__ms_ident(b, k);
        e |= sink__buf_puts(b, " <= ");
        e |= sink__buf_puts(b, hi);
        e |= sink__buf_puts(b, ";\n");
    }
    sink__buf_free(&lits);
    if (rc)
        return rc;
    if (e || sink__sql_append_stage(b, &m->sc, m->stage))
        return sink__ms_nomem(m);
    return SINK_OK;
}

int sink__ms_commit(sink *s)
{
    ms_sink *m = (ms_sink *)s;
    if (!m->cl || !m->in_txn)
        return sink__fail(s, SINK_E_DEST, "mssql: the connection was lost during the load");
    sink_buf *b = &m->sql;
    b->len = 0;
    int e = 0, rc;
    switch (m->sc.strategy) {
    case SINK_REPLACE: {
        sink_buf full = {0};
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= qname(b, m, m->sc.table);
        e |= sink__buf_puts(b, ";\nEXEC sp_rename N");
        if (m->sc.schema)
            e |= sink__ms_ident(&full, m->sc.schema) || sink__buf_putc(&full, '.');
        e |= sink__ms_ident(&full, m->stage);
        e |= sink__sql_string(b, full.p, full.len);
        e |= sink__buf_puts(b, ", N");
        e |= sink__sql_string(b, m->sc.table, strlen(m->sc.table));
        sink__buf_free(&full);
        break;
    }
    case SINK_APPEND:
        break;
    case SINK_MERGE:
        /* one MERGE when every staged key is distinct and compares
         * bytewise (no text key a collation might fold); else the
         * latest row per key by ROW_NUMBER */
        if (m->cdc)
            e |= sink__ms_cdc_merge(b, &m->sc, m->stage);
        else if (!m->dup_keys && !text_key(&m->sc))
            e |= sink__ms_merge_unique(b, &m->sc, m->stage);
        else
            e |= sink__ms_merge_latest(b, &m->sc, m->stage);
        break;
    case SINK_DELETE_INSERT:
        if (!m->sc.has_win[0] && !m->sc.has_win[1]) {
            if ((rc = window_from_stage(m, b)))
                return rc;
            break;
        }
        if ((rc = sink__sql_delete_insert(b, &m->sc, m->stage, sink__ms_literal)))
            return sink__fail(s, rc, rc == SINK_E_NOMEM ? "out of memory" : "mssql: delete+insert bound not representable");
        break;
    }
    if (e || sink__buf_cstr(b))
        return sink__ms_nomem(m);
    if (b->len && (rc = sink__ms_run(m, b->p, "commit")))
        return rc;
    if (m->base.pending.len) {
        b->len = 0;
        if ((rc = ensure_state_table(m)))
            return rc;
        if (sink__ms_state(b, &m->base) || sink__buf_cstr(b))
            return sink__ms_nomem(m);
        if ((rc = sink__ms_run(m, b->p, "state")))
            return rc;
    }
    if ((rc = sink__ms_run(m, "COMMIT TRANSACTION", "commit")))
        return rc;
    m->in_txn = false;
    return SINK_OK;
}

void sink__ms_abort(sink *s)
{
    ms_sink *m = (ms_sink *)s;
    if (m->cl && m->in_txn) {
        char keep[sizeof m->base.err];
        memcpy(keep, m->base.err, sizeof keep);
        /* XACT_ABORT may have rolled back already: 3903 is fine */
        sink__ms_run(m, "ROLLBACK TRANSACTION", "rollback");
        memcpy(m->base.err, keep, sizeof keep);
    }
    m->in_txn = false;
    sink__ms_load_free(m);
}
