/*
 * sqlite.c — SQLite as a SQL dialect of the core (sql_core.c), through
 * libsqlite3 (linked statically by default).
 *
 * One transaction per load (BEGIN IMMEDIATE at sink_begin, COMMIT at
 * sink_commit, ROLLBACK otherwise), so a failed load leaves the file as it
 * was. Rows go through one prepared INSERT, values bound without copies
 * (SQLITE_STATIC over a per-row text buffer or the value's own bytes).
 * SQLite types values per row, so an append goes straight into an
 * existing table (created if missing, missing columns added by the
 * schema contract, sql_evolve.c; no type is ever widened: SQLite does not
 * enforce declared lengths or integer widths, and cannot ALTER a column's
 * type); replace,
 * merge and delete+insert fill "_tdspipe_stage_<t>".
 *
 * Types (docs/types.md): integers and bit as INTEGER (declared INTEGER /
 * BOOLEAN), float/real as REAL, decimal and money as exact TEXT (declared
 * TEXT: a NUMERIC affinity would round 38 digits to a double), dates and
 * times as ISO-8601 TEXT that SQLite's date functions read (declared DATE,
 * TIME, DATETIME, DATETIMEOFFSET), GUIDs as TEXT, char/nchar/xml as TEXT,
 * binary as BLOB. SQLite has no schemas: "dbo.t" loads table "t".
 */
#include <sqlite3.h>
#include <stdlib.h>

#include "sql_int.h"

typedef struct sqlite_sink {
    sql_sink q;
    sqlite3 *db;
    sqlite3_stmt *ins;
    sink_buf row;       /* text of the current row's text-bound columns */
    size_t *off;        /* per column: offset into row, or SIZE_MAX */
} sqlite_sink;

static const char *sqlite_type(const tds_column *c, bool key, char *tmp, size_t cap)
{
    (void)key;
    (void)tmp;
    (void)cap;
    switch (c->kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: return "INTEGER";
    case TDS_K_BIT: return "BOOLEAN";
    case TDS_K_REAL: case TDS_K_FLOAT: return "REAL";
    case TDS_K_DATE: return "DATE";
    case TDS_K_TIME: return "TIME";
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: case TDS_K_DATETIME2: return "DATETIME";
    case TDS_K_DATETIMEOFFSET: return "DATETIMEOFFSET";
    case TDS_K_BINARY: case TDS_K_UDT: return "BLOB";
    default: return "TEXT"; /* decimal, money, guid, char, nchar, xml, variant */
    }
}

/* Literals compare like the stored values: numbers for INTEGER/REAL
 * columns, the canonical text for TEXT ones, X'…' for BLOBs. */
static int sqlite_literal(sink_buf *b, const tds_column *c, const tds_value *v)
{
    sink_buf t = { 0 };
    int rc = sink__value_text(&t, c, v);
    if (!rc) {
        switch (c->kind) {
        case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        case TDS_K_REAL: case TDS_K_FLOAT:
            rc = sink__buf_put(b, t.p, t.len);
            break;
        case TDS_K_BINARY: case TDS_K_UDT:
            rc = sink__buf_putc(b, 'X') || sink__sql_string(b, t.p + 2, t.len - 2) ? SINK_E_NOMEM : SINK_OK;
            break;
        default:
            rc = sink__sql_string(b, t.p ? t.p : "", t.len);
        }
    }
    sink__buf_free(&t);
    return rc;
}

static int db_fail(sqlite_sink *q, int code, const char *what)
{
    return sink__fail(&q->q.base, code, "sqlite: %s: %s", what, sqlite3_errmsg(q->db));
}

static int exec(sqlite_sink *q, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(q->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sink__fail(&q->q.base, SINK_E_DEST, "sqlite: %s", msg ? msg : sqlite3_errmsg(q->db));
        sqlite3_free(msg);
        return SINK_E_DEST;
    }
    return SINK_OK;
}

/* Formats the text-bound columns of a row into q->row (offsets in q->off)
 * before binding, because the buffer may move while it grows. */
