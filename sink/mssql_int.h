/*
 * mssql_int.h — what the SQL Server sink's files share: the sink struct
 * (a dialect of the SQL core, sql_int.h), its requests and lookups
 * (mssql.c), type names (mssql_type.c), the T-SQL text the core cannot
 * spell alone (mssql_sql.c) and the bulk channel (mssql_bulk.c).
 */
#ifndef TDSPIPE_SINK_MSSQL_INT_H
#define TDSPIPE_SINK_MSSQL_INT_H

#include "net.h"
#include "sql_int.h"

typedef struct ms_sink {
    sql_sink q;
    net_opts no;
    net_client *cl;
    tds_column *wcols;   /* bulk description (ncols + ord) */
    tds_row_plan *plan;
    tds_value *wide;     /* a batch with the ord column added */
    size_t wide_cap;
    uint8_t *ords;       /* ord values' bytes */
    tds_value *tv;       /* json/vector batches: the values as text (mssql_bulk.c) */
    size_t tv_cap;
    sink_buf tvtext;     /* the vectors' JSON-array texts of that batch */
    /* json/vector on a target that lacks them (mssql_types2025.c) */
    net_client *t25_cl;  /* the connection t25_json/t25_vector were asked on */
    bool t25_json, t25_vector;
    tds_column *t25_src; /* per column: the source json/vector column a text
                            column stands for (kind 0: none), or NULL */
    /* parallel bulk writers (mssql_parallel.c) */
    unsigned bulk_writers;   /* bulk_writers=K on the URI; 1: the load's connection */
    struct ms_par *par;      /* the writers of the running load, or NULL */
    bool par_stage;          /* a committed stage exists until the load's COMMIT */
} ms_sink;

/* mssql.c: batches on the sink's connection (reconnecting when it was
 * lost between loads). A server error becomes "mssql: what: <message>".
 * run_q gives the first column of the first row as text (found false for
 * no row or NULL); run_l every column of it as T-SQL literals, one a line. */
int sink__ms_run(ms_sink *m, const char *sql, const char *what);
int sink__ms_run_q(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found);
int sink__ms_run_l(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found,
                   sink_buf *lits);

/* mssql_types2025.c: before a load's first statement, json/vector columns
 * the target does not know become nvarchar(max)/varchar(max) text;
 * t25_src gives column i as the source sent it. */
int sink__ms_t25_adapt(ms_sink *m);
const tds_column *sink__ms_t25_src(const ms_sink *m, size_t i);

/* mssql_bulk.c: the bulk channel (INSERT BULK + BulkLoadBCP per batch). */
int sink__ms_bulk_open(sql_sink *q, const char *table);
int sink__ms_bulk_rows(sql_sink *q, const sink_batch *b);
void sink__ms_bulk_drop(sql_sink *q);

/* The batch's values as the wire takes them (the _tdspipe_ord column
 * added, json/vector as text) in *out: b's own values or the sink's
 * buffers, valid until the next batch. Returns 0 or a sink_err. */
int sink__ms_bulk_values(ms_sink *m, const sink_batch *b, const tds_value **out);
/* The rows of one bulk message on bk (wcols: nw columns; *plan built on
 * first use). A value the column cannot take leaves a partial message. */
int sink__ms_put_rows(const tds_column *wcols, tds_row_plan **plan, net_bulk *bk, const tds_value *vals,
                      size_t nrows, uint16_t nw, net_error *ne);

/* mssql_parallel.c: K bulk writers on their own connections into a heap
 * stage made and committed apart from the load's transaction; the
 * strategy's statements then run in the transaction as always. */
/* Takes bulk_writers=K out of uri's query (in place); *k = 1 without it. */
int sink__ms_par_uri(char *uri, unsigned *k, char *err, size_t cap);
/* After bulk_open: start a parallel load when m->bulk_writers > 1 (stays
 * on one connection when the schema is not committed yet). */
int sink__ms_par_open(ms_sink *m);
/* A copy of the batch's wire values queued for the writers. */
int sink__ms_par_rows(ms_sink *m, const tds_value *vals, size_t nrows);
/* Waits for every writer; the first failure is the load's. */
int sink__ms_par_close(ms_sink *m);
/* Stops the writers; with a committed stage: ROLLBACK, then DROP it. */
void sink__ms_par_drop(ms_sink *m);

/* T-SQL type of c. key: capped to an indexable size (nvarchar(450),
 * varchar/varbinary(900)); collate: add COLLATE for known collations. */
const char *sink__ms_type(const tds_column *c, bool key, bool collate, char *tmp, size_t cap);
/* The BulkLoadBCP description of a column of src's values (xml as
 * nvarchar(max), UDT as varbinary(max), only the nullable flag). name and
 * table are borrowed. */
int sink__ms_wire_col(tds_column *w, const tds_column *src, const char *name, const char *table);

/* mssql_sql.c */
/* INSERT BULK qname ([col] type, …) WITH (TABLOCK, ROWS_PER_BATCH = n). */
int sink__ms_insert_bulk(const sql_sink *q, sink_buf *b, const char *table, size_t rows);
/* EXEC sp_rename N'[schema].[stage]', N'table' */
int sink__ms_rename(const sql_sink *q, sink_buf *b);
/* Change Tracking merge of the stage into the target (sink.h, sink_table.cdc). */
int sink__ms_cdc_merge(const sql_sink *q, sink_buf *b);
/* A literal of a non-NULL value of c's type (delete+insert window). */
int sink__ms_literal(sink_buf *b, const tds_column *c, const tds_value *v);
/* N'[schema].[t]' for OBJECT_ID */
int sink__ms_object_literal(const sql_sink *q, sink_buf *b, const char *schema, const char *t);

#endif
