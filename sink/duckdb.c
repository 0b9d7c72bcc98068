/*
 * duckdb.c — DuckDB through its C API, loaded at run time from libduckdb.so
 * (duckdb_int.h), rows written column-wise into DuckDB data chunks and
 * handed to an Appender (duckdb_append_data_chunk): no per-value calls
 * into the library, no allocation per row.
 *
 * One transaction per load (BEGIN at sink_begin, COMMIT at sink_commit,
 * ROLLBACK otherwise); the Appender appends inside it, so an aborted load
 * leaves the database as it was. Strategies as in sql.c; replace fills
 * "_tdspipe_stage_<t>" and swaps it in at commit (DROP + RENAME). The
 * chunks carry our physical layouts, so every load into an existing table
 * (append too) goes through a stage of our types and INSERT … SELECT,
 * after adding the columns the table lacks.
 *
 * Types (docs/types.md): tinyint UTINYINT, smallint/int/bigint, bit
 * BOOLEAN, real FLOAT, float DOUBLE, decimal(p,s) DECIMAL(p,s), money
 * DECIMAL(19,4), smallmoney DECIMAL(10,4), date DATE, time(0–6) TIME (µs),
 * time(7) TIME_NS, datetime2(7) TIMESTAMP_NS (100 ns exact) while its
 * values fit DuckDB's range for it (1677-09-21…2262-04-11): the first value
 * outside (9999-12-31 sentinels are common) widens the column of this load,
 * and of the table loaded into, to TIMESTAMP (µs, rows so far rounded like
 * the rest; widen_column), other
 * datetimes TIMESTAMP (µs), datetimeoffset TIMESTAMPTZ
 * (the UTC instant in µs; the offset itself is not kept), uniqueidentifier
 * UUID, char/nchar/xml/sql_variant VARCHAR, binary/UDT BLOB.
 *
 * Physical layouts written into vectors (DuckDB C API "Vectors"): DECIMAL
 * as int16/int32/int64/hugeint by width (≤4, ≤9, ≤18, ≤38 digits) holding
 * the unscaled value; DATE int32 days since 1970-01-01; TIME int64 µs;
 * TIME_NS int64 ns; TIMESTAMP(TZ) int64 µs and TIMESTAMP_NS int64 ns since
 * the epoch; UUID a hugeint of the 16 bytes big-endian with the top bit
 * flipped; VARCHAR/BLOB through duckdb_vector_assign_string_element_len.
 */
#include <stdio.h>
#include <stdlib.h>

#include "duckdb_int.h"
#include "sink_int.h"

#ifdef SINK_FULLY_STATIC
SINK_UNAVAILABLE_VTABLE(sink_duckdb_vtable, "duckdb", NULL, "DuckDB");
#else

/* The loaded libduckdb (duckdb_load.c); set by ddb_open before any other
 * call. */
static const sink_ddb_api *ddba;
#define ddb (*ddba)

/* ------------------------------------------------------------- sink */

/* How a column is written into its vector. */
enum ddb_form {
    F_U8, F_I16, F_I32, F_I64, F_BOOL, F_F32, F_F64,
    F_DEC16, F_DEC32, F_DEC64, F_DEC128,
    F_DATE, F_TIME_US, F_TIME_NS, F_TS_US, F_TS_NS, F_TSTZ,
    F_UUID, F_TEXT, F_BLOB,
};

typedef struct ddb_sink {
    sink base;
    sink_ddb_handle db, conn, app, chunk;
    sink_schema sc;
    uint8_t *form;         /* enum ddb_form per column */
    size_t nvec;           /* columns in the chunk (+1 for merge's ord) */
    sink_ddb_handle *vec;  /* vectors of the chunk */
    void **data;
    size_t rows, cap;      /* rows in the chunk, vector size */
    sink_buf sql, text;
    char *stage;
    bool in_txn;
    bool staged_append; /* append into an existing table goes through a stage */
    int64_t ord;
} ddb_sink;

