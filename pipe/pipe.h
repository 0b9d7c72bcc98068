/*
 * pipe.h — sources and the load engine of libtdspipe.
 *
 * One call loads a table:
 *
 *   tdspipe_load_opts o = {0};
 *   o.source_uri   = "mssql://sa:pw@127.0.0.1:1433/demo?encrypt=disable";
 *   o.source_table = "dbo.orders";
 *   o.dest_uri     = "csv:///tmp/orders.csv";
 *   tdspipe_error err;
 *   if (tdspipe_load(&o, &err) != TDSPIPE_OK)
 *       fprintf(stderr, "%s\n", err.message);
 *
 * A source is a table of functions (pipe_source_vtable) like a sink
 * (sink.h): SQL Server table or query, Change Tracking, CSV file, JSONL
 * file. The load engine (pipe/load*.c) opens the source, asks it for its
 * columns, its cursor in the destination and then its rows, projects and
 * names the columns, adds _ingestr_loaded_at, batches the rows into the
 * sink and commits; the source's cursor is saved in the same commit.
 *
 * Threads: one load per thread; loads in different threads share nothing.
 * The library never changes process-wide state (signals, locale, SIGPIPE).
 */
#ifndef TDSPIPE_PIPE_H
#define TDSPIPE_PIPE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sink.h"
#include "tds.h"

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/* Results of a load: the ingestr exit codes. */
typedef enum tdspipe_code {
    TDSPIPE_OK = 0,
    TDSPIPE_E_LOAD = 1,  /* the load failed; the destination is as it was */
    TDSPIPE_E_USAGE = 2, /* bad options, URI, names or flags */
} tdspipe_code;

/* One line for the user; never holds a password, token or secret. */
typedef struct tdspipe_error {
    int code;           /* tdspipe_code */
    char message[700];
} tdspipe_error;

typedef enum tdspipe_naming {
    TDSPIPE_NAMING_AUTO = 0, /* = snake_case, as ingestr's default */
    TDSPIPE_NAMING_DIRECT,
    TDSPIPE_NAMING_SNAKE,
} tdspipe_naming;

/* ingestr's --schema-contract: what a load does when the source's
 * columns differ from an existing destination table's. */
typedef enum tdspipe_contract {
    TDSPIPE_CONTRACT_EVOLVE = 0,   /* add new columns, widen types where the
                                      destination allows, else fail */
    TDSPIPE_CONTRACT_FREEZE,       /* any difference fails, naming the columns */
    TDSPIPE_CONTRACT_DISCARD_ROW,  /* rows that do not fit the table are dropped */
    TDSPIPE_CONTRACT_DISCARD_VALUE,/* values that do not fit are dropped (NULL) */
} tdspipe_contract;

/* Progress of a load, reported through tdspipe_load_opts.progress. */
typedef struct tdspipe_progress {
    uint64_t rows;         /* rows read so far */
    uint64_t bytes;        /* value bytes read so far */
    int64_t est_rows;      /* the source's estimate of the total, -1 unknown */
    const char *phase;     /* "reading", "committing", "done", "failed" */
    const char *table;     /* the destination table */
    /* Streaming (tdspipe_stream, phase "streaming", once per poll): how far
     * the destination is behind the source. has_lag false: unknown. */
    bool has_lag;
    uint64_t lag_distance; /* versions (Change Tracking) or LSN units (Change
                              Data Capture) the poll found past the cursor */
    double lag_seconds;    /* seconds since the source's head the destination
                              now holds was read (0 when nothing was pending) */
    uint64_t polls, batches; /* polls so far; polls that committed rows */
    /* A parallel read (windows > 0): windows planned, finished and being
     * read. At a window's start or end the report names it: window is
     * its predicate ("[id] >= 10 AND [id] < 20", "[id] IS NULL"),
     * window_event "start" or "done", window_rows its rows when done;
     * window is NULL in the other reports. */
    uint32_t windows, windows_done, windows_running;
    const char *window;
    const char *window_event;
    uint64_t window_rows;
} tdspipe_progress;

/* Options of tdspipe_load(). Zero-initialised is valid: replace strategy,
 * snake_case names, a load timestamp column, default batch size, the
 * URI's timeouts, 3 retries of transient faults. Strings are borrowed for
 * the duration of the call. */
