/*
 * cdc_rows.c — the result callbacks of a Change Data Capture read (net
 * calls them): they drop the leading __$start_lsn, __$seqval and
 * __$operation of a changes read, append the columns every captured load
 * carries, and hand the rows to the engine through src_mssql.c's
 * pipe_mssql_columns/_row/_chunk:
 *   _cdc_lsn        nvarchar(40)  __$start_lsn then __$seqval, 20 upper-case
 *                                 hex digits each: text order is change
 *                                 order, so the merge's "highest _cdc_lsn
 *                                 wins" keeps the last change of a key even
 *                                 within one transaction (a key update is a
 *                                 delete and an insert sharing one LSN);
 *                                 snapshot rows carry the snapshot's LSN
 *                                 and F digits (after all of its changes)
 *   _cdc_deleted    bit           the change deleted the row
 *   _cdc_synced_at  datetimeoffset(6), UTC: when this run read it
 *   _cdc_op         nvarchar(1)   I (insert, snapshot), U (update after
 *                                 image) or D (delete: the row's values are
 *                                 its before image)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cdc_int.h"

#define CDC_EXTRA 4

static int cdc_fail(pipe_cdc *c, const char *msg)
{
    if (!c->fail) {
        c->fail = TDSPIPE_E_LOAD;
        snprintf(c->err, sizeof c->err, "%s", msg);
    }
    return NET_ROW_ABORT;
}

static void name_col(tds_column *col, const char *name)
{
    col->name.ptr = name;
    col->name.len = strlen(name);
}

static int encode_now(pipe_cdc *c, tds_column *col)
{
    if (tds_column_init(col, TDS_T_DATETIMEOFFSETN, 0, 0, 6) != TDS_OK)
        return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t secs = (int64_t)ts.tv_sec;
    tds_datetime d;
    memset(&d, 0, sizeof d);
    d.days = (int32_t)(secs / 86400 + 719162); /* 0001-01-01 → 1970-01-01 */
    d.ticks = (uint64_t)(secs % 86400) * 10000000u + (uint64_t)(ts.tv_nsec / 1000) * 10u;
    d.scale = 6;
    d.kind = TDS_K_DATETIMEOFFSET;
    int n = tds_encode_datetime(col, &d, c->now, sizeof c->now);
    if (n < 0)
        return -1;
    c->now_len = (size_t)n;
    return 0;
}

static int on_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    pipe_cdc *c = ud;
    if (c->begun) /* a later result set: the load drops it */
        return pipe_mssql_columns(c->m, cols, ncols);
    if (ncols != c->prefix + c->nsel)
        return cdc_fail(c, "the Change Data Capture read returned an unexpected number of columns");
    c->begun = true;
    c->nin = ncols;
    c->nout = c->nsel + CDC_EXTRA;
    c->ocols = calloc(c->nout, sizeof *c->ocols);
    c->vals = calloc(c->nout, sizeof *c->vals);
    if (!c->ocols || !c->vals)
        return cdc_fail(c, "out of memory");
    memcpy(c->ocols, cols + c->prefix, c->nsel * sizeof *c->ocols);
    tds_column *x = c->ocols + c->nsel;
    if (tds_column_init(&x[0], TDS_T_NVARCHAR, 80, 0, 0) != TDS_OK ||
        tds_column_init(&x[1], TDS_T_BITN, 1, 0, 0) != TDS_OK || encode_now(c, &x[2]) ||
        tds_column_init(&x[3], TDS_T_NVARCHAR, 2, 0, 0) != TDS_OK)
        return cdc_fail(c, "cannot build the _cdc_ columns");
    name_col(&x[0], "_cdc_lsn");
    name_col(&x[1], "_cdc_deleted");
    name_col(&x[2], "_cdc_synced_at");
    name_col(&x[3], "_cdc_op");
    for (int i = 0; i < CDC_EXTRA; i++)
        x[i].flags &= (uint16_t)~TDS_COL_NULLABLE;
    return pipe_mssql_columns(c->m, c->ocols, c->nout);
}

static void hex10(const uint8_t *p, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 0; i < 10; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
}

/* A changes row's LSN text and operation letter; -1 when malformed. */
static int change_of(const tds_column *cols, const tds_value *vals, char lsn[41], char *op)
{
    int64_t v = 0;
    for (int i = 0; i < 2; i++)
        if ((vals[i].flags & TDS_VF_NULL) || vals[i].len != 10)
            return -1;
    if ((vals[2].flags & TDS_VF_NULL) || tds_value_int(&cols[2], &vals[2], &v) != TDS_OK)
        return -1;
    hex10(vals[0].ptr, lsn);
    hex10(vals[1].ptr, lsn + 20);
    lsn[40] = '\0';
    /* N'all' returns no update-before image (3): one would not be data */
    *op = v == 1 ? 'D' : v == 2 ? 'I' : v == 4 ? 'U' : '\0';
    return *op ? 0 : -1;
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    pipe_cdc *c = ud;
    if (!c->begun || c->m->dropping || ncols != c->nin) /* rows of a later result set */
        return pipe_mssql_row(c->m, vals);
    char lsn[41], op = 'I';
    if (c->prefix) {
        if (change_of(cols, vals, lsn, &op))
            return cdc_fail(c, "the change function returned a row without a valid LSN or operation");
    } else {
        snprintf(lsn, sizeof lsn, "%sFFFFFFFFFFFFFFFFFFFF", c->next);
    }
    memcpy(c->vals, vals + c->prefix, c->nsel * sizeof *c->vals);
    tds_column *x = c->ocols + c->nsel;
    tds_value *xv = c->vals + c->nsel;
    char ops[2] = {op, '\0'};
    int n0 = tds_encode_text(&x[0], lsn, 40, c->lsn, sizeof c->lsn);
    int n1 = tds_encode_int(&x[1], op == 'D', c->del, sizeof c->del);
    int n3 = tds_encode_text(&x[3], ops, 1, c->op, sizeof c->op);
    if (n0 < 0 || n1 < 0 || n3 < 0)
        return cdc_fail(c, "cannot encode the _cdc_ columns");
    xv[0] = (tds_value){c->lsn, (uint32_t)n0, 0};
    xv[1] = (tds_value){c->del, (uint32_t)n1, 0};
    xv[2] = (tds_value){c->now, (uint32_t)c->now_len, 0};
    xv[3] = (tds_value){c->op, (uint32_t)n3, 0};
    return pipe_mssql_row(c->m, c->vals);
}

static int on_plp(void *ud, uint16_t col, const uint8_t *data, size_t len)
{
    pipe_cdc *c = ud;
    if (!c->begun || c->m->dropping || col < c->prefix)
        return NET_ROW_NEXT;
    return pipe_mssql_chunk(c->m, col - c->prefix, data, len);
}

const net_result_cb pipe_cdc_rows_cb = {
    .columns = on_columns,
    .row = on_row,
    .plp = on_plp,
};
