/*
 * sql.c — SQL text shared by the SQLite, PostgreSQL and DuckDB sinks:
 * quoting, CREATE TABLE, and the statements that move a stage table into
 * the target for merge and delete+insert. All three speak the same dialect
 * for these (double-quoted identifiers, row_number() windows, EXISTS).
 *
 * Strategies (each runs inside the load's one transaction):
 *   merge:          DELETE target rows whose key is in the stage, then
 *                   INSERT the last staged row of each key (highest
 *                   _tdspipe_ord). Same end state as an upsert, and needs
 *                   no unique constraint on a target someone else created.
 *   merge (cdc):    Change Tracking rows: versions, deletes, tombstones
 *                   (sql_merge_cdc below).
 *   delete+insert:  DELETE target rows with key between the stage's
 *                   MIN and MAX of the incremental key (or in the caller's
 *                   [lo, hi) window), INSERT all staged.
 */
#include <strings.h>

#include "sink_int.h"

int sink__sql_ident(sink_buf *b, const char *name)
{
    if (sink__buf_putc(b, '"'))
        return SINK_E_NOMEM;
    for (const char *p = name; *p; p++)
        if ((*p == '"' && sink__buf_putc(b, '"')) || sink__buf_putc(b, *p))
            return SINK_E_NOMEM;
    return sink__buf_putc(b, '"');
}

int sink__sql_qname(sink_buf *b, const char *schema, const char *t)
{
    if (schema && (sink__sql_ident(b, schema) || sink__buf_putc(b, '.')))
        return SINK_E_NOMEM;
    return sink__sql_ident(b, t);
}

int sink__sql_collist(sink_buf *b, const sink_schema *sc, const char *qual)
{
    for (size_t i = 0; i < sc->ncols; i++) {
        if (i && sink__buf_puts(b, ", "))
            return SINK_E_NOMEM;
        if (qual && (sink__sql_ident(b, qual) || sink__buf_putc(b, '.')))
            return SINK_E_NOMEM;
        if (sink__sql_ident(b, sc->names[i]))
            return SINK_E_NOMEM;
    }
    return SINK_OK;
}

/* "k1", "k2", … (the primary key's columns) */
static int key_list(sink_buf *b, const sink_schema *sc)
{
    int rc = 0;
    for (size_t k = 0; k < sc->npk; k++) {
        if (k)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__sql_ident(b, sc->names[sc->pk[k]]);
    }
    return rc;
}

