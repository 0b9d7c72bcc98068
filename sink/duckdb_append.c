#include <stdio.h>
#include <stdlib.h>

#include "duckdb_sink.h"

#ifndef SINK_FULLY_STATIC

#define ddb (*d->api)

/* ------------------------------------------------------ column writer */

static enum ddb_form form_of(const tds_column *c)
{
    switch (c->kind) {
    case TDS_K_TINYINT: return DDB_F_U8;
    case TDS_K_SMALLINT: return DDB_F_I16;
    case TDS_K_INT: return DDB_F_I32;
    case TDS_K_BIGINT: return DDB_F_I64;
    case TDS_K_BIT: return DDB_F_BOOL;
    case TDS_K_REAL: return DDB_F_F32;
    case TDS_K_FLOAT: return DDB_F_F64;
    case TDS_K_SMALLMONEY: return DDB_F_DEC64;
    case TDS_K_MONEY: return DDB_F_DEC128; /* 19 digits: a hugeint */
    case TDS_K_DECIMAL: {
        unsigned p = c->precision ? c->precision : 38;
        return p <= 4 ? DDB_F_DEC16 : p <= 9 ? DDB_F_DEC32 : p <= 18 ? DDB_F_DEC64 : DDB_F_DEC128;
    }
    case TDS_K_DATE: return DDB_F_DATE;
    case TDS_K_TIME: return c->scale > 6 ? DDB_F_TIME_NS : DDB_F_TIME_US;
    case TDS_K_DATETIME2: return c->scale > 6 ? DDB_F_TS_NS : DDB_F_TS_US;
    case TDS_K_SMALLDATETIME: case TDS_K_DATETIME: return DDB_F_TS_US;
    case TDS_K_DATETIMEOFFSET: return DDB_F_TSTZ;
    case TDS_K_GUID: return DDB_F_UUID;
    case TDS_K_BINARY: case TDS_K_UDT: return DDB_F_BLOB;
    case TDS_K_VECTOR: return DDB_F_FARRAY;
    default: return DDB_F_TEXT; /* json too: JSON is a VARCHAR */
    }
}

const char *sink__ddb_type(const tds_column *c, bool key, char *tmp, size_t cap)
{
    (void)key;
    const char *t25 = sink__ddb_t25_type(c, tmp, cap); /* JSON, FLOAT[n] */
    if (t25)
        return t25;
    switch (form_of(c)) {
    case DDB_F_U8: return "UTINYINT";
    case DDB_F_I16: return "SMALLINT";
    case DDB_F_I32: return "INTEGER";
    case DDB_F_I64: return "BIGINT";
    case DDB_F_BOOL: return "BOOLEAN";
    case DDB_F_F32: return "FLOAT";
    case DDB_F_F64: return "DOUBLE";
    case DDB_F_DEC16: case DDB_F_DEC32: case DDB_F_DEC64: case DDB_F_DEC128:
        if (c->kind == TDS_K_MONEY)
            return "DECIMAL(19,4)";
        if (c->kind == TDS_K_SMALLMONEY)
            return "DECIMAL(10,4)";
        snprintf(tmp, cap, "DECIMAL(%u,%u)", c->precision ? c->precision : 38, c->scale);
        return tmp;
    case DDB_F_DATE: return "DATE";
    case DDB_F_TIME_US: return "TIME";
    case DDB_F_TIME_NS: return "TIME_NS";
    case DDB_F_TS_US: return "TIMESTAMP";
    case DDB_F_TS_NS: return "TIMESTAMP_NS";
    case DDB_F_TSTZ: return "TIMESTAMPTZ";
    case DDB_F_UUID: return "UUID";
    case DDB_F_BLOB: return "BLOB";
    case DDB_F_TEXT: return "VARCHAR";
    case DDB_F_FARRAY: return "FLOAT[]"; /* not reached: sink__ddb_t25_type */
    }
    return "VARCHAR";
}

