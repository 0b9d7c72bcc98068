/*
 * mssql_int.h — what the SQL Server sink's files share: the sink struct,
 * its requests (mssql.c), type names (mssql_type.c), the T-SQL text
 * (mssql_sql.c), and the load steps (mssql_load.c, mssql_bulk.c).
 */
#ifndef TDSPIPE_MSSQL_INT_H
#define TDSPIPE_MSSQL_INT_H

#include "net.h"
#include "sink_int.h"

/* The sink (mssql.c owns connecting, requests and lookups; mssql_load.c
 * begin/commit/abort; mssql_bulk.c the rows). */
typedef struct ms_sink {
    sink base;
    net_opts no;
    net_client *cl;
    sink_schema sc;
    sink_buf sql;
    char *stage;
    bool in_txn;
    bool staged;
    bool with_ord;
    bool cdc;            /* Change Tracking merge */
    tds_column *wcols;   /* bulk description (ncols + ord) */
    tds_row_plan *plan;
    tds_value *wide;     /* a batch with the ord column added */
    size_t wide_cap;
    uint8_t *ords;       /* ord values' bytes */
    int64_t ord;
    /* merge: hashes of the staged keys, to know whether a key repeats */
    uint64_t *keys;
    size_t keys_cap, keys_n;
    bool dup_keys;
} ms_sink;

/* mssql.c: batches on the sink's connection (reconnecting when it was
 * lost between loads). A server error becomes "mssql: what: <message>".
 * run_q gives the first column of the first row as text (found false for
 * no row or NULL); run_l every column of it as T-SQL literals, one a line. */
int sink__ms_run(ms_sink *m, const char *sql, const char *what);
int sink__ms_run_q(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found);
int sink__ms_run_l(ms_sink *m, const char *sql, const char *what, char *out, size_t cap, bool *found,
                   sink_buf *lits);
int sink__ms_nomem(ms_sink *m);
/* Frees what one load allocated. */
void sink__ms_load_free(ms_sink *m);
/* mssql_load.c, mssql_bulk.c: the vtable's load functions. */
int sink__ms_begin(sink *s, const sink_table *t);
int sink__ms_append(sink *s, const sink_batch *b);
int sink__ms_commit(sink *s);
void sink__ms_abort(sink *s);

/* T-SQL type of c. key: capped to an indexable size (nvarchar(450),
 * varchar/varbinary(900)); collate: add COLLATE for known collations. */
const char *sink__ms_type(const tds_column *c, bool key, bool collate, char *tmp, size_t cap);
/* The BulkLoadBCP description of a column of src's values (xml as
 * nvarchar(max), UDT as varbinary(max), only the nullable flag). name and
 * table are borrowed. */
int sink__ms_wire_col(tds_column *w, const tds_column *src, const char *name, const char *table);

/* [name] with ] doubled. */
int sink__ms_ident(sink_buf *b, const char *name);
/* CREATE TABLE qname (cols [, _tdspipe_ord bigint] [, PRIMARY KEY (…)]). */
int sink__ms_create(sink_buf *b, const sink_schema *sc, const char *table, bool with_ord, bool with_pk);
/* INSERT BULK qname ([col] type, …) WITH (TABLOCK, ROWS_PER_BATCH = n). */
int sink__ms_insert_bulk(sink_buf *b, const sink_schema *sc, const char *table, bool with_ord, size_t rows);
/* Merge of a stage whose keys are all distinct: one MERGE statement
 * (update matched rows, insert the others), then DROP stage. */
/* Merge of a stage whose keys repeat or are text: DELETE of the staged
 * keys + INSERT of the latest staged row per key (ROW_NUMBER). */
int sink__ms_merge_latest(sink_buf *b, const sink_schema *sc, const char *stage);
int sink__ms_merge_unique(sink_buf *b, const sink_schema *sc, const char *stage);
/* Change Tracking merge of stage into the target (sink.h, sink_table.cdc). */
int sink__ms_cdc_merge(sink_buf *b, const sink_schema *sc, const char *stage);
/* A literal of a non-NULL value of c's type (delete+insert window). */
int sink__ms_literal(sink_buf *b, const tds_column *c, const tds_value *v);
/* The statements that write s's pending state into _tdspipe_state; the
 * table must exist (mssql.c creates it). */
int sink__ms_state(sink_buf *b, const sink *s);

#endif
