/*
 * sql_strategy.c — the statements of every SQL destination, written once
 * in the dialect's spelling: CREATE TABLE and what each strategy runs at
 * commit (sql_core.c decides when; schema evolution is sql_evolve.c's):
 *
 *   replace        DROP the target, rename the stage to it (+ its key
 *                  when the dialect adds it after the swap)
 *   append         nothing, or INSERT … SELECT from the stage when the
 *                  rows went through one (the destination casts)
 *   merge          one MERGE when the dialect has it and every staged key
 *                  is distinct and compares bytewise; else DELETE the
 *                  target's rows of every staged key, INSERT the latest
 *                  staged row per key (highest _tdspipe_ord) — the end
 *                  state of an upsert, with no unique constraint needed;
 *                  the Change Tracking merge is the dialect's (sql_cdc.c);
 *                  with a predicate (--incremental-predicate) the stage
 *                  keeps its latest row per key, then MERGE … ON keys AND
 *                  (predicate), or INSERT the unmatched and UPDATE the
 *                  matched — aliases "target" and "source", the names
 *                  the user's predicate uses
 *   delete+insert  DELETE the key window (the caller's [lo, hi), or the
 *                  stage's [MIN, MAX]), INSERT the stage
 * and the rows of _tdspipe_state. Aliases are ours ("s", "w", "_tdspipe_…")
 * and never the target's name: the target is only written to, so no alias
 * can capture it. The predicate merge's "target" and "source" are ingestr's
 * (the predicate names them); a table called target or source is aliased
 * away within those statements.
 */
#include "sql_int.h"

#define ID(n) sink__sql_ident(q, b, (n))
#define PUT(s) sink__buf_puts(b, (s))

int sink__sql_create(const sql_sink *q, sink_buf *b, const char *head, const char *table,
                     bool with_ord, bool with_pk)
{
    const sink_schema *sc = &q->sc;
    int rc = PUT(head);
    rc |= sink__sql_table(q, b, table);
    rc |= PUT(" (");
    for (size_t i = 0; i < sc->ncols; i++) {
        char tmp[96];
        bool key = with_pk && sink__sql_in_pk(sc, i);
        if (i)
            rc |= PUT(", ");
        rc |= ID(sc->names[i]);
        rc |= sink__buf_putc(b, ' ');
        rc |= PUT(q->d->type(&sc->cols[i], key, tmp, sizeof tmp));
        rc |= PUT(key || !(sc->cols[i].flags & TDS_COL_NULLABLE) ? " NOT NULL" : q->d->null_word);
    }
    if (with_ord) {
        rc |= PUT(", ");
        rc |= ID(SINK__ORD);
        rc |= sink__buf_putc(b, ' ');
        rc |= PUT(q->d->ord_type);
    }
    if (with_pk && sc->npk) {
        rc |= PUT(", PRIMARY KEY (");
        for (size_t k = 0; k < sc->npk; k++) {
            if (k)
                rc |= PUT(", ");
            rc |= ID(sc->names[sc->pk[k]]);
        }
        rc |= sink__buf_putc(b, ')');
    }
    rc |= sink__buf_putc(b, ')');
    return rc ? SINK_E_NOMEM : SINK_OK;
}

/* "l"."k1" = "r"."k1" AND … */
static int key_match(const sql_sink *q, sink_buf *b, const char *l, const char *r)
{
    int rc = 0;
    for (size_t k = 0; k < q->sc.npk; k++) {
        const char *col = q->sc.names[q->sc.pk[k]];
        if (k)
            rc |= PUT(" AND ");
        rc |= ID(l) || sink__buf_putc(b, '.') || ID(col) || PUT(" = ");
        rc |= ID(r) || sink__buf_putc(b, '.') || ID(col);
    }
    return rc;
}

/* INSERT INTO target (cols) SELECT [qual.]cols */
static int insert_head(const sql_sink *q, sink_buf *b, const char *qual)
{
    int rc = PUT("INSERT INTO ");
    rc |= sink__sql_table(q, b, q->sc.table);
    if (q->target_new && q->d->new_target_hint)
        rc |= PUT(q->d->new_target_hint);
    rc |= PUT(" (");
    rc |= sink__sql_collist(q, b, NULL);
    rc |= PUT(") SELECT ");
    rc |= sink__sql_collist(q, b, qual);
    return rc;
}