int sink__sql_create(sink_buf *b, const sink_schema *sc, sink_type_fn type,
                     const char *schema, const char *table, bool if_not_exists,
                     bool with_ord, bool with_pk)
{
    int rc = sink__buf_puts(b, if_not_exists ? "CREATE TABLE IF NOT EXISTS " : "CREATE TABLE ");
    rc |= sink__sql_qname(b, schema, table);
    rc |= sink__buf_puts(b, " (");
    for (size_t i = 0; i < sc->ncols && !rc; i++) {
        char tmp[64];
        if (i)
            rc |= sink__buf_puts(b, ", ");
        rc |= sink__sql_ident(b, sc->names[i]);
        rc |= sink__buf_putc(b, ' ');
        rc |= sink__buf_puts(b, type(&sc->cols[i], tmp, sizeof tmp));
        bool in_pk = false;
        for (size_t k = 0; k < sc->npk; k++)
            in_pk |= sc->pk[k] == i;
        if ((in_pk && with_pk) || !(sc->cols[i].flags & TDS_COL_NULLABLE))
            rc |= sink__buf_puts(b, " NOT NULL");
    }
    if (with_ord)
        rc |= sink__buf_puts(b, ", \"" SINK__ORD "\" BIGINT");
    if (with_pk && sc->npk) {
        rc |= sink__buf_puts(b, ", PRIMARY KEY (");
        rc |= key_list(b, sc);
        rc |= sink__buf_putc(b, ')');
    }
    rc |= sink__buf_putc(b, ')');
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static int insert_head(sink_buf *b, const sink_schema *sc)
{
    int rc = sink__buf_puts(b, "INSERT INTO ");
    rc |= sink__sql_qname(b, sc->schema, sc->table);
    rc |= sink__buf_puts(b, " (");
    rc |= sink__sql_collist(b, sc, NULL);
    rc |= sink__buf_puts(b, ") SELECT ");
    rc |= sink__sql_collist(b, sc, NULL);
    return rc;
}

static int drop_stage(sink_buf *b, const sink_schema *sc, const char *stage)
{
    int rc = sink__buf_puts(b, ";\nDROP TABLE ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    return rc;
}

/* "qual"."col" */
static int qcol(sink_buf *b, const char *qual, const char *col)
{
    int rc = sink__sql_ident(b, qual);
    rc |= sink__buf_putc(b, '.');
    rc |= sink__sql_ident(b, col);
    return rc;
}

/* "l"."col" op "r"."col" */
static int qcmp(sink_buf *b, const char *l, const char *op, const char *r, const char *col)
{
    int rc = qcol(b, l, col);
    rc |= sink__buf_puts(b, op);
    rc |= qcol(b, r, col);
    return rc;
}

/* "l"."k1" = "r"."k1" AND … */
static int key_match(sink_buf *b, const sink_schema *sc, const char *l, const char *r)
{
    int rc = 0;
    for (size_t k = 0; k < sc->npk; k++) {
        if (k)
            rc |= sink__buf_puts(b, " AND ");
        rc |= qcmp(b, l, " = ", r, sc->names[sc->pk[k]]);
    }
    return rc;
}

/* EXISTS (SELECT 1 FROM in WHERE <stage's key = target's key> — the
 * caller adds any further condition and the ')' */
static int exists_match(sink_buf *b, const sink_schema *sc, const char *in, const char *stage)
{
    int rc = sink__buf_puts(b, "EXISTS (SELECT 1 FROM ");
    rc |= sink__sql_qname(b, sc->schema, in);
    rc |= sink__buf_puts(b, " WHERE ");
    rc |= key_match(b, sc, stage, sc->table);
    return rc;
}

static int delete_where(sink_buf *b, const sink_schema *sc, const char *from)
{
    int rc = sink__buf_puts(b, "DELETE FROM ");
    rc |= sink__sql_qname(b, sc->schema, from);
    rc |= sink__buf_puts(b, " WHERE ");
    return rc;
}

static bool is_cdc_col(const char *name) { return strncmp(name, "_cdc_", 5) == 0; }

static bool is_key_col(const sink_schema *sc, size_t i)
{
    for (size_t k = 0; k < sc->npk; k++)
        if (sc->pk[k] == i)
            return true;
    return false;
}

/* Change Tracking merge (sink.h, sink_table.cdc), in five steps inside the
 * load's transaction:
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
 * _cdc_lsn is the 20-digit zero-padded version, so text order is version
 * order. */
/* CREATE INDEX on the stage's key: the merge statements look keys up in
 * the stage from correlated subqueries, which SQLite otherwise answers with
 * a scan of the stage per row (quadratic). Dropped with the stage. */
static int stage_key_index(sink_buf *b, const sink_schema *sc, const char *stage)
{
    int rc = sink__buf_puts(b, "CREATE INDEX \"");
    for (const char *p = stage; *p; p++)
        rc |= (*p == '"' ? sink__buf_puts(b, "\"\"") : sink__buf_putc(b, *p));
    rc |= sink__buf_puts(b, "_key\" ON ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= sink__buf_puts(b, " (");
    rc |= key_list(b, sc);
    rc |= sink__buf_puts(b, ");\n");
    return rc;
}

static int sql_merge_cdc(sink_buf *b, const sink_schema *sc, const char *stage)
{
    const char *T = sc->table;
    int rc = stage_key_index(b, sc, stage);
    /* 1: a staged row loses to another staged row of its key with a higher
     * version, a delete at the same version, or a later ord. (EXISTS, not
     * NOT IN: PostgreSQL plans it as a hash join at any size.) */
    const char *W = "_tdspipe_w";
    rc |= delete_where(b, sc, stage);
    rc |= sink__buf_puts(b, "EXISTS (SELECT 1 FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= sink__buf_puts(b, " AS \"_tdspipe_w\" WHERE ");
    rc |= key_match(b, sc, W, stage);
    rc |= sink__buf_puts(b, " AND (");
    rc |= qcmp(b, W, " > ", stage, "_cdc_lsn");
    rc |= sink__buf_puts(b, " OR (");
    rc |= qcmp(b, W, " = ", stage, "_cdc_lsn");
    rc |= sink__buf_puts(b, " AND (");
    rc |= qcmp(b, W, " AND NOT ", stage, "_cdc_deleted");
    rc |= sink__buf_puts(b, " OR (");
    rc |= qcmp(b, W, " = ", stage, "_cdc_deleted");
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcmp(b, W, " > ", stage, SINK__ORD);
    rc |= sink__buf_puts(b, ")))));\n");

    /* 2 */
    rc |= delete_where(b, sc, stage);
    rc |= exists_match(b, sc, T, stage);
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcol(b, T, "_cdc_lsn");
    rc |= sink__buf_puts(b, " IS NOT NULL AND (");
    rc |= qcmp(b, T, " > ", stage, "_cdc_lsn");
    rc |= sink__buf_puts(b, " OR (");
    rc |= qcmp(b, T, " = ", stage, "_cdc_lsn");
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcmp(b, T, " AND NOT ", stage, "_cdc_deleted");
    rc |= sink__buf_puts(b, ")));\n");

    /* 3: UPDATE … FROM (SQLite ≥ 3.33, PostgreSQL, DuckDB) */
    rc |= sink__buf_puts(b, "UPDATE ");
    rc |= sink__sql_qname(b, sc->schema, T);
    rc |= sink__buf_puts(b, " SET ");
    bool first = true;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (!is_cdc_col(sc->names[i]))
            continue;
        if (!first)
            rc |= sink__buf_puts(b, ", ");
        first = false;
        rc |= sink__sql_ident(b, sc->names[i]);
        rc |= sink__buf_puts(b, " = ");
        rc |= qcol(b, stage, sc->names[i]);
    }
    rc |= sink__buf_puts(b, " FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= sink__buf_puts(b, " WHERE ");
    rc |= key_match(b, sc, stage, T);
    rc |= sink__buf_puts(b, " AND ");
    rc |= qcol(b, stage, "_cdc_deleted");
    rc |= sink__buf_puts(b, ";\n");

    /* 4 */
    rc |= sink__buf_puts(b, "INSERT INTO ");
    rc |= sink__sql_qname(b, sc->schema, T);
    rc |= sink__buf_puts(b, " (");
    rc |= sink__sql_collist(b, sc, NULL);
    rc |= sink__buf_puts(b, ") SELECT ");
    for (size_t i = 0; i < sc->ncols; i++) {
        if (i)
            rc |= sink__buf_puts(b, ", ");
        bool keep = is_key_col(sc, i) || is_cdc_col(sc->names[i]) || !(sc->cols[i].flags & TDS_COL_NULLABLE);
        /* CASE keeps the column's type for the NULL (PostgreSQL types an
         * untyped NULL in a SELECT list as text) */
        if (!keep)
            rc |= sink__buf_puts(b, "CASE WHEN 1 = 0 THEN ");
        rc |= qcol(b, stage, sc->names[i]);
        if (!keep)
            rc |= sink__buf_puts(b, " END");
    }
    rc |= sink__buf_puts(b, " FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= sink__buf_puts(b, " WHERE ");
    rc |= qcol(b, stage, "_cdc_deleted");
    rc |= sink__buf_puts(b, " AND NOT ");
    rc |= exists_match(b, sc, T, stage);
    rc |= sink__buf_puts(b, ");\n");

    rc |= delete_where(b, sc, T);
    rc |= exists_match(b, sc, stage, stage);
    rc |= sink__buf_puts(b, " AND NOT ");
    rc |= qcol(b, stage, "_cdc_deleted");
    rc |= sink__buf_puts(b, ");\n");
    rc |= insert_head(b, sc);
    rc |= sink__buf_puts(b, " FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= sink__buf_puts(b, " WHERE NOT ");
    rc |= qcol(b, stage, "_cdc_deleted");
    rc |= drop_stage(b, sc, stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_merge(sink_buf *b, const sink_schema *sc, const char *stage)
{
    if (sc->cdc)
        return sql_merge_cdc(b, sc, stage);
    int rc = stage_key_index(b, sc, stage);
    rc |= delete_where(b, sc, sc->table);
    rc |= exists_match(b, sc, stage, stage);
    rc |= sink__buf_puts(b, ");\n");
    rc |= insert_head(b, sc);
    rc |= sink__buf_puts(b, " FROM (SELECT *, row_number() OVER (PARTITION BY ");
    rc |= key_list(b, sc);
    rc |= sink__buf_puts(b, " ORDER BY \"" SINK__ORD "\" DESC) AS \"_tdspipe_rn\" FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= sink__buf_puts(b, ") AS \"_tdspipe_x\" WHERE \"_tdspipe_rn\" = 1");
    rc |= drop_stage(b, sc, stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_string(sink_buf *b, const char *s, size_t n)
{
    if (sink__buf_reserve(b, 2 * n + 2))
        return SINK_E_NOMEM;
    char *o = b->p + b->len;
    *o++ = '\'';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\'')
            *o++ = '\'';
        *o++ = s[i];
    }
    *o++ = '\'';
    b->len = (size_t)(o - b->p);
    return SINK_OK;
}

int sink__sql_append_stage(sink_buf *b, const sink_schema *sc, const char *stage)
{
    int rc = insert_head(b, sc);
    rc |= sink__buf_puts(b, " FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= drop_stage(b, sc, stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_delete_insert(sink_buf *b, const sink_schema *sc, const char *stage, sink_literal_fn lit)
{
    const char *k = sc->names[sc->incr];
    const tds_column *kc = &sc->cols[sc->incr];
    int rc = sink__buf_puts(b, "DELETE FROM ");
    rc |= sink__sql_qname(b, sc->schema, sc->table);
    if (sc->has_win[0] || sc->has_win[1]) {
        /* [lo, hi), a missing side unbounded: the interval the source read */
        const char *sep = " WHERE ";
        for (int i = 0; i < 2; i++) {
            if (!sc->has_win[i])
                continue;
            rc |= sink__buf_puts(b, sep);
            rc |= sink__sql_ident(b, k);
            rc |= sink__buf_puts(b, i ? " < " : " >= ");
            int e = lit(b, kc, &sc->win[i]);
            if (e)
                return e;
            sep = " AND ";
        }
        rc |= sink__buf_puts(b, ";\n");
    } else {
        rc |= sink__buf_puts(b, " WHERE ");
        rc |= sink__sql_ident(b, k);
        rc |= sink__buf_puts(b, " >= (SELECT MIN(");
        rc |= sink__sql_ident(b, k);
        rc |= sink__buf_puts(b, ") FROM ");
        rc |= sink__sql_qname(b, sc->schema, stage);
        rc |= sink__buf_puts(b, ") AND ");
        rc |= sink__sql_ident(b, k);
        rc |= sink__buf_puts(b, " <= (SELECT MAX(");
        rc |= sink__sql_ident(b, k);
        rc |= sink__buf_puts(b, ") FROM ");
        rc |= sink__sql_qname(b, sc->schema, stage);
        rc |= sink__buf_puts(b, ");\n");
    }
    rc |= insert_head(b, sc);
    rc |= sink__buf_puts(b, " FROM ");
    rc |= sink__sql_qname(b, sc->schema, stage);
    rc |= drop_stage(b, sc, stage);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_cast_literal(sink_buf *b, const tds_column *c, const tds_value *v, const char *type,
                           const char *unhex)
{
    sink_buf t = { 0 };
    int rc = sink__value_text(&t, c, v);
    if (rc) {
        sink__buf_free(&t);
        return rc;
    }
    const char *p = t.p ? t.p : "";
    size_t n = t.len;
    if (c->kind == TDS_K_BINARY || c->kind == TDS_K_UDT) {
        /* "0xABCD" → unhex('ABCD'), or decode('ABCD', 'hex') for
         * unhex "decode_hex" (PostgreSQL) */
        bool pg = strcmp(unhex, "decode_hex") == 0;
        rc = sink__buf_puts(b, pg ? "decode" : unhex);
        rc |= sink__buf_putc(b, '(');
        rc |= sink__sql_string(b, p + 2, n - 2);
        rc |= sink__buf_puts(b, pg ? ", 'hex')" : ")");
    } else {
        if (c->kind == TDS_K_DATETIMEOFFSET && n > 7 && p[n - 7] == ' ') {
            /* "… -05:30" → "…-05:30": the form every parser takes */
            memmove(t.p + n - 7, t.p + n - 6, 6);
            n--;
        }
        rc = sink__buf_puts(b, "CAST(");
        rc |= sink__sql_string(b, p, n);
        rc |= sink__buf_puts(b, " AS ");
        rc |= sink__buf_puts(b, type);
        rc |= sink__buf_putc(b, ')');
    }
    sink__buf_free(&t);
    return rc ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_state(sink_buf *b, const sink *s)
{
    if (!s->pending.len)
        return SINK_OK;
    int rc = sink__buf_puts(b, "CREATE TABLE IF NOT EXISTS \"" SINK__STATE_TABLE "\" "
                               "(\"name\" VARCHAR PRIMARY KEY, \"value\" VARCHAR NOT NULL);\n");
    for (size_t off = 0; off < s->pending.len;) {
        const char *name = s->pending.p + off;
        const char *value = name + strlen(name) + 1;
        off = (size_t)(value + strlen(value) + 1 - s->pending.p);
        rc |= sink__buf_puts(b, "DELETE FROM \"" SINK__STATE_TABLE "\" WHERE \"name\" = ");
        rc |= sink__sql_string(b, name, strlen(name));
        rc |= sink__buf_puts(b, ";\nINSERT INTO \"" SINK__STATE_TABLE "\" VALUES (");
        rc |= sink__sql_string(b, name, strlen(name));
        rc |= sink__buf_puts(b, ", ");
        rc |= sink__sql_string(b, value, strlen(value));
        rc |= sink__buf_puts(b, ");\n");
    }
    return rc ? SINK_E_NOMEM : SINK_OK;
}

static bool listed(const char *list, const char *name, bool nocase)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len == n && (nocase ? strncasecmp(p, name, n) == 0 : memcmp(p, name, n) == 0))
            return true;
        p = nl ? nl + 1 : p + len;
    }
    return false;
}

int sink__sql_add_columns(sink_buf *b, const sink_schema *sc, sink_type_fn type,
                          const char *existing, bool nocase)
{
    int rc = 0;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (listed(existing, sc->names[i], nocase))
            continue;
        char tmp[64];
        rc |= sink__buf_puts(b, "ALTER TABLE ");
        rc |= sink__sql_qname(b, sc->schema, sc->table);
        rc |= sink__buf_puts(b, " ADD COLUMN ");
        rc |= sink__sql_ident(b, sc->names[i]);
        rc |= sink__buf_putc(b, ' ');
        rc |= sink__buf_puts(b, type(&sc->cols[i], tmp, sizeof tmp));
        rc |= sink__buf_puts(b, ";\n");
    }
    return rc ? SINK_E_NOMEM : SINK_OK;
}
