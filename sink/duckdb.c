/*
 * duckdb.c — DuckDB as a SQL dialect of the core (sql_core.c): its library
 * loaded at run time from libduckdb.so (duckdb_int.h), statements through
 * duckdb_query, tables looked up in information_schema, and the rows
 * through data chunks DuckDB pulls (duckdb_append.c, duckdb_feed.c).
 *
 * One transaction per load (BEGIN TRANSACTION … COMMIT, ROLLBACK
 * otherwise); the rows go in inside it (INSERT … SELECT from
 * tdspipe_feed(), duckdb_append.c), so an aborted load leaves the
 * database as it was. The chunks carry our physical layouts, so every
 * load into an existing table (append too) goes through a stage of our
 * types and INSERT … SELECT, after adding the columns the table lacks. No
 * PRIMARY KEY: DuckDB's ART index is built row by row at commit — half the
 * CPU of a narrow load and memory that grows with the row count — and
 * nothing here needs it (merge deletes and inserts through the stage).
 * dlt, behind ingestr, leaves it out too.
 *
 * Types: docs/types.md and duckdb_append.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "duckdb_sink.h"
#include "sink_int.h"

#ifdef SINK_FULLY_STATIC
SINK_UNAVAILABLE_VTABLE(sink_duckdb_vtable, "duckdb", NULL, "DuckDB");
#else

#define ddb (*d->api)

int sink__ddb_run(ddb_sink *d, const char *sql, const char *what)
{
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(d->conn, sql, &r);
    if (st != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_result_error(&r);
        sink__fail(&d->q.base, SINK_E_DEST, "duckdb: %s: %s", what, m ? m : "failed");
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    ddb.duckdb_destroy_result(&r);
    return SINK_OK;
}

static int ddb_exec(sql_sink *q, const char *sql, const char *what)
{
    return sink__ddb_run((ddb_sink *)q, sql, what);
}

/* Runs a one-value query (freed here; e: its building failed) and gives
 * the value (duckdb_free it; NULL for none). */