static int drop_stage(const sql_sink *q, sink_buf *b)
{
    return PUT("DROP TABLE ") || sink__sql_table(q, b, q->stage);
}

static int replace(const sql_sink *q, sink_buf *b)
{
    int rc = PUT("DROP TABLE IF EXISTS ");
    rc |= sink__sql_table(q, b, q->sc.table);
    rc |= PUT(";\n");
    if (q->d->rename) {
        rc |= q->d->rename(q, b);
    } else {
        rc |= PUT("ALTER TABLE ");
        rc |= sink__sql_table(q, b, q->stage);
        rc |= PUT(" RENAME TO ");
        rc |= ID(q->sc.table);
    }
    if (q->d->pk_after_swap && q->sc.npk) {
        rc |= PUT(";\nALTER TABLE ");
        rc |= sink__sql_table(q, b, q->sc.table);
        rc |= PUT(" ADD PRIMARY KEY (");
        for (size_t k = 0; k < q->sc.npk; k++)
            rc |= (k && PUT(", ")) || ID(q->sc.names[q->sc.pk[k]]);
        rc |= sink__buf_putc(b, ')');
    }
    return rc;
}

static int append_stage(const sql_sink *q, sink_buf *b)
{
    int rc = insert_head(q, b, NULL);
    rc |= PUT(" FROM ");
    rc |= sink__sql_table(q, b, q->stage);
    rc |= PUT(";\n");
    return rc || drop_stage(q, b);
}

/* CREATE INDEX on the stage's key: the merge looks keys up in the stage
 * from correlated subqueries, which SQLite otherwise answers with a scan
 * of the stage per row (quadratic). Dropped with the stage. */
static int stage_key_index(const sql_sink *q, sink_buf *b)
{
    int rc = PUT("CREATE INDEX ");
    sink_buf name = { 0 };
    rc |= sink__buf_puts(&name, q->stage) || sink__buf_puts(&name, "_key") || sink__buf_cstr(&name);
    rc |= rc ? 0 : ID(name.p);
    sink__buf_free(&name);
    rc |= PUT(" ON ");
    rc |= sink__sql_table(q, b, q->stage);
    rc |= PUT(" (");
    for (size_t k = 0; k < q->sc.npk; k++)
        rc |= (k && PUT(", ")) || ID(q->sc.names[q->sc.pk[k]]);
    rc |= PUT(");\n");
    return rc;
}

/* The target's rows of every staged key go (keys compare as the target's
 * key does, so under SQL Server's collation 'k' and 'K' are one key), then
 * the latest staged row per key comes in. */
static int merge_latest(const sql_sink *q, sink_buf *b)
{
    int rc = PUT("DELETE FROM ");
    rc |= sink__sql_table(q, b, q->sc.table);
    rc |= PUT(" WHERE EXISTS (SELECT 1 FROM ");
    rc |= sink__sql_table(q, b, q->stage);
    rc |= PUT(" WHERE ");
    rc |= key_match(q, b, q->stage, q->sc.table);
    rc |= PUT(");\n");
    rc |= insert_head(q, b, "w");
    rc |= PUT(" FROM (SELECT ") || ID("s") || PUT(".*, ROW_NUMBER() OVER (PARTITION BY ");
    for (size_t k = 0; k < q->sc.npk; k++)
        rc |= (k && PUT(", ")) || ID("s") || sink__buf_putc(b, '.') || ID(q->sc.names[q->sc.pk[k]]);
    rc |= PUT(" ORDER BY ") || ID("s") || sink__buf_putc(b, '.') || ID(SINK__ORD);
    rc |= PUT(" DESC) AS ") || ID("_tdspipe_rn") || PUT(" FROM ");
    rc |= sink__sql_table(q, b, q->stage);
    rc |= PUT(" AS ") || ID("s") || PUT(") AS ") || ID("w") || PUT(" WHERE ");
    rc |= ID("w") || sink__buf_putc(b, '.') || ID("_tdspipe_rn") || PUT(" = 1;\n");
    return rc || drop_stage(q, b);
}