typedef struct tdspipe_load_opts {
    const char *source_uri;      /* mssql://…, mssql+ct://…, csv://…, jsonl://… */
    const char *source_table;    /* "schema.table", "db.schema.table" or "query:SELECT …" */
    const char *dest_uri;        /* any scheme sink_find() knows */
    const char *dest_table;      /* NULL: the source's schema.table, named as `naming` says */
    sink_strategy strategy;      /* SINK_REPLACE (0) by default */
    bool full_refresh;           /* replace, whatever strategy or cursor */
    const char *incremental_key;
    const char *interval_start, *interval_end;
    const char *const *primary_keys;   /* overrides the source's key */
    size_t nprimary_keys;
    const char *const *exclude;        /* columns not loaded */
    size_t nexclude;
    const char *const *columns;        /* ingestr --columns specs "name:type[:source]" */
    size_t ncolumns;
    int64_t sql_limit;           /* 0: none; else at most that many rows */
    size_t page_size;            /* rows per sink batch; 0 = 50000 */
    int64_t query_timeout_s;     /* 0: the URI's (default none) */
    int retries;                 /* transient-fault retries: 0 = the URI's, else 3;
                                    TDSPIPE_NO_RETRIES for none */
    tdspipe_naming naming;
    bool no_load_timestamp;      /* no _ingestr_loaded_at column */
    bool ct_resnapshot;          /* Change Tracking: an expired cursor re-snapshots */
    bool cdc_resnapshot;         /* Change Data Capture: a cursor older than the
                                    capture instance's minimum LSN re-snapshots */
    const char *duckdb_lib;      /* path of libduckdb.so (NULL: TDSPIPE_DUCKDB_LIB, standard places) */
    /* Cancellation: when *cancel becomes non-zero (e.g. from the caller's
     * own SIGINT handler) the running request is cancelled within about
     * 100 ms and the load fails with the destination unchanged. */
    const volatile sig_atomic_t *cancel;
    /* Called as the load goes (at most every 1024 rows and at each phase
     * change); NULL for none. */
    void (*progress)(void *ud, const tdspipe_progress *p);
    void *progress_ud;
    /* Ask the source for a row-count estimate (one cheap catalog query)
     * so tdspipe_progress.est_rows can give a percentage. */
    bool estimate_rows;
    /* strategy was chosen by the user, not left at its default: Change
     * Tracking sources load by merge and refuse any other strategy
     * unless full_refresh */
    bool strategy_given;
    /* Called with one line (no secret) for what the caller should know
     * but that does not fail the load, e.g. a Change Tracking cursor that
     * expired and was re-snapshotted; NULL drops warnings. */
    void (*warning)(void *ud, const char *message);
    void *warning_ud;
    /* ingestr's --schema-contract (evolve by default) */
    tdspipe_contract schema_contract;
    /* ingestr's --trim-whitespace: leading and trailing whitespace of text
     * values is removed before loading */
    bool trim_whitespace;
    /* ingestr's --incremental-predicate: SQL ANDed to the destination's
     * merge join condition (ON target.k = source.k AND (predicate); the
     * target is aliased target, the latest staged row per key source).
     * Merge only, not with full_refresh nor a +ct/+cdc source
     * (TDSPIPE_E_USAGE). Trusted input: passed to the destination as is. */
    const char *incremental_predicate;
    /* ingestr's --mask "column:algorithm[:param]" (hash, sha256, md5, hmac,
     * redact, stars, fixed, partial) */
    const char *const *masks;
    size_t nmasks;
    /* Parallel reads of SQL Server table sources (docs/parallel.md).
     * extract_parallelism: connections reading windows at once; 0 = 5
     * (ingestr's default); 1 = one connection (and no automatic split).
     * extract_partition_by: the column windows split (integer, date,
     * datetime, datetime2, smalldatetime, datetimeoffset); NULL: a table
     * of at least extract_split_rows rows (sys.dm_db_partition_stats) whose
     * clustered index starts with such a column is split on it.
     * extract_partition_interval: "auto" (NULL: the same; 4 windows per
     * connection), a whole-number step, or a duration ("6h", "7d", "1w").
     * extract_split_rows: 0 = 5,000,000; negative: never split
     * automatically. */
    unsigned extract_parallelism;
    const char *extract_partition_by;
    const char *extract_partition_interval;
    int64_t extract_split_rows;
    /* Scale-out (docs/scale-out.md): slice_count > 1 makes this load one
     * slice of slice_count processes: it reads the windows k with
     * k mod slice_count = slice_index (of the plan every slice computes
     * alike: same flags, a quiet source or explicit interval bounds) into
     * its part: the file "<dest>.<run_id>.part-IIIII-of-NNNNN<ext>", or in
     * a database (dest_table required) the table
     * "<dest_table>__tdspipe_<run_id>_<i>", replaced. tdspipe_finalize()
     * completes the run. */
    unsigned slice_index, slice_count;
    const char *run_id;
} tdspipe_load_opts;

#define TDSPIPE_NO_RETRIES (-1)

