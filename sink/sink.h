/*
 * sink.h — destinations for rows decoded by the tds engine.
 *
 * A sink is a table of functions (sink_vtable) behind an opaque handle.
 * Each destination is one file (sink/csv.c, sink/duckdb.c, …) exporting one
 * vtable; sink/registry.c lists them, so adding a destination is adding a
 * file and one line there.
 *
 * Life of a load:
 *
 *   sink *s;  sink_open("duckdb:///out.duckdb", &opts, &s, err, sizeof err);
 *   sink_begin(s, &table);           schema, target name, strategy
 *   sink_append(s, &batch)  … n×      rows (views, valid during the call)
 *   sink_commit(s)   or  sink_abort(s)
 *   sink_close(s)
 *
 * Atomicity: nothing a load writes is visible before sink_commit() returns
 * 0. A failed append, a failed commit, sink_abort(), or
 * sink_close() without a commit leave the destination exactly as it was
 * (files: a temp file is removed; databases: the transaction rolls back).
 *
 * Values: rows are arrays of tds_value views typed by the tds_column
 * metadata the engine produced (or tds_column_init() built); the sinks
 * decode them with tds_value_*(). Values must be whole: a TDS_VF_STREAMED
 * PLP value (tds_session_opts.stream_plp) is refused with SINK_E_VALUE;
 * sink_rows assembles streamed values from their chunks.
 *
 * Errors: functions return 0 or a negative sink_err; sink_errmsg() gives a
 * one-line message naming the problem (never a password). After an error
 * the only useful calls are sink_abort() and sink_close().
 *
 * Threads: a sink handle is used by one thread at a time.
 */
#ifndef TDSPIPE_SINK_H
#define TDSPIPE_SINK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tds.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything declared here is the public API: exported from the shared
 * library (which builds with hidden visibility by default). */
#pragma GCC visibility push(default)

typedef enum sink_err {
    SINK_OK = 0,
    SINK_E_NOMEM = -1,       /* an allocation failed */
    SINK_E_ARG = -2,         /* bad argument or call order */
    SINK_E_URI = -3,         /* unknown scheme or malformed URI */
    SINK_E_UNSUPPORTED = -4, /* strategy or type this destination cannot do */
    SINK_E_IO = -5,          /* file system error */
    SINK_E_DEST = -6,        /* the destination (database) reported an error */
    SINK_E_VALUE = -7,       /* a value the destination type cannot hold */
    SINK_E_LIB = -8,         /* a run-time library (libpq, libduckdb) is missing */
    SINK_E_SCHEMA = -9,      /* the load breaks the schema contract of the
                                existing table (freeze, a type that cannot
                                be widened, a key column it cannot drop) */
} sink_err;

/* Static text for a sink_err. Never NULL. */
const char *sink_strerror(int err);

typedef enum sink_strategy {
    SINK_REPLACE = 0,      /* load a staging table/file, swap it in at commit */
    SINK_APPEND,           /* insert the rows (table created if missing) */
    SINK_MERGE,            /* upsert on the primary key; last row per key wins */
    SINK_DELETE_INSERT,    /* delete the incremental-key window (the loaded
                              rows' min..max, or sink_table's bounds), then
                              insert them */
} sink_strategy;

/* Parses "replace", "append", "merge", "delete+insert". Returns 0 and sets
 * *out, or SINK_E_ARG. */
int sink_strategy_parse(const char *s, sink_strategy *out);
const char *sink_strategy_name(sink_strategy s);

/* A load's schema. cols[i] is the engine's metadata for column i (type,
 * kind, precision, scale, max_len, collation for char decoding, flags:
 * TDS_COL_NULLABLE); names[i] overrides cols[i].name when names and
 * names[i] are non-NULL (the CLI's --schema-naming). Extra columns such as
 * _ingestr_loaded_at are ordinary columns built with tds_column_init(). */
/* What a load into an existing table does when the columns differ
 * (ingestr's --schema-contract). */
