/*
 * duckdb_feed.h — a DuckDB statement that reads our rows: a table function
 * (tdspipe_feed()) registered once per database, and a statement that
 * selects from it (COPY (SELECT * FROM tdspipe_feed()) TO 'x.parquet',
 * INSERT INTO t SELECT * FROM tdspipe_feed()) run on a thread of its own.
 * The load's thread fills data chunks and pushes them through a bounded
 * queue; DuckDB pulls them. So DuckDB's own work (compression, Parquet
 * encoding) runs beside our decoding, in constant memory: at most
 * SINK_DDB_FEED_DEPTH chunks wait.
 *
 * One statement at a time per feed; the connection it runs on is not used
 * by anyone else until sink__ddb_feed_finish or _cancel returns.
 */
#ifndef TDSPIPE_DUCKDB_FEED_H
#define TDSPIPE_DUCKDB_FEED_H

#include "duckdb_int.h"

#define SINK_DDB_FEED_DEPTH 4

typedef struct ddb_feed ddb_feed;

/* A feed for the database of conn, its function registered. NULL with
 * a message in err. Free with sink__ddb_feed_free after duckdb_close (the
 * function keeps a pointer to it). */
ddb_feed *sink__ddb_feed_new(const sink_ddb_api *api, sink_ddb_handle conn, char *err, size_t errcap);
void sink__ddb_feed_free(ddb_feed *f);

/* Runs sql on a new thread; tdspipe_feed() returns ncols columns named
 * names (NULL: c0, c1, …) with types (both borrowed until finish/cancel).
 * 0 or a sink_err with a message in err. */
int sink__ddb_feed_start(ddb_feed *f, sink_ddb_handle conn, const char *sql, size_t ncols,
                         char *const *names, const sink_ddb_handle *types, char *err, size_t errcap);
/* Hands over a chunk whose size is set (the feed destroys it); waits while
 * the queue is full. 0, or -1 when the statement has ended (its error comes
 * from finish); the chunk is destroyed either way. */
int sink__ddb_feed_push(ddb_feed *f, sink_ddb_handle chunk);
/* No more rows: waits for the statement. 0, or -1 with its error. */
int sink__ddb_feed_finish(ddb_feed *f, char *err, size_t errcap);
/* Makes the statement fail and waits for it (no-op when none runs). */
void sink__ddb_feed_cancel(ddb_feed *f);
/* How many of DuckDB's threads may pull at once (1, the default: one
 * reader, so the rows keep their order; more: DuckDB inserts or encodes
 * in parallel, rows in no promised order). Set before a statement. */
void sink__ddb_feed_set_threads(ddb_feed *f, unsigned n);
#define SINK_DDB_MAX_THREADS 64
/* "threads=N" of a destination URI: N from 1 to SINK_DDB_MAX_THREADS, or
 * 0 when v (n bytes) is not such a number. Inline: the fully static build
 * parses parquet:// URIs without a DuckDB to run them. */
static inline unsigned sink__ddb_threads_value(const char *v, size_t n)
{
    unsigned x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || x > SINK_DDB_MAX_THREADS)
            return 0;
        x = x * 10 + (unsigned)(v[i] - '0');
    }
    return x <= SINK_DDB_MAX_THREADS ? x : 0;
}
/* A statement is running. */
bool sink__ddb_feed_running(const ddb_feed *f);

#endif
