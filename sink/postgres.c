/*
 * postgres.c — PostgreSQL through libpq, loaded at run time (pq_int.h), and
 * COPY … FROM STDIN (FORMAT binary).
 *
 * One transaction per load: BEGIN at sink_begin, the COPY stays open across
 * appends, and sink_commit ends the COPY, runs the strategy's statements
 * and COMMITs. Anything else ROLLBACKs, so a failed load changes nothing.
 * Readers of the target are not blocked during a replace: the rows go into
 * "_tdspipe_stage_<t>", and only the swap at commit (DROP target, RENAME
 * stage, ADD PRIMARY KEY) takes the target's lock. Binary COPY needs the
 * exact column types, so every load into an existing table (append too)
 * goes through a stage of our types and INSERT … SELECT, after adding the
 * columns the table lacks.
 *
 * Binary COPY (PostgreSQL "COPY" reference, "Binary Format"): the header
 * "PGCOPY\n\377\r\n\0", int32 flags 0, int32 extension length 0; per row an
 * int16 field count, then per field an int32 length (-1 = NULL) and the
 * type's binary send form (pg_copy.c), all big-endian; an int16 -1
 * trailer. 100 ns values are rounded to µs (PostgreSQL's precision); the column's
 * typmod (timestamp(3) for datetime…) rounds further, as PostgreSQL does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pq_int.h"
#include "sink_int.h"

#ifdef SINK_FULLY_STATIC
SINK_UNAVAILABLE_VTABLE(sink_postgres_vtable, "postgresql", "postgres", "PostgreSQL");
#else

/* The loaded libpq (pq_load.c); set by pg_open before any other call. */
static const sink_pq_api *pqa;
#define pq (*pqa)

/* ------------------------------------------------------------- sink */

typedef struct pg_sink {
    sink base;
    PGconn *conn;
    sink_schema sc;
    sink_buf sql;
    sink_buf out;      /* COPY data not yet handed to libpq */
    sink_buf text;
    char *stage;
    bool in_txn, in_copy;
    bool staged_append; /* append into an existing table goes through a stage */
    int64_t ord;
} pg_sink;

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("… does not exist, skipping") are not for users */
}

static int pg_fail(pg_sink *p, int code, const char *what, const char *msg)
{
    return sink__fail(&p->base, code, "postgresql: %s: %s", what, msg && *msg ? msg : "failed");
}

/* Runs SQL (one or more statements); expects no rows unless want_rows. */
static int run(pg_sink *p, const char *sql, const char *what)
{
    PGresult *r = pq.PQexec(p->conn, sql);
    int st = r ? pq.PQresultStatus(r) : -1;
    if (st != SINK_PGRES_COMMAND_OK && st != SINK_PGRES_TUPLES_OK && st != SINK_PGRES_EMPTY_QUERY) {
        pg_fail(p, SINK_E_DEST, what, r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        return SINK_E_DEST;
    }
    pq.PQclear(r);
    return SINK_OK;
}

static int pg_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    if (!(pqa = sink__pq_load(o->libpq, err, errcap)))
        return SINK_E_LIB;
    /* libpq reads the URI itself; rebuild it with the scheme it knows. */
    size_t n = strlen(target);
    char *uri = sink__malloc(n + sizeof "postgresql://");
    if (!uri)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    memcpy(uri, "postgresql://", sizeof "postgresql://" - 1);
    memcpy(uri + sizeof "postgresql://" - 1, target, n + 1);
    PGconn *c = pq.PQconnectdb(uri);
    free(uri);
    if (!c || pq.PQstatus(c) != SINK_PQ_CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        sink__errf(err, errcap, SINK_E_DEST, "postgresql: cannot connect: %s",
                   c ? pq.PQerrorMessage(c) : "out of memory");
        char *nl = err ? strpbrk(err, "\r\n") : NULL;
        if (nl)
            *nl = '\0';
        if (c)
            pq.PQfinish(c);
        return SINK_E_DEST;
    }
    pq.PQsetNoticeProcessor(c, quiet, NULL);
    pg_sink *p = sink__calloc(1, sizeof *p);
    if (!p) {
        pq.PQfinish(c);
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    }
    p->conn = c;
    if (run(p, "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
               "SET extra_float_digits = 3", "session setup")) {
        sink__errf(err, errcap, SINK_E_DEST, "%s", p->base.err);
        pq.PQfinish(c);
        free(p);
        return SINK_E_DEST;
    }
    *out = &p->base;
    return SINK_OK;
}

