/*
 * par_int.h — parallel partitioned reads of SQL Server table sources
 * (docs/parallel.md), not installed:
 *
 *   par_plan.c   the planner: --extract-partition-interval, key values as
 *                64-bit numbers, windows from the key's bounds, each
 *                window's predicate as SQL text. No I/O: unit-tested by
 *                tests/pipe/test_par_plan.c.
 *   par_pool.c   N connections on one libuv loop, the windows as a work
 *                queue, rows into the engine's callbacks on the loop
 *                thread; the first failure stops every connection.
 *   par_read.c   the source glue: whether a read is split, on which
 *                column, its bounds (MIN/MAX, NULLs), the window SELECTs.
 *
 * Key values are int64: integers as they are; date as days since
 * 0001-01-01; datetime, datetime2, smalldatetime and datetimeoffset (in
 * UTC) as 100 ns ticks since 0001-01-01 00:00:00.
 */
#ifndef TDSPIPE_PAR_INT_H
#define TDSPIPE_PAR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAR_DEFAULT_CONNECTIONS 5u        /* ingestr's --extract-parallelism */
#define PAR_WINDOWS_PER_CONNECTION 4      /* auto: ingestr's windows per worker */
#define PAR_MAX_WINDOWS 100000            /* ingestr's cap */
#define PAR_AUTO_SPLIT_ROWS 5000000       /* automatic split from this many rows */
#define PAR_TICKS_PER_SECOND 10000000LL
#define PAR_TICKS_PER_DAY (86400LL * PAR_TICKS_PER_SECOND)

typedef enum par_kind {
    PAR_NONE = 0, /* not a type a window can split */
    PAR_INT,      /* tinyint, smallint, int, bigint */
    PAR_DATE,     /* date: days */
    PAR_TIME,     /* datetime, datetime2, smalldatetime: ticks */
    PAR_TIME_UTC, /* datetimeoffset: ticks, UTC */
} par_kind;

/* The kind of a catalog DATA_TYPE ("int", "datetime2", …). */
par_kind par_kind_of(const char *data_type);

/* --extract-partition-interval: "auto" (or NULL/""), a positive integer
 * step, or a duration: a number with ns, us, ms, s, m, h (Go's units, also
 * combined: 1h30m), d or w (ingestr's days and weeks). */
typedef struct par_interval {
    bool is_auto;
    bool is_duration;
    int64_t step;   /* integer step, or the duration in 100 ns ticks */
} par_interval;
/* Returns 0 or -1 with a reason in why. */
int par_interval_parse(const char *s, par_interval *iv, char *why, size_t cap);

/* One window: key IS NULL (is_null), else (open_lo or key >= lo) and
 * (open_hi or key < hi). The first window is open below and the last open
 * above, so a key outside the bounds read before the windows (a row
 * written meanwhile) still falls in exactly one window. */
typedef struct par_window {
    int64_t lo, hi;
    bool open_lo, open_hi, is_null;
    bool is_empty;  /* no row at all ("1 = 0"): a slice without a window */
    bool or_null;   /* also key IS NULL (par_partfn.c: the leftmost partition) */
} par_window;

/* What the planner is given: has_range when the key has non-NULL values
 * (min..max inclusive), has_nulls when some are NULL; anchor (when
 * has_anchor, e.g. --interval-start on the same column) is where windows
 * start instead of min. */
typedef struct par_bounds {
    par_kind kind;
    bool has_range, has_nulls, has_anchor;
    int64_t min, max, anchor;
} par_bounds;

/* The windows for b split by iv with `connections` workers (auto: 4 per
 * connection, as ingestr). Every int64 key in [INT64_MIN, INT64_MAX] is in
 * exactly one range window, NULL in exactly the one NULL window (present
 * when has_nulls); an empty source gets one window open at both ends (it
 * still returns the columns). *out is malloc'd. Returns 0, or -1 with a
 * reason in why (an interval that does not fit the kind, too many
 * windows). */
int par_plan(const par_bounds *b, const par_interval *iv, unsigned connections, par_window **out, size_t *n,
             char *why, size_t cap);

/* True when key (is_null: a NULL) is in w: the planner's definition,
 * for the tests. */
bool par_window_has(const par_window *w, bool is_null, int64_t key);

/* A key value as a SQL Server literal of its kind: 42,
 * CAST(N'2024-01-31' AS date), CAST(N'2024-01-31 06:00:00.0000000' AS
 * datetime2(7)), CAST(N'… +00:00' AS datetimeoffset(7)). Returns the
 * length written (cap >= 80 always fits) or -1. */
int par_literal(par_kind kind, int64_t v, char *out, size_t cap);

/* A bound text (a number, a date, a datetime, RFC 3339) as a key value of
 * kind. Returns 0 or -1. */
int par_value_parse(par_kind kind, const char *text, int64_t *out);

/* The window's predicate on the quoted column qcol ("[id] >= 10 AND [id]
 * < 20", "[id] IS NULL", "1 = 1"), malloc'd; NULL when out of memory. */
char *par_window_sql(const par_window *w, par_kind kind, const char *qcol);

/* par_slice.c: a sliced run's flags (0 or TDSPIPE_E_USAGE), and the
 * part file's URI of slice index of count (malloc'd; NULL: no memory). */
struct tdspipe_load_opts;
struct tdspipe_error;
int pipe_slice_check(const struct tdspipe_load_opts *o, struct tdspipe_error *err);
char *pipe_slice_uri(const char *uri, const char *run_id, unsigned index, unsigned count);
/* The table slice index loads into: "<table>__tdspipe_<run>_<index>"
 * ('.' and '-' of the run id as '_'); malloc'd. */
char *pipe_slice_table(const char *table, const char *run_id, unsigned index);
bool pipe_slice_is_file(const char *uri);

#endif /* TDSPIPE_PAR_INT_H */
