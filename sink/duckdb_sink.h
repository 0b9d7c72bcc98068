/*
 * duckdb_sink.h — what the DuckDB sink's files and the Parquet sink
 * share: the column writer (duckdb_append.c: rows written column-wise into
 * DuckDB data chunks, the types of docs/types.md), the DuckDB sink struct
 * (duckdb.c: the dialect, connecting, statements and lookups) and its bulk
 * channel (duckdb_append.c: the chunks handed to tdspipe_feed(), which an
 * INSERT … SELECT on a thread of its own reads; duckdb_feed.h).
 */
#ifndef TDSPIPE_DUCKDB_SINK_H
#define TDSPIPE_DUCKDB_SINK_H

#include "duckdb_feed.h"
#include "duckdb_int.h"
#include "sql_int.h"

/* How a column is written into its vector. */
enum ddb_form {
    DDB_F_U8, DDB_F_I16, DDB_F_I32, DDB_F_I64, DDB_F_BOOL, DDB_F_F32, DDB_F_F64,
    DDB_F_DEC16, DDB_F_DEC32, DDB_F_DEC64, DDB_F_DEC128,
    DDB_F_DATE, DDB_F_TIME_US, DDB_F_TIME_NS, DDB_F_TS_US, DDB_F_TS_NS, DDB_F_TSTZ,
    DDB_F_UUID, DDB_F_TEXT, DDB_F_BLOB,
    DDB_F_FARRAY, /* vector(n) → FLOAT[n] (ddb_types2025.c) */
};

/* Rows of ncols values (plus merge's ord: nvec = ncols + 1) written into
 * data chunks of the column types `types` (read from a table). */
typedef struct ddb_cols {
    const sink_ddb_api *api;
    const tds_column *cols;    /* borrowed */
    size_t ncols, nvec;
    uint8_t *form;             /* enum ddb_form per column */
    sink_ddb_handle *types;    /* nvec logical types, or NULLs */
    sink_ddb_handle chunk;     /* being filled, or NULL */
    sink_ddb_handle *vec;
    void **data;
    uint64_t **valid;          /* per column: its validity mask once a NULL made it writable */
    size_t rows, cap;          /* rows in the chunk, vector size */
    sink_buf text;
} ddb_cols;

/* The DuckDB type of column c (also the Parquet sink's). */
const char *sink__ddb_type(const tds_column *c, bool key, char *tmp, size_t cap);
/* Sets up w for ncols columns (+ an ord column). 0 or SINK_E_NOMEM. */
int sink__ddb_cols_init(ddb_cols *w, const sink_ddb_api *api, const tds_column *cols, size_t ncols,
                        bool with_ord);
/* Takes the column types of table (schema may be NULL) through a
 * short-lived appender on conn: the table's exact types, decimals' width
 * included. SINK_E_DEST with the reason in err. */
int sink__ddb_cols_types(ddb_cols *w, sink_ddb_handle conn, const char *schema, const char *table, char *err,
                         size_t errcap);
/* A new chunk to fill (w->chunk). 0 or SINK_E_NOMEM. */
int sink__ddb_cols_chunk(ddb_cols *w);
/* Writes value v of column i into row w->rows. 0, SINK_E_VALUE,
 * SINK_E_NOMEM, or SINK_E_UNSUPPORTED: a datetime2(7) outside
 * TIMESTAMP_NS (the caller widens the column to TIMESTAMP). */
int sink__ddb_cols_put(ddb_cols *w, size_t i, const tds_value *v);
/* Writes a row's ncols values (sink__ddb_cols_put each): 0, or the first
 * failure with its column in *col (SINK_E_UNSUPPORTED: widen column *col,
 * then write the row again). */
int sink__ddb_cols_row(ddb_cols *w, const tds_value *row, size_t *col);
/* The chunk filled so far, size set, ownership passed (NULL when none). */
sink_ddb_handle sink__ddb_cols_take(ddb_cols *w);
void sink__ddb_cols_free(ddb_cols *w);
/* The SQL expression that rounds TIMESTAMP_NS column `ident` half up to
 * µs (as sink__dt_unix_us, floor division for dates before 1970). */
int sink__ddb_ns_to_us(sink_buf *b, const char *ident);

typedef struct ddb_sink {
    sql_sink q;
    const sink_ddb_api *api;
    sink_ddb_handle db, conn;
    ddb_feed *feed;        /* tdspipe_feed() of this database */
    ddb_cols w;
    char *table;           /* where the channel writes */
    unsigned threads;      /* threads=N of the URI: DuckDB's threads for the load */
} ddb_sink;

/* duckdb.c */
int sink__ddb_run(ddb_sink *d, const char *sql, const char *what);
/* target (the URI after "duckdb://") "[/]PATH[?threads=N][#…]": the
 * file's path (malloc'd) and the threads (1 unless given). 0, or
 * SINK_E_URI / SINK_E_NOMEM with a one-line message in err. */
int sink__ddb_uri(const char *target, char **path, unsigned *threads, char *err, size_t errcap);
/* Runs q (a SELECT count(*) …, freed here; e: its building failed) and
 * sets *nonzero. */
int sink__ddb_count_nonzero(ddb_sink *d, sink_buf *q, int e, const char *what, bool *nonzero);

/* duckdb_append.c: the bulk channel */
int sink__ddb_bulk_open(sql_sink *q, const char *table);
int sink__ddb_bulk_rows(sql_sink *q, const sink_batch *b);
int sink__ddb_bulk_close(sql_sink *q);
void sink__ddb_bulk_drop(sql_sink *q);

#endif