/* One MERGE: matched rows updated, the others inserted. */
static int merge_unique(const sql_sink *q, sink_buf *b)
{
    const sink_schema *sc = &q->sc;
    int rc = PUT("MERGE INTO ");
    rc |= sink__sql_table(q, b, sc->table);
    rc |= PUT(" AS ") || ID("t") || PUT(" USING ");
    rc |= sink__sql_table(q, b, q->stage);
    rc |= PUT(" AS ") || ID("w") || PUT(" ON ");
    rc |= key_match(q, b, "t", "w");
    bool first = true;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (sink__sql_in_pk(sc, i))
            continue;
        rc |= PUT(first ? " WHEN MATCHED THEN UPDATE SET " : ", ");
        first = false;
        rc |= ID("t") || sink__buf_putc(b, '.') || ID(sc->names[i]) || PUT(" = ");
        rc |= ID("w") || sink__buf_putc(b, '.') || ID(sc->names[i]);
    }
    rc |= PUT(" WHEN NOT MATCHED THEN INSERT (");
    rc |= sink__sql_collist(q, b, NULL);
    rc |= PUT(") VALUES (");
    rc |= sink__sql_collist(q, b, "w");
    rc |= PUT(");\n");
    return rc || drop_stage(q, b);
}

/* " AND (<predicate>)": the user's SQL, trusted as ingestr trusts it */
static int and_pred(const sql_sink *q, sink_buf *b)
{
    return PUT(" AND (") || PUT(q->sc.merge_pred) || sink__buf_putc(b, ')');
}

/* One staged row per key, the latest (highest _tdspipe_ord): the row a
 * predicate merge matches, as ingestr's deduplicated staging is. Keys
 * compare as the destination compares them (a collation's 'k' = 'K'). */
static int stage_latest_only(const sql_sink *q, sink_buf *b)
{
    int rc = PUT("DELETE FROM ") || sink__sql_table(q, b, q->stage);
    rc |= PUT(" WHERE EXISTS (SELECT 1 FROM ") || sink__sql_table(q, b, q->stage);
    rc |= PUT(" AS ") || ID("_tdspipe_s") || PUT(" WHERE ");
    rc |= key_match(q, b, "_tdspipe_s", q->stage);
    rc |= PUT(" AND ") || ID("_tdspipe_s") || sink__buf_putc(b, '.') || ID(SINK__ORD) || PUT(" > ");
    rc |= ID(q->stage) || sink__buf_putc(b, '.') || ID(SINK__ORD) || PUT(");\n");
    return rc;
}

/* SET "c" = "source"."c", … over the non-key columns (qual: "target"
 * before each target column, as MERGE's UPDATE SET may spell it); false
 * when there is none */
static int set_list(const sql_sink *q, sink_buf *b, const char *qual, bool *any)
{
    const sink_schema *sc = &q->sc;
    int rc = 0;
    *any = false;
    for (size_t i = 0; i < sc->ncols; i++) {
        if (sink__sql_in_pk(sc, i))
            continue;
        rc |= PUT(*any ? ", " : " SET ");
        *any = true;
        if (qual)
            rc |= ID(qual) || sink__buf_putc(b, '.');
        rc |= ID(sc->names[i]) || PUT(" = ") || ID("source") || sink__buf_putc(b, '.') || ID(sc->names[i]);
    }
    return rc;
}

/* --incremental-predicate, with a MERGE statement (SQL Server): MERGE
 * target USING the stage ON keys AND (predicate), as ingestr writes it */
static int merge_pred_stmt(const sql_sink *q, sink_buf *b)
{
    bool any;
    int rc = PUT("MERGE INTO ") || sink__sql_table(q, b, q->sc.table) || PUT(" AS ") || ID("target");
    rc |= PUT(" USING ") || sink__sql_table(q, b, q->stage) || PUT(" AS ") || ID("source") || PUT(" ON ");
    rc |= key_match(q, b, "target", "source") || and_pred(q, b);
    sink_buf set = { 0 };
    rc |= set_list(q, &set, "target", &any) || sink__buf_cstr(&set);
    if (!rc && any)
        rc |= PUT(" WHEN MATCHED THEN UPDATE") || PUT(set.p);
    sink__buf_free(&set);
    rc |= PUT(" WHEN NOT MATCHED THEN INSERT (") || sink__sql_collist(q, b, NULL);
    rc |= PUT(") VALUES (") || sink__sql_collist(q, b, "source") || PUT(");\n");
    return rc;
}