static enum ddb_form form_of(const tds_column *c)
{
    switch (c->kind) {
    case TDS_K_TINYINT: return F_U8;
    case TDS_K_SMALLINT: return F_I16;
    case TDS_K_INT: return F_I32;
    case TDS_K_BIGINT: return F_I64;
    case TDS_K_BIT: return F_BOOL;
    case TDS_K_REAL: return F_F32;
    case TDS_K_FLOAT: return F_F64;
    case TDS_K_SMALLMONEY: return F_DEC64;
    case TDS_K_MONEY: return F_DEC128; /* 19 digits: a hugeint */
    case TDS_K_DECIMAL: {
        unsigned p = c->precision ? c->precision : 38;
        return p <= 4 ? F_DEC16 : p <= 9 ? F_DEC32 : p <= 18 ? F_DEC64 : F_DEC128;
    }
    case TDS_K_DATE: return F_DATE;
    case TDS_K_TIME: return c->scale > 6 ? F_TIME_NS : F_TIME_US;
    case TDS_K_DATETIME2: return c->scale > 6 ? F_TS_NS : F_TS_US;
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: return F_TS_US;
    case TDS_K_DATETIMEOFFSET: return F_TSTZ;
    case TDS_K_GUID: return F_UUID;
    case TDS_K_BINARY: case TDS_K_UDT: return F_BLOB;
    default: return F_TEXT;
    }
}

static const char *ddb_type(const tds_column *c, char *tmp, size_t cap)
{
    switch (form_of(c)) {
    case F_U8: return "UTINYINT";
    case F_I16: return "SMALLINT";
    case F_I32: return "INTEGER";
    case F_I64: return "BIGINT";
    case F_BOOL: return "BOOLEAN";
    case F_F32: return "FLOAT";
    case F_F64: return "DOUBLE";
    case F_DEC16: case F_DEC32: case F_DEC64: case F_DEC128:
        if (c->kind == TDS_K_MONEY)
            return "DECIMAL(19,4)";
        if (c->kind == TDS_K_SMALLMONEY)
            return "DECIMAL(10,4)";
        snprintf(tmp, cap, "DECIMAL(%u,%u)", c->precision ? c->precision : 38, c->scale);
        return tmp;
    case F_DATE: return "DATE";
    case F_TIME_US: return "TIME";
    case F_TIME_NS: return "TIME_NS";
    case F_TS_US: return "TIMESTAMP";
    case F_TS_NS: return "TIMESTAMP_NS";
    case F_TSTZ: return "TIMESTAMPTZ";
    case F_UUID: return "UUID";
    case F_BLOB: return "BLOB";
    case F_TEXT: return "VARCHAR";
    }
    return "VARCHAR";
}

