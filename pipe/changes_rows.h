/*
 * changes_rows.h — what the Change Tracking (ct_*.c) and Change Data
 * Capture (cdc_*.c) sources share: the result adapter that drops a
 * changes read's leading columns, appends the _cdc_ columns and hands the
 * rows to src_mssql.c's engine callbacks, and the small helpers of their
 * reads and queries. Each source only decodes its own change columns (the
 * change hook). Not installed.
 */
#ifndef TDSPIPE_CHANGES_ROWS_H
#define TDSPIPE_CHANGES_ROWS_H

#include "mssql_int.h"

#define PIPE_CHANGES_EXTRA 4 /* _cdc_lsn, _cdc_deleted, _cdc_synced_at, _cdc_op */

typedef struct pipe_changes_rows pipe_changes_rows;

/* A row's _cdc_lsn text (NUL-terminated, at most 40 characters) and
 * operation letter (I, U or D) from its leading columns (none for a
 * snapshot row: r->prefix is 0). Returns NULL, or why the row is bad. */
typedef const char *(*pipe_changes_hook)(const pipe_changes_rows *r, const tds_column *cols, const tds_value *vals,
                                         char lsn[48], char *op);

struct pipe_changes_rows {
    /* set by the source before its read */
    const char *what;             /* "Change Tracking" or "Change Data Capture" (messages) */
    uint16_t lsn_bytes;           /* _cdc_lsn's nvarchar size in bytes */
    pipe_changes_hook change;
    void *src;                    /* the source's state, for change */
    pipe_mssql *m;                /* the rows go to pipe_mssql_columns/_row/_chunk */
    size_t prefix;                /* leading columns that are not loaded */
    size_t nsel;                  /* loaded table columns after them */
    bool *is_key;                 /* per loaded column, or NULL: non-key columns become nullable */
    /* the adapter's own */
    size_t nin, nout;
    tds_column *cols;
    tds_value *vals;
    uint8_t lsn[96], del[1], op[4], now[16];
    size_t now_len;
    bool begun;
    int fail;
    char err[700];
};

/* The adapter's callbacks (ud: the pipe_changes_rows). */
extern const net_result_cb pipe_changes_rows_cb;
/* Frees what the adapter allocated (not is_key). */
void pipe_changes_rows_free(pipe_changes_rows *r);

/* The formatted message into err (cap bytes); returns code. */
int pipe_changes_errf(char *err, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* ne becomes a NET_E_SERVER with the formatted message; returns NET_E_SERVER. */
int pipe_changes_fail(net_error *ne, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs sql with cb (ud) after clearing ne; retry: reconnect on transient
 * faults (never inside a read's transaction). After the run, *bad or
 * *cur != n (the callbacks' verdict and result-set count) turn NET_OK
 * into NET_E_PROTO "unexpected answer to a <what> query". */
int pipe_changes_query(net_client *cl, const char *sql, const net_result_cb *cb, void *ud, bool retry,
                       const char *what, const bool *bad, const size_t *cur, size_t n, net_error *ne);

#endif /* TDSPIPE_CHANGES_ROWS_H */
