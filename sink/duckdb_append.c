/*
 * duckdb_append.c — the DuckDB sink's bulk channel: rows written
 * column-wise into DuckDB data chunks and handed to an Appender
 * (duckdb_append_data_chunk): no per-value calls into the library, no
 * allocation per row.
 *
 * Types (docs/types.md): tinyint UTINYINT, smallint/int/bigint, bit
 * BOOLEAN, real FLOAT, float DOUBLE, decimal(p,s) DECIMAL(p,s), money
 * DECIMAL(19,4), smallmoney DECIMAL(10,4), date DATE, time(0–6) TIME (µs),
 * time(7) TIME_NS, datetime2(7) TIMESTAMP_NS (100 ns exact) while its
 * values fit DuckDB's range for it (1677-09-21…2262-04-11): the first value
 * outside (9999-12-31 sentinels are common) widens the column of this load,
 * and of the table loaded into, to TIMESTAMP (µs, rows so far rounded like
 * the rest; widen_column), other datetimes TIMESTAMP (µs), datetimeoffset
 * TIMESTAMPTZ (the UTC instant in µs; the offset itself is not kept),
 * uniqueidentifier UUID, char/nchar/xml/sql_variant VARCHAR, binary/UDT
 * BLOB.
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

#include "duckdb_sink.h"

#ifndef SINK_FULLY_STATIC

#define ddb (*d->api)

/* ------------------------------------------------------------- sink */

/* How a column is written into its vector. */
enum ddb_form {
    F_U8, F_I16, F_I32, F_I64, F_BOOL, F_F32, F_F64,
    F_DEC16, F_DEC32, F_DEC64, F_DEC128,
    F_DATE, F_TIME_US, F_TIME_NS, F_TS_US, F_TS_NS, F_TSTZ,
    F_UUID, F_TEXT, F_BLOB,
};


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

