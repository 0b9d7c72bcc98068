/*
 * mssql_sql.c — T-SQL text of the SQL Server sink: bracket quoting,
 * CREATE TABLE with the source's types, the INSERT BULK statement, the
 * merges (MERGE of distinct keys; DELETE + INSERT of the latest row per
 * key; the Change Tracking merge), literals and the state statements. The
 * delete+insert statements are sink/sql.c's (the session runs with
 * QUOTED_IDENTIFIER ON, so its double-quoted names are T-SQL too); the
 * merges are written here because sink/sql.c's are shaped for SQLite,
 * PostgreSQL and DuckDB (its CREATE INDEX on the stage, for one, is
 * not what SQL Server needs).
 */
#include <stdio.h>
#include <strings.h>

#include "mssql_int.h"

int sink__ms_ident(sink_buf *b, const char *name)
{
    if (sink__buf_putc(b, '['))
        return SINK_E_NOMEM;
    for (const char *p = name; *p; p++)
        if ((*p == ']' && sink__buf_putc(b, ']')) || sink__buf_putc(b, *p))
            return SINK_E_NOMEM;
    return sink__buf_putc(b, ']');
}

static int qname(sink_buf *b, const sink_schema *sc, const char *t)
{
    if (sc->schema && (sink__ms_ident(b, sc->schema) || sink__buf_putc(b, '.')))
        return SINK_E_NOMEM;
    return sink__ms_ident(b, t);
}

static bool in_pk(const sink_schema *sc, size_t i)
{
    for (size_t k = 0; k < sc->npk; k++)
        if (sc->pk[k] == i)
            return true;
    return false;
}

