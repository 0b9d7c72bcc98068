/*
 * duckdb_sink.h — what the DuckDB sink's two files share: the sink struct
 * (duckdb.c: the dialect, connecting, statements and lookups;
 * duckdb_append.c: the bulk channel, rows written column-wise into data
 * chunks handed to an Appender).
 */
#ifndef TDSPIPE_DUCKDB_SINK_H
#define TDSPIPE_DUCKDB_SINK_H

#include "duckdb_int.h"
#include "sql_int.h"

typedef struct ddb_sink {
    sql_sink q;
    const sink_ddb_api *api;
    sink_ddb_handle db, conn, app, chunk;
    uint8_t *form;         /* how each column is written (duckdb_append.c) */
    size_t nvec;           /* columns in the chunk (+1 for merge's ord) */
    sink_ddb_handle *vec;  /* vectors of the chunk */
    void **data;
    size_t rows, cap;      /* rows in the chunk, vector size */
    sink_buf text;
} ddb_sink;

/* duckdb.c */
const char *sink__ddb_type(const tds_column *c, bool key, char *tmp, size_t cap);
int sink__ddb_run(ddb_sink *d, const char *sql, const char *what);
/* Runs q (a SELECT count(*) …, freed here; e: its building failed) and
 * sets *nonzero. */
int sink__ddb_count_nonzero(ddb_sink *d, sink_buf *q, int e, const char *what, bool *nonzero);

/* duckdb_append.c: the bulk channel */
int sink__ddb_bulk_open(sql_sink *q, const char *table);
int sink__ddb_bulk_rows(sql_sink *q, const sink_batch *b);
int sink__ddb_bulk_close(sql_sink *q);
void sink__ddb_bulk_drop(sql_sink *q);

#endif
