/*
 * sql_core.c — the life of a load into any SQL destination, written once
 * (the dialect, sql_int.h, says how each step is spelled and run):
 *
 *   begin   open the transaction; create the schema when missing; for a
 *           load into an existing table apply the schema contract
 *           (sql_evolve.c: add columns, widen types, refuse, or filter the
 *           rows the channel sees); create
 *           the target (not for replace) and, for every strategy but a
 *           plain append, a fresh stage "<prefix><table>" (with
 *           _tdspipe_ord for merge); open the bulk channel into it.
 *   append  the channel moves the batch, through the contract's filter
 *           when there is one (merge_stmt dialects first note the
 *           batch's keys).
 *   commit  close the channel; run the strategy's statements
 *           (sql_strategy.c); write the pending state rows; COMMIT — all
 *           in the one transaction, so data and cursor move together.
 *   abort   drop the channel; ROLLBACK (the error message is kept). The
 *           stage was created inside the transaction and goes with it.
 *
 * Nothing a load writes is visible before the COMMIT: every failure ends
 * in abort (registry.c calls it), which rolls back.
 */
#include <stdlib.h>

#include "sql_int.h"

int sink__sql_nomem(sql_sink *q) { return sink__fail(&q->base, SINK_E_NOMEM, "out of memory"); }

static void load_free(sql_sink *q)
{
    sink__sql_filter_free(q);
    free(q->keys);
    q->keys = NULL;
    q->keys_cap = q->keys_n = 0;
    q->dup_keys = false;
}

/* The schema copy, the stage's name and the load's flags. */
static int load_reset(sql_sink *q, const sink_table *t)
{
    sink__schema_free(&q->sc);
    free(q->stage);
    q->stage = NULL;
    load_free(q);
    q->ord = 0;
    if (sink__schema_copy(&q->sc, t))
        return sink__sql_nomem(q);
    if (q->d->no_schema) {
        free(q->sc.schema);
        q->sc.schema = NULL;
    }
    size_t np = strlen(q->d->stage_prefix), n = strlen(q->sc.table);
    if (!(q->stage = sink__malloc(np + n + 1)))
        return sink__sql_nomem(q);
    memcpy(q->stage, q->d->stage_prefix, np);
    memcpy(q->stage + np, q->sc.table, n + 1);
    q->with_ord = t->strategy == SINK_MERGE;
    q->staged_append = false;
    q->target_new = false;
    return SINK_OK;
}