static int format_row(sqlite_sink *q, const tds_value *row)
{
    q->row.len = 0;
    for (size_t i = 0; i < q->q.sc.ncols; i++) {
        const tds_column *c = &q->q.sc.cols[i];
        const tds_value *v = &row[i];
        q->off[i] = SIZE_MAX;
        if (v->flags & TDS_VF_NULL)
            continue;
        switch (c->kind) {
        case TDS_K_TINYINT: case TDS_K_SMALLINT: case TDS_K_INT: case TDS_K_BIGINT: case TDS_K_BIT:
        case TDS_K_REAL: case TDS_K_FLOAT: case TDS_K_BINARY: case TDS_K_UDT:
            if (v->flags & TDS_VF_STREAMED)
                return sink__fail(&q->q.base, SINK_E_VALUE, "column %s: streamed value", q->q.sc.names[i]);
            continue;
        default:
            break;
        }
        q->off[i] = q->row.len;
        int rc = sink__value_text(&q->row, c, v);
        if (rc || sink__buf_putc(&q->row, '\0'))
            return sink__fail(&q->q.base, rc ? rc : SINK_E_NOMEM, "column %s: %s", q->q.sc.names[i],
                              rc == SINK_E_VALUE ? "value cannot be decoded" : "out of memory");
    }
    return SINK_OK;
}

static int bind_row(sqlite_sink *q, const tds_value *row)
{
    sqlite3_stmt *st = q->ins;
    for (size_t i = 0; i < q->q.sc.ncols; i++) {
        const tds_column *c = &q->q.sc.cols[i];
        const tds_value *v = &row[i];
        int p = (int)i + 1, rc;
        if (v->flags & TDS_VF_NULL) {
            rc = sqlite3_bind_null(st, p);
        } else if (q->off[i] != SIZE_MAX) {
            size_t end = q->off[i] + strlen(q->row.p + q->off[i]);
            rc = sqlite3_bind_text64(st, p, q->row.p + q->off[i], end - q->off[i], SQLITE_STATIC, SQLITE_UTF8);
        } else if (c->kind == TDS_K_BINARY || c->kind == TDS_K_UDT) {
            rc = sqlite3_bind_blob64(st, p, v->len ? (const void *)v->ptr : "", v->len, SQLITE_STATIC);
        } else if (c->kind == TDS_K_REAL || c->kind == TDS_K_FLOAT) {
            double d;
            if (tds_value_float(c, v, &d))
                return sink__fail(&q->q.base, SINK_E_VALUE, "column %s: value cannot be decoded", q->q.sc.names[i]);
            rc = sqlite3_bind_double(st, p, d);
        } else {
            int64_t x;
            if (tds_value_int(c, v, &x))
                return sink__fail(&q->q.base, SINK_E_VALUE, "column %s: value cannot be decoded", q->q.sc.names[i]);
            rc = sqlite3_bind_int64(st, p, x);
        }
        if (rc != SQLITE_OK)
            return db_fail(q, SINK_E_DEST, "bind");
    }
    if (q->q.with_ord && sqlite3_bind_int64(st, (int)q->q.sc.ncols + 1, q->q.ord++) != SQLITE_OK)
        return db_fail(q, SINK_E_DEST, "bind");
    return SINK_OK;
}

static int sqlite_rows(sql_sink *s, const sink_batch *b)
{
    sqlite_sink *q = (sqlite_sink *)s;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * q->q.sc.ncols;
        int rc = format_row(q, row);
        if (!rc)
            rc = bind_row(q, row);
        if (!rc && sqlite3_step(q->ins) != SQLITE_DONE)
            rc = db_fail(q, SINK_E_DEST, "insert");
        sqlite3_reset(q->ins);
        sqlite3_clear_bindings(q->ins);
        if (rc)
            return rc;
    }
    return SINK_OK;
}

static int sq_exec(sql_sink *s, const char *sql, const char *what)
{
    (void)what; /* SQLite's message says enough */
    return exec((sqlite_sink *)s, sql);
}

static int sq_exists(sql_sink *s, const char *schema, const char *table, bool *exists)
{
    sqlite_sink *q = (sqlite_sink *)s;
    (void)schema; /* no schemas in SQLite */
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(q, SINK_E_DEST, "lookup");
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    *exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return SINK_OK;
}

static int sq_columns(sql_sink *s, sink_buf *names)
{
    sqlite_sink *q = (sqlite_sink *)s;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, "SELECT COALESCE(group_concat(name || char(9) || type || char(9) || "
                                  "(CASE WHEN \"notnull\" THEN '0' ELSE '1' END), char(10)), '') "
                                  "FROM pragma_table_info(?)", -1, &st, NULL) != SQLITE_OK)
        return db_fail(q, SINK_E_DEST, "column lookup");
    sqlite3_bind_text(st, 1, s->sc.table, -1, SQLITE_STATIC);
    int rc = SINK_OK;
    if (sqlite3_step(st) != SQLITE_ROW)
        rc = db_fail(q, SINK_E_DEST, "column lookup");
    else {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (sink__buf_puts(names, t ? t : "") || sink__buf_cstr(names))
            rc = sink__sql_nomem(s);
    }
    sqlite3_finalize(st);
    return rc;
}