int sink__ddb_cols_init(ddb_cols *d, const sink_ddb_api *api, const tds_column *cols, size_t ncols,
                        bool with_ord)
{
    sink__ddb_cols_free(d);
    d->api = api;
    d->cols = cols;
    d->ncols = ncols;
    d->nvec = ncols + with_ord;
    d->form = sink__malloc(ncols + 1);
    d->types = sink__calloc(d->nvec, sizeof *d->types);
    d->vec = sink__calloc(d->nvec, sizeof *d->vec);
    d->data = sink__calloc(d->nvec, sizeof *d->data);
    d->valid = sink__calloc(d->nvec, sizeof *d->valid);
    if (!d->form || !d->types || !d->vec || !d->data || !d->valid)
        return SINK_E_NOMEM;
    for (size_t i = 0; i < ncols; i++)
        d->form[i] = (uint8_t)form_of(&cols[i]);
    d->cap = (size_t)api->duckdb_vector_size();
    return SINK_OK;
}

static void free_types(ddb_cols *d)
{
    for (size_t i = 0; d->types && i < d->nvec; i++)
        if (d->types[i])
            ddb.duckdb_destroy_logical_type(&d->types[i]);
}

int sink__ddb_cols_types(ddb_cols *d, sink_ddb_handle conn, const char *schema, const char *table, char *err,
                         size_t errcap)
{
    sink_ddb_handle app = NULL;
    if (ddb.duckdb_appender_create(conn, schema, table, &app) != SINK_DDB_SUCCESS) {
        const char *m = app ? ddb.duckdb_appender_error(app) : NULL;
        sink__errf(err, errcap, SINK_E_DEST, "duckdb: appender: %s", m ? m : "cannot create");
        if (app)
            ddb.duckdb_appender_destroy(&app);
        return SINK_E_DEST;
    }
    int rc = SINK_OK;
    size_t n = (size_t)ddb.duckdb_appender_column_count(app);
    free_types(d);
    if (n != d->nvec)
        rc = sink__errf(err, errcap, SINK_E_DEST, "duckdb: table has %zu columns, expected %zu", n, d->nvec);
    for (size_t i = 0; !rc && i < n; i++)
        d->types[i] = ddb.duckdb_appender_column_type(app, i);
    ddb.duckdb_appender_destroy(&app);
    return rc;
}

int sink__ddb_cols_chunk(ddb_cols *d)
{
    d->chunk = ddb.duckdb_create_data_chunk(d->types, d->nvec);
    d->rows = 0;
    if (!d->chunk)
        return SINK_E_NOMEM;
    for (size_t i = 0; i < d->nvec; i++) {
        d->vec[i] = ddb.duckdb_data_chunk_get_vector(d->chunk, i);
        d->valid[i] = NULL;
        /* FLOAT[n]: the floats live in the array's child vector */
        d->data[i] = ddb.duckdb_vector_get_data(i < d->ncols && d->form[i] == DDB_F_FARRAY
                                                ? ddb.duckdb_array_vector_get_child(d->vec[i]) : d->vec[i]);
    }
    return SINK_OK;
}

sink_ddb_handle sink__ddb_cols_take(ddb_cols *d)
{
    sink_ddb_handle c = d->chunk;
    if (c)
        ddb.duckdb_data_chunk_set_size(c, d->rows);
    d->chunk = NULL;
    d->rows = 0;
    return c;
}

void sink__ddb_cols_free(ddb_cols *d)
{
    if (d->api) {
        if (d->chunk)
            ddb.duckdb_destroy_data_chunk(&d->chunk);
        free_types(d);
    }
    free(d->form);
    free(d->types);
    free(d->vec);
    free(d->data);
    free(d->valid);
    sink__buf_free(&d->text);
    memset(d, 0, sizeof *d);
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
static inline int put_decimal(ddb_cols *d, size_t i, size_t row, const tds_column *c, const tds_value *v)
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
    case DDB_F_DEC16: STORE(int16_t, (int64_t)lo); break;
    case DDB_F_DEC32: STORE(int32_t, (int64_t)lo); break;
    case DDB_F_DEC64: STORE(int64_t, (int64_t)lo); break;
    default: put_hugeint(data, row, lo, (int64_t)hi); break;
    }
    return SINK_OK;
}

