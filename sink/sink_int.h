/*
 * sink_int.h — what the sink backends share and callers never see: the
 * base struct every backend embeds first, a growable byte buffer, the
 * copied schema, value formatting (canonical text, JSON, base64). The SQL
 * destinations' core is in sql_int.h.
 *
 * Invariants: a backend struct starts with `sink base`; registry.c's public
 * wrappers keep base.state in step (IDLE → LOADING → IDLE/FAILED) so
 * backends never see calls out of order.
 */
#ifndef TDSPIPE_SINK_INT_H
#define TDSPIPE_SINK_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <string.h>

#include "sink.h"

enum sink__state { SINK__IDLE = 0, SINK__LOADING, SINK__FAILED };

/* Pending sink_state_set pairs: "name\0value\0" back to back. */
typedef struct sink_kv {
    char *p;
    size_t len, cap;
} sink_kv;

struct sink {
    const sink_vtable *vt;
    int state;
    char err[512];
    sink_kv pending;
};

/* Formats the message into s->err and returns code (a negative sink_err). */
int sink__fail(sink *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same into a caller buffer (open-time errors). */
int sink__errf(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A destination a fully static binary cannot offer (its library is loaded
 * with dlopen): the scheme stays known and every call says why. */
#define SINK_UNAVAILABLE_VTABLE(var, scheme_, alias_, what)                                \
    static int var##_open(const char *t, const sink_options *o, sink **out, char *e, size_t n) \
    {                                                                                      \
        (void)t; (void)o; (void)out;                                                       \
        return sink__errf(e, n, SINK_E_LIB, "this tdspipe is fully static and has no "     \
                          what " destination (use the default build)");                   \
    }                                                                                      \
    static int var##_begin(sink *s, const sink_table *t) { (void)s; (void)t; return SINK_E_LIB; } \
    static int var##_append(sink *s, const sink_batch *b) { (void)s; (void)b; return SINK_E_LIB; } \
    static int var##_commit(sink *s) { (void)s; return SINK_E_LIB; }                      \
    static void var##_noop(sink *s) { (void)s; }                                           \
    const sink_vtable var = {.scheme = scheme_, .alias = alias_, .open = var##_open,         \
                             .begin = var##_begin, .append = var##_append,                 \
                             .commit = var##_commit, .abort = var##_noop, .close = var##_noop}

/* ------------------------------------------------------------ memory */

/* Every allocation of the sinks goes through these (free() releases), so
 * tests can fail the Nth one and walk every allocation site. */
void *sink__malloc(size_t n);
void *sink__calloc(size_t n, size_t size);
void *sink__realloc(void *p, size_t n);
char *sink__strdup(const char *s);
/* Tests: make the nth allocation from now (1 = the next) and every later
 * one fail; 0 turns failing off. Returns how many allocations happened
 * since the previous call. */
long sink__alloc_fail_after(long n);

/* ------------------------------------------------------------ buffer */

typedef struct sink_buf {
    char *p;
    size_t len, cap;
} sink_buf;

/* Ensures n more bytes fit. Returns 0 or SINK_E_NOMEM. */
int sink__buf_reserve(sink_buf *b, size_t n);
int sink__buf_put(sink_buf *b, const void *p, size_t n);
static inline int sink__buf_puts(sink_buf *b, const char *s) { return sink__buf_put(b, s, strlen(s)); }
int sink__buf_putc(sink_buf *b, char ch);
int sink__buf_printf(sink_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates without counting the NUL in len. */
int sink__buf_cstr(sink_buf *b);
void sink__buf_free(sink_buf *b);

/* ------------------------------------------------------------ schema */

/* An owned copy of a sink_table. */
typedef struct sink_schema {
    char *full;          /* as given */
    char *schema;        /* before the last '.', or NULL */
    char *table;         /* after the last '.' */
    tds_column *cols;
    char **names;        /* always set (from names[] or cols[].name) */
    size_t ncols;
    size_t *pk;
    size_t npk;
    int incr;
    sink_strategy strategy;
    bool cdc;            /* Change Tracking merge (sink_table.cdc) */
    bool cdc_images;     /* sink_table.cdc_images */
    sink_contract contract; /* sink_table.contract */
    char *merge_pred;    /* sink_table.merge_predicate, or NULL when none */
    tds_value win[2];    /* delete+insert bounds (lo, hi); ptr NULL when absent */
    bool has_win[2];
} sink_schema;

int sink__schema_copy(sink_schema *d, const sink_table *t);
void sink__schema_free(sink_schema *d);

/* ----------------------------------------------------- value formats */

/* Canonical text (tds_value_text) of a non-NULL value appended to b.
 * Returns 0, SINK_E_NOMEM, or SINK_E_VALUE (engine error: bad bytes,
 * invalid text in its code page). */
int sink__value_text(sink_buf *b, const tds_column *c, const tds_value *v);
/* ddb_types2025.c: DuckDB's json (JSON) and vector(n) (FLOAT[n]) for the
 * appender: the type name or NULL for other kinds; one vector's floats
 * into an ARRAY vector's child data (row * n floats in). */
const char *sink__ddb_t25_type(const tds_column *c, char *tmp, size_t cap);
int sink__ddb_t25_put_floats(float *child, uint64_t row, const tds_column *c, const tds_value *v);
/* Bytes a data chunk of `rows` rows spends on FLOAT[n] elements (DuckDB
 * allocates them whole, 2048 rows × n floats per column): the sink raises
 * its memory limit by a few of those. */
size_t sink__ddb_t25_chunk_bytes(const tds_column *cols, size_t ncols, size_t rows);
/* UTF-8 of a text kind (char/nchar/xml) appended to b. */
int sink__value_utf8(sink_buf *b, const tds_column *c, const tds_value *v);
/* JSON of a value (null, number, true/false, "string", base64 binary). */
int sink__value_json(sink_buf *b, const tds_column *c, const tds_value *v,
                     sink_buf *scratch);
/* JSON string literal of UTF-8 text s. */
int sink__json_string(sink_buf *b, const char *s, size_t n);
int sink__base64(sink_buf *b, const uint8_t *p, size_t n);
/* Streamed or malformed views are refused before any backend sees them. */
static inline bool sink__is_null(const tds_value *v) { return (v->flags & TDS_VF_NULL) != 0; }

/* Days since 0001-01-01 of 1970-01-01 and 2000-01-01. */
#define SINK__DAYS_1970 719162
#define SINK__DAYS_2000 730119
#define SINK__US_PER_DAY 86400000000LL

/* A date/time as microseconds since 1970-01-01 UTC (datetimeoffset: the
 * instant; others: the wall time), ticks rounded half up to 1 µs; datetime
 * (1/300 s) rounded to the millisecond SQL Server and its drivers show. */
static inline int64_t sink__dt_unix_us(const tds_datetime *d)
{
    uint64_t us = d->kind == TDS_K_DATETIME ? (d->ticks + 5000) / 10000 * 1000 : (d->ticks + 5) / 10;
    return ((int64_t)d->days - SINK__DAYS_1970) * SINK__US_PER_DAY + (int64_t)us;
}

/* ---------------------------------------------------------------- SQL */

/* Names the SQL destinations share (sql_int.h has the core). */
#define SINK__ORD "_tdspipe_ord"
#define SINK__STATE_TABLE "_tdspipe_state"
#define SINK__STAGE_PREFIX "_tdspipe_stage_"


/* dirs.c: the missing directories of path, top down (ingestr's
 * os.MkdirAll). *made: the deepest one's path when any was made
 * (malloc'd; *top the length of the first made), else NULL. 0 or
 * SINK_E_IO / SINK_E_NOMEM with err filled (nothing left made). */
int sink__make_dirs(const char *path, char **made, size_t *top, char *err, size_t errcap);
/* Removes what sink__make_dirs made (deepest first, while empty: a file
 * someone else put there keeps its directory) and frees made. */
void sink__remove_dirs(char *made, size_t top);

/* file.c: [p, p+n) percent-decoded into out (n + 1 bytes). Go's
 * url.PathUnescape, as ingestr calls it: one broken escape leaves the
 * whole text as written ("100%.csv" stays). -1 for an escaped NUL, which
 * no path holds. */
int sink__path_decode(const char *p, size_t n, char *out);
/* file.c: the file of a sqlite:// or duckdb:// target "[/]PATH[?…]" (one
 * '/' dropped, the query cut), percent-decoded when decode; malloc'd into
 * *out. SINK_E_URI for an empty path or an escaped NUL, SINK_E_NOMEM. */
int sink__db_path(const char *target, bool decode, char **out);

/* thread.c: pthread_create with every signal blocked in the new thread
 * (signals stay with the application's threads). pthread_create's result. */
int sink__thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif /* TDSPIPE_SINK_INT_H */