static int run(ddb_sink *d, const char *sql, const char *what)
{
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(d->conn, sql, &r);
    if (st != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_result_error(&r);
        sink__fail(&d->base, SINK_E_DEST, "duckdb: %s: %s", what, m ? m : "failed");
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    ddb.duckdb_destroy_result(&r);
    return SINK_OK;
}

/* Runs q (a SELECT count(*) …, freed here; e: its building failed) and
 * sets *nonzero. what names the lookup in an error. */
static int ddb_count_nonzero(ddb_sink *d, sink_buf *q, int e, const char *what, bool *nonzero)
{
    if (e || sink__buf_cstr(q)) {
        sink__buf_free(q);
        return sink__fail(&d->base, SINK_E_NOMEM, "out of memory");
    }
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(d->conn, q->p, &r);
    sink__buf_free(q);
    if (st != SINK_DDB_SUCCESS) {
        sink__fail(&d->base, SINK_E_DEST, "duckdb: %s lookup: %s", what, ddb.duckdb_result_error(&r));
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    char *cnt = ddb.duckdb_value_varchar(&r, 0, 0);
    *nonzero = cnt && strcmp(cnt, "0") != 0;
    ddb.duckdb_free(cnt);
    ddb.duckdb_destroy_result(&r);
    return SINK_OK;
}

/* Does schema.table (schema NULL: the current one) exist? */
static int ddb_exists(ddb_sink *d, const char *schema, const char *table, bool *exists)
{
    sink_buf q = { 0 };
    int e = sink__buf_puts(&q, "SELECT count(*) FROM information_schema.tables WHERE table_name = ");
    e |= sink__sql_string(&q, table, strlen(table));
    e |= sink__buf_puts(&q, " AND table_schema = ");
    e |= schema ? sink__sql_string(&q, schema, strlen(schema)) : sink__buf_puts(&q, "current_schema()");
    return ddb_count_nonzero(d, &q, e, "table", exists);
}

/* Adds the load's columns the existing target lacks (schema evolution). */
static int ddb_evolve(ddb_sink *d)
{
    sink_buf q = { 0 };
    int e = sink__buf_puts(&q, "SELECT COALESCE(string_agg(column_name, chr(10)), '') FROM "
                               "information_schema.columns WHERE table_name = ");
    e |= sink__sql_string(&q, d->sc.table, strlen(d->sc.table));
    e |= sink__buf_puts(&q, " AND table_schema = ");
    e |= d->sc.schema ? sink__sql_string(&q, d->sc.schema, strlen(d->sc.schema)) : sink__buf_puts(&q, "current_schema()");
    if (e || sink__buf_cstr(&q)) {
        sink__buf_free(&q);
        return sink__fail(&d->base, SINK_E_NOMEM, "out of memory");
    }
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb.duckdb_query(d->conn, q.p, &r);
    sink__buf_free(&q);
    if (st != SINK_DDB_SUCCESS) {
        sink__fail(&d->base, SINK_E_DEST, "duckdb: column lookup: %s", ddb.duckdb_result_error(&r));
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    char *names = ddb.duckdb_value_varchar(&r, 0, 0);
    ddb.duckdb_destroy_result(&r);
    sink_buf a = { 0 };
    int rc = sink__sql_add_columns(&a, &d->sc, ddb_type, names ? names : "", true);
    ddb.duckdb_free(names);
    if (!rc && a.len && !sink__buf_cstr(&a))
        rc = run(d, a.p, "add column");
    else if (rc)
        rc = sink__fail(&d->base, SINK_E_NOMEM, "out of memory");
    sink__buf_free(&a);
    return rc;
}

static int ddb_literal(sink_buf *b, const tds_column *c, const tds_value *v)
{
    char tmp[64];
    return sink__sql_cast_literal(b, c, v, ddb_type(c, tmp, sizeof tmp), "unhex");
}


static int ddb_open(const char *target, const sink_options *o, sink **out, char *err, size_t errcap)
{
    if (!(ddba = sink__ddb_load(o->duckdb_lib, err, errcap)))
        return SINK_E_LIB;
    const char *path = target[0] == '/' ? target + 1 : target;
    if (!*path)
        return sink__errf(err, errcap, SINK_E_URI, "duckdb URI has no file path");
    ddb_sink *d = sink__calloc(1, sizeof *d);
    if (!d)
        return sink__errf(err, errcap, SINK_E_NOMEM, "out of memory");
    char *oe = NULL;
    if (ddb.duckdb_open_ext(path, &d->db, NULL, &oe) != SINK_DDB_SUCCESS) {
        sink__errf(err, errcap, SINK_E_DEST, "duckdb: cannot open %s: %s", path, oe ? oe : "failed");
        char *nl = err ? strpbrk(err, "\r\n") : NULL;
        if (nl)
            *nl = '\0';
        if (oe)
            ddb.duckdb_free(oe);
        free(d);
        return SINK_E_DEST;
    }
    if (ddb.duckdb_connect(d->db, &d->conn) != SINK_DDB_SUCCESS) {
        ddb.duckdb_close(&d->db);
        free(d);
        return sink__errf(err, errcap, SINK_E_DEST, "duckdb: cannot connect to %s", path);
    }
    if (run(d, "SET TimeZone = 'UTC'", "setup")) /* max_value prints UTC */
        (void)0; /* without ICU there is no time zone setting: fine */
    *out = &d->base;
    return SINK_OK;
}

static void drop_chunk(ddb_sink *d)
{
    if (d->chunk)
        ddb.duckdb_destroy_data_chunk(&d->chunk);
    d->chunk = NULL;
    if (d->app)
        ddb.duckdb_appender_destroy(&d->app);
    d->app = NULL;
    d->rows = 0;
}

static int make_chunk(ddb_sink *d, const char *table)
{
    if (ddb.duckdb_appender_create(d->conn, d->sc.schema, table, &d->app) != SINK_DDB_SUCCESS) {
        const char *m = d->app ? ddb.duckdb_appender_error(d->app) : NULL;
        return sink__fail(&d->base, SINK_E_DEST, "duckdb: appender: %s", m ? m : "cannot create");
    }
    size_t n = (size_t)ddb.duckdb_appender_column_count(d->app);
    if (n != d->nvec)
        return sink__fail(&d->base, SINK_E_DEST, "duckdb: table has %zu columns, expected %zu", n, d->nvec);
    sink_ddb_handle *types = sink__calloc(n, sizeof *types);
    if (!types)
        return sink__fail(&d->base, SINK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        types[i] = ddb.duckdb_appender_column_type(d->app, i);
    d->chunk = ddb.duckdb_create_data_chunk(types, n);
    for (size_t i = 0; i < n; i++)
        ddb.duckdb_destroy_logical_type(&types[i]);
    free(types);
    if (!d->chunk)
        return sink__fail(&d->base, SINK_E_NOMEM, "duckdb: cannot create a data chunk");
    d->cap = (size_t)ddb.duckdb_vector_size();
    d->rows = 0;
    for (size_t i = 0; i < n; i++) {
        d->vec[i] = ddb.duckdb_data_chunk_get_vector(d->chunk, i);
        d->data[i] = ddb.duckdb_vector_get_data(d->vec[i]);
    }
    return SINK_OK;
}

static int ddb_begin(sink *s, const sink_table *t)
{
    ddb_sink *d = (ddb_sink *)s;
    drop_chunk(d);
    sink__schema_free(&d->sc);
    free(d->form);
    free(d->vec);
    free(d->data);
    free(d->stage);
    d->form = NULL;
    d->vec = NULL;
    d->data = NULL;
    d->stage = NULL;
    d->ord = 0;
    if (sink__schema_copy(&d->sc, t))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    d->nvec = t->ncols + (t->strategy == SINK_MERGE);
    size_t n = strlen(d->sc.table);
    d->form = sink__malloc(t->ncols);
    d->vec = sink__calloc(d->nvec, sizeof *d->vec);
    d->data = sink__calloc(d->nvec, sizeof *d->data);
    d->stage = sink__malloc(sizeof SINK__STAGE_PREFIX + n);
    if (!d->form || !d->vec || !d->data || !d->stage)
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    memcpy(d->stage, SINK__STAGE_PREFIX, sizeof SINK__STAGE_PREFIX - 1);
    memcpy(d->stage + sizeof SINK__STAGE_PREFIX - 1, d->sc.table, n + 1);
    for (size_t i = 0; i < t->ncols; i++)
        d->form[i] = (uint8_t)form_of(&d->sc.cols[i]);

    int rc = run(d, "BEGIN TRANSACTION", "begin");
    if (rc)
        return rc;
    d->in_txn = true;
    sink_buf *b = &d->sql;
    b->len = 0;
    int e = 0;
    if (d->sc.schema) {
        e |= sink__buf_puts(b, "CREATE SCHEMA IF NOT EXISTS ");
        e |= sink__sql_ident(b, d->sc.schema);
        e |= sink__buf_puts(b, ";\n");
    }
    /* The Appender writes our physical layouts: into a table that already
     * exists (maybe with other types) an append goes through a stage and
     * INSERT … SELECT casts. */
    d->staged_append = false;
    if (t->strategy != SINK_REPLACE) {
        bool exists = false;
        if ((rc = ddb_exists(d, d->sc.schema, d->sc.table, &exists)) || (exists && (rc = ddb_evolve(d))))
            return rc;
        d->staged_append = exists && t->strategy == SINK_APPEND;
    }
    /* No PRIMARY KEY in DuckDB: its ART index is built row by row at
     * commit — half the CPU of a narrow load and memory that grows with the
     * row count — and nothing here needs it (merge deletes and inserts
     * through the stage). dlt, behind ingestr, leaves it out too. */
    bool staged = t->strategy != SINK_APPEND || d->staged_append;
    if (t->strategy != SINK_REPLACE && !d->staged_append) {
        e |= sink__sql_create(b, &d->sc, ddb_type, d->sc.schema, d->sc.table, true, false, false);
        e |= sink__buf_puts(b, ";\n");
    }
    if (staged) {
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= sink__sql_qname(b, d->sc.schema, d->stage);
        e |= sink__buf_puts(b, ";\n");
        e |= sink__sql_create(b, &d->sc, ddb_type, d->sc.schema, d->stage, false,
                              t->strategy == SINK_MERGE, false);
    }
    if (e || sink__buf_cstr(b))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    if (b->len && (rc = run(d, b->p, "create table")))
        return rc;
    return make_chunk(d, staged ? d->stage : d->sc.table);
}

static int flush_chunk(ddb_sink *d)
{
    if (!d->rows)
        return SINK_OK;
    ddb.duckdb_data_chunk_set_size(d->chunk, d->rows);
    if (ddb.duckdb_append_data_chunk(d->app, d->chunk) != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_appender_error(d->app);
        return sink__fail(&d->base, SINK_E_DEST, "duckdb: append: %s", m ? m : "failed");
    }
    ddb.duckdb_data_chunk_reset(d->chunk);
    d->rows = 0;
    /* reset may hand out fresh buffers */
    for (size_t i = 0; i < d->nvec; i++) {
        d->vec[i] = ddb.duckdb_data_chunk_get_vector(d->chunk, i);
        d->data[i] = ddb.duckdb_vector_get_data(d->vec[i]);
    }
    return SINK_OK;
}

static void put_hugeint(void *data, size_t row, uint64_t lower, int64_t upper)
{
    sink_ddb_hugeint h = { lower, upper };
    memcpy((char *)data + row * sizeof h, &h, sizeof h);
}

static inline uint64_t rd_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t rd_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#define STORE(type, val)                                    \
    do {                                                    \
        type x_ = (type)(val);                              \
        memcpy((char *)data + row * sizeof x_, &x_, sizeof x_); \
    } while (0)

/* Writes value v of column i into row `row` of its vector. */
static int put_value(ddb_sink *d, size_t i, size_t row, const tds_value *v)
{
    const tds_column *c = &d->sc.cols[i];
    void *data = d->data[i];
    if (v->flags & TDS_VF_NULL) {
        ddb.duckdb_vector_ensure_validity_writable(d->vec[i]);
        ddb.duckdb_validity_set_row_invalid(ddb.duckdb_vector_get_validity(d->vec[i]), row);
        return SINK_OK;
    }
    if (v->flags & TDS_VF_STREAMED)
        return SINK_E_VALUE;
    switch ((enum ddb_form)d->form[i]) {
    case F_U8: case F_I16: case F_I32: case F_I64: case F_BOOL: {
        int64_t x;
        if (tds_value_int(c, v, &x))
            return SINK_E_VALUE;
        switch (d->form[i]) {
        case F_U8: STORE(uint8_t, x); break;
        case F_I16: STORE(int16_t, x); break;
        case F_I32: STORE(int32_t, x); break;
        case F_BOOL: STORE(bool, x != 0); break;
        default: STORE(int64_t, x); break;
        }
        return SINK_OK;
    }
    case F_F32: case F_F64: {
        double x;
        if (tds_value_float(c, v, &x))
            return SINK_E_VALUE;
        if (d->form[i] == F_F32)
            STORE(float, x);
        else
            STORE(double, x);
        return SINK_OK;
    }
    case F_DEC16: case F_DEC32: case F_DEC64: case F_DEC128: {
        tds_decimal dec;
        if (tds_value_decimal(c, v, &dec))
            return SINK_E_VALUE;
        uint64_t lo = rd_le64(dec.magnitude), hi = rd_le64(dec.magnitude + 8);
        if (dec.negative) { /* two's complement of the 128-bit magnitude */
            lo = ~lo + 1;
            hi = ~hi + (lo == 0);
        }
        switch (d->form[i]) {
        case F_DEC16: STORE(int16_t, (int64_t)lo); break;
        case F_DEC32: STORE(int32_t, (int64_t)lo); break;
        case F_DEC64: STORE(int64_t, (int64_t)lo); break;
        default: put_hugeint(data, row, lo, (int64_t)hi); break;
        }
        return SINK_OK;
    }
    case F_DATE: case F_TIME_US: case F_TIME_NS: case F_TS_US: case F_TS_NS: case F_TSTZ: {
        tds_datetime dt;
        if (tds_value_datetime(c, v, &dt))
            return SINK_E_VALUE;
        switch (d->form[i]) {
        case F_DATE: STORE(int32_t, dt.days - SINK__DAYS_1970); break;
        case F_TIME_US: STORE(int64_t, (dt.ticks + 5) / 10); break;
        case F_TIME_NS: STORE(int64_t, dt.ticks * 100); break;
        case F_TS_NS: {
            int64_t ticks, ns;
            if (__builtin_mul_overflow((int64_t)dt.days - SINK__DAYS_1970, (int64_t)864000000000LL, &ticks) ||
                __builtin_add_overflow(ticks, (int64_t)dt.ticks, &ticks) ||
                __builtin_mul_overflow(ticks, (int64_t)100, &ns))
                return SINK_E_UNSUPPORTED; /* outside TIMESTAMP_NS */
            STORE(int64_t, ns);
            break;
        }
        default: STORE(int64_t, sink__dt_unix_us(&dt)); break;
        }
        return SINK_OK;
    }
    case F_UUID: {
        uint8_t g[16];
        if (tds_value_guid(c, v, g))
            return SINK_E_VALUE;
        put_hugeint(data, row, rd_be64(g + 8), (int64_t)(rd_be64(g) ^ 0x8000000000000000ull));
        return SINK_OK;
    }
    case F_BLOB:
        ddb.duckdb_vector_assign_string_element_len(d->vec[i], row, v->len ? (const char *)v->ptr : "", v->len);
        return SINK_OK;
    case F_TEXT: {
        d->text.len = 0;
        int rc = sink__value_text(&d->text, c, v);
        if (rc)
            return rc;
        ddb.duckdb_vector_assign_string_element_len(d->vec[i], row, d->text.p ? d->text.p : "", d->text.len);
        return SINK_OK;
    }
    }
    return SINK_E_VALUE;
}

/* " ALTER COLUMN c SET DATA TYPE TIMESTAMP" for table: the rows appended
 * so far hold ns; round them half up to µs like sink__dt_unix_us (floor
 * division, so dates before 1970 round the same way). */
static int alter_to_us(sink_buf *b, const char *schema, const char *table, const char *col)
{
    int e = sink__buf_puts(b, "ALTER TABLE ");
    e |= sink__sql_qname(b, schema, table);
    e |= sink__buf_puts(b, " ALTER COLUMN ");
    e |= sink__sql_ident(b, col);
    e |= sink__buf_puts(b, " SET DATA TYPE TIMESTAMP USING make_timestamp((epoch_ns(");
    e |= sink__sql_ident(b, col);
    e |= sink__buf_puts(b, ") + 500 - ((epoch_ns(");
    e |= sink__sql_ident(b, col);
    e |= sink__buf_puts(b, ") + 500) % 1000 + 1000) % 1000) // 1000);\n");
    return e;
}

/* Whether column col of the destination table is TIMESTAMP_NS. */
static int column_is_ns(ddb_sink *d, const char *col, bool *ns)
{
    sink_buf q = { 0 };
    int e = sink__buf_puts(&q, "SELECT count(*) FROM information_schema.columns WHERE data_type = 'TIMESTAMP_NS'"
                               " AND table_name = ");
    e |= sink__sql_string(&q, d->sc.table, strlen(d->sc.table));
    e |= sink__buf_puts(&q, " AND column_name = ");
    e |= sink__sql_string(&q, col, strlen(col));
    e |= sink__buf_puts(&q, " AND table_schema = ");
    e |= d->sc.schema ? sink__sql_string(&q, d->sc.schema, strlen(d->sc.schema)) : sink__buf_puts(&q, "current_schema()");
    return ddb_count_nonzero(d, &q, e, "column", ns);
}

/* A datetime2(7) value outside TIMESTAMP_NS: column i of this load becomes
 * TIMESTAMP (µs), which holds every SQL Server date, rather than failing
 * the load. The complete rows are flushed, the appender closed, the stage
 * altered inside the load's transaction, and the destination table's
 * column too when it is TIMESTAMP_NS (merge, delete+insert and append go
 * through the stage into it; a load that fails rolls the change back), and
 * a new appender made; the caller redoes the row. */
static int widen_column(ddb_sink *d, size_t i)
{
    int rc = flush_chunk(d);
    if (rc)
        return rc;
    if (ddb.duckdb_appender_close(d->app) != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_appender_error(d->app);
        return sink__fail(&d->base, SINK_E_DEST, "duckdb: append: %s", m ? m : "failed");
    }
    drop_chunk(d);
    bool staged = d->sc.strategy != SINK_APPEND || d->staged_append;
    const char *target = staged ? d->stage : d->sc.table;
    sink_buf *b = &d->sql;
    b->len = 0;
    bool ns = false;
    if (staged && d->sc.strategy != SINK_REPLACE && (rc = column_is_ns(d, d->sc.names[i], &ns)))
        return rc;
    int e = alter_to_us(b, d->sc.schema, target, d->sc.names[i]);
    if (ns)
        e |= alter_to_us(b, d->sc.schema, d->sc.table, d->sc.names[i]);
    if (e || sink__buf_cstr(b))
        return sink__fail(&d->base, SINK_E_NOMEM, "out of memory");
    if ((rc = run(d, b->p, "widen a datetime2(7) column to TIMESTAMP")))
        return rc;
    d->form[i] = F_TS_US;
    return make_chunk(d, target);
}

static int ddb_append(sink *s, const sink_batch *b)
{
    ddb_sink *d = (ddb_sink *)s;
    size_t nc = d->sc.ncols;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
    redo:
        for (size_t i = 0; i < nc; i++) {
            int rc = put_value(d, i, d->rows, &row[i]);
            if (rc == SINK_E_UNSUPPORTED) { /* outside TIMESTAMP_NS */
                if ((rc = widen_column(d, i)))
                    return rc;
                goto redo;
            }
            if (rc)
                return sink__fail(s, rc, "column %s: %s", d->sc.names[i],
                                  rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
        }
        if (d->sc.strategy == SINK_MERGE) {
            void *data = d->data[nc];
            size_t row_ = d->rows;
            int64_t o = d->ord++;
            memcpy((char *)data + row_ * sizeof o, &o, sizeof o);
        }
        if (++d->rows == d->cap) {
            int rc = flush_chunk(d);
            if (rc)
                return rc;
        }
    }
    return SINK_OK;
}

static int ddb_commit(sink *s)
{
    ddb_sink *d = (ddb_sink *)s;
    int rc = flush_chunk(d);
    if (rc)
        return rc;
    if (ddb.duckdb_appender_close(d->app) != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_appender_error(d->app);
        return sink__fail(s, SINK_E_DEST, "duckdb: append: %s", m ? m : "failed");
    }
    drop_chunk(d);
    sink_buf *b = &d->sql;
    b->len = 0;
    int e = 0;
    switch (d->sc.strategy) {
    case SINK_REPLACE:
        e |= sink__buf_puts(b, "DROP TABLE IF EXISTS ");
        e |= sink__sql_qname(b, d->sc.schema, d->sc.table);
        e |= sink__buf_puts(b, ";\nALTER TABLE ");
        e |= sink__sql_qname(b, d->sc.schema, d->stage);
        e |= sink__buf_puts(b, " RENAME TO ");
        e |= sink__sql_ident(b, d->sc.table);
        break;
    case SINK_APPEND:
        if (d->staged_append)
            e |= sink__sql_append_stage(b, &d->sc, d->stage);
        break;
    case SINK_MERGE:
        e |= sink__sql_merge(b, &d->sc, d->stage);
        break;
    case SINK_DELETE_INSERT:
        if ((rc = sink__sql_delete_insert(b, &d->sc, d->stage, ddb_literal)))
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
    if ((rc = run(d, b->p, "commit")))
        return rc;
    d->in_txn = false;
    return SINK_OK;
}

static void ddb_abort(sink *s)
{
    ddb_sink *d = (ddb_sink *)s;
    if (d->chunk)
        ddb.duckdb_destroy_data_chunk(&d->chunk);
    d->chunk = NULL;
    d->rows = 0;
    if (d->app) /* destroy flushes what the appender holds; the rollback undoes it */
        ddb.duckdb_appender_destroy(&d->app);
    d->app = NULL;
    if (d->in_txn) {
        sink_ddb_result r;
        memset(&r, 0, sizeof r);
        ddb.duckdb_query(d->conn, "ROLLBACK", &r);
        ddb.duckdb_destroy_result(&r);
        d->in_txn = false;
    }
}

static void ddb_close(sink *s)
{
    ddb_sink *d = (ddb_sink *)s;
    ddb_abort(s);
    ddb.duckdb_disconnect(&d->conn);
    ddb.duckdb_close(&d->db);
    sink__schema_free(&d->sc);
    sink__buf_free(&d->sql);
    sink__buf_free(&d->text);
    free(d->form);
    free(d->vec);
    free(d->data);
    free(d->stage);
    free(d);
}

static int ddb_lookup(sink *s, const char *table, const char *expr, const char *where,
                      char *out, size_t cap, bool *found)
{
    ddb_sink *d = (ddb_sink *)s;
    sink_buf *b = &d->sql;
    const char *dot = strrchr(table, '.');
    const char *tname = dot ? dot + 1 : table;
    char schema[256];
    if (dot) {
        size_t n = (size_t)(dot - table);
        if (n >= sizeof schema)
            return sink__fail(s, SINK_E_ARG, "schema name too long");
        memcpy(schema, table, n);
        schema[n] = '\0';
    }
    bool exists = false;
    int rc = ddb_exists(d, dot ? schema : NULL, tname, &exists);
    if (rc || !exists)
        return rc;
    sink_ddb_result r;
    int e;
    /* "IS NULL" as a column tells NULL from a value: the deprecated
     * accessors have no reliable NULL test across versions. */
    b->len = 0;
    e = sink__buf_puts(b, "SELECT CAST(CAST(");
    e |= sink__buf_puts(b, expr);
    e |= sink__buf_puts(b, " AS VARCHAR) IS NULL AS VARCHAR), COALESCE(CAST(");
    e |= sink__buf_puts(b, expr);
    e |= sink__buf_puts(b, " AS VARCHAR), '') FROM ");
    if (dot) {
        e |= sink__sql_qname(b, schema, tname);
    } else {
        e |= sink__sql_ident(b, tname);
    }
    if (where) {
        e |= sink__buf_puts(b, " WHERE ");
        e |= sink__buf_puts(b, where);
    }
    if (e || sink__buf_cstr(b))
        return sink__fail(s, SINK_E_NOMEM, "out of memory");
    memset(&r, 0, sizeof r);
    if (ddb.duckdb_query(d->conn, b->p, &r) != SINK_DDB_SUCCESS) {
        sink__fail(s, SINK_E_DEST, "duckdb: lookup: %s", ddb.duckdb_result_error(&r));
        ddb.duckdb_destroy_result(&r);
        return SINK_E_DEST;
    }
    if (ddb.duckdb_row_count(&r) >= 1) {
        char *isnull = ddb.duckdb_value_varchar(&r, 0, 0);
        bool null = !isnull || strcmp(isnull, "true") == 0;
        ddb.duckdb_free(isnull);
        if (!null) {
            char *t = ddb.duckdb_value_varchar(&r, 1, 0);
            size_t n = t ? strlen(t) : 0;
            if (!t)
                rc = sink__fail(s, SINK_E_NOMEM, "out of memory");
            else if (n + 1 > cap)
                rc = sink__fail(s, SINK_E_ARG, "value longer than the buffer");
            else {
                memcpy(out, t, n + 1);
                *found = true;
            }
            ddb.duckdb_free(t);
        }
    }
    ddb.duckdb_destroy_result(&r);
    return rc;
}

const sink_vtable sink_duckdb_vtable = {
    .scheme = "duckdb",
    .open = ddb_open,
    .begin = ddb_begin,
    .append = ddb_append,
    .commit = ddb_commit,
    .abort = ddb_abort,
    .close = ddb_close,
    .lookup = ddb_lookup,
};
#endif /* SINK_FULLY_STATIC */