/* Completes a sliced run (o->dest_uri, o->slice_count, run_id): fails
 * (TDSPIPE_E_LOAD, naming them) while a slice's part is missing; then, for
 * csv:// and jsonl:// (uncompressed), joins the parts into the destination
 * file with one rename (one CSV header) and removes them (compressed and
 * Parquet parts are left as they are); for DuckDB, PostgreSQL and SQLite
 * (o->dest_table) makes the slices' tables o->dest_table in one
 * transaction with o->strategy (replace or append) and drops them.
 * Returns TDSPIPE_OK or an error code with err->message set. */
int tdspipe_finalize(const tdspipe_load_opts *o, const char *run_id, tdspipe_error *err);

/* Loads source_table from source_uri into dest_table at dest_uri. Returns
 * TDSPIPE_OK, or TDSPIPE_E_LOAD / TDSPIPE_E_USAGE with err->message set
 * (err may be NULL). On failure the destination is exactly as it was and
 * no cursor moved. */
int tdspipe_load(const tdspipe_load_opts *o, tdspipe_error *err);

/* ------------------------------------------------------------ streaming */

/* Options of tdspipe_stream(); zero-initialised is valid. */
typedef struct tdspipe_stream_opts {
    uint32_t poll_ms;            /* 0: the source URI's poll_interval, else 1 s */
    uint32_t flush_interval_ms;  /* longest a read change waits for its commit; 0: 30 s */
    uint64_t flush_records;      /* rows that make a commit at once; 0: 50000 */
    uint32_t restamp_ms;         /* while idle, the cursor is re-committed this often;
                                    0: a quarter of the source's retention (Change
                                    Tracking's CHANGE_RETENTION), at most 5 minutes,
                                    at least 5 s; 5 minutes when unknown */
    const char *metrics_addr;    /* "HOST:PORT": Prometheus text at /metrics; NULL none */
    unsigned max_failures;       /* consecutive failed polls before giving up; 0: 10 */
} tdspipe_stream_opts;

/* Streams a +ct or +cdc source into the destination until *o->cancel:
 * every poll reads the changes past the committed cursor and commits them
 * with the cursor (the destination's state is the truth, so a poll that
 * fails changes nothing and the next one resumes from it: never a change
 * lost or doubled). A failed poll is retried with exponential backoff
 * (0.5 s doubling to 30 s) up to max_failures times in a row; the first
 * poll's failure is returned at once (a configuration problem).
 * Cancellation lets the poll in flight finish and commit, then returns
 * TDSPIPE_OK. o->progress is called once per poll with phase "streaming"
 * and the lag. Returns TDSPIPE_OK (cancelled), else TDSPIPE_E_LOAD /
 * TDSPIPE_E_USAGE with err->message set. */
int tdspipe_stream(const tdspipe_load_opts *o, const tdspipe_stream_opts *so, tdspipe_error *err);

/* ------------------------------------------------------------ sources */

/* What a source hands the load engine, in this order: columns once, then
 * for each row the chunks of its streamed (max) values (TDS_VF_STREAMED,
 * col = the index in the row; len 0 ends a value), then the row. Views
 * live until the callback returns. Callbacks return PIPE_NEXT or
 * PIPE_STOP (the source stops reading and its read returns PIPE_STOPPED):
 * the callbacks run synchronously, which is the back-pressure — a source
 * reads no further while the sink writes. */
enum { PIPE_NEXT = 0, PIPE_STOP = 1 };
#define PIPE_STOPPED 3 /* read() ended because a callback said PIPE_STOP */

/* A parallel read's window started or ended (for progress). */
typedef struct pipe_window_report {
    const char *window;          /* its predicate */
    const char *event;           /* "start", "done" */
    uint64_t rows;               /* rows it returned ("done") */
    uint32_t total, done, running;
} pipe_window_report;

typedef struct pipe_rows_cb {
    int (*columns)(void *ud, const tds_column *cols, size_t ncols);
    int (*chunk)(void *ud, size_t col, const uint8_t *data, size_t len);
    int (*row)(void *ud, const tds_value *vals);
    /* optional (NULL: not told) */
    void (*window)(void *ud, const pipe_window_report *w);
    /* optional: the rows and chunks that follow come from producer
     * `lane` (a parallel read's connection); the engine batches each
     * lane's rows apart, so the destination gets whole batches of one
     * producer (runs of one window). Returns PIPE_NEXT or PIPE_STOP. */
    int (*lane)(void *ud, unsigned lane);
} pipe_rows_cb;

typedef struct pipe_source pipe_source;

/* Filled in by pipe/ itself; see pipe/pipe_int.h for the vtable and the
 * plan the engine and a source agree on. */
typedef struct pipe_source_vtable pipe_source_vtable;

/* The registered sources, NULL-terminated, and the one that takes uri
 * (NULL when none does). */
const pipe_source_vtable *const *pipe_source_registry(void);
const pipe_source_vtable *pipe_source_find(const char *uri);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* TDSPIPE_PIPE_H */