static const char *pg_type(const tds_column *c, char *tmp, size_t cap)
{
    unsigned fs = c->scale > 6 ? 6 : c->scale;
    switch (c->kind) {
    case TDS_K_TINYINT: case TDS_K_SMALLINT: return "smallint";
    case TDS_K_INT: return "integer";
    case TDS_K_BIGINT: return "bigint";
    case TDS_K_BIT: return "boolean";
    case TDS_K_REAL: return "real";
    case TDS_K_FLOAT: return "double precision";
    case TDS_K_SMALLMONEY: return "numeric(10,4)";
    case TDS_K_MONEY: return "numeric(19,4)";
    case TDS_K_DECIMAL:
        snprintf(tmp, cap, "numeric(%u,%u)", c->precision ? c->precision : 38, c->scale);
        return tmp;
    case TDS_K_DATE: return "date";
    case TDS_K_SMALLDATETIME: return "timestamp(0)";
    case TDS_K_DATETIME: return "timestamp(3)";
    case TDS_K_DATETIME2: snprintf(tmp, cap, "timestamp(%u)", fs); return tmp;
    case TDS_K_TIME: snprintf(tmp, cap, "time(%u)", fs); return tmp;
    case TDS_K_DATETIMEOFFSET: snprintf(tmp, cap, "timestamptz(%u)", fs); return tmp;
    case TDS_K_GUID: return "uuid";
    case TDS_K_BINARY: case TDS_K_UDT: return "bytea";
    default: return "text"; /* char, nchar, xml, variant */
    }
}