static int query_text(ddb_sink *d, sink_buf *q, int e, const char *what, char **out)
{
    *out = NULL;
    if (e || sink__buf_cstr(q)) {
        sink__buf_free(q);
        return sink__sql_nomem(&d->q);
    }
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(d->conn, q->p, &r);
    sink__buf_free(q);
    if (st != SINK_DDB_SUCCESS) {
        sink__fail(&d->q.base, SINK_E_DEST, "duckdb: %s lookup: %s", what, ddb.duckdb_result_error(&r));
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    *out = ddb.duckdb_value_varchar(&r, 0, 0);
    ddb.duckdb_destroy_result(&r);
    return SINK_OK;
}

int sink__ddb_count_nonzero(ddb_sink *d, sink_buf *q, int e, const char *what, bool *nonzero)
{
    char *cnt = NULL;
    int rc = query_text(d, q, e, what, &cnt);
    *nonzero = cnt && strcmp(cnt, "0") != 0;
    ddb.duckdb_free(cnt);
    return rc;
}

/* " AND table_schema = 'schema'" (NULL: the current one) */
static int and_schema(sink_buf *q, const char *schema)
{
    return sink__buf_puts(q, " AND table_schema = ") ||
           (schema ? sink__sql_string(q, schema, strlen(schema)) : sink__buf_puts(q, "current_schema()"));
}

static int ddb_exists(sql_sink *q, const char *schema, const char *table, bool *exists)
{
    sink_buf s = { 0 };
    int e = sink__buf_puts(&s, "SELECT count(*) FROM information_schema.tables WHERE table_name = ");
    e |= sink__sql_string(&s, table, strlen(table));
    e |= and_schema(&s, schema);
    return sink__ddb_count_nonzero((ddb_sink *)q, &s, e, "table", exists);
}

static int ddb_columns(sql_sink *q, sink_buf *names)
{
    ddb_sink *d = (ddb_sink *)q;
    sink_buf s = { 0 };
    int e = sink__buf_puts(&s, "SELECT COALESCE(string_agg(column_name || chr(9) || data_type || chr(9) || "
                               "CASE WHEN is_nullable = 'NO' THEN '0' ELSE '1' END, chr(10) "
                               "ORDER BY ordinal_position), '') FROM information_schema.columns WHERE table_name = ");
    e |= sink__sql_string(&s, q->sc.table, strlen(q->sc.table));
    e |= and_schema(&s, q->sc.schema);
    char *v = NULL;
    int rc = query_text(d, &s, e, "column", &v);
    if (!rc && (sink__buf_puts(names, v ? v : "") || sink__buf_cstr(names)))
        rc = sink__sql_nomem(q);
    ddb.duckdb_free(v);
    return rc;
}

static int ddb_literal(sink_buf *b, const tds_column *c, const tds_value *v)
{
    char tmp[64];
    return sink__sql_cast_literal(b, c, v, sink__ddb_type(c, false, tmp, sizeof tmp), "unhex");
}

/* "IS NULL" as a column tells NULL from a value: the deprecated accessors
 * have no reliable NULL test across versions. */
static int ddb_value(sql_sink *q, const char *expr, const char *from, const char *where,
                     char *out, size_t cap, bool *found)
{
    ddb_sink *d = (ddb_sink *)q;
    sink_buf *b = &q->sql;
    b->len = 0;
    int e = sink__buf_puts(b, "SELECT CAST(CAST(") || sink__buf_puts(b, expr) ||
            sink__buf_puts(b, " AS VARCHAR) IS NULL AS VARCHAR), COALESCE(CAST(") || sink__buf_puts(b, expr) ||
            sink__buf_puts(b, " AS VARCHAR), '') FROM ") || sink__buf_puts(b, from) ||
            (where && (sink__buf_puts(b, " WHERE ") || sink__buf_puts(b, where)));
    if (e || sink__buf_cstr(b))
        return sink__sql_nomem(q);
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    if (ddb.duckdb_query(d->conn, b->p, &r) != SINK_DDB_SUCCESS) {
        sink__fail(&q->base, SINK_E_DEST, "duckdb: lookup: %s", ddb.duckdb_result_error(&r));
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    int rc = SINK_OK;
    if (ddb.duckdb_row_count(&r) >= 1) {
        char *isnull = ddb.duckdb_value_varchar(&r, 0, 0);
        bool null = !isnull || strcmp(isnull, "true") == 0;
        ddb.duckdb_free(isnull);
        char *t = null ? NULL : ddb.duckdb_value_varchar(&r, 1, 0);
        size_t n = t ? strlen(t) : 0;
        if (!null && !t)
            rc = sink__sql_nomem(q);
        else if (t && n + 1 > cap)
            rc = sink__fail(&q->base, SINK_E_ARG, "value longer than the buffer");
        else if (t) {
            memcpy(out, t, n + 1);
            *found = true;
        }
        ddb.duckdb_free(t);
    }
    ddb.duckdb_destroy_result(&r);
    return rc;
}

static void ddb_free(sql_sink *q)
{
    ddb_sink *d = (ddb_sink *)q;
    sink__ddb_bulk_drop(q);
    sink__ddb_cols_free(&d->w);
    ddb.duckdb_disconnect(&d->conn);
    ddb.duckdb_close(&d->db);
    sink__ddb_feed_free(d->feed); /* after the close: the function points to it */
    free(d->table);
}

static const sink_dialect ddb_dialect = {
    SINK__SQL_DQ_DIALECT,
    .name = "duckdb",
    .begin_sql = "BEGIN TRANSACTION",
    .create_schema = "CREATE SCHEMA IF NOT EXISTS ",
    .nocase = true,
    .append_via_stage = true,
    .alter_type = " TYPE ",
    .type = sink__ddb_type,
    .literal = ddb_literal,
    .exec = ddb_exec,
    .exists = ddb_exists,
    .columns = ddb_columns,
    .value = ddb_value,
    .bulk_open = sink__ddb_bulk_open,
    .bulk_rows = sink__ddb_bulk_rows,
    .bulk_close = sink__ddb_bulk_close,
    .bulk_drop = sink__ddb_bulk_drop,
    .free = ddb_free,
};

/* DuckDB's share of the load's memory, bounded and flat in the row count
 * (bench: under 160 MB peak RSS for every dataset, libduckdb's own code
 * included): its buffer pool at 48 MB (more spills to <file>.tmp, as
 * DuckDB does for any file database), one row group buffered before it is
 * compressed and written (the default, 5, holds 600k rows in memory), and
 * one thread: the INSERT … SELECT from tdspipe_feed() reads one row source,
 * and a second DuckDB thread would only spin waiting for it (a third more
 * instructions, measured), taking the CPU our decoding runs on. */
static const char ddb_setup[] = "SET threads = 1; SET memory_limit = '48MB'; SET write_buffer_row_group_count = 1";

/* threads=N (docs/cli.md): N DuckDB threads insert at once, so rows land
 * in no promised order (DuckDB keeps insertion order only by reading the
 * source in order, one reader); each thread builds its own row group, so
 * the buffer pool grows with N. */
static int ddb_threads_setup(ddb_sink *d)
{
    char set[160];
    snprintf(set, sizeof set, "SET threads = %u; SET preserve_insertion_order = false; SET memory_limit = '%uMB'",
             d->threads, 48 * d->threads);
    return sink__ddb_run(d, set, "setup");
}

int sink__ddb_uri(const char *target, char **path, unsigned *threads, char *err, size_t errcap)
{
    const char *p = target[0] == '/' ? target + 1 : target;
    size_t n = strcspn(p, "?"); /* SQLAlchemy's: the query starts at '?' */
    *path = NULL;
    *threads = 1;
    for (const char *q = p[n] == '?' ? p + n + 1 : ""; *q && *q != '#';) {
        size_t len = strcspn(q, "&#"), kn = strcspn(q, "=&#");
        if (kn == 7 && !strncasecmp(q, "threads", 7)) {
            size_t vn = len > 8 ? len - 8 : 0;
            if (!(*threads = sink__ddb_threads_value(q + 8, vn)))
                return sink__errf(err, errcap, SINK_E_URI, "duckdb: threads must be 1 to %d", SINK_DDB_MAX_THREADS);
        } else if (len) {
            return sink__errf(err, errcap, SINK_E_URI, "duckdb: unknown URI parameter '%.*s' (threads)",
                              (int)(kn > 40 ? 40 : kn), q);
        }
        q += len + (q[len] == '&');
    }
    int rc = sink__db_path(target, true, path); /* percent-decoded, as SQLAlchemy does */
    if (rc == SINK_E_URI)
        return sink__errf(err, errcap, rc, n ? "duckdb URI's path holds an escaped NUL" : "duckdb URI has no file path");
    return rc ? sink__errf(err, errcap, rc, "out of memory") : SINK_OK;
}

static int ddb_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    const sink_ddb_api *api = sink__ddb_load(o->duckdb_lib, err, errcap);
    if (!api)
        return SINK_E_LIB;
    char *path = NULL;
    unsigned threads;
    int rc = sink__ddb_uri(target, &path, &threads, err, errcap);
    if (rc)
        return rc;
    ddb_sink *d = sink__calloc(1, sizeof *d);
    if (!d) {
        free(path);
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    }
    d->api = api;
    d->threads = threads;
    d->q.d = &ddb_dialect;
    char *oe = NULL;
    if (ddb.duckdb_open_ext(path, &d->db, NULL, &oe) != SINK_DDB_SUCCESS) {
        sink__errf(err, errcap, SINK_E_DEST, "duckdb: cannot open %s: %s", path, oe ? oe : "failed");
        char *nl = err ? strpbrk(err, "\r\n") : NULL;
        if (nl)
            *nl = '\0';
        if (oe)
            ddb.duckdb_free(oe);
        free(path);
        free(d);
        return SINK_E_DEST;
    }
    if (ddb.duckdb_connect(d->db, &d->conn) != SINK_DDB_SUCCESS) {
        ddb.duckdb_close(&d->db);
        sink__errf(err, errcap, SINK_E_DEST, "duckdb: cannot connect to %s", path);
        free(path);
        free(d);
        return SINK_E_DEST;
    }
    free(path);
    /* max_value prints UTC; without ICU there is no time zone setting: fine */
    (void)sink__ddb_run(d, "SET TimeZone = 'UTC'", "setup");
    (void)sink__ddb_run(d, ddb_setup, "setup"); /* a limit DuckDB lacks is no reason to fail */
    if (d->threads > 1 && ddb_threads_setup(d)) { /* asked for: a failure is one */
        sink__errf(err, errcap, SINK_E_DEST, "%s", d->q.base.err);
        ddb.duckdb_disconnect(&d->conn);
        ddb.duckdb_close(&d->db);
        free(d);
        return SINK_E_DEST;
    }
    *out = &d->q.base;
    return SINK_OK;
}

const sink_vtable sink_duckdb_vtable = SINK_SQL_VTABLE("duckdb", NULL, ddb_open);
#endif /* SINK_FULLY_STATIC */
