/*
 * sql_cdc.c — the Change Tracking merge (sink.h, sink_table.cdc) in the
 * double-quote dialects (SQLite ≥ 3.33, PostgreSQL, DuckDB: UPDATE … FROM,
 * boolean columns in conditions). SQL Server's form is mssql_sql.c's. The
 * core runs it in the load's transaction, after the stage key index.
 *
 *   1. keep one staged row per key: highest _cdc_lsn, a delete first at
 *      equal versions, then the latest staged;
 *   2. drop staged rows the target already has newer (or, at the same
 *      version, as a delete that a non-delete must not undo);
 *   3. staged deletes of rows the target holds: update only the _cdc_*
 *      columns, the row keeps its other values;
 *   4. staged deletes of keys the target does not hold: a tombstone, the
 *      key and _cdc_* columns (NOT NULL columns such as the load timestamp
 *      as staged), every other column NULL;
 *   5. staged inserts/updates replace the target's row (DELETE + INSERT).
 * With cdc_images (Change Data Capture: a delete's staged row is the
 * deleted row's before image) steps 3 and 4 write every column.
 * _cdc_lsn is the 20-digit zero-padded version (Change Tracking) or hex
 * LSN text (Change Data Capture), so text order is change order.
 */
#include "sql_int.h"

#define W "_tdspipe_w"

/* "qual"."col" */
static int qcol(const sql_sink *q, sink_buf *b, const char *qual, const char *col)
{
    return sink__sql_ident(q, b, qual) || sink__buf_putc(b, '.') || sink__sql_ident(q, b, col);
}

/* "l"."col" op "r"."col" */
static int qcmp(const sql_sink *q, sink_buf *b, const char *l, const char *op, const char *r, const char *col)
{
    return qcol(q, b, l, col) || sink__buf_puts(b, op) || qcol(q, b, r, col);
}

static int key_match(const sql_sink *q, sink_buf *b, const char *l, const char *r)
{
    for (size_t k = 0; k < q->sc.npk; k++)
        if ((k && sink__buf_puts(b, " AND ")) || qcmp(q, b, l, " = ", r, q->sc.names[q->sc.pk[k]]))
            return SINK_E_NOMEM;
    return SINK_OK;
}

/* EXISTS (SELECT 1 FROM in WHERE <stage's key = target's key> — the
 * caller adds any further condition and the ')' */
static int exists_match(const sql_sink *q, sink_buf *b, const char *in)
{
    return sink__buf_puts(b, "EXISTS (SELECT 1 FROM ") || sink__sql_table(q, b, in) ||
           sink__buf_puts(b, " WHERE ") || key_match(q, b, q->stage, q->sc.table);
}

static int delete_where(const sql_sink *q, sink_buf *b, const char *from)
{
    return sink__buf_puts(b, "DELETE FROM ") || sink__sql_table(q, b, from) || sink__buf_puts(b, " WHERE ");
}

/* " FROM from WHERE " */
static int from_where(const sql_sink *q, sink_buf *b, const char *from)
{
    return sink__buf_puts(b, " FROM ") || sink__sql_table(q, b, from) || sink__buf_puts(b, " WHERE ");
}

/* "INSERT INTO into (<every column>) SELECT " */
static int insert_select(const sql_sink *q, sink_buf *b, const char *into)
{
    return sink__buf_puts(b, "INSERT INTO ") || sink__sql_table(q, b, into) || sink__buf_puts(b, " (") ||
           sink__sql_collist(q, b, NULL) || sink__buf_puts(b, ") SELECT ");
}

static bool is_cdc_col(const char *name) { return strncmp(name, "_cdc_", 5) == 0; }

/* 1: a staged row loses to another staged row of its key with a higher
 * version, a delete at the same version, or a later ord. (EXISTS, not NOT
 * IN: PostgreSQL plans it as a hash join at any size.) */
static int dedupe_stage(const sql_sink *q, sink_buf *b)
{
    const char *S = q->stage;
    int rc = delete_where(q, b, S);
    rc |= sink__buf_puts(b, "EXISTS (SELECT 1 FROM ");
    rc |= sink__sql_table(q, b, S);
    rc |= sink__buf_puts(b, " AS \"" W "\" WHERE ");
    rc |= key_match(q, b, W, S);
    rc |= sink__buf_puts(b, " AND (");
    rc |= qcmp(q, b, W, " > ", S, "_cdc_lsn");
    rc |= sink__buf_puts(b, " OR (");
    rc |= qcmp(q, b, W, " = ", S, "_cdc_lsn");
    rc |= sink__buf_puts(b, " AND (");
    rc |= qcmp(q, b, W, " AND NOT ", S, "_cdc_deleted");
    rc |= sink__buf_puts(b, " OR (");
    rc |= qcmp(q, b, W, " = ", S, "_cdc_deleted");
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcmp(q, b, W, " > ", S, SINK__ORD);
    rc |= sink__buf_puts(b, ")))));\n");
    return rc;
}