typedef enum sink_contract {
    SINK_EVOLVE = 0,      /* ALTER TABLE ADD new columns; widen types where the
                             destination can, else SINK_E_UNSUPPORTED */
    SINK_FREEZE,          /* any difference: SINK_E_UNSUPPORTED naming the columns */
    SINK_DISCARD_ROW,     /* rows with a value in a new column, or a value the
                             column cannot hold, are skipped */
    SINK_DISCARD_VALUE,   /* such values are loaded as NULL / not loaded */
} sink_contract;

typedef struct sink_table {
    const char *name;          /* target "schema.table" or "table", UTF-8 */
    const tds_column *cols;
    const char *const *names;  /* optional */
    size_t ncols;
    const size_t *pk;          /* indices into cols: primary key (merge key) */
    size_t npk;
    int incremental_key;       /* index into cols, or -1 */
    sink_strategy strategy;
    /* delete+insert window on the incremental key, as values of its column
     * type (copied at begin). With neither bound the window is the loaded
     * rows' [MIN, MAX]; with either, it is [window_lo, window_hi] (both
     * included, as ingestr's) and a missing side is unbounded — the
     * interval the source was read with (--interval-start / --interval-end). */
    const tds_value *window_lo, *window_hi;
    /* Change Tracking merge (strategy SINK_MERGE; the columns "_cdc_lsn"
     * (text, the version zero-padded to 20 digits) and "_cdc_deleted" (bit)
     * must be among the loaded columns). Per key, the staged row with the
     * highest _cdc_lsn wins, a delete winning at equal versions; a staged
     * row whose _cdc_lsn is below the target's is ignored (the version
     * never goes backwards); a delete updates only the _cdc_* columns of
     * the target row and keeps its other columns as they were; a delete of
     * a key the target does not hold inserts a tombstone row holding the
     * key and the _cdc_* columns only (others NULL, except NOT NULL
     * columns such as a load timestamp, which keep the staged value). */
    bool cdc;
    /* With cdc: the staged row of a delete carries the deleted row's values
     * (Change Data Capture's before image), so a delete writes every
     * column of the target row and a tombstone keeps every staged value,
     * instead of the _cdc_* columns only. */
    bool cdc_images;
    sink_contract contract;    /* SINK_EVOLVE (0) by default */
    /* ingestr's --incremental-predicate: SQL ANDed to a merge's join
     * condition (strategy SINK_MERGE, not cdc; SINK_E_ARG otherwise). The
     * target is aliased `target` and the staged rows (one per key, the
     * latest) `source`: a staged row replaces the target rows of its key
     * for which the predicate is true and is inserted when there is none
     * (a key whose target row fails the predicate ends with two rows), as
     * MERGE … ON target.k = source.k AND (predicate) does. Trusted input:
     * the text goes into the statement as it is. NULL or "": none. */
    const char *merge_predicate;
} sink_table;

/* nrows rows of ncols values, row-major: values[r * ncols + c]. The views
 * only need to live for the duration of sink_append(). */
typedef struct sink_batch {
    const tds_value *values;
    size_t nrows;
} sink_batch;

/* Options callers can zero-initialise. */
typedef struct sink_options {
    const char *duckdb_lib;    /* path of libduckdb.so; NULL = TDSPIPE_DUCKDB_LIB,
                                  then standard places */
    const char *libpq;         /* path/soname of libpq; NULL = "libpq.so.5" */
    int gzip_level;            /* csv/jsonl .gz: 1–9, 0 = 6 */
    /* SQL Server destination: a running request is cancelled once *cancel
     * is non-zero (net_client_cancel_flag); NULL for none. */
    const volatile sig_atomic_t *cancel;
} sink_options;

typedef struct sink sink;

/* Opens the destination named by uri:
 *   csv://PATH[.gz]  jsonl://PATH[.gz]  ndjson://PATH[.gz]   (ingestr's
 *     rule, sink_file_path: "csv:///tmp/x.csv" is the absolute /tmp/x.csv,
 *     "csv://out.csv" the relative out.csv)
 *   sqlite:///path.db   duckdb:///path.duckdb   (SQLAlchemy's rule:
 *     "///rel.db" relative, "////abs/x.db" absolute)
 *   postgresql://user:pw@host:port/db?…  (also postgres://; given to libpq)
 *   discard://   (decodes every value, writes nothing)
 * On success returns 0 and *out. On failure returns a negative sink_err and
 * writes a one-line message into err (errcap bytes, may be 0). */