static int sq_value(sql_sink *s, const char *expr, const char *from, const char *where,
                    char *out, size_t cap, bool *found)
{
    sqlite_sink *q = (sqlite_sink *)s;
    sink_buf *b = &s->sql;
    b->len = 0;
    if (sink__buf_puts(b, "SELECT CAST(") || sink__buf_puts(b, expr) || sink__buf_puts(b, " AS VARCHAR) FROM ") ||
        sink__buf_puts(b, from) || (where && (sink__buf_puts(b, " WHERE ") || sink__buf_puts(b, where))) ||
        sink__buf_cstr(b))
        return sink__sql_nomem(s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, b->p, -1, &st, NULL) != SQLITE_OK)
        return db_fail(q, SINK_E_DEST, "lookup");
    int rc = SINK_OK;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        size_t n = (size_t)sqlite3_column_bytes(st, 0);
        if (n + 1 > cap) {
            rc = sink__fail(&s->base, SINK_E_ARG, "value longer than the buffer");
        } else {
            memcpy(out, t, n + 1);
            *found = true;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* INSERT INTO table (cols [, ord]) VALUES (?, …), prepared once per load */
static int sq_insert_open(sql_sink *s, const char *table)
{
    sqlite_sink *q = (sqlite_sink *)s;
    free(q->off);
    if (!(q->off = sink__malloc(s->sc.ncols * sizeof *q->off)))
        return sink__sql_nomem(s);
    sink_buf *b = &s->sql;
    b->len = 0;
    int e = sink__buf_puts(b, "INSERT INTO ");
    e |= sink__sql_ident(s, b, table);
    e |= sink__sql_bulk_cols(s, b);
    e |= sink__buf_puts(b, " VALUES (");
    size_t nparams = s->sc.ncols + s->with_ord;
    for (size_t i = 0; i < nparams; i++)
        e |= sink__buf_puts(b, i ? ", ?" : "?");
    e |= sink__buf_putc(b, ')');
    if (e || sink__buf_cstr(b))
        return sink__sql_nomem(s);
    if (sqlite3_prepare_v3(q->db, b->p, (int)b->len, SQLITE_PREPARE_PERSISTENT, &q->ins, NULL) != SQLITE_OK)
        return db_fail(q, SINK_E_DEST, "prepare insert");
    return SINK_OK;
}

static int sq_insert_close(sql_sink *s)
{
    sqlite_sink *q = (sqlite_sink *)s;
    sqlite3_finalize(q->ins);
    q->ins = NULL;
    return SINK_OK;
}

static void sq_insert_drop(sql_sink *s) { sq_insert_close(s); }

static void sq_free(sql_sink *s)
{
    sqlite_sink *q = (sqlite_sink *)s;
    sqlite3_close(q->db);
    sink__buf_free(&q->row);
    free(q->off);
}

static const sink_dialect sqlite_dialect = {
    SINK__SQL_DQ_DIALECT,
    .name = "sqlite",
    .begin_sql = "BEGIN IMMEDIATE",
    .create_schema = "",
    .no_schema = true,
    .nocase = true,
    .target_pk = true,
    .loose_types = true,
    .type = sqlite_type,
    .literal = sqlite_literal,
    .exec = sq_exec,
    .exists = sq_exists,
    .columns = sq_columns,
    .value = sq_value,
    .bulk_open = sq_insert_open,
    .bulk_rows = sqlite_rows,
    .bulk_close = sq_insert_close,
    .bulk_drop = sq_insert_drop,
    .free = sq_free,
};

static int sqlite_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    (void)o;
    const char *path = target[0] == '/' ? target + 1 : target;
    if (!*path)
        return sink__errf(err, errcap, SINK_E_URI, "sqlite URI has no file path");
    sqlite_sink *q = sink__calloc(1, sizeof *q);
    if (!q)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    q->q.d = &sqlite_dialect;
    int rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        sink__errf(err, errcap, SINK_E_DEST, "sqlite: cannot open %s: %s", path,
                   q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sqlite3_close(q->db);
        free(q);
        return SINK_E_DEST;
    }
    sqlite3_busy_timeout(q->db, 10000);
    /* a load dirties many pages: a 64 MiB cache keeps them off the disk
     * until commit (the journal mode and durability stay the file's own) */
    sqlite3_exec(q->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
    sqlite3_extended_result_codes(q->db, 1);
    *out = &q->q.base;
    return SINK_OK;
}


const sink_vtable sink_sqlite_vtable = SINK_SQL_VTABLE("sqlite", NULL, sqlite_open);