/* --incremental-predicate without MERGE: the staged rows no target row
 * matches (keys AND predicate) come in, then the matched target rows take
 * the staged values. The INSERT runs first so that it sees the target
 * before the UPDATE (whose new values may fail the predicate), as one
 * MERGE would; the UPDATE then meets the rows just inserted only with
 * their own values. */
static int merge_pred_dml(const sql_sink *q, sink_buf *b)
{
    bool any;
    int rc = insert_head(q, b, "source") || PUT(" FROM ") || sink__sql_table(q, b, q->stage);
    rc |= PUT(" AS ") || ID("source") || PUT(" WHERE NOT EXISTS (SELECT 1 FROM ");
    rc |= sink__sql_table(q, b, q->sc.table) || PUT(" AS ") || ID("target") || PUT(" WHERE ");
    rc |= key_match(q, b, "target", "source") || and_pred(q, b) || PUT(");\n");
    sink_buf set = { 0 };
    rc |= set_list(q, &set, NULL, &any) || sink__buf_cstr(&set);
    if (!rc && any) {
        rc |= PUT("UPDATE ") || sink__sql_table(q, b, q->sc.table) || PUT(" AS ") || ID("target") || PUT(set.p);
        rc |= PUT(" FROM ") || sink__sql_table(q, b, q->stage) || PUT(" AS ") || ID("source") || PUT(" WHERE ");
        rc |= key_match(q, b, "target", "source") || and_pred(q, b) || PUT(";\n");
    }
    sink__buf_free(&set);
    return rc;
}