int sink_open(const char *uri, const sink_options *opts, sink **out,
              char *err, size_t errcap);

/* The file a csv://, jsonl://, ndjson:// or parquet:// URI names, as
 * ingestr reads it: everything after "scheme://" up to '?', percent-decoded
 * (a broken escape leaves the text as written). *out is malloc'd. Returns 0,
 * or SINK_E_URI (no "://", an empty path, an escaped NUL) or SINK_E_NOMEM
 * with a one-line message in err. */
int sink_file_path(const char *uri, char **out, char *err, size_t errcap);

/* The database file a sqlite:// or duckdb:// URI opens (SQLAlchemy's
 * rule: one '/' after "scheme://" dropped, the query cut at '?'; DuckDB's
 * path percent-decoded, SQLite's as written), malloc'd; NULL for other
 * schemes, an empty path or no memory. */
char *sink_db_file(const char *uri);

/* Starts a load into t->name with t->strategy. The sink copies what it
 * needs from t (cols, names) before returning. One load per begin/commit
 * pair; a sink may be begun again after commit or abort. Returns
 * SINK_E_UNSUPPORTED for a strategy the destination cannot do (merge and
 * delete+insert on files; merge without a primary key; delete+insert
 * without an incremental key). */
int sink_begin(sink *s, const sink_table *t);
/* Appends a batch. Returns 0, SINK_E_VALUE (a value the destination cannot
 * hold: the message names the column), SINK_E_IO / SINK_E_DEST. */
int sink_append(sink *s, const sink_batch *b);
/* Makes the load visible atomically. On failure the destination is as it
 * was before sink_begin(). */
int sink_commit(sink *s);
/* Discards the load in progress (no-op when none). */
void sink_abort(sink *s);
/* Aborts any load in progress and frees the sink. NULL is fine. */
void sink_close(sink *s);

/* The message of the last error ("" when none). Valid until the next call. */
const char *sink_errmsg(const sink *s);
/* The destination's scheme name ("csv", "duckdb", …). */
const char *sink_name(const sink *s);

/* Resumable loads: the maximum of `column` in destination table `table`,
 * as text into out (cap bytes, NUL-terminated): integers as digits,
 * decimals exact, dates "YYYY-MM-DD", timestamps "YYYY-MM-DD HH:MM:SS[.f…]"
 * (timestamptz in UTC, with " +00:00"), readable by tds_datetime_parse /
 * tds_decimal_parse. *found is false (and out "") when the table does not
 * exist, is empty or the maximum is NULL. Not between begin and commit.
 * Returns 0, SINK_E_UNSUPPORTED (files), SINK_E_ARG (cap too small),
 * SINK_E_DEST. */
int sink_max_value(sink *s, const char *table, const char *column,
                   char *out, size_t cap, bool *found);

/* Load state kept in the destination itself (table "_tdspipe_state":
 * name, value; created when first needed), written inside the load's own
 * transaction at sink_commit, so the data and a cursor such as a Change
 * Tracking version move together or not at all. Call between begin and
 * commit; the last value set per name wins. Returns 0, SINK_E_ARG (no load
 * in progress, empty name), SINK_E_UNSUPPORTED (files, discard). */
int sink_state_set(sink *s, const char *name, const char *value);
/* Reads a state value into out (cap bytes). *found is false when it was
 * never set. Not during a load. Returns 0, SINK_E_UNSUPPORTED, SINK_E_ARG
 * (cap too small), SINK_E_DEST. */
int sink_state_get(sink *s, const char *name, char *out, size_t cap, bool *found);

/* ----------------------------------------------------- row batching */

