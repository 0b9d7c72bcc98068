/*
 * load_int.h — the state of one tdspipe_load() call, shared by the files
 * of the load engine: load.c (the order of things), load_schema.c (the
 * destination table from the source's columns), load_rows.c (rows into
 * sink batches, progress), load_bounds.c (incremental bounds), load_dest.c
 * (the destination URI and a database file a failed load must remove),
 * transform.c (trim and masks, transform_int.h) and redact.c (secrets out
 * of messages). Not installed.
 */
#ifndef TDSPIPE_LOAD_INT_H
#define TDSPIPE_LOAD_INT_H

#include "pipe_int.h"
#include "transform_int.h"

#define PIPE_LOADED_AT "_ingestr_loaded_at"
#define PIPE_PAGE_SIZE 50000
/* progress is reported at most every this many rows or bytes */
#define PIPE_REPORT_ROWS 1024u
#define PIPE_REPORT_BYTES (1u << 20)

typedef struct pipe_load {
    const tdspipe_load_opts *o;
    pipe_plan plan;
    pipe_colspec *specs;
    const pipe_source_vtable *vt;
    pipe_source *src;
    pipe_desc desc;
    char *dest_table;
    char *new_file;             /* a database file this load creates */
    sink *sk;
    size_t page_size;
    /* the destination table, built at the source's columns */
    bool begun;
    size_t nsrc;                /* columns of the source */
    size_t *map;                /* source column per kept column */
    bool *keep;                 /* per source column: loaded */
    size_t nkept;
    tds_column *cols;           /* nkept (+1 for the load timestamp) */
    char **names;
    size_t ncols;
    tds_value *rowbuf;
    tds_value loaded_at;
    uint8_t loaded_at_bytes[16];
    tds_value win[2];           /* delete+insert window */
    uint8_t win_bytes[2][64];
    sink_rows *rows;            /* the batch rows go to: lanes[lane] */
    sink_rows **lanes;          /* one batch per producer (pipe_rows_cb.lane); lanes[0] is the first */
    unsigned nlanes;
    pipe_xform *xf;             /* --trim-whitespace / --mask; NULL: none */
    /* reading */
    bool reading;               /* progress was told "reading" */
    bool limit_hit;
    uint64_t seen, bytes;
    uint64_t next_rows, next_bytes; /* when progress is told next */
    tdspipe_error err;          /* the first failure (err.code != 0) */
    /* a parallel read's windows (pipe_rows_cb.window), for progress */
    uint32_t windows, windows_done, windows_running;
    const pipe_window_report *window; /* set while a window event is reported */
    bool hold_idle;             /* streaming: an idle changes run keeps the cursor */
    pipe_load_out *out;         /* streaming: what the run saw (NULL: none) */
} pipe_load;

/* Records the load's failure unless one is recorded already; returns -1. */
int pipe_load_fail(pipe_load *l, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* load_schema.c: the source's columns into the destination table
 * (projection, exclusion, naming, _ingestr_loaded_at, key, incremental
 * key and window) and sink_begin. Returns 0 or -1 (failed). */
int pipe_load_schema(pipe_load *l, const tds_column *cols, size_t ncols);

/* load_rows.c: the callbacks the source feeds, the last batch, progress. */
extern const pipe_rows_cb pipe_load_rows_cb;
int pipe_load_flush(pipe_load *l);
/* Every lane's last batch (the end of the read). 0 or -1. */
int pipe_load_flush_all(pipe_load *l);
void pipe_load_lanes_free(pipe_load *l);
void pipe_load_report(pipe_load *l, const char *phase);
/* Progress while reading, and the cancel flag: 0, or -1 (cancelled). */
int pipe_load_tick(pipe_load *l);

/* load_bounds.c: the incremental read's lower bound from the
 * destination's MAX(key) when no interval_start is given. Returns 0 or -1. */
int pipe_load_bounds(pipe_load *l);
/* A bound given as text into a value of the key column's type; 0 or -1. */
int pipe_bound_encode(const tds_column *c, const char *text, uint8_t *buf, size_t cap, tds_value *v);

/* load_dest.c: the destination URI's checks that need no connection
 * (scheme known to sink_find, credentials well formed). 0 or TDSPIPE_E_USAGE. */
int pipe_dest_check(const char *uri, tdspipe_error *err);
/* The path of a database file sink_open would create (sqlite://,
 * duckdb://), malloc'd, or NULL when none or it exists. */
char *pipe_dest_new_file(const char *uri);
/* Removes that file and its journals. */
void pipe_dest_remove_file(const char *path);

/* redact.c: replaces in msg every password or token of uri (as written
 * and percent-decoded) with "***". */
void pipe_redact_uri(char *msg, const char *uri);

#endif /* TDSPIPE_LOAD_INT_H */