int sink__ms_create(sink_buf *b, const sink_schema *sc, const char *table, bool with_ord, bool with_pk)
{
    int rc = sink__buf_puts(b, "CREATE TABLE ");
    rc |= qname(b, sc, table);
    rc |= sink__buf_puts(b, " (");
    for (size_t i = 0; i < sc->ncols; i++) {
        char tmp[96];
        bool key = with_pk && in_pk(sc, i);
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__ms_ident(b, sc->names[i]);
        rc |= sink__buf_putc(b, ' ');
        rc |= sink__buf_puts(b, sink__ms_type(&sc->cols[i], key, true, tmp, sizeof tmp));
        rc |= sink__buf_puts(b, key || !(sc->cols[i].flags & TDS_COL_NULLABLE) ? " NOT NULL" : " NULL");
    }
    if (with_ord)
        rc |= sink__buf_puts(b, ", [" SINK__ORD "] bigint NOT NULL");
    if (with_pk && sc->npk) {
        rc |= sink__buf_puts(b, ", PRIMARY KEY (");
        for (size_t k = 0; k < sc->npk; k++) {
            if (k)
                rc |= sink__buf_puts(b, ", ");
            rc |= sink__ms_ident(b, sc->names[sc->pk[k]]);
        }
        rc |= sink__buf_putc(b, ')');
    }
    rc |= sink__buf_putc(b, ')');
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__ms_insert_bulk(sink_buf *b, const sink_schema *sc, const char *table, bool with_ord, size_t rows)
{
    int rc = sink__buf_puts(b, "INSERT BULK ");
    rc |= qname(b, sc, table);
    rc |= sink__buf_puts(b, " (");
    for (size_t i = 0; i < sc->ncols; i++) {
        char tmp[96];
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__ms_ident(b, sc->names[i]);
        rc |= sink__buf_putc(b, ' ');
        /* the declared type is the value's (the table converts on
         * insert), with its collation so char bytes are read right */
        rc |= sink__buf_puts(b, sink__ms_type(&sc->cols[i], false, true, tmp, sizeof tmp));
    }
    if (with_ord)
        rc |= sink__buf_puts(b, ", [" SINK__ORD "] bigint");
    /* TABLOCK: one table lock instead of row locks (the load is one
     * transaction anyway); ROWS_PER_BATCH: the optimizer's size hint */
    rc |= sink__buf_printf(b, ") WITH (TABLOCK, ROWS_PER_BATCH = %zu)", rows ? rows : 1);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static int find_col(const sink_schema *sc, const char *name)
{
    for (size_t i = 0; i < sc->ncols; i++)
        if (!strcasecmp(sc->names[i], name))
            return (int)i;
    return -1;
}

static bool is_cdc(const char *name) { return !strncasecmp(name, "_cdc_", 5); }

/* a column a tombstone row carries */
static bool tombstone_col(const sink_schema *sc, size_t i)
{
    return in_pk(sc, i) || is_cdc(sc->names[i]) || !(sc->cols[i].flags & TDS_COL_NULLABLE);
}

/* "t"."k" = "w"."k" AND … */
static int key_match(sink_buf *b, const sink_schema *sc, const char *l, const char *r)
{
    int rc = 0;
    for (size_t k = 0; k < sc->npk; k++) {
        const char *col = sc->names[sc->pk[k]];
        if (k)
            rc |= sink__buf_puts(b, " AND ");
        rc |= sink__ms_ident(b, l);
        rc |= sink__buf_putc(b, '.');
        rc |= sink__ms_ident(b, col);
        rc |= sink__buf_puts(b, " = ");
        rc |= sink__ms_ident(b, r);
        rc |= sink__buf_putc(b, '.');
        rc |= sink__ms_ident(b, col);
    }
    return rc;
}

/* WITH [_tdspipe_w] AS (the staged rows ranked per key: highest version
 * first, a delete first at equal versions, then the latest staged). The
 * CTE's name is one of ours: a CTE hides a table of the same one-part
 * name, so "w" would turn a target called w into the CTE. */
static int winners(sink_buf *b, const sink_schema *sc, const char *stage)
{
    int rc = sink__buf_puts(b, "WITH [_tdspipe_w] AS (SELECT [s].*, ROW_NUMBER() OVER (PARTITION BY ");
    for (size_t k = 0; k < sc->npk; k++) {
        if (k)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__buf_puts(b, "[s].");
        rc |= sink__ms_ident(b, sc->names[sc->pk[k]]);
    }
    rc |= sink__buf_puts(b, " ORDER BY [s].[_cdc_lsn] DESC, [s].[_cdc_deleted] DESC, [s].[" SINK__ORD
                            "] DESC) AS [_tdspipe_rn] FROM ");
    rc |= qname(b, sc, stage);
    rc |= sink__buf_puts(b, " AS [s]) ");
    return rc;
}

int sink__ms_cdc_merge(sink_buf *b, const sink_schema *sc, const char *stage)
{
    if (find_col(sc, "_cdc_lsn") < 0 || find_col(sc, "_cdc_deleted") < 0)
        return SINK_E_ARG;
    int rc = 0;
    /* 1. upserts over target rows: a higher version, or the same version
     *    over a row that is not a delete */
    rc |= winners(b, sc, stage);
    rc |= sink__buf_puts(b, "UPDATE [t] SET ");
    bool first = true;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (in_pk(sc, i))
            continue;
        if (!first)
            rc |= sink__buf_puts(b, ", ");
        first = false;
        rc |= sink__ms_ident(b, sc->names[i]);
        rc |= sink__buf_puts(b, " = [_tdspipe_w].");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, " FROM ");
    rc |= qname(b, sc, sc->table);
    rc |= sink__buf_puts(b, " AS [t] JOIN [_tdspipe_w] ON ");
    rc |= key_match(b, sc, "t", "_tdspipe_w");
    rc |= sink__buf_puts(b, " WHERE [_tdspipe_w].[_tdspipe_rn] = 1 AND [_tdspipe_w].[_cdc_deleted] = 0 AND ([t].[_cdc_lsn] IS NULL"
                            " OR [_tdspipe_w].[_cdc_lsn] > [t].[_cdc_lsn] OR ([_tdspipe_w].[_cdc_lsn] = [t].[_cdc_lsn]"
                            " AND ([t].[_cdc_deleted] IS NULL OR [t].[_cdc_deleted] = 0)));\n");
    /* 2. deletes over target rows: only the _cdc_* columns change */
    rc |= winners(b, sc, stage);
    rc |= sink__buf_puts(b, "UPDATE [t] SET ");
    first = true;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (!is_cdc(sc->names[i]))
            continue;
        if (!first)
            rc |= sink__buf_puts(b, ", ");
        first = false;
        rc |= sink__ms_ident(b, sc->names[i]);
        rc |= sink__buf_puts(b, " = [_tdspipe_w].");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, " FROM ");
    rc |= qname(b, sc, sc->table);
    rc |= sink__buf_puts(b, " AS [t] JOIN [_tdspipe_w] ON ");
    rc |= key_match(b, sc, "t", "_tdspipe_w");
    rc |= sink__buf_puts(b, " WHERE [_tdspipe_w].[_tdspipe_rn] = 1 AND [_tdspipe_w].[_cdc_deleted] = 1 AND ([t].[_cdc_lsn] IS NULL"
                            " OR [_tdspipe_w].[_cdc_lsn] >= [t].[_cdc_lsn]);\n");
    /* 3. keys the target lacks: whole rows, and tombstones for deletes:
     *    the key and _cdc_* columns, and the staged value of every other
     *    NOT NULL column (a load timestamp; NULL there would be error 515) */
    for (int del = 0; del < 2; del++) {
        rc |= winners(b, sc, stage);
        rc |= sink__buf_puts(b, "INSERT INTO ");
        rc |= qname(b, sc, sc->table);
        rc |= sink__buf_puts(b, " (");
        first = true;
        for (size_t i = 0; i < sc->ncols; i++) {
            if (del && !tombstone_col(sc, i))
                continue;
            if (!first)
                rc |= sink__buf_puts(b, ", ");
            first = false;
            rc |= sink__ms_ident(b, sc->names[i]);
        }
        rc |= sink__buf_puts(b, ") SELECT ");
        first = true;
        for (size_t i = 0; i < sc->ncols; i++) {
            if (del && !tombstone_col(sc, i))
                continue;
            if (!first)
                rc |= sink__buf_puts(b, ", ");
            first = false;
            rc |= sink__buf_puts(b, "[_tdspipe_w].");
            rc |= sink__ms_ident(b, sc->names[i]);
        }
        rc |= sink__buf_printf(b, " FROM [_tdspipe_w] WHERE [_tdspipe_w].[_tdspipe_rn] = 1 AND [_tdspipe_w].[_cdc_deleted] = %d"
                                  " AND NOT EXISTS (SELECT 1 FROM ", del);
        rc |= qname(b, sc, sc->table);
        rc |= sink__buf_puts(b, " AS [t] WHERE ");
        rc |= key_match(b, sc, "t", "_tdspipe_w");
        rc |= sink__buf_puts(b, ");\n");
    }
    rc |= sink__buf_puts(b, "DROP TABLE ");
    rc |= qname(b, sc, stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__ms_merge_latest(sink_buf *b, const sink_schema *sc, const char *stage)
{
    /* the target's rows of every staged key go (keys compare under the
     * column's collation, so 'k' and 'K' are one key, as in the primary
     * key), then the latest staged row per key comes in */
    /* the target has no alias here (DELETE … FROM is not needed), so the
     * stage keeps its own name: an alias could be the target's name (a
     * table called "w" would match every row against itself) */
    int rc = sink__buf_puts(b, "DELETE FROM ");
    rc |= qname(b, sc, sc->table);
    rc |= sink__buf_puts(b, " WHERE EXISTS (SELECT 1 FROM ");
    rc |= qname(b, sc, stage);
    rc |= sink__buf_puts(b, " WHERE ");
    rc |= key_match(b, sc, stage, sc->table);
    rc |= sink__buf_puts(b, ");\nINSERT INTO ");
    rc |= qname(b, sc, sc->table);
    rc |= sink__buf_puts(b, " (");
    for (size_t i = 0; i < sc->ncols; i++) {
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, ") SELECT ");
    for (size_t i = 0; i < sc->ncols; i++) {
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__buf_puts(b, "[w].");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, " FROM (SELECT [s].*, ROW_NUMBER() OVER (PARTITION BY ");
    for (size_t k = 0; k < sc->npk; k++) {
        if (k)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__buf_puts(b, "[s].");
        rc |= sink__ms_ident(b, sc->names[sc->pk[k]]);
    }
    rc |= sink__buf_puts(b, " ORDER BY [s].[" SINK__ORD "] DESC) AS [_tdspipe_rn] FROM ");
    rc |= qname(b, sc, stage);
    rc |= sink__buf_puts(b, " AS [s]) AS [w] WHERE [w].[_tdspipe_rn] = 1;\nDROP TABLE ");
    rc |= qname(b, sc, stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__ms_merge_unique(sink_buf *b, const sink_schema *sc, const char *stage)
{
    int rc = sink__buf_puts(b, "MERGE INTO ");
    rc |= qname(b, sc, sc->table);
    rc |= sink__buf_puts(b, " AS [t] USING ");
    rc |= qname(b, sc, stage);
    rc |= sink__buf_puts(b, " AS [w] ON ");
    rc |= key_match(b, sc, "t", "w");
    bool first = true;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (in_pk(sc, i))
            continue;
        rc |= sink__buf_puts(b, first ? " WHEN MATCHED THEN UPDATE SET " : ", ");
        first = false;
        rc |= sink__buf_puts(b, "[t].");
        rc |= sink__ms_ident(b, sc->names[i]);
        rc |= sink__buf_puts(b, " = [w].");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, " WHEN NOT MATCHED THEN INSERT (");
    for (size_t i = 0; i < sc->ncols; i++) {
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, ") VALUES (");
    for (size_t i = 0; i < sc->ncols; i++) {
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__buf_puts(b, "[w].");
        rc |= sink__ms_ident(b, sc->names[i]);
    }
    rc |= sink__buf_puts(b, ");\nDROP TABLE ");
    rc |= qname(b, sc, stage);
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

int sink__ms_state(sink_buf *b, const sink *s)
{
    int rc = 0;
    for (size_t off = 0; off < s->pending.len;) {
        const char *name = s->pending.p + off;
        const char *value = name + strlen(name) + 1;
        off = (size_t)(value + strlen(value) + 1 - s->pending.p);
        rc |= sink__buf_puts(b, "DELETE FROM [" SINK__STATE_TABLE "] WHERE [name] = N");
        rc |= sink__sql_string(b, name, strlen(name));
        rc |= sink__buf_puts(b, ";\nINSERT INTO [" SINK__STATE_TABLE "] ([name], [value]) VALUES (N");
        rc |= sink__sql_string(b, name, strlen(name));
        rc |= sink__buf_puts(b, ", N");
        rc |= sink__sql_string(b, value, strlen(value));
        rc |= sink__buf_puts(b, ");\n");
    }
    return rc ? SINK_E_NOMEM : SINK_OK;
}