/* Accumulates rows by copying their bytes into blocks owned by the batch
 * (no allocation per row once warmed up), so views from tds_next() can be
 * kept past the next receive. */
typedef struct sink_rows sink_rows;

/* Returns NULL when out of memory. */
sink_rows *sink_rows_new(size_t ncols);
void sink_rows_free(sink_rows *r);
/* Copies one row (ncols values). A TDS_VF_STREAMED value (a (max) value
 * streamed with tds_session_opts.stream_plp) takes the bytes given for its
 * column by sink_rows_chunk() since the previous row, in the engine's
 * order: a value's TDS_EV_PLP_CHUNK events come before its row's
 * TDS_EV_ROW. Returns 0, SINK_E_NOMEM, or SINK_E_ARG (chunks were given
 * for a column the row does not stream); the chunks are dropped either
 * way. */
int sink_rows_add(sink_rows *r, const tds_value *row);
/* One chunk of column col's streamed value of the row to be added next
 * (col: the index in that row); len 0 (the value's end) adds nothing. No
 * size limit but memory. Returns 0, SINK_E_NOMEM, SINK_E_ARG, SINK_E_VALUE
 * (a value over 4 GiB). */
int sink_rows_chunk(sink_rows *r, size_t col, const uint8_t *data, size_t len);
/* Complete rows held. */
size_t sink_rows_count(const sink_rows *r);
/* The complete rows added since the last reset, valid until the next
 * add/chunk/reset. */
sink_batch sink_rows_batch(const sink_rows *r);
/* Forgets the rows, keeps the memory. */
void sink_rows_reset(sink_rows *r);

/* ---------------------------------------------------------- registry */

/* The interface each destination implements (see sink_int.h for the
 * embedded base struct). Functions get the sink's own handle. */
typedef struct sink_vtable {
    const char *scheme;                 /* "csv" */
    const char *alias;                  /* a second scheme, or NULL */
    int (*open)(const char *target, const sink_options *o, sink **out,
                char *err, size_t errcap); /* target: the URI after "scheme://" */
    int (*begin)(sink *s, const sink_table *t);
    int (*append)(sink *s, const sink_batch *b);
    int (*commit)(sink *s);
    void (*abort)(sink *s);
    void (*close)(sink *s);
    /* SQL destinations (NULL for files): when `table` ("schema.table" or
     * "table") exists, runs SELECT CAST(expr AS VARCHAR) FROM table [WHERE
     * where] and copies the first row's value; *found false when the table
     * is missing, there is no row, or the value is NULL. Serves
     * sink_max_value and sink_state_get. SQL destinations get all of these
     * from the SQL-sink core (sink/sql_int.h, sink/README.md). */
    int (*lookup)(sink *s, const char *table, const char *expr, const char *where,
                  char *out, size_t cap, bool *found);
    /* SQL destinations (NULL otherwise): sink_slices_finalize. */
    int (*finalize)(sink *s, const char *table, const char *const *parts, size_t n, sink_strategy st,
                    const char *const *keys, size_t nkeys);
} sink_vtable;

/* A scaled-out run's finalize (docs/scale-out.md, sink/sql_slices.c):
 * the n slice tables parts[] (each committed by its own load) become
 * `table` in one transaction — replace: the old table dropped, the first
 * slice renamed to it, the others inserted; append: inserted into an
 * existing table; merge: the rows of table whose keys (keys[0..nkeys))
 * a slice holds deleted, the slice inserted — and are dropped. Fails with
 * nothing changed when a slice table is missing (the message lists their
 * indexes). DuckDB, PostgreSQL, SQLite, SQL Server; SINK_E_UNSUPPORTED
 * elsewhere and for delete+insert. */
int sink_slices_finalize(sink *s, const char *table, const char *const *parts, size_t n, sink_strategy st,
                         const char *const *keys, size_t nkeys);

/* The registered destinations, NULL-terminated. */
const sink_vtable *const *sink_registry(void);
/* The vtable for a scheme (case-insensitive), or NULL. */
const sink_vtable *sink_find(const char *scheme, size_t len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* TDSPIPE_SINK_H */