static int merge_pred(const sql_sink *q, sink_buf *b)
{
    int rc = stage_latest_only(q, b);
    rc |= q->d->merge_stmt ? merge_pred_stmt(q, b) : merge_pred_dml(q, b);
    return rc || drop_stage(q, b);
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

static int merge(const sql_sink *q, sink_buf *b)
{
    int rc = q->d->stage_key_index ? stage_key_index(q, b) : 0;
    if (q->sc.cdc)
        return rc || q->d->merge_cdc(q, b);
    if (q->sc.merge_pred)
        return rc || merge_pred(q, b);
    /* a text key may fold under a collation ('k' = 'K'): MERGE would then
     * meet one target row twice */
    if (q->d->merge_stmt && !q->dup_keys && !text_key(&q->sc))
        return rc || merge_unique(q, b);
    return rc || merge_latest(q, b);
}

/* "k" >= lo AND "k" < hi (or <= hi when closed), a missing side unbounded */
static int window_cond(const sql_sink *q, sink_buf *b, const char *lo, const char *hi, bool closed)
{
    const char *k = q->sc.names[q->sc.incr];
    int rc = 0;
    if (lo)
        rc |= PUT(" WHERE ") || ID(k) || PUT(" >= ") || PUT(lo);
    if (hi)
        rc |= PUT(lo ? " AND " : " WHERE ") || ID(k) || PUT(closed ? " <= " : " < ") || PUT(hi);
    return rc;
}

/* the caller's [lo, hi], both ends included as ingestr's: the interval
 * the source read */
static int window_bounds(const sql_sink *q, sink_buf *b)
{
    sink_buf lit[2] = { { 0 }, { 0 } };
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        if (q->sc.has_win[i] && !(rc = q->d->literal(&lit[i], &q->sc.cols[q->sc.incr], &q->sc.win[i])))
            rc = sink__buf_cstr(&lit[i]);
    if (!rc) {
        int e = PUT("DELETE FROM ") || sink__sql_table(q, b, q->sc.table);
        e |= window_cond(q, b, lit[0].p, lit[1].p, true);
        rc = e || PUT(";\n") ? SINK_E_NOMEM : SINK_OK;
    }
    sink__buf_free(&lit[0]);
    sink__buf_free(&lit[1]);
    return rc;
}

/* the stage's [MIN, MAX] of the key, read first as literals (no scalar
 * subqueries in the DELETE); an empty stage deletes nothing */
static int window_read(sql_sink *q, sink_buf *b)
{
    const char *k = q->sc.names[q->sc.incr];
    sink_buf s = { 0 }, lits = { 0 };
    int e = sink__buf_puts(&s, "SELECT MIN(") || sink__sql_ident(q, &s, k) || sink__buf_puts(&s, "), MAX(");
    e |= sink__sql_ident(q, &s, k) || sink__buf_puts(&s, ") FROM ") || sink__sql_table(q, &s, q->stage);
    int rc = e || sink__buf_cstr(&s) ? SINK_E_NOMEM : q->d->row_literals(q, s.p, "key window", &lits);
    sink__buf_free(&s);
    if (!rc && sink__buf_cstr(&lits))
        rc = SINK_E_NOMEM;
    char *nl = !rc && lits.p ? strchr(lits.p, '\n') : NULL;
    if (nl && strncmp(lits.p, "NULL\n", 5)) {
        *nl = '\0';
        char *hi = nl + 1, *end = strchr(hi, '\n');
        if (end)
            *end = '\0';
        e = PUT("DELETE FROM ") || sink__sql_table(q, b, q->sc.table);
        e |= window_cond(q, b, lits.p, hi, true);
        rc = e || PUT(";\n") ? SINK_E_NOMEM : SINK_OK;
    }
    sink__buf_free(&lits);
    return rc;
}

/* the stage's [MIN, MAX] read by the DELETE itself */
static int window_sub(const sql_sink *q, sink_buf *b)
{
    const char *k = q->sc.names[q->sc.incr];
    int rc = PUT("DELETE FROM ") || sink__sql_table(q, b, q->sc.table);
    for (int i = 0; i < 2; i++) {
        rc |= PUT(i ? " AND " : " WHERE ") || ID(k) || PUT(i ? " <= (SELECT MAX(" : " >= (SELECT MIN(");
        rc |= ID(k) || PUT(") FROM ") || sink__sql_table(q, b, q->stage) || sink__buf_putc(b, ')');
    }
    return rc || PUT(";\n");
}

static int delete_insert(sql_sink *q, sink_buf *b)
{
    int rc;
    if (q->sc.has_win[0] || q->sc.has_win[1])
        rc = window_bounds(q, b);
    else if (q->d->row_literals)
        rc = window_read(q, b);
    else
        rc = window_sub(q, b) ? SINK_E_NOMEM : SINK_OK;
    if (rc)
        return rc;
    return append_stage(q, b) ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_strategy(sql_sink *q, sink_buf *b)
{
    switch (q->sc.strategy) {
    case SINK_REPLACE:
        return replace(q, b) ? SINK_E_NOMEM : SINK_OK;
    case SINK_APPEND:
        return q->staged_append && append_stage(q, b) ? SINK_E_NOMEM : SINK_OK;
    case SINK_MERGE:
        return merge(q, b) ? SINK_E_NOMEM : SINK_OK;
    case SINK_DELETE_INSERT:
        return delete_insert(q, b);
    }
    return SINK_E_ARG;
}

/* 'text' with the dialect's prefix (N'…' for Unicode in T-SQL) */
static int str(const sql_sink *q, sink_buf *b, const char *s)
{
    return PUT(q->d->str_prefix) || sink__sql_string(b, s, strlen(s));
}

int sink__sql_state(const sql_sink *q, sink_buf *b)
{
    const sink_kv *kv = &q->base.pending;
    int rc = 0;
    for (size_t off = 0; off < kv->len;) {
        const char *name = kv->p + off;
        const char *value = name + strlen(name) + 1;
        off = (size_t)(value + strlen(value) + 1 - kv->p);
        rc |= PUT("DELETE FROM ") || ID(SINK__STATE_TABLE) || PUT(" WHERE ") || ID("name") || PUT(" = ");
        rc |= str(q, b, name) || PUT(";\nINSERT INTO ") || ID(SINK__STATE_TABLE) || PUT(" (");
        rc |= ID("name") || PUT(", ") || ID("value") || PUT(") VALUES (");
        rc |= str(q, b, name) || PUT(", ") || str(q, b, value) || PUT(");\n");
    }
    return rc ? SINK_E_NOMEM : SINK_OK;
}