/* DATE, TIME(_NS), TIMESTAMP(_NS/TZ); SINK_E_UNSUPPORTED: outside
 * TIMESTAMP_NS (the caller widens the column) */
static inline int put_datetime(ddb_cols *d, size_t i, size_t row, const tds_column *c, const tds_value *v)
{
    void *data = d->data[i];
    tds_datetime dt;
    if (tds_value_datetime(c, v, &dt))
        return SINK_E_VALUE;
    switch (d->form[i]) {
    case DDB_F_DATE: STORE(int32_t, dt.days - SINK__DAYS_1970); break;
    case DDB_F_TIME_US: STORE(int64_t, (dt.ticks + 5) / 10); break;
    case DDB_F_TIME_NS: STORE(int64_t, dt.ticks * 100); break;
    case DDB_F_TS_NS: {
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
int sink__ddb_cols_put(ddb_cols *d, size_t i, const tds_value *v)
{
    const tds_column *c = &d->cols[i];
    void *data = d->data[i];
    size_t row = d->rows;
    if (v->flags & TDS_VF_NULL) {
        /* the mask is made writable once per chunk and column, then set
         * here as duckdb_validity_set_row_invalid does (bit row, LSB
         * first), not three library calls per NULL */
        if (!d->valid[i]) {
            ddb.duckdb_vector_ensure_validity_writable(d->vec[i]);
            d->valid[i] = ddb.duckdb_vector_get_validity(d->vec[i]);
        }
        d->valid[i][row >> 6] &= ~((uint64_t)1 << (row & 63));
        return SINK_OK;
    }
    if (v->flags & TDS_VF_STREAMED)
        return SINK_E_VALUE;
    switch ((enum ddb_form)d->form[i]) {
    case DDB_F_U8: case DDB_F_I16: case DDB_F_I32: case DDB_F_I64: case DDB_F_BOOL: {
        int64_t x;
        if (tds_value_int(c, v, &x))
            return SINK_E_VALUE;
        switch (d->form[i]) {
        case DDB_F_U8: STORE(uint8_t, x); break;
        case DDB_F_I16: STORE(int16_t, x); break;
        case DDB_F_I32: STORE(int32_t, x); break;
        case DDB_F_BOOL: STORE(bool, x != 0); break;
        default: STORE(int64_t, x); break;
        }
        return SINK_OK;
    }
    case DDB_F_F32: case DDB_F_F64: {
        double x;
        if (tds_value_float(c, v, &x))
            return SINK_E_VALUE;
        if (d->form[i] == DDB_F_F32)
            STORE(float, x);
        else
            STORE(double, x);
        return SINK_OK;
    }
    case DDB_F_DEC16: case DDB_F_DEC32: case DDB_F_DEC64: case DDB_F_DEC128:
        return put_decimal(d, i, row, c, v);
    case DDB_F_DATE: case DDB_F_TIME_US: case DDB_F_TIME_NS: case DDB_F_TS_US: case DDB_F_TS_NS: case DDB_F_TSTZ:
        return put_datetime(d, i, row, c, v);
    case DDB_F_UUID: {
        uint8_t g[16];
        if (tds_value_guid(c, v, g))
            return SINK_E_VALUE;
        put_hugeint(data, row, rd_be64(g + 8), (int64_t)(rd_be64(g) ^ 0x8000000000000000ull));
        return SINK_OK;
    }
    case DDB_F_BLOB:
        ddb.duckdb_unsafe_vector_assign_string_element_len(d->vec[i], row, v->len ? (const char *)v->ptr : "", v->len);
        return SINK_OK;
    case DDB_F_TEXT: {
        d->text.len = 0;
        int rc = sink__value_text(&d->text, c, v);
        if (rc)
            return rc;
        ddb.duckdb_unsafe_vector_assign_string_element_len(d->vec[i], row, d->text.p ? d->text.p : "", d->text.len);
        return SINK_OK;
    }
    case DDB_F_FARRAY:
        return sink__ddb_t25_put_floats((float *)data, row, c, v);
    }
    return SINK_E_VALUE;
}

int sink__ddb_cols_row(ddb_cols *d, const tds_value *row, size_t *col)
{
    for (size_t i = 0; i < d->ncols; i++) {
        int rc = sink__ddb_cols_put(d, i, &row[i]);
        if (rc) {
            *col = i;
            return rc;
        }
    }
    return SINK_OK;
}

int sink__ddb_ns_to_us(sink_buf *b, const char *ident)
{
    return sink__buf_puts(b, "make_timestamp((epoch_ns(") || sink__buf_puts(b, ident) ||
           sink__buf_puts(b, ") + 500 - ((epoch_ns(") || sink__buf_puts(b, ident) ||
           sink__buf_puts(b, ") + 500) % 1000 + 1000) % 1000) // 1000)");
}

/* --------------------------------------------------------- the channel */

#undef ddb
#define ddb (*d->api)

/* "INSERT INTO table SELECT * FROM tdspipe_feed()" on the feed's thread. */
static int start_feed(ddb_sink *d)
{
    sink_buf *b = &d->q.sql;
    b->len = 0;
    int e = sink__buf_puts(b, "INSERT INTO ") || sink__sql_table(&d->q, b, d->table) ||
            sink__buf_puts(b, " SELECT * FROM tdspipe_feed()") || sink__buf_cstr(b);
    if (e)
        return sink__sql_nomem(&d->q);
    char err[256];
    size_t wide = sink__ddb_t25_chunk_bytes(d->q.sc.cols, d->q.sc.ncols, d->w.cap);
    if (wide) { /* FLOAT[n] chunks are allocated whole: room for a few beyond the usual 48 MB */
        char set[64];
        snprintf(set, sizeof set, "SET memory_limit = '%zuMB'", (48 + 4 * (wide >> 20)) * d->threads + 4);
        (void)sink__ddb_run(d, set, "setup");
    }
    int rc = sink__ddb_cols_types(&d->w, d->conn, d->q.sc.schema, d->table, err, sizeof err);
    if (!rc)
        rc = sink__ddb_feed_start(d->feed, d->conn, b->p, d->w.nvec, NULL, d->w.types, err, sizeof err);
    if (!rc && (rc = sink__ddb_cols_chunk(&d->w)))
        snprintf(err, sizeof err, "out of memory");
    return rc ? sink__fail(&d->q.base, rc, "%s", err) : SINK_OK;
}

/* The rows so far to the statement, which then ends. */
static int finish_feed(ddb_sink *d)
{
    char err[420];
    sink_ddb_handle c = sink__ddb_cols_take(&d->w);
    if (c)
        (void)sink__ddb_feed_push(d->feed, c); /* a failure shows in finish */
    if (sink__ddb_feed_finish(d->feed, err, sizeof err))
        return sink__fail(&d->q.base, SINK_E_DEST, "%s", err);
    return SINK_OK;
}

static int push_chunk(ddb_sink *d)
{
    if (sink__ddb_feed_push(d->feed, sink__ddb_cols_take(&d->w)) == 0)
        return sink__ddb_cols_chunk(&d->w) ? sink__sql_nomem(&d->q) : SINK_OK;
    char err[420];
    sink__ddb_feed_finish(d->feed, err, sizeof err);
    return sink__fail(&d->q.base, SINK_E_DEST, "%s", err);
}

/* " ALTER COLUMN c SET DATA TYPE TIMESTAMP" for table: the rows appended
 * so far hold ns; round them half up to µs like sink__dt_unix_us. */
static int alter_to_us(const sql_sink *q, sink_buf *b, const char *table, const char *col)
{
    sink_buf id = { 0 };
    int e = sink__sql_ident(q, &id, col) || sink__buf_cstr(&id);
    e |= sink__buf_puts(b, "ALTER TABLE ");
    e |= sink__sql_table(q, b, table);
    e |= sink__buf_puts(b, " ALTER COLUMN ");
    e |= sink__sql_ident(q, b, col);
    e |= sink__buf_puts(b, " SET DATA TYPE TIMESTAMP USING ");
    e |= !e && sink__ddb_ns_to_us(b, id.p);
    e |= sink__buf_puts(b, ";\n");
    sink__buf_free(&id);
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
 * the load. The complete rows are inserted (the statement ends), the stage
 * altered inside the load's transaction, and the destination table's
 * column too when it is TIMESTAMP_NS (merge, delete+insert and append go
 * through the stage into it; a load that fails rolls the change back), and
 * a new statement started; the caller redoes the row. */
static int widen_column(ddb_sink *d, size_t i)
{
    int rc = finish_feed(d);
    if (rc)
        return rc;
    bool staged = d->q.staged;
    sink_buf *b = &d->q.sql;
    bool ns = false;
    if (staged && d->q.sc.strategy != SINK_REPLACE && (rc = column_is_ns(d, d->q.sc.names[i], &ns)))
        return rc;
    b->len = 0;
    int e = alter_to_us(&d->q, b, d->table, d->q.sc.names[i]);
    if (ns)
        e |= alter_to_us(&d->q, b, d->q.sc.table, d->q.sc.names[i]);
    if (e || sink__buf_cstr(b))
        return sink__fail(&d->q.base, SINK_E_NOMEM, "out of memory");
    if ((rc = sink__ddb_run(d, b->p, "widen a datetime2(7) column to TIMESTAMP")))
        return rc;
    d->w.form[i] = DDB_F_TS_US;
    return start_feed(d);
}

int sink__ddb_bulk_rows(sql_sink *s, const sink_batch *b)
{
    ddb_sink *d = (ddb_sink *)s;
    size_t nc = d->q.sc.ncols;
    for (size_t r = 0; r < b->nrows; r++) {
        const tds_value *row = b->values + r * nc;
        size_t i;
        int rc;
        while ((rc = sink__ddb_cols_row(&d->w, row, &i)) == SINK_E_UNSUPPORTED) /* outside TIMESTAMP_NS */
            if ((rc = widen_column(d, i)))
                return rc;
        if (rc)
            return sink__fail(&s->base, rc, "column %s: %s", d->q.sc.names[i],
                              rc == SINK_E_NOMEM ? "out of memory" : "value cannot be decoded");
        if (d->q.with_ord) {
            int64_t o = d->q.ord++;
            memcpy((char *)d->w.data[nc] + d->w.rows * sizeof o, &o, sizeof o);
        }
        if (++d->w.rows == d->w.cap && (rc = push_chunk(d)))
            return rc;
    }
    return SINK_OK;
}

int sink__ddb_bulk_open(sql_sink *q, const char *table)
{
    ddb_sink *d = (ddb_sink *)q;
    sink__ddb_bulk_drop(q);
    free(d->table);
    if (!(d->table = sink__strdup(table)) ||
        sink__ddb_cols_init(&d->w, d->api, q->sc.cols, q->sc.ncols, q->with_ord))
        return sink__sql_nomem(q);
    if (!d->feed) {
        char err[256];
        if (!(d->feed = sink__ddb_feed_new(d->api, d->conn, err, sizeof err)))
            return sink__fail(&q->base, SINK_E_DEST, "%s", err);
        sink__ddb_feed_set_threads(d->feed, d->threads);
    }
    return start_feed(d);
}

int sink__ddb_bulk_close(sql_sink *q)
{
    ddb_sink *d = (ddb_sink *)q;
    if (!sink__ddb_feed_running(d->feed))
        return SINK_OK;
    return finish_feed(d);
}

void sink__ddb_bulk_drop(sql_sink *q)
{
    ddb_sink *d = (ddb_sink *)q;
    /* the statement fails; the rollback undoes what it inserted */
    sink__ddb_feed_cancel(d->feed);
    sink_ddb_handle c = d->w.api ? sink__ddb_cols_take(&d->w) : NULL;
    if (c)
        ddb.duckdb_destroy_data_chunk(&c);
}
#endif /* SINK_FULLY_STATIC */
