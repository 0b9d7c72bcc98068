/*
 * cdc_int.h — the Change Data Capture source (mssql+cdc:// and friends;
 * the contract is docs/cdc.md): checks, capture instance, cursor, SQL and
 * the result adapter that appends the _cdc_ columns. Not installed.
 *
 * LSNs travel as text: 20 upper-case hex digits, the binary(10) value
 * zero-padded, so text order is LSN order. The cursor is the last LSN
 * whose changes are all in the destination, kept in the destination's
 * state table under pipe_cdc.state_name and saved in the load's own
 * transaction (cursor_save runs before sink_commit).
 */
#ifndef TDSPIPE_CDC_INT_H
#define TDSPIPE_CDC_INT_H

#include "ct_int.h"

#define CDC_LSN_HEX 20 /* hex digits of a binary(10) LSN */

typedef struct pipe_cdc {
    /* set by pipe_cdc_open_checks (before the destination opens) */
    char *db;                     /* database of the table */
    char *qname;                  /* [db].[schema].[table] */
    char instance[260];           /* the capture instance */
    pipe_list key;                /* the merge key, in key order */
    pipe_list captured;           /* the instance's captured columns, in order */
    bool snap_iso;                /* SNAPSHOT isolation allowed (else SERIALIZABLE) */
    const pipe_catalog *cat;
    /* set by pipe_cdc_prepare (cursor_read) */
    sink_strategy strategy;       /* merge, or replace for full_refresh / resnapshot */
    bool cdc;                     /* sink_table.cdc */
    bool snapshot;                /* this run reads the whole table */
    bool have_cursor;
    char cursor[CDC_LSN_HEX + 1];
    char from[CDC_LSN_HEX + 1];   /* changes read: sys.fn_cdc_increment_lsn(cursor) */
    char to[CDC_LSN_HEX + 1];     /* changes read: sys.fn_cdc_get_max_lsn() */
    bool empty;                   /* changes read with nothing captured after the cursor */
    char state_name[1200];
    char *cols;                   /* the loaded columns' select list */
    /* the snapshot's handoff (cdc_read.c): until capture has passed the
     * snapshot's time, a changes run reads nothing */
    char snap_time[40];           /* cursor's "after" time, "" when none */
    /* set by pipe_cdc_read */
    char next[CDC_LSN_HEX + 1];   /* the cursor this run leaves */
    char next_time[40];           /* and its "after" time ("" when none) */
    /* result adapter (changes_rows.c; cdc_rows.c its change hook):
     * prefix is __$start_lsn, __$seqval, __$operation */
    pipe_changes_rows rows;
} pipe_cdc;

/* cdc_prepare.c */
/* What needs no connection: query sources, strategy, --sql-limit,
 * incremental flags, excluded _cdc_* columns. Returns 0 or
 * TDSPIPE_E_USAGE. */
int pipe_cdc_check_flags(const tdspipe_load_opts *o, tdspipe_error *err);
/* The server's checks before the destination opens: CDC on for the
 * database, the table's capture instances (want: the URI's
 * capture_instance or NULL), SELECT on the instance, the key (--primary-
 * key, else the table's primary key, else the instance's index columns)
 * and the loaded columns. Returns 0, TDSPIPE_E_USAGE or TDSPIPE_E_LOAD
 * with a reason in err. */
int pipe_cdc_open_checks(pipe_cdc *c, net_client *cl, const pipe_plan *p, const pipe_mssql_name *n,
                         const pipe_catalog *cat, const char *want, char *err, size_t cap);
/* The cursor (state table, else MAX(_cdc_lsn)), its validity against the
 * instance's minimum LSN, and the mode of this run. p->dest_table is the
 * destination table. Returns 0, TDSPIPE_E_USAGE or TDSPIPE_E_LOAD. */
int pipe_cdc_prepare(pipe_cdc *c, net_client *cl, sink *sk, const pipe_plan *p, const pipe_mssql_name *n,
                     char *err, size_t cap);

/* cdc_multi.c: pipe_cdc_multi, pipe_cdc_load_tables (pipe_int.h). */

/* cdc_read.c */
/* The rows: a snapshot (one SNAPSHOT or SERIALIZABLE transaction, the
 * LSN read first) or the changes from..to in __$start_lsn, __$seqval
 * order, handed to m's engine callbacks with the _cdc_ columns appended.
 * Returns a NET_ code; a CDC problem is NET_E_SERVER with the reason in
 * ne->message. */
int pipe_cdc_read(pipe_cdc *c, net_client *cl, pipe_mssql *m, net_error *ne);
/* Records the new cursor in the load (nothing when it did not move).
 * Returns 0 or a sink_err. */
int pipe_cdc_save(pipe_cdc *c, sink *sk);
void pipe_cdc_free(pipe_cdc *c);

/* cdc_sql.c: LSN text, the small queries, the SQL text. */
/* "0x" + 20 hex digits (tds_value_text of a binary(10)) into 20 upper-case
 * hex digits; also takes the bare digits and the 40-digit _cdc_lsn (its
 * LSN part). Returns false for anything else. */
bool pipe_cdc_lsn_parse(const char *s, char out[CDC_LSN_HEX + 1]);
/* A cursor value: "<20 hex digits>" or "<20 hex digits> after <time>"
 * (a snapshot whose handoff is pending; time "YYYY-MM-DD hh:mm:ss[.f]").
 * Returns false for anything else. */
bool pipe_cdc_cursor_parse(const char *s, char lsn[CDC_LSN_HEX + 1], char *time, size_t cap);
/* Whether capture has passed a snapshot taken at snap_time: the captured
 * maximum's commit time (sys.fn_cdc_map_lsn_to_time; "" when the server
 * gives none) is more than 10 ms after it (tran_end_time is a datetime,
 * rounded to 1/300 s). An unknown time counts as passed. */
bool pipe_cdc_handoff_passed(const char *snap_time, const char *max_time);
/* lsn - 1 as 20 hex digits (an all-zero lsn stays zero). */
void pipe_cdc_lsn_dec(const char lsn[CDC_LSN_HEX + 1], char out[CDC_LSN_HEX + 1]);
/* Runs sql (retrying transient faults when retry) and keeps every row's
 * first two columns of each of its n result sets as text, two entries
 * per row ("" for NULL), in out[0..n). Returns a NET_ code. */
int pipe_cdc_rows(net_client *cl, const char *sql, size_t n, pipe_list *out, bool retry, net_error *ne);
/* The snapshot SELECT (select list FROM the table). */
char *pipe_cdc_sql_snapshot(const pipe_cdc *c);
/* The changes SELECT: cdc.fn_cdc_get_all_changes_<instance>(from, to,
 * N'all') in __$start_lsn, __$seqval, __$operation order, or the same
 * columns with no row (TOP (0) from the table) when c->empty. */
char *pipe_cdc_sql_changes(const pipe_cdc *c);
/* The select list of the loaded columns (--columns as CAST/AS) into
 * c->cols. Returns 0, TDSPIPE_E_USAGE or TDSPIPE_E_LOAD. */
int pipe_cdc_build_cols(pipe_cdc *c, const pipe_plan *p, char *err, size_t cap);

/* cdc_rows.c: sets up c->rows (changes_rows.h) for a read of m's rows. */
void pipe_cdc_rows_init(pipe_cdc *c, pipe_mssql *m);

#endif /* TDSPIPE_CDC_INT_H */
