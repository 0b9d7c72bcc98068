/*
 * ct_int.h — the Change Tracking source (mssql+ct:// and friends; the
 * contract is docs/change-tracking.md): checks, cursor, SQL and the
 * result adapter that appends the _cdc_ columns. Not installed.
 *
 * The cursor is the last synchronised version, kept in the destination's
 * state table under pipe_ct.state_name and saved in the load's own
 * transaction (cursor_save runs before sink_commit), so rows and cursor
 * move together.
 */
#ifndef TDSPIPE_CT_INT_H
#define TDSPIPE_CT_INT_H

#include "changes_rows.h"
#include "mssql_int.h"

struct pipe_ct {
    /* set by pipe_ct_prepare */
    sink_strategy strategy;       /* merge (cdc), or replace for full_refresh / resnapshot */
    bool cdc;                     /* sink_table.cdc */
    bool snapshot;                /* this run reads the whole table */
    bool snap_iso;                /* SNAPSHOT isolation allowed (else SERIALIZABLE) */
    int64_t retention_s;          /* the database's CHANGE_RETENTION; 0 unknown */
    bool have_cursor;
    uint64_t cursor;
    char state_name[1200];
    char *qname;                  /* [db].[schema].[table] */
    char *db;                     /* database of the table (its own USE) */
    char *select;                 /* the data SELECT (version bound added by pipe_ct_read) */
    char *order;                  /* the changes read's ORDER BY */
    const pipe_catalog *cat;
    /* set by pipe_ct_read */
    uint64_t version;             /* CHANGE_TRACKING_CURRENT_VERSION() of the read */
    /* result adapter (changes_rows.c; ct_rows.c its change hook): prefix
     * is the version and operation; is_key per selected table column:
     * read from CHANGETABLE's key */
    pipe_changes_rows rows;
};

/* ct_prepare.c: the checks that need no connection: strategy (merge
 * unless full_refresh), sql_limit, incremental key and intervals, query
 * sources, excluded _cdc_* columns. Returns 0 or TDSPIPE_E_USAGE. */
int pipe_ct_check_flags(const pipe_plan *p, const pipe_mssql_name *n, tdspipe_error *err);
/* The server's checks (tracking on for the database and the table, a
 * primary key, no excluded key column), the cursor (state table, else
 * MAX(_cdc_lsn)), its validity, and the mode of this run. p->dest_table
 * is the destination table. Returns 0, TDSPIPE_E_USAGE or TDSPIPE_E_LOAD
 * with a reason in err. */
int pipe_ct_prepare(pipe_ct *ct, net_client *cl, sink *sk, const pipe_plan *p, const pipe_mssql_name *n,
                    const pipe_catalog *cat, char *err, size_t cap);

/* ct_read.c: reads in one transaction (SNAPSHOT, else SERIALIZABLE): the
 * current version, then the rows (snapshot or net changes up to that
 * version), handed to m's engine callbacks with _cdc_lsn, _cdc_deleted,
 * _cdc_synced_at and _cdc_op appended. Returns a NET_ code; on a Change
 * Tracking problem NET_E_SERVER with the reason in ne->message. */
int pipe_ct_read(pipe_ct *ct, net_client *cl, pipe_mssql *m, net_error *ne);
/* Records the new cursor in the load (between begin and commit). Returns
 * 0 or a sink_err. */
int pipe_ct_save(pipe_ct *ct, sink *sk);
/* Frees ct and what it holds; NULL is fine. */
void pipe_ct_free(pipe_ct *ct);

/* ct_sql.c: the SQL text and the small queries. */
/* N'…' with quotes doubled, into b. */
void pipe_ct_tstr(pipe_sqlbuf *b, const char *s);
/* Runs sql and keeps the first row's first two columns of each of its n
 * result sets as text (null when NULL or no row); retry: reconnect on
 * transient faults (never inside the read's transaction). */
int pipe_ct_scalars(net_client *cl, const char *sql, size_t n, char (*v)[2][64], bool (*null)[2], bool retry,
                    net_error *ne);
bool pipe_ct_parse_version(const char *s, uint64_t *out);
/* The data SELECT of this run into ct->select (and ct->order). Returns
 * 0, TDSPIPE_E_USAGE or TDSPIPE_E_LOAD with a reason in err. */
int pipe_ct_build_select(pipe_ct *ct, const pipe_plan *p, char *err, size_t cap);

/* ct_rows.c: sets up ct->rows (changes_rows.h) for a read of m's rows. */
void pipe_ct_rows_init(pipe_ct *ct, pipe_mssql *m);

#endif /* TDSPIPE_CT_INT_H */