/* Adds the load's columns the existing target lacks (schema evolution). */
static int pg_evolve(pg_sink *p, const char *quoted)
{
    const char *v[1] = { quoted };
    PGresult *r = pq.PQexecParams(p->conn,
                                  "SELECT COALESCE(string_agg(attname::text, E'\\n'), '') FROM pg_attribute "
                                  "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                                  1, NULL, v, NULL, NULL, 0);
    if (!r || pq.PQresultStatus(r) != SINK_PGRES_TUPLES_OK || pq.PQntuples(r) != 1) {
        pg_fail(p, SINK_E_DEST, "column lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        return SINK_E_DEST;
    }
    sink_buf a = { 0 };
    int rc = sink__sql_add_columns(&a, &p->sc, pg_type, pq.PQgetvalue(r, 0, 0), false);
    pq.PQclear(r);
    if (!rc && a.len && !sink__buf_cstr(&a))
        rc = run(p, a.p, "add column");
    else if (rc)
        rc = sink__fail(&p->base, SINK_E_NOMEM, "out of memory");
    sink__buf_free(&a);
    return rc;
}

static int pg_literal(sink_buf *b, const tds_column *c, const tds_value *v)
{
    char tmp[64];
    return sink__sql_cast_literal(b, c, v, pg_type(c, tmp, sizeof tmp), "decode_hex");
}

static int qname(sink_buf *b, const pg_sink *p, const char *t) { return sink__sql_qname(b, p->sc.schema, t); }

/* Does the (quoted, maybe schema-qualified) relation exist? */
static int pg_exists(pg_sink *p, const char *quoted, bool *exists)
{
    const char *v[1] = { quoted };
    PGresult *r = pq.PQexecParams(p->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, v, NULL, NULL, 0);
    if (!r || pq.PQresultStatus(r) != SINK_PGRES_TUPLES_OK || pq.PQntuples(r) != 1) {
        pg_fail(p, SINK_E_DEST, "table lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        return SINK_E_DEST;
    }
    *exists = pq.PQgetvalue(r, 0, 0)[0] == 't';
    pq.PQclear(r);
    return SINK_OK;
}

static int pg_begin(sink *s, const sink_table *t)
{
    pg_sink *p = (pg_sink *)s;
    sink__schema_free(&p->sc);
    free(p->stage);
    p->stage = NULL;
    p->ord = 0;
    if (sink__schema_copy(&p->sc, t))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    size_t n = strlen(p->sc.table);
    if (!(p->stage = sink__malloc(sizeof SINK__STAGE_PREFIX + n)))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    memcpy(p->stage, SINK__STAGE_PREFIX, sizeof SINK__STAGE_PREFIX - 1);
    memcpy(p->stage + sizeof SINK__STAGE_PREFIX - 1, p->sc.table, n + 1);

    int rc = run(p, "BEGIN", "begin");
    if (rc)
        return rc;
    p->in_txn = true;
    sink_buf *b = &p->sql;
    if (p->sc.schema) {
        const char *v[1] = { p->sc.schema };
        PGresult *r = pq.PQexecParams(p->conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                      1, NULL, v, NULL, NULL, 0);
        int st = r ? pq.PQresultStatus(r) : -1, found = st == SINK_PGRES_TUPLES_OK && pq.PQntuples(r) > 0;
        if (st != SINK_PGRES_TUPLES_OK)
            pg_fail(p, SINK_E_DEST, "schema lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        if (st != SINK_PGRES_TUPLES_OK)
            return SINK_E_DEST;
        if (!found) {
            b->len = 0;
            if (sink__buf_puts(b, "CREATE SCHEMA IF NOT EXISTS ") || sink__sql_ident(b, p->sc.schema) ||
                sink__buf_cstr(b))
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
            if ((rc = run(p, b->p, "create schema")))
                return rc;
        }
    }
    /* Binary COPY must match the column types exactly: into a table that
     * already exists (maybe made by another tool, bigint where we say
     * integer) an append goes through a stage and INSERT … SELECT casts. */
    p->staged_append = false;
    if (t->strategy != SINK_REPLACE) {
        bool exists = false;
        b->len = 0;
        if (qname(b, p, p->sc.table) || sink__buf_cstr(b))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
        if ((rc = pg_exists(p, b->p, &exists)) || (exists && (rc = pg_evolve(p, b->p))))
            return rc;
        p->staged_append = exists && t->strategy == SINK_APPEND;
    }
    bool staged = t->strategy != SINK_APPEND || p->staged_append;
    b->len = 0;
    int e = 0;
    if (t->strategy != SINK_REPLACE && !p->staged_append) {
        e |= sink__sql_create(b, &p->sc, pg_type, p->sc.schema, p->sc.table, true, false, true);
        e |= sink__buf_puts(b, ";\n");
    }
    if (staged) {
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= qname(b, p, p->stage);
        e |= sink__buf_puts(b, ";\n");
        e |= sink__sql_create(b, &p->sc, pg_type, p->sc.schema, p->stage, false,
                              t->strategy == SINK_MERGE, false);
    }
    if (e || sink__buf_cstr(b))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    if (b->len && (rc = run(p, b->p, "create table")))
        return rc;

    b->len = 0;
    e = sink__buf_puts(b, "COPY ");
    e |= qname(b, p, staged ? p->stage : p->sc.table);
    e |= sink__buf_puts(b, " (");
    e |= sink__sql_collist(b, &p->sc, NULL);
    if (t->strategy == SINK_MERGE)
        e |= sink__buf_puts(b, ", \"" SINK__ORD "\"");
    e |= sink__buf_puts(b, ") FROM STDIN (FORMAT binary)");
    if (e || sink__buf_cstr(b))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    PGresult *r = pq.PQexec(p->conn, b->p);
    int st = r ? pq.PQresultStatus(r) : -1;
    if (st != SINK_PGRES_COPY_IN) {
        pg_fail(p, SINK_E_DEST, "copy", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        return SINK_E_DEST;
    }
    pq.PQclear(r);
    p->in_copy = true;
    p->out.len = 0;
    static const char hdr[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    return sink__buf_put(&p->out, hdr, sizeof hdr) ? sink__fail(s, SINK_E_NOMEM, "out of memory") : SINK_OK;
}

static bool c_is_text(const tds_column *c)
{
    return c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML || c->kind == TDS_K_VARIANT;
}

static int send_out(pg_sink *p)
{
    size_t off = 0;
    while (off < p->out.len) {
        int chunk = p->out.len - off > (1u << 30) ? (1 << 30) : (int)(p->out.len - off);
        if (pq.PQputCopyData(p->conn, p->out.p + off, chunk) != 1)
            return pg_fail(p, SINK_E_DEST, "copy", pq.PQerrorMessage(p->conn));
        off += (size_t)chunk;
    }
    p->out.len = 0;
    return SINK_OK;
}

static int pg_append(sink *s, const sink_batch *b)
{
    pg_sink *p = (pg_sink *)s;
    size_t nc = p->sc.ncols;
    uint16_t nf = (uint16_t)(nc + (p->sc.strategy == SINK_MERGE));
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        if (sink__buf_reserve(&p->out, 2))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
        sink__pg_be16((uint8_t *)p->out.p + p->out.len, nf);
        p->out.len += 2;
        for (size_t i = 0; i < nc; i++) {
            int rc = sink__pg_copy_value(&p->out, &p->text, &p->sc.cols[i], &row[i]);
            if (rc == SINK_E_NOMEM)
                return sink__fail(s, rc, "out of memory");
            if (rc) {
                bool nul = c_is_text(&p->sc.cols[i]);
                return sink__fail(s, rc, "column %s: %s", p->sc.names[i],
                                  nul ? "text with a NUL character or invalid in its code page (PostgreSQL text cannot hold U+0000)"
                                      : "value cannot be decoded");
            }
        }
        if (p->sc.strategy == SINK_MERGE) {
            uint8_t *o = sink__pg_field(&p->out, 8);
            if (!o)
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
            sink__pg_be64(o, (uint64_t)p->ord++);
        }
        if (p->out.len >= (1u << 20) && send_out(p))
            return SINK_E_DEST;
    }
    return send_out(p);
}

static int end_copy(pg_sink *p, const char *abort_msg)
{
    p->in_copy = false;
    int rc = SINK_OK;
    if (!abort_msg) {
        static const uint8_t trailer[2] = { 0xFF, 0xFF };
        if (sink__buf_put(&p->out, trailer, 2))
            return sink__fail(&p->base, SINK_E_NOMEM, "out of memory");
        if ((rc = send_out(p)))
            abort_msg = "tdspipe: send failed";
    }
    if (pq.PQputCopyEnd(p->conn, abort_msg) != 1 && !rc)
        rc = pg_fail(p, SINK_E_DEST, "copy", pq.PQerrorMessage(p->conn));
    PGresult *r;
    while ((r = pq.PQgetResult(p->conn))) {
        if (!rc && !abort_msg && pq.PQresultStatus(r) != SINK_PGRES_COMMAND_OK)
            rc = pg_fail(p, SINK_E_DEST, "copy", pq.PQresultErrorMessage(r));
        pq.PQclear(r);
    }
    return rc;
}

static int pg_commit(sink *s)
{
    pg_sink *p = (pg_sink *)s;
    int rc = end_copy(p, NULL);
    if (rc)
        return rc;
    sink_buf *b = &p->sql;
    b->len = 0;
    int e = 0;
    switch (p->sc.strategy) {
    case SINK_REPLACE:
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= qname(b, p, p->sc.table);
        e |= sink__buf_puts(b, ";\nALTER TABLE ");
        e |= qname(b, p, p->stage);
        e |= sink__buf_puts(b, " RENAME TO ");
        e |= sink__sql_ident(b, p->sc.table);
        if (p->sc.npk) {
            e |= sink__buf_puts(b, ";\nALTER TABLE ");
            e |= qname(b, p, p->sc.table);
            e |= sink__buf_puts(b, " ADD PRIMARY KEY (");
            for (size_t k = 0; k < p->sc.npk; k++) {
                if (k)
                    e |= sink__buf_puts(b, ", ");
                e |= sink__sql_ident(b, p->sc.names[p->sc.pk[k]]);
            }
            e |= sink__buf_putc(b, ')');
        }
        break;
    case SINK_APPEND:
        if (p->staged_append)
            e |= sink__sql_append_stage(b, &p->sc, p->stage);
        break;
    case SINK_MERGE:
        e |= sink__sql_merge(b, &p->sc, p->stage);
        break;
    case SINK_DELETE_INSERT:
        if ((rc = sink__sql_delete_insert(b, &p->sc, p->stage, pg_literal)))
            return sink__fail(s, rc, rc == SINK_E_NOMEM ? "out of memory"
                                                        : "delete+insert window: a bound cannot be decoded");
        break;
    }
    if (b->len)
        e |= sink__buf_puts(b, ";\n");
    e |= sink__sql_state(b, s);
    e |= sink__buf_puts(b, "COMMIT");
    if (e || sink__buf_cstr(b))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    if ((rc = run(p, b->p, "commit")))
        return rc;
    p->in_txn = false;
    return SINK_OK;
}

static void pg_abort(sink *s)
{
    pg_sink *p = (pg_sink *)s;
    if (p->in_copy)
        end_copy(p, "tdspipe: load aborted");
    if (p->in_txn) {
        PGresult *r = pq.PQexec(p->conn, "ROLLBACK");
        pq.PQclear(r);
        p->in_txn = false;
    }
    p->out.len = 0;
}

static void pg_close(sink *s)
{
    pg_sink *p = (pg_sink *)s;
    pg_abort(s);
    pq.PQfinish(p->conn);
    sink__schema_free(&p->sc);
    sink__buf_free(&p->sql);
    sink__buf_free(&p->out);
    sink__buf_free(&p->text);
    free(p->stage);
    free(p);
}

static int pg_lookup(sink *s, const char *table, const char *expr, const char *where,
                     char *out, size_t cap, bool *found)
{
    pg_sink *p = (pg_sink *)s;
    sink_buf *b = &p->sql;
    b->len = 0;
    const char *dot = strrchr(table, '.');
    int e = 0;
    if (dot) {
        char schema[256];
        size_t n = (size_t)(dot - table);
        if (n >= sizeof schema)
            return sink__fail(s, SINK_E_ARG, "schema name too long");
        memcpy(schema, table, n);
        schema[n] = '\0';
        e |= sink__sql_qname(b, schema, dot + 1);
    } else {
        e |= sink__sql_ident(b, table);
    }
    if (e || sink__buf_cstr(b))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    /* to_regclass: false instead of an error when the table is missing */
    bool exists = false;
    int xr = pg_exists(p, b->p, &exists);
    if (xr || !exists)
        return xr;
    sink_buf q = { 0 };
    PGresult *r;
    e = sink__buf_puts(&q, "SELECT CAST(");
    e |= sink__buf_puts(&q, expr);
    e |= sink__buf_puts(&q, " AS text) FROM ");
    e |= sink__buf_put(&q, b->p, b->len);
    if (where) {
        e |= sink__buf_puts(&q, " WHERE ");
        e |= sink__buf_puts(&q, where);
    }
    if (e || sink__buf_cstr(&q)) {
        sink__buf_free(&q);
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    }
    r = pq.PQexec(p->conn, q.p);
    sink__buf_free(&q);
    if (!r || pq.PQresultStatus(r) != SINK_PGRES_TUPLES_OK) {
        pg_fail(p, SINK_E_DEST, "lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        return SINK_E_DEST;
    }
    int rc = SINK_OK;
    if (pq.PQntuples(r) >= 1 && !pq.PQgetisnull(r, 0, 0)) {
        const char *t = pq.PQgetvalue(r, 0, 0);
        size_t n = strlen(t);
        if (n + 1 > cap) {
            rc = sink__fail(s, SINK_E_ARG, "value longer than the buffer");
        } else {
            memcpy(out, t, n + 1);
            *found = true;
        }
    }
    pq.PQclear(r);
    return rc;
}

const sink_vtable sink_postgres_vtable = {
    .scheme = "postgresql",
    .alias = "postgres",
    .open = pg_open,
    .begin = pg_begin,
    .append = pg_append,
    .commit = pg_commit,
    .abort = pg_abort,
    .close = pg_close,
    .lookup = pg_lookup,
};
#endif /* SINK_FULLY_STATIC */
