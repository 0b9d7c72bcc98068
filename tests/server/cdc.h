/*
 * cdc.h — tdstestd's Change Data Capture emulation (exec_cdc*.c): what the
 * rest of the query half calls.
 *
 * The model, after SQL Server's documentation:
 *  - every row change to a table with a capture instance is logged with a
 *    log position (its __$seqval) when it happens; a transaction's commit
 *    takes the next position, and that commit LSN is the __$start_lsn every
 *    change of the transaction shares;
 *  - committed transactions wait in the database's log until a capture scan
 *    (EXEC sys.sp_cdc_scan, or at once when the database's scenario says
 *    "capture": "immediate") copies them into each capture instance's
 *    change table cdc.<instance>_CT and writes cdc.lsn_time_mapping;
 *  - sys.fn_cdc_get_max_lsn() is the highest captured commit LSN, so a
 *    reader sees the capture lag exactly as on a real server.
 * Rolled-back statements and transactions leave nothing.
 */
#ifndef TDSTESTD_CDC_H
#define TDSTESTD_CDC_H

#include "query_int.h"

/* Operation codes of __$operation. */
enum { CDC_OP_DELETE = 1, CDC_OP_INSERT = 2, CDC_OP_UPDATE_OLD = 3, CDC_OP_UPDATE_NEW = 4 };

/* --- DML hooks (exec_dml.c) --- */
/* A row change of t: delete (old_off), insert (new_off) or update (both),
 * heap offsets of the row images in t. Nothing when t has no capture
 * instance. Returns 0 or -1 (out of memory). */
int srv_cdc_record(srv_conn *c, srv_table *t, int op, uint64_t old_off, uint64_t new_off);
/* The connection's count of uncommitted changes (a statement's start), and
 * forgetting those recorded after it (the statement failed). */
size_t srv_cdc_mark(const srv_conn *c);
void srv_cdc_undo(srv_conn *c, size_t mark);
/* The transaction (or autocommit statement) committed / rolled back. */
void srv_cdc_commit(srv_conn *c);
void srv_cdc_rollback(srv_conn *c);
/* True when t has a capture instance (TRUNCATE is refused: 4711). */
bool srv_cdc_tracked(const srv_table *t);

/* --- procedures, functions, views (exec_cdc_proc.c, exec_cdc_query.c) --- */
/* EXEC sys.sp_cdc_*: returns 1 when st->word is one (reply written, *rc
 * the statement result), else 0. */
int srv_cdc_proc(srv_cursor *cur, tds_session *s, const sql_stmt *st, int *rc);
/* A sys.fn_cdc_* scalar function: 1 handled (out set, or -1 returned via
 * *rc with err/msg), 0 not a CDC function. a: the evaluated arguments. */
int srv_cdc_func(srv_cursor *cur, const sql_expr *e, const srv_val *a, srv_val *out, char *buf, size_t cap,
                 int32_t *err, char *msg, size_t msgcap, int *rc);
/* Result type of a CDC scalar function ("binary(10)", "datetime") or NULL. */
const char *srv_cdc_func_type(const sql_expr *e);
/* cdc.fn_cdc_get_all_changes_<i>(…) / cdc.fn_cdc_get_net_changes_<i>(…)
 * in FROM, as a temporary table; NULL with the SQL error in err/msg. */
srv_table *srv_cdc_tvf(srv_cursor *cur, const sql_tref *r, int32_t *err, char *msg, size_t cap);
/* cdc.change_tables, cdc.captured_columns, cdc.index_columns as temporary
 * tables (NULL: not one of them, or the database has no CDC). */
srv_table *srv_cdc_view(srv_conn *c, srv_database *d, const char *name);
/* sys.databases / sys.tables with is_cdc_enabled / is_tracked_by_cdc
 * added when the catalog's table lacks them (t is consumed). */
srv_table *srv_cdc_catalog_fix(srv_conn *c, srv_database *d, const char *name, srv_table *t);

/* --- scenario and lifetime (scenario.c) --- */
/* The database object's "cdc" member (cJSON *): enables CDC, sets the
 * capture mode, enables tables. Returns 0 or -1 with err. */
int srv_cdc_scenario(srv_db *db, srv_database *d, const void *cjson, char *err, size_t cap);
void srv_cdc_db_free(srv_database *d);
void srv_cdc_conn_free(srv_conn *c);
/* DROP TABLE of a source table drops its capture instances. */
void srv_cdc_table_dropped(srv_database *d, const srv_table *t);

#endif
