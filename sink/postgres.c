/*
 * postgres.c — PostgreSQL as a SQL dialect of the core (sql_core.c):
 * libpq loaded at run time (pq_int.h), and the rows through COPY … FROM
 * STDIN (FORMAT binary).
 *
 * One transaction per load: BEGIN at sink_begin, the COPY stays open across
 * appends, and sink_commit ends the COPY, runs the strategy's statements
 * and COMMITs. Anything else ROLLBACKs, so a failed load changes nothing.
 * Readers of the target are not blocked during a replace: the rows go into
 * "_tdspipe_stage_<t>", and only the swap at commit (DROP target, RENAME
 * stage, ADD PRIMARY KEY) takes the target's lock. Binary COPY needs the
 * exact column types, so every load into an existing table (append too)
 * goes through a stage of our types and INSERT … SELECT, after the schema
 * contract (sql_evolve.c) added the columns the table lacks and widened
 * its types (ALTER COLUMN … TYPE; a bounded string is varchar(n), as
 * ingestr makes it, and one widened without a limit becomes text,
 * PostgreSQL's unbounded string).
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
#include "sql_int.h"

#ifdef SINK_FULLY_STATIC
SINK_UNAVAILABLE_VTABLE(sink_postgres_vtable, "postgresql", "postgres", "PostgreSQL");
#else

#define pq (*p->api)

typedef struct pg_sink {
    sql_sink q;
    const sink_pq_api *api;
    PGconn *conn;
    sink_buf out;      /* COPY data not yet handed to libpq */
    sink_buf text;
    bool in_copy;
    unsigned writers;   /* copy_writers=K: K > 1 loads through pg_parallel.c */
    char *uri;          /* for the writers' connections (K > 1) */
    struct pg_par *par;
} pg_sink;

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg; /* NOTICEs ("… does not exist, skipping") are not for users */
}

static int pg_fail(pg_sink *p, int code, const char *what, const char *msg)
{
    return sink__fail(&p->q.base, code, "postgresql: %s: %s", what, msg && *msg ? msg : "failed");
}

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

/* A bounded string keeps its length, as ingestr's PostgreSQL mapper does
 * (VARCHAR(n)): n characters hold the source's n bytes (char, varchar) or
 * n UTF-16 units (nchar, nvarchar), whatever the text. (max), text and
 * ntext have no bound: text. Fixed char(n) becomes varchar(n) too (its
 * values arrive blank-padded). */
static const char *pg_string(const tds_column *c, char *tmp, size_t cap)
{
    if (c->is_plp || c->max_len == 0xFFFF || c->type == TDS_T_TEXT || c->type == TDS_T_NTEXT)
        return "text";
    uint32_t n = c->kind == TDS_K_NCHAR ? c->max_len / 2 : c->max_len;
    if (!n)
        return "text";
    snprintf(tmp, cap, "varchar(%u)", (unsigned)n);
    return tmp;
}

static const char *pg_type(const tds_column *c, bool key, char *tmp, size_t cap)
{
    (void)key;
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
    case TDS_K_CHAR: case TDS_K_NCHAR: return pg_string(c, tmp, cap);
    case TDS_K_JSON: return "jsonb";
    /* pgvector is not packaged here: `ALTER TABLE t ALTER COLUMN v TYPE
     * vector(n) USING v::vector(n)` turns it into one (docs/types.md). */
    case TDS_K_VECTOR: return "real[]";
    default: return "text"; /* xml, variant */
    }
}

static int pg_literal(sink_buf *b, const tds_column *c, const tds_value *v)
{
    char tmp[64];
    return sink__sql_cast_literal(b, c, v, pg_type(c, false, tmp, sizeof tmp), "decode_hex");
}

/* Does the relation exist? to_regclass: false instead of an error when
 * it is missing. */
