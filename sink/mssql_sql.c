/*
 * mssql_sql.c — the T-SQL the SQL core (sql_strategy.c) cannot spell from
 * the dialect's table alone: the INSERT BULK statement, the stage's rename
 * (sp_rename), the Change Tracking merge (SQL Server has no boolean
 * expressions and updates through a join: UPDATE [t] … FROM … JOIN), the
 * literals of the delete+insert window and OBJECT_ID names. Identifiers
 * are bracketed by the core's quoting ([name], ] doubled).
 */
#include <stdio.h>
#include <strings.h>

#include "mssql_int.h"
#include "tds_ascii.h"

#define ID(n) sink__sql_ident(q, b, (n))

int sink__ms_insert_bulk(const sql_sink *q, sink_buf *b, const char *table, size_t rows)
{
    const sink_schema *sc = &q->sc;
    int rc = sink__buf_puts(b, "INSERT BULK ");
    rc |= sink__sql_table(q, b, table);
    rc |= sink__buf_puts(b, " (");
    for (size_t i = 0; i < sc->ncols; i++) {
        char tmp[96];
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= ID(sc->names[i]);
        rc |= sink__buf_putc(b, ' ');
        /* the declared type is the value's (the table converts on
         * insert), with its collation so char bytes are read right */
        rc |= sink__buf_puts(b, sink__ms_type(&sc->cols[i], false, true, tmp, sizeof tmp));
    }
    if (q->with_ord)
        rc |= sink__buf_puts(b, ", [" SINK__ORD "] bigint");
    /* TABLOCK: one table lock instead of row locks (the load is one
     * transaction anyway); ROWS_PER_BATCH: the optimizer's size hint */
    rc |= sink__buf_printf(b, ") WITH (TABLOCK, ROWS_PER_BATCH = %zu)", rows ? rows : 1);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static int find_col(const sink_schema *sc, const char *name)
{
    for (size_t i = 0; i < sc->ncols; i++)
        if (!tds_ascii_casecmp(sc->names[i], name))
            return (int)i;
    return -1;
}

static bool is_cdc(const char *name) { return !tds_ascii_ncasecmp(name, "_cdc_", 5); }

/* a column a tombstone row carries */
static bool tombstone_col(const sink_schema *sc, size_t i)
{
    return sc->cdc_images || sink__sql_in_pk(sc, i) || is_cdc(sc->names[i]) || !(sc->cols[i].flags & TDS_COL_NULLABLE);
}

/* "t"."k" = "w"."k" AND … */
static int key_match(const sql_sink *q, sink_buf *b, const char *l, const char *r)
{
    const sink_schema *sc = &q->sc;
    int rc = 0;
    for (size_t k = 0; k < sc->npk; k++) {
        const char *col = sc->names[sc->pk[k]];
        if (k)
            rc |= sink__buf_puts(b, " AND ");
        rc |= ID(l);
        rc |= sink__buf_putc(b, '.');
        rc |= ID(col);
        rc |= sink__buf_puts(b, " = ");
        rc |= ID(r);
        rc |= sink__buf_putc(b, '.');
        rc |= ID(col);
    }
    return rc;
}

/* WITH [_tdspipe_w] AS (the staged rows ranked per key: highest version
 * first, a delete first at equal versions, then the latest staged). The
 * CTE's name is one of ours: a CTE hides a table of the same one-part
 * name, so "w" would turn a target called w into the CTE. */
static int winners(const sql_sink *q, sink_buf *b)
{
    const sink_schema *sc = &q->sc;
    int rc = sink__buf_puts(b, "WITH [_tdspipe_w] AS (SELECT [s].*, ROW_NUMBER() OVER (PARTITION BY ");
    for (size_t k = 0; k < sc->npk; k++) {
        if (k)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__buf_puts(b, "[s].");
        rc |= ID(sc->names[sc->pk[k]]);
    }
    rc |= sink__buf_puts(b, " ORDER BY [s].[_cdc_lsn] DESC, [s].[_cdc_deleted] DESC, [s].[" SINK__ORD
                            "] DESC) AS [_tdspipe_rn] FROM ");
    rc |= sink__sql_table(q, b, q->stage);
    rc |= sink__buf_puts(b, " AS [s]) ");
    return rc;
}

/* WITH … UPDATE [t] SET <the columns cdc picks (false: the non-key
 * ones)> = the winner's FROM target AS [t] JOIN [_tdspipe_w] ON keys */
static int update_from_winners(const sql_sink *q, sink_buf *b, bool cdc)
{
    const sink_schema *sc = &q->sc;
    int rc = winners(q, b);
    rc |= sink__buf_puts(b, "UPDATE [t] SET ");
    bool first = true;
    for (size_t i = 0; i < sc->ncols; i++) {
        /* a delete: the _cdc_* columns, or with before images
         * (cdc_images) every non-key column */
        if (cdc ? !is_cdc(sc->names[i]) && !(sc->cdc_images && !sink__sql_in_pk(sc, i)) : sink__sql_in_pk(sc, i))
            continue;
        if (!first)
            rc |= sink__buf_puts(b, ", ");
        first = false;
        rc |= ID(sc->names[i]);
        rc |= sink__buf_puts(b, " = [_tdspipe_w].");
        rc |= ID(sc->names[i]);
    }
    rc |= sink__buf_puts(b, " FROM ");
    rc |= sink__sql_table(q, b, sc->table);
    rc |= sink__buf_puts(b, " AS [t] JOIN [_tdspipe_w] ON ");
    rc |= key_match(q, b, "t", "_tdspipe_w");
    return rc;
}

/* keys the target lacks: whole rows (del 0), or tombstones for deletes
 * (del 1): the key and _cdc_* columns, and the staged value of every other
 * NOT NULL column (a load timestamp; NULL there would be error 515) */
static int insert_missing(const sql_sink *q, sink_buf *b, int del)
{
    const sink_schema *sc = &q->sc;
    int rc = winners(q, b);
    rc |= sink__buf_puts(b, "INSERT INTO ");
    rc |= sink__sql_table(q, b, sc->table);
    for (int list = 0; list < 2; list++) {
        rc |= sink__buf_puts(b, list ? ") SELECT " : " (");
        bool first = true;
        for (size_t i = 0; i < sc->ncols; i++) {
            if (del && !tombstone_col(sc, i))
                continue;
            if (!first)
                rc |= sink__buf_puts(b, ", ");
            first = false;
            if (list)
                rc |= sink__buf_puts(b, "[_tdspipe_w].");
            rc |= ID(sc->names[i]);
        }
    }
    rc |= sink__buf_printf(b, " FROM [_tdspipe_w] WHERE [_tdspipe_w].[_tdspipe_rn] = 1 AND [_tdspipe_w].[_cdc_deleted] = %d"
                              " AND NOT EXISTS (SELECT 1 FROM ", del);
    rc |= sink__sql_table(q, b, sc->table);
    rc |= sink__buf_puts(b, " AS [t] WHERE ");
    rc |= key_match(q, b, "t", "_tdspipe_w");
    rc |= sink__buf_puts(b, ");\n");
    return rc;
}

int sink__ms_cdc_merge(const sql_sink *q, sink_buf *b)
{
    if (find_col(&q->sc, "_cdc_lsn") < 0 || find_col(&q->sc, "_cdc_deleted") < 0)
        return SINK_E_ARG;
    /* 1. upserts over target rows: a higher version, or the same version
     *    over a row that is not a delete */
    int rc = update_from_winners(q, b, false);
    rc |= sink__buf_puts(b, " WHERE [_tdspipe_w].[_tdspipe_rn] = 1 AND [_tdspipe_w].[_cdc_deleted] = 0 AND ([t].[_cdc_lsn] IS NULL"
                            " OR [_tdspipe_w].[_cdc_lsn] > [t].[_cdc_lsn] OR ([_tdspipe_w].[_cdc_lsn] = [t].[_cdc_lsn]"
                            " AND ([t].[_cdc_deleted] IS NULL OR [t].[_cdc_deleted] = 0)));\n");
    /* 2. deletes over target rows: only the _cdc_* columns change (all
     *    non-key columns with cdc_images) */
    rc |= update_from_winners(q, b, true);
    rc |= sink__buf_puts(b, " WHERE [_tdspipe_w].[_tdspipe_rn] = 1 AND [_tdspipe_w].[_cdc_deleted] = 1 AND ([t].[_cdc_lsn] IS NULL"
                            " OR [_tdspipe_w].[_cdc_lsn] >= [t].[_cdc_lsn]);\n");
    /* 3. keys the target lacks */
    rc |= insert_missing(q, b, 0);
    rc |= insert_missing(q, b, 1);
    rc |= sink__buf_puts(b, "DROP TABLE ");
    rc |= sink__sql_table(q, b, q->stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__ms_literal(sink_buf *b, const tds_column *c, const tds_value *v)
{
    if (c->kind == TDS_K_BINARY || c->kind == TDS_K_UDT) {
        /* the canonical text is already a T-SQL binary literal: 0xABCD */
        return sink__value_text(b, c, v);
    }
    char tmp[96];
    if (c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR) {
        sink_buf t = {0};
        int rc = sink__value_text(&t, c, v);
        if (!rc)
            rc = sink__buf_putc(b, 'N') || sink__sql_string(b, t.p ? t.p : "", t.len) ? SINK_E_NOMEM : SINK_OK;
        sink__buf_free(&t);
        return rc;
    }
    return sink__sql_cast_literal(b, c, v, sink__ms_type(c, false, false, tmp, sizeof tmp), "0x");
}


int sink__ms_object_literal(const sql_sink *q, sink_buf *b, const char *schema, const char *t)
{
    sink_buf n = {0};
    int rc = sink__sql_qname(q, &n, schema, t) || sink__buf_putc(b, 'N') || sink__sql_string(b, n.p, n.len);
    sink__buf_free(&n);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__ms_rename(const sql_sink *q, sink_buf *b)
{
    return sink__buf_puts(b, "EXEC sp_rename ") || sink__ms_object_literal(q, b, q->sc.schema, q->stage) ||
           sink__buf_puts(b, ", N") || sink__sql_string(b, q->sc.table, strlen(q->sc.table));
}