/* 2 */
static int drop_older(const sql_sink *q, sink_buf *b)
{
    const char *S = q->stage, *T = q->sc.table;
    int rc = delete_where(q, b, S);
    rc |= exists_match(q, b, T);
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcol(q, b, T, "_cdc_lsn");
    rc |= sink__buf_puts(b, " IS NOT NULL AND (");
    rc |= qcmp(q, b, T, " > ", S, "_cdc_lsn");
    rc |= sink__buf_puts(b, " OR (");
    rc |= qcmp(q, b, T, " = ", S, "_cdc_lsn");
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcmp(q, b, T, " AND NOT ", S, "_cdc_deleted");
    rc |= sink__buf_puts(b, ")));\n");
    return rc;
}

/* 3: UPDATE … FROM */
static int mark_deleted(const sql_sink *q, sink_buf *b)
{
    const char *S = q->stage, *T = q->sc.table;
    int rc = sink__buf_puts(b, "UPDATE ");
    rc |= sink__sql_table(q, b, T);
    rc |= sink__buf_puts(b, " SET ");
    bool first = true;
    for (size_t i = 0; i < q->sc.ncols; i++) {
        /* with before images (cdc_images) every non-key column */
        if (!is_cdc_col(q->sc.names[i]) && !(q->sc.cdc_images && !sink__sql_in_pk(&q->sc, i)))
            continue;
        rc |= !first && sink__buf_puts(b, ", ");
        first = false;
        rc |= sink__sql_ident(q, b, q->sc.names[i]);
        rc |= sink__buf_puts(b, " = ");
        rc |= qcol(q, b, S, q->sc.names[i]);
    }
    rc |= from_where(q, b, S);
    rc |= key_match(q, b, S, T);
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcol(q, b, S, "_cdc_deleted");
    rc |= sink__buf_puts(b, ";\n");
    return rc;
}

/* 4 */
static int tombstones(const sql_sink *q, sink_buf *b)
{
    const char *S = q->stage, *T = q->sc.table;
    int rc = insert_select(q, b, T);
    for (size_t i = 0; i < q->sc.ncols; i++) {
        rc |= i && sink__buf_puts(b, ", ");
        bool keep = q->sc.cdc_images || sink__sql_in_pk(&q->sc, i) || is_cdc_col(q->sc.names[i]) ||
                    !(q->sc.cols[i].flags & TDS_COL_NULLABLE);
        /* CASE keeps the column's type for the NULL (PostgreSQL types an
         * untyped NULL in a SELECT list as text) */
        rc |= !keep && sink__buf_puts(b, "CASE WHEN 1 = 0 THEN ");
        rc |= qcol(q, b, S, q->sc.names[i]);
        rc |= !keep && sink__buf_puts(b, " END");
    }
    rc |= from_where(q, b, S);
    rc |= qcol(q, b, S, "_cdc_deleted");
    rc |= sink__buf_puts(b, " AND NOT ");
    rc |= exists_match(q, b, T);
    rc |= sink__buf_puts(b, ");\n");
    return rc;
}

/* 5 */
static int upserts(const sql_sink *q, sink_buf *b)
{
    const char *S = q->stage, *T = q->sc.table;
    int rc = delete_where(q, b, T);
    rc |= exists_match(q, b, S);
    rc |= sink__buf_puts(b, " AND NOT ");
    rc |= qcol(q, b, S, "_cdc_deleted");
    rc |= sink__buf_puts(b, ");\n");
    rc |= insert_select(q, b, T);
    rc |= sink__sql_collist(q, b, NULL);
    rc |= from_where(q, b, S);
    rc |= sink__buf_puts(b, "NOT ");
    rc |= qcol(q, b, S, "_cdc_deleted");
    rc |= sink__buf_puts(b, ";\nDROP TABLE ");
    rc |= sink__sql_table(q, b, S);
    return rc;
}

int sink__sql_cdc_merge(const sql_sink *q, sink_buf *b)
{
    int rc = dedupe_stage(q, b);
    rc |= drop_older(q, b);
    rc |= mark_deleted(q, b);
    rc |= tombstones(q, b);
    rc |= upserts(q, b);
    return rc ? SINK_E_NOMEM : SINK_OK;
}