static int pg_exists(sql_sink *q, const char *schema, const char *table, bool *exists)
{
    pg_sink *p = (pg_sink *)q;
    sink_buf name = { 0 };
    if (sink__sql_qname(q, &name, schema, table) || sink__buf_cstr(&name)) {
        sink__buf_free(&name);
        return sink__sql_nomem(q);
    }
    const char *v[1] = { name.p };
    PGresult *r = pq.PQexecParams(p->conn, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, v, NULL, NULL, 0);
    sink__buf_free(&name);
    if (!r || pq.PQresultStatus(r) != SINK_PGRES_TUPLES_OK || pq.PQntuples(r) != 1) {
        pg_fail(p, SINK_E_DEST, "table lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
        pq.PQclear(r);
        return SINK_E_DEST;
    }
    *exists = pq.PQgetvalue(r, 0, 0)[0] == 't';
    pq.PQclear(r);
    return SINK_OK;
}

static bool c_is_text(const tds_column *c)
{
    return c->kind == TDS_K_CHAR || c->kind == TDS_K_NCHAR || c->kind == TDS_K_XML || c->kind == TDS_K_VARIANT;
}

static int send_out(pg_sink *p)
{
    if (p->par)
        return sink__pg_par_send(p->par, &p->out, &p->q);
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

static int pg_rows(sql_sink *q, const sink_batch *b)
{
    pg_sink *p = (pg_sink *)q;
    sink *s = &q->base;
    size_t nc = q->sc.ncols;
    uint16_t nf = (uint16_t)(nc + q->with_ord);
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        if (sink__buf_reserve(&p->out, 2))
            return sink__fail(s, SINK_E_NOMEM, "out of memory");
        sink__pg_be16((uint8_t *)p->out.p + p->out.len, nf);
        p->out.len += 2;
        for (size_t i = 0; i < nc; i++) {
            int rc = sink__pg_copy_value(&p->out, &p->text, &q->sc.cols[i], &row[i]);
            if (rc == SINK_E_NOMEM)
                return sink__fail(s, rc, "out of memory");
            if (rc) {
                bool nul = c_is_text(&q->sc.cols[i]);
                return sink__fail(s, rc, "column %s: %s", q->sc.names[i],
                                  nul ? "text with a NUL character or invalid in its code page (PostgreSQL text cannot hold U+0000)"
                                      : "value cannot be decoded");
            }
        }
        if (q->with_ord) {
            uint8_t *o = sink__pg_field(&p->out, 8);
            if (!o)
                return sink__fail(s, SINK_E_NOMEM, "out of memory");
            sink__pg_be64(o, (uint64_t)q->ord++);
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
            return sink__fail(&p->q.base, SINK_E_NOMEM, "out of memory");
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

static int pg_exec(sql_sink *q, const char *sql, const char *what) { return run((pg_sink *)q, sql, what); }

static int pg_schema_exists(sql_sink *q, const char *schema, bool *found)
{
    pg_sink *p = (pg_sink *)q;
    const char *v[1] = { schema };
    PGresult *r = pq.PQexecParams(p->conn, "SELECT 1 FROM pg_namespace WHERE nspname = $1",
                                  1, NULL, v, NULL, NULL, 0);
    int st = r ? pq.PQresultStatus(r) : -1;
    *found = st == SINK_PGRES_TUPLES_OK && pq.PQntuples(r) > 0;
    if (st != SINK_PGRES_TUPLES_OK)
        pg_fail(p, SINK_E_DEST, "schema lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
    pq.PQclear(r);
    return st == SINK_PGRES_TUPLES_OK ? SINK_OK : SINK_E_DEST;
}

static int pg_columns(sql_sink *q, sink_buf *names)
{
    pg_sink *p = (pg_sink *)q;
    sink_buf name = { 0 };
    if (sink__sql_table(q, &name, q->sc.table) || sink__buf_cstr(&name)) {
        sink__buf_free(&name);
        return sink__sql_nomem(q);
    }
    const char *v[1] = { name.p };
    PGresult *r = pq.PQexecParams(p->conn,
                                  "SELECT COALESCE(string_agg(attname::text || E'\\t' || format_type(atttypid, atttypmod) || "
                                  "E'\\t' || CASE WHEN attnotnull THEN '0' ELSE '1' END, E'\\n' ORDER BY attnum), '') "
                                  "FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                                  1, NULL, v, NULL, NULL, 0);
    sink__buf_free(&name);
    int rc = SINK_OK;
    if (!r || pq.PQresultStatus(r) != SINK_PGRES_TUPLES_OK || pq.PQntuples(r) != 1)
        rc = pg_fail(p, SINK_E_DEST, "column lookup", r ? pq.PQresultErrorMessage(r) : pq.PQerrorMessage(p->conn));
    else if (sink__buf_puts(names, pq.PQgetvalue(r, 0, 0)) || sink__buf_cstr(names))
        rc = sink__sql_nomem(q);
    pq.PQclear(r);
    return rc;
}

static int pg_value(sql_sink *q, const char *expr, const char *from, const char *where,
                    char *out, size_t cap, bool *found)
{
    pg_sink *p = (pg_sink *)q;
    sink_buf *b = &q->sql;
    b->len = 0;
    if (sink__buf_puts(b, "SELECT CAST(") || sink__buf_puts(b, expr) || sink__buf_puts(b, " AS text) FROM ") ||
        sink__buf_puts(b, from) || (where && (sink__buf_puts(b, " WHERE ") || sink__buf_puts(b, where))) ||
        sink__buf_cstr(b))
        return sink__sql_nomem(q);
    PGresult *r = pq.PQexec(p->conn, b->p);
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
            rc = sink__fail(&q->base, SINK_E_ARG, "value longer than the buffer");
        } else {
            memcpy(out, t, n + 1);
            *found = true;
        }
    }
    pq.PQclear(r);
    return rc;
}

/* COPY table (cols [, ord]) FROM STDIN (FORMAT binary), and its header */
static int pg_copy_open(sql_sink *q, const char *table)
{
    pg_sink *p = (pg_sink *)q;
    sink__pg_par_free(&p->par); /* the last load's, which committed */
    p->out.len = 0;
    int rc = p->writers > 1 ? sink__pg_par_open(&p->par, p->api, p->uri, p->writers, q, p->conn) : SINK_OK;
    if (rc || p->par)
        return rc; /* rows go to the writers (pg_parallel.c) */
    sink_buf *b = &q->sql;
    b->len = 0;
    int e = sink__buf_puts(b, "COPY ");
    e |= sink__sql_table(q, b, table);
    e |= sink__sql_bulk_cols(q, b);
    e |= sink__buf_puts(b, " FROM STDIN (FORMAT binary)");
    if (e || sink__buf_cstr(b))
        return sink__sql_nomem(q);
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
    return sink__buf_put(&p->out, hdr, sizeof hdr) ? sink__sql_nomem(q) : SINK_OK;
}

static int pg_copy_close(sql_sink *q)
{
    pg_sink *p = (pg_sink *)q;
    return p->par ? sink__pg_par_finish(p->par, &p->out, q) : end_copy(p, NULL);
}

static void pg_copy_drop(sql_sink *q)
{
    pg_sink *p = (pg_sink *)q;
    sink__pg_par_drop(&p->par, q, p->conn); /* rolls back, drops the stage */
    if (p->in_copy)
        end_copy(p, "tdspipe: load aborted");
    p->out.len = 0;
}

static void pg_free(sql_sink *q)
{
    pg_sink *p = (pg_sink *)q;
    sink__pg_par_free(&p->par);
    free(p->uri);
    pq.PQfinish(p->conn);
    sink__buf_free(&p->out);
    sink__buf_free(&p->text);
}

static const sink_dialect pg_dialect = {
    SINK__SQL_DQ_DIALECT,
    .name = "postgresql",
    .begin_sql = "BEGIN",
    .create_schema = "CREATE SCHEMA IF NOT EXISTS ",
    .target_pk = true,
    .pk_after_swap = true,
    .append_via_stage = true,
    .alter_type = " TYPE ",
    .type = pg_type,
    .literal = pg_literal,
    .exec = pg_exec,
    .exists = pg_exists,
    .schema_exists = pg_schema_exists,
    .columns = pg_columns,
    .value = pg_value,
    .bulk_open = pg_copy_open,
    .bulk_rows = pg_rows,
    .bulk_close = pg_copy_close,
    .bulk_drop = pg_copy_drop,
    .free = pg_free,
};

static int pg_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    const sink_pq_api *api = sink__pq_load(o->libpq, err, errcap);
    if (!api)
        return SINK_E_LIB;
    /* libpq reads the URI itself; rebuild it with the scheme it knows. */
    size_t n = strlen(target);
    char *uri = sink__malloc(n + sizeof "postgresql://");
    if (!uri)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    memcpy(uri, "postgresql://", sizeof "postgresql://" - 1);
    memcpy(uri + sizeof "postgresql://" - 1, target, n + 1);
    unsigned writers;
    if (sink__pg_par_writers(uri, &writers, err, errcap)) {
        free(uri);
        return SINK_E_URI;
    }
    PGconn *c = api->PQconnectdb(uri);
    if (writers < 2 || !c || api->PQstatus(c) != SINK_PQ_CONNECTION_OK) {
        free(uri);
        uri = NULL;
    }
    if (!c || api->PQstatus(c) != SINK_PQ_CONNECTION_OK) {
        /* libpq's message names host and port, never the password. */
        sink__errf(err, errcap, SINK_E_DEST, "postgresql: cannot connect: %s",
                   c ? api->PQerrorMessage(c) : "out of memory");
        char *nl = err ? strpbrk(err, "\r\n") : NULL;
        if (nl)
            *nl = '\0';
        if (c)
            api->PQfinish(c);
        return SINK_E_DEST;
    }
    api->PQsetNoticeProcessor(c, quiet, NULL);
    pg_sink *p = sink__calloc(1, sizeof *p);
    if (!p) {
        api->PQfinish(c);
        free(uri);
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    }
    p->api = api;
    p->conn = c;
    p->writers = writers;
    p->uri = uri;
    p->q.d = &pg_dialect;
    if (run(p, "SET client_encoding = 'UTF8'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; "
               "SET extra_float_digits = 3", "session setup")) {
        sink__errf(err, errcap, SINK_E_DEST, "%s", p->q.base.err);
        pq.PQfinish(c);
        free(uri);
        free(p);
        return SINK_E_DEST;
    }
    *out = &p->q.base;
    return SINK_OK;
}


const sink_vtable sink_postgres_vtable = SINK_SQL_VTABLE("postgresql", "postgres", pg_open);
#endif /* SINK_FULLY_STATIC */
