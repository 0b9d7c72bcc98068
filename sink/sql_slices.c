/*
 * sql_slices.c — the finalize of a scaled-out run (docs/scale-out.md) in
 * the SQL destinations (DuckDB, PostgreSQL, SQLite, SQL Server): every
 * slice committed its rows into a table of its own (named by the caller);
 * in one transaction the first becomes the target (replace: the old target
 * dropped; append into an existing target: every slice inserted) and the
 * others are inserted and dropped. merge: each slice first deletes the
 * target's rows of the keys it holds (the slices read disjoint windows of
 * the source, so a key is in one slice when it is the source's key). A
 * missing slice table fails before anything changes; any failure rolls
 * back.
 */
#include <stdio.h>
#include <string.h>

#include "sql_int.h"

/* "schema.table" split (no schema in one-namespace dialects). */
static void split(const sql_sink *q, const char *name, char *schema, size_t cap, const char **table)
{
    const char *dot = strrchr(name, '.');
    schema[0] = '\0';
    *table = dot ? dot + 1 : name;
    if (dot && !q->d->no_schema)
        snprintf(schema, cap, "%.*s", (int)(dot - name), name);
}

static int qname(const sql_sink *q, sink_buf *b, const char *name)
{
    char schema[256];
    const char *t;
    split(q, name, schema, sizeof schema, &t);
    return sink__sql_qname(q, b, schema[0] ? schema : NULL, t);
}

static int exists(sql_sink *q, const char *name, bool *yes)
{
    char schema[256];
    const char *t;
    split(q, name, schema, sizeof schema, &t);
    return q->d->exec && q->d->exists ? q->d->exists(q, schema[0] ? schema : NULL, t, yes) : SINK_E_UNSUPPORTED;
}

/* part renamed to t, in part's schema: sp_rename in T-SQL (whose new name
 * is the bare table name), ALTER TABLE … RENAME TO elsewhere. */
static int rename_to(const sql_sink *q, sink_buf *b, const char *part, const char *t)
{
    if (q->d->quote[0] == '[') {
        sink_buf n = {0};
        int e = qname(q, &n, part) || sink__buf_puts(b, "EXEC sp_rename N") || sink__sql_string(b, n.p, n.len) ||
                sink__buf_puts(b, ", N") || sink__sql_string(b, t, strlen(t));
        sink__buf_free(&n);
        return e;
    }
    return sink__buf_puts(b, "ALTER TABLE ") || qname(q, b, part) || sink__buf_puts(b, " RENAME TO ") ||
           sink__sql_ident(q, b, t);
}

/* merge: DELETE FROM target WHERE EXISTS (SELECT 1 FROM part WHERE
 * part.k = target.k AND …); (bare names qualify the columns, as
 * sql_strategy.c's merge does) */
static int delete_keys(sql_sink *q, sink_buf *b, const char *table, const char *part, const char *const *keys,
                       size_t nkeys)
{
    char schema[256];
    const char *t, *pt;
    split(q, table, schema, sizeof schema, &t);
    split(q, part, schema, sizeof schema, &pt);
    int e = sink__buf_puts(b, "DELETE FROM ") || qname(q, b, table) || sink__buf_puts(b, " WHERE EXISTS (SELECT 1 FROM ") ||
            qname(q, b, part) || sink__buf_puts(b, " WHERE ");
    for (size_t k = 0; k < nkeys; k++) {
        e |= (k && sink__buf_puts(b, " AND ")) || sink__sql_ident(q, b, pt) || sink__buf_putc(b, '.');
        e |= sink__sql_ident(q, b, keys[k]) || sink__buf_puts(b, " = ") || sink__sql_ident(q, b, t);
        e |= sink__buf_putc(b, '.') || sink__sql_ident(q, b, keys[k]);
    }
    return e || sink__buf_puts(b, ");\n");
}

/* The statements, each ending ";\n"; keys: merge's (NULL otherwise). */
static int statements(sql_sink *q, sink_buf *b, const char *table, const char *const *parts, size_t n, bool keep,
                      const char *const *keys, size_t nkeys)
{
    char schema[256];
    const char *t;
    split(q, table, schema, sizeof schema, &t);
    int e = 0;
    size_t first = 0;
    if (!keep) { /* the first slice becomes the target */
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ") | qname(q, b, table) | sink__buf_puts(b, ";\n");
        e |= rename_to(q, b, parts[0], t) | sink__buf_puts(b, ";\n");
        first = 1;
    }
    for (size_t i = first; i < n; i++) {
        if (keys)
            e |= delete_keys(q, b, table, parts[i], keys, nkeys);
        e |= sink__buf_puts(b, "INSERT INTO ") | qname(q, b, table) | sink__buf_puts(b, " SELECT * FROM ");
        e |= qname(q, b, parts[i]) | sink__buf_puts(b, ";\nDROP TABLE ") | qname(q, b, parts[i]) |
             sink__buf_puts(b, ";\n");
    }
    return e || sink__buf_cstr(b) ? SINK_E_NOMEM : SINK_OK;
}

int sink__sql_finalize(sink *s, const char *table, const char *const *parts, size_t n, sink_strategy st,
                       const char *const *keys, size_t nkeys)
{
    sql_sink *q = (sql_sink *)s;
    if (!n)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s: finalizing slices is not supported", q->d->name);
    if (st == SINK_DELETE_INSERT)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s: finalizing slices supports replace, append and merge, not %s",
                          q->d->name, sink_strategy_name(st));
    if (st == SINK_MERGE && !nkeys)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s: a merge at finalize needs --primary-key", q->d->name);
    char missing[200] = "";
    size_t nmiss = 0;
    for (size_t i = 0; i < n; i++) {
        bool yes = false;
        int rc = exists(q, parts[i], &yes);
        if (rc)
            return rc;
        if (!yes && nmiss++ < 20)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%zu", nmiss > 1 ? ", " : "", i);
    }
    if (nmiss)
        return sink__fail(s, SINK_E_DEST, "%zu of %zu slices have not committed (index %s%s)", nmiss, n, missing,
                          nmiss > 20 ? ", ..." : "");
    bool target = false;
    int rc = st != SINK_REPLACE ? exists(q, table, &target) : SINK_OK;
    sink_buf *b = &q->sql;
    b->len = 0;
    if (!rc)
        rc = statements(q, b, table, parts, n, target, st == SINK_MERGE ? keys : NULL, nkeys);
    if (rc)
        return rc == SINK_E_NOMEM ? sink__sql_nomem(q) : rc;
    if ((rc = q->d->exec(q, q->d->begin_sql, "begin")))
        return rc;
    if ((rc = q->d->exec(q, b->p, "finalize")) || (rc = q->d->exec(q, q->d->commit_sql, "commit"))) {
        char keep[sizeof q->base.err];
        memcpy(keep, q->base.err, sizeof keep);
        q->d->exec(q, q->d->rollback_sql, "rollback");
        memcpy(q->base.err, keep, sizeof keep);
    }
    return rc;
}

int sink_slices_finalize(sink *s, const char *table, const char *const *parts, size_t n, sink_strategy st,
                         const char *const *keys, size_t nkeys)
{
    if (!s || !table || !parts || (nkeys && !keys))
        return SINK_E_ARG;
    if (!s->vt->finalize)
        return sink__fail(s, SINK_E_UNSUPPORTED, "%s destinations do not finalize slices", s->vt->scheme);
    s->err[0] = '\0';
    return s->vt->finalize(s, table, parts, n, st, keys, nkeys);
}