const char *sink__ddb_type(const tds_column *c, bool key, char *tmp, size_t cap)
{
    (void)key;
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
    if (ddb.duckdb_appender_create(d->conn, d->q.sc.schema, table, &d->app) != SINK_DDB_SUCCESS) {
        const char *m = d->app ? ddb.duckdb_appender_error(d->app) : NULL;
        return sink__fail(&d->q.base, SINK_E_DEST, "duckdb: appender: %s", m ? m : "cannot create");
    }
    size_t n = (size_t)ddb.duckdb_appender_column_count(d->app);
    if (n != d->nvec)
        return sink__fail(&d->q.base, SINK_E_DEST, "duckdb: table has %zu columns, expected %zu", n, d->nvec);
    sink_ddb_handle *types = sink__calloc(n, sizeof *types);
    if (!types)
        return sink__fail(&d->q.base, SINK_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        types[i] = ddb.duckdb_appender_column_type(d->app, i);
    d->chunk = ddb.duckdb_create_data_chunk(types, n);
    for (size_t i = 0; i < n; i++)
        ddb.duckdb_destroy_logical_type(&types[i]);
    free(types);
    if (!d->chunk)
        return sink__fail(&d->q.base, SINK_E_NOMEM, "duckdb: cannot create a data chunk");
    d->cap = (size_t)ddb.duckdb_vector_size();
    d->rows = 0;
    for (size_t i = 0; i < n; i++) {
        d->vec[i] = ddb.duckdb_data_chunk_get_vector(d->chunk, i);
        d->data[i] = ddb.duckdb_vector_get_data(d->vec[i]);
    }
    return SINK_OK;
}


static int flush_chunk(ddb_sink *d)
{
    if (!d->rows)
        return SINK_OK;
    ddb.duckdb_data_chunk_set_size(d->chunk, d->rows);
    if (ddb.duckdb_append_data_chunk(d->app, d->chunk) != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_appender_error(d->app);
        return sink__fail(&d->q.base, SINK_E_DEST, "duckdb: append: %s", m ? m : "failed");
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

/* DECIMAL: the unscaled value in the vector's width */
static inline int put_decimal(ddb_sink *d, size_t i, size_t row, const tds_column *c, const tds_value *v)
{
    void *data = d->data[i];
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

/* DATE, TIME(_NS), TIMESTAMP(_NS/TZ); SINK_E_UNSUPPORTED: outside
 * TIMESTAMP_NS (the caller widens the column) */
static inline int put_datetime(ddb_sink *d, size_t i, size_t row, const tds_column *c, const tds_value *v)
{
    void *data = d->data[i];
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

/* Writes value v of column i into row `row` of its vector. */
static int put_value(ddb_sink *d, size_t i, size_t row, const tds_value *v)
{
    const tds_column *c = &d->q.sc.cols[i];
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
    case F_DEC16: case F_DEC32: case F_DEC64: case F_DEC128:
        return put_decimal(d, i, row, c, v);
    case F_DATE: case F_TIME_US: case F_TIME_NS: case F_TS_US: case F_TS_NS: case F_TSTZ:
        return put_datetime(d, i, row, c, v);
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
static int alter_to_us(const sql_sink *q, sink_buf *b, const char *table, const char *col)
{
    int e = sink__buf_puts(b, "ALTER TABLE ");
    e |= sink__sql_table(q, b, table);
    e |= sink__buf_puts(b, " ALTER COLUMN ");
    e |= sink__sql_ident(q, b, col);
    e |= sink__buf_puts(b, " SET DATA TYPE TIMESTAMP USING make_timestamp((epoch_ns(");
    e |= sink__sql_ident(q, b, col);
    e |= sink__buf_puts(b, ") + 500 - ((epoch_ns(");
    e |= sink__sql_ident(q, b, col);
    e |= sink__buf_puts(b, ") + 500) % 1000 + 1000) % 1000) // 1000);\n");
    return e;
}

/* Whether column col of the destination table is TIMESTAMP_NS. */
static int column_is_ns(ddb_sink *d, const char *col, bool *ns)
{
    sink_buf q = { 0 };
    int e = sink__buf_puts(&q, "SELECT count(*) FROM information_schema.columns WHERE data_type = 'TIMESTAMP_NS'"
                               " AND table_name = ");
    e |= sink__sql_string(&q, d->q.sc.table, strlen(d->q.sc.table));
    e |= sink__buf_puts(&q, " AND column_name = ");
    e |= sink__sql_string(&q, col, strlen(col));
    e |= sink__buf_puts(&q, " AND table_schema = ");
    e |= d->q.sc.schema ? sink__sql_string(&q, d->q.sc.schema, strlen(d->q.sc.schema)) : sink__buf_puts(&q, "current_schema()");
    return sink__ddb_count_nonzero(d, &q, e, "column", ns);
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
        return sink__fail(&d->q.base, SINK_E_DEST, "duckdb: append: %s", m ? m : "failed");
    }
    drop_chunk(d);
    bool staged = d->q.staged;
    const char *target = staged ? d->q.stage : d->q.sc.table;
    sink_buf *b = &d->q.sql;
    b->len = 0;
    bool ns = false;
    if (staged && d->q.sc.strategy != SINK_REPLACE && (rc = column_is_ns(d, d->q.sc.names[i], &ns)))
        return rc;
    int e = alter_to_us(&d->q, b, target, d->q.sc.names[i]);
    if (ns)
        e |= alter_to_us(&d->q, b, d->q.sc.table, d->q.sc.names[i]);
    if (e || sink__buf_cstr(b))
        return sink__fail(&d->q.base, SINK_E_NOMEM, "out of memory");
    if ((rc = sink__ddb_run(d, b->p, "widen a datetime2(7) column to TIMESTAMP")))
        return rc;
    d->form[i] = F_TS_US;
    return make_chunk(d, target);
}

int sink__ddb_bulk_rows(sql_sink *s, const sink_batch *b)
{
    ddb_sink *d = (ddb_sink *)s;
    size_t nc = d->q.sc.ncols;
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
                return sink__fail(&s->base, rc, "column %s: %s", d->q.sc.names[i],
                                  rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
        }
        if (d->q.with_ord) {
            void *data = d->data[nc];
            size_t row_ = d->rows;
            int64_t o = d->q.ord++;
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

int sink__ddb_bulk_open(sql_sink *q, const char *table)
{
    ddb_sink *d = (ddb_sink *)q;
    drop_chunk(d);
    free(d->form);
    free(d->vec);
    free(d->data);
    d->nvec = q->sc.ncols + q->with_ord;
    d->form = sink__malloc(q->sc.ncols);
    d->vec = sink__calloc(d->nvec, sizeof *d->vec);
    d->data = sink__calloc(d->nvec, sizeof *d->data);
    if (!d->form || !d->vec || !d->data)
        return sink__sql_nomem(q);
    for (size_t i = 0; i < q->sc.ncols; i++)
        d->form[i] = (uint8_t)form_of(&q->sc.cols[i]);
    return make_chunk(d, table);
}

int sink__ddb_bulk_close(sql_sink *q)
{
    ddb_sink *d = (ddb_sink *)q;
    int rc = flush_chunk(d);
    if (rc)
        return rc;
    if (ddb.duckdb_appender_close(d->app) != SINK_DDB_SUCCESS) {
        const char *m = ddb.duckdb_appender_error(d->app);
        return sink__fail(&q->base, SINK_E_DEST, "duckdb: append: %s", m ? m : "failed");
    }
    drop_chunk(d);
    return SINK_OK;
}

void sink__ddb_bulk_drop(sql_sink *q)
{
    ddb_sink *d = (ddb_sink *)q;
    /* destroying the appender flushes what it holds; the rollback undoes it */
    drop_chunk(d);
}
#endif /* SINK_FULLY_STATIC */
