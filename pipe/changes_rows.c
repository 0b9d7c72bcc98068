/*
 * changes_rows.c — the result adapter of a Change Tracking or Change Data
 * Capture read (net calls it; see changes_rows.h): it drops the leading
 * change columns, appends the columns every tracked or captured load
 * carries, and hands the rows to the engine through src_mssql.c's
 * pipe_mssql_columns/_row/_chunk:
 *   _cdc_lsn        nvarchar  the source's change order as text (its hook)
 *   _cdc_deleted    bit       the (last) change deleted the row
 *   _cdc_synced_at  datetimeoffset(6), UTC: when this run read it
 *   _cdc_op         nvarchar(1)   I, U or D (snapshot rows are I)
 * Also the two small helpers both sources' reads and queries use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes_rows.h"
#include "utc_now.h"

static int rows_fail(pipe_changes_rows *r, const char *msg)
{
    if (!r->fail) {
        r->fail = TDSPIPE_E_LOAD;
        snprintf(r->err, sizeof r->err, "%s", msg);
    }
    return NET_ROW_ABORT;
}

static void name_col(tds_column *c, const char *name)
{
    c->name.ptr = name;
    c->name.len = strlen(name);
}

static int encode_now(pipe_changes_rows *r, tds_column *c)
{
    int n = pipe_utc_now(c, r->now, sizeof r->now);
    if (n < 0)
        return -1;
    r->now_len = (size_t)n;
    return 0;
}

static int on_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    pipe_changes_rows *r = ud;
    if (r->begun) /* a later result set: the load drops it */
        return pipe_mssql_columns(r->m, cols, ncols);
    if (ncols != r->prefix + r->nsel) {
        char msg[120];
        snprintf(msg, sizeof msg, "the %s read returned an unexpected number of columns", r->what);
        return rows_fail(r, msg);
    }
    r->begun = true;
    r->nin = ncols;
    r->nout = r->nsel + PIPE_CHANGES_EXTRA;
    r->cols = calloc(r->nout, sizeof *r->cols);
    r->vals = calloc(r->nout, sizeof *r->vals);
    if (!r->cols || !r->vals)
        return rows_fail(r, "out of memory");
    for (size_t i = 0; i < r->nsel; i++) {
        r->cols[i] = cols[r->prefix + i];
        if (r->is_key && !r->is_key[i])
            r->cols[i].flags |= TDS_COL_NULLABLE;
    }
    tds_column *x = r->cols + r->nsel;
    if (tds_column_init(&x[0], TDS_T_NVARCHAR, r->lsn_bytes, 0, 0) != TDS_OK ||
        tds_column_init(&x[1], TDS_T_BITN, 1, 0, 0) != TDS_OK || encode_now(r, &x[2]) ||
        tds_column_init(&x[3], TDS_T_NVARCHAR, 2, 0, 0) != TDS_OK)
        return rows_fail(r, "cannot build the _cdc_ columns");
    name_col(&x[0], "_cdc_lsn");
    name_col(&x[1], "_cdc_deleted");
    name_col(&x[2], "_cdc_synced_at");
    name_col(&x[3], "_cdc_op");
    for (int i = 0; i < PIPE_CHANGES_EXTRA; i++)
        x[i].flags &= (uint16_t)~TDS_COL_NULLABLE;
    return pipe_mssql_columns(r->m, r->cols, r->nout);
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    pipe_changes_rows *r = ud;
    if (!r->begun || r->m->dropping || ncols != r->nin) /* rows of a later result set */
        return pipe_mssql_row(r->m, vals);
    char lsn[48], op = 'I';
    const char *bad = r->change(r, cols, vals, lsn, &op);
    if (bad)
        return rows_fail(r, bad);
    memcpy(r->vals, vals + r->prefix, r->nsel * sizeof *r->vals);
    tds_column *x = r->cols + r->nsel;
    tds_value *xv = r->vals + r->nsel;
    char ops[2] = {op, '\0'};
    int n0 = tds_encode_text(&x[0], lsn, strlen(lsn), r->lsn, sizeof r->lsn);
    int n1 = tds_encode_int(&x[1], op == 'D', r->del, sizeof r->del);
    int n3 = tds_encode_text(&x[3], ops, 1, r->op, sizeof r->op);
    if (n0 < 0 || n1 < 0 || n3 < 0)
        return rows_fail(r, "cannot encode the _cdc_ columns");
    xv[0] = (tds_value){r->lsn, (uint32_t)n0, 0};
    xv[1] = (tds_value){r->del, (uint32_t)n1, 0};
    xv[2] = (tds_value){r->now, (uint32_t)r->now_len, 0};
    xv[3] = (tds_value){r->op, (uint32_t)n3, 0};
    return pipe_mssql_row(r->m, r->vals);
}

static int on_plp(void *ud, uint16_t col, const uint8_t *data, size_t len)
{
    pipe_changes_rows *r = ud;
    if (!r->begun || r->m->dropping || col < r->prefix)
        return NET_ROW_NEXT;
    return pipe_mssql_chunk(r->m, col - r->prefix, data, len);
}

const net_result_cb pipe_changes_rows_cb = {
    .columns = on_columns,
    .row = on_row,
    .plp = on_plp,
};

void pipe_changes_rows_free(pipe_changes_rows *r)
{
    free(r->cols);
    free(r->vals);
    r->cols = NULL;
    r->vals = NULL;
}

int pipe_changes_errf(char *err, size_t cap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return code;
}

int pipe_changes_fail(net_error *ne, const char *fmt, ...)
{
    memset(ne, 0, sizeof *ne);
    ne->code = NET_E_SERVER;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ne->message, sizeof ne->message, fmt, ap);
    va_end(ap);
    return NET_E_SERVER;
}

int pipe_changes_query(net_client *cl, const char *sql, const net_result_cb *cb, void *ud, bool retry,
                       const char *what, const bool *bad, const size_t *cur, size_t n, net_error *ne)
{
    memset(ne, 0, sizeof *ne);
    /* retrying reconnects: fine before a read's transaction, never in it */
    int rc = retry ? net_client_batch_retry(cl, sql, cb, ud, ne) : net_client_batch(cl, sql, cb, ud, ne);
    if (rc == NET_OK && (*bad || *cur != n)) {
        snprintf(ne->message, sizeof ne->message, "unexpected answer to a %s query", what);
        rc = NET_E_PROTO;
    }
    return rc;
}