static int ensure_schema(sql_sink *q)
{
    bool found = false;
    int rc;
    if (!q->sc.schema)
        return SINK_OK;
    if (q->d->schema_exists && ((rc = q->d->schema_exists(q, q->sc.schema, &found)) || found))
        return rc;
    sink_buf *b = &q->sql;
    b->len = 0;
    if (sink__buf_puts(b, q->d->create_schema) || sink__sql_ident(q, b, q->sc.schema) || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    return q->d->exec(q, b->p, "create schema");
}

/* CREATE the target when missing, and the stage. */
static int create_tables(sql_sink *q, bool exists)
{
    sink_strategy st = q->sc.strategy;
    sink_buf *b = &q->sql;
    b->len = 0;
    int e = 0;
    if (st != SINK_REPLACE && !exists) {
        e |= sink__sql_create(q, b, q->d->create_target, q->sc.table, false, q->d->target_pk);
        e |= sink__buf_puts(b, ";\n");
    }
    if (q->staged) {
        /* replace: the stage becomes the target, key and all */
        bool pk = st == SINK_REPLACE && q->d->target_pk && !q->d->pk_after_swap;
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= sink__sql_table(q, b, q->stage);
        e |= sink__buf_puts(b, ";\n");
        e |= sink__sql_create(q, b, "CREATE TABLE ", q->stage, q->with_ord, pk);
    }
    if (e || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    return b->len ? q->d->exec(q, b->p, "create table") : SINK_OK;
}

int sink__sql_begin(sink *s, const sink_table *t)
{
    sql_sink *q = (sql_sink *)s;
    const sink_dialect *d = q->d;
    int rc = load_reset(q, t);
    if (rc || (rc = d->exec(q, d->begin_sql, "begin")))
        return rc;
    q->in_txn = true;
    if ((rc = ensure_schema(q)))
        return rc;
    bool exists = false;
    /* replace under evolve takes the load's shape whatever was there */
    if (t->strategy != SINK_REPLACE || t->contract != SINK_EVOLVE) {
        if ((rc = d->exists(q, q->sc.schema, q->sc.table, &exists)))
            return rc;
        if (exists && d->columns && (rc = sink__sql_evolve(q)))
            return rc;
    }
    /* a channel that writes our exact types reaches a table someone else
     * made (bigint where we say integer) through a stage and INSERT …
     * SELECT, which casts */
    q->staged_append = exists && t->strategy == SINK_APPEND && d->append_via_stage;
    q->staged = t->strategy != SINK_APPEND || q->staged_append;
    if ((rc = create_tables(q, exists)))
        return rc;
    return d->bulk_open(q, q->staged ? q->stage : q->sc.table);
}

static int lost(sql_sink *q)
{
    return sink__fail(&q->base, SINK_E_DEST, "%s: the connection was lost during the load", q->d->name);
}

int sink__sql_append(sink *s, const sink_batch *in)
{
    sql_sink *q = (sql_sink *)s;
    if (!q->in_txn)
        return lost(q);
    sink_batch fb, *b = &fb;
    int rc = sink__sql_filter(q, in, b);
    if (rc || !b->nrows)
        return rc;
    if (q->d->merge_stmt && q->sc.strategy == SINK_MERGE && !q->sc.cdc && sink__sql_note_keys(q, b))
        return sink__sql_nomem(q);
    return q->d->bulk_rows(q, b);
}

/* _tdspipe_state's rows, the table created when first needed. */
static int write_state(sql_sink *q)
{
    bool exists = false;
    int rc = q->d->exists(q, NULL, SINK__STATE_TABLE, &exists);
    if (!rc && !exists)
        rc = q->d->exec(q, q->d->state_create, "create state table");
    if (rc)
        return rc;
    sink_buf *b = &q->sql;
    b->len = 0;
    if (sink__sql_state(q, b) || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    return q->d->exec(q, b->p, "state");
}

int sink__sql_commit(sink *s)
{
    sql_sink *q = (sql_sink *)s;
    if (!q->in_txn)
        return lost(q);
    int rc = q->d->bulk_close(q);
    if (rc)
        return rc;
    sink_buf *b = &q->sql;
    b->len = 0;
    if ((rc = sink__sql_strategy(q, b)) || (rc = sink__buf_cstr(b))) {
        if (rc == SINK_E_VALUE)
            return sink__fail(s, rc, "%s: delete+insert window: a bound cannot be decoded", q->d->name);
        return rc == SINK_E_NOMEM ? sink__sql_nomem(q) : rc; /* else: the window query's message */
    }
    if (b->len && (rc = q->d->exec(q, b->p, "commit")))
        return rc;
    if (q->base.pending.len && (rc = write_state(q)))
        return rc;
    if ((rc = q->d->exec(q, q->d->commit_sql, "commit")))
        return rc;
    q->in_txn = false;
    return SINK_OK;
}

void sink__sql_abort(sink *s)
{
    sql_sink *q = (sql_sink *)s;
    q->d->bulk_drop(q);
    if (q->in_txn) {
        /* the message of what failed stays; a rollback the server already
         * did (SQL Server's XACT_ABORT: error 3903) is fine */
        char keep[sizeof q->base.err];
        memcpy(keep, q->base.err, sizeof keep);
        q->d->exec(q, q->d->rollback_sql, "rollback");
        memcpy(q->base.err, keep, sizeof keep);
        q->in_txn = false;
    }
    load_free(q);
}

void sink__sql_close(sink *s)
{
    sql_sink *q = (sql_sink *)s;
    sink__sql_abort(s);
    q->d->free(q);
    sink__schema_free(&q->sc);
    sink__buf_free(&q->sql);
    free(q->stage);
    load_free(q);
    free(q);
}

int sink__sql_lookup(sink *s, const char *table, const char *expr, const char *where,
                     char *out, size_t cap, bool *found)
{
    sql_sink *q = (sql_sink *)s;
    const char *dot = strrchr(table, '.');
    const char *tname = dot ? dot + 1 : table;
    char schema[256];
    if (dot && !q->d->no_schema) {
        size_t n = (size_t)(dot - table);
        if (n >= sizeof schema)
            return sink__fail(s, SINK_E_ARG, "schema name too long");
        memcpy(schema, table, n);
        schema[n] = '\0';
    }
    const char *sch = dot && !q->d->no_schema ? schema : NULL;
    bool exists = false;
    int rc = q->d->exists(q, sch, tname, &exists);
    if (rc || !exists)
        return rc;
    sink_buf from = { 0 };
    if (sink__sql_qname(q, &from, sch, tname) || sink__buf_cstr(&from))
        rc = sink__sql_nomem(q);
    else
        rc = q->d->value(q, expr, from.p, where, out, cap, found);
    sink__buf_free(&from);
    return rc;
}
