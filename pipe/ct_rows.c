/*
 * ct_rows.c — the result callbacks of a Change Tracking read (net calls
 * them): they drop the leading SYS_CHANGE_VERSION and SYS_CHANGE_OPERATION
 * columns of a changes read, append the columns every tracked load
 * carries, and hand the rows to the engine through src_mssql.c's
 * pipe_mssql_columns/_row/_chunk:
 *   _cdc_lsn        nvarchar(20)  the version, 20 digits zero-padded (the
 *                                 text orders like the number)
 *   _cdc_deleted    bit           the last change deleted the row
 *   _cdc_synced_at  datetimeoffset(6), UTC: when this run read it
 *   _cdc_op         nvarchar(1)   I, U or D (net operation since the cursor;
 *                                 snapshot rows are I)
 * Non-key table columns are marked nullable: a deleted row arrives as its
 * key only (the LEFT JOIN finds nothing), and tombstones hold NULLs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ct_int.h"

#define CT_EXTRA 4

static int ct_fail(pipe_ct *ct, const char *msg)
{
    if (!ct->fail) {
        ct->fail = TDSPIPE_E_LOAD;
        snprintf(ct->err, sizeof ct->err, "%s", msg);
    }
    return NET_ROW_ABORT;
}

static void name_col(tds_column *c, const char *name)
{
    c->name.ptr = name;
    c->name.len = strlen(name);
}

static int encode_now(pipe_ct *ct, tds_column *c)
{
    if (tds_column_init(c, TDS_T_DATETIMEOFFSETN, 0, 0, 6) != TDS_OK)
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
    int n = tds_encode_datetime(c, &d, ct->now, sizeof ct->now);
    if (n < 0)
        return -1;
    ct->now_len = (size_t)n;
    return 0;
}

static int on_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    pipe_ct *ct = ud;
    if (ct->begun) /* a second result set: the load drops it */
        return pipe_mssql_columns(ct->m, cols, ncols);
    if (ncols != ct->prefix + ct->nsel)
        return ct_fail(ct, "the Change Tracking read returned an unexpected number of columns");
    ct->begun = true;
    ct->nin = ncols;
    ct->nout = ct->nsel + CT_EXTRA;
    ct->cols = calloc(ct->nout, sizeof *ct->cols);
    ct->vals = calloc(ct->nout, sizeof *ct->vals);
    if (!ct->cols || !ct->vals)
        return ct_fail(ct, "out of memory");
    for (size_t i = 0; i < ct->nsel; i++) {
        ct->cols[i] = cols[ct->prefix + i];
        if (!ct->is_key[i])
            ct->cols[i].flags |= TDS_COL_NULLABLE;
    }
    tds_column *x = ct->cols + ct->nsel;
    if (tds_column_init(&x[0], TDS_T_NVARCHAR, 40, 0, 0) != TDS_OK ||
        tds_column_init(&x[1], TDS_T_BITN, 1, 0, 0) != TDS_OK || encode_now(ct, &x[2]) ||
        tds_column_init(&x[3], TDS_T_NVARCHAR, 2, 0, 0) != TDS_OK)
        return ct_fail(ct, "cannot build the _cdc_ columns");
    name_col(&x[0], "_cdc_lsn");
    name_col(&x[1], "_cdc_deleted");
    name_col(&x[2], "_cdc_synced_at");
    name_col(&x[3], "_cdc_op");
    for (int i = 0; i < CT_EXTRA; i++)
        x[i].flags &= (uint16_t)~TDS_COL_NULLABLE;
    return pipe_mssql_columns(ct->m, ct->cols, ct->nout);
}

static int on_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    pipe_ct *ct = ud;
    if (!ct->begun || ct->m->dropping || ncols != ct->nin) /* rows of a later result set */
        return pipe_mssql_row(ct->m, vals);
    uint64_t version = ct->version;
    char op = 'I';
    if (ct->prefix) {
        int64_t v;
        char buf[8];
        size_t len = 0;
        if ((vals[0].flags & TDS_VF_NULL) || tds_value_int(&cols[0], &vals[0], &v) != TDS_OK || v < 0 ||
            (vals[1].flags & TDS_VF_NULL) || tds_value_utf8(&cols[1], &vals[1], buf, sizeof buf, &len) != TDS_OK ||
            len < 1 || (buf[0] != 'I' && buf[0] != 'U' && buf[0] != 'D'))
            return ct_fail(ct, "CHANGETABLE returned a row without a valid version or operation");
        version = (uint64_t)v;
        op = buf[0];
    }
    memcpy(ct->vals, vals + ct->prefix, ct->nsel * sizeof *ct->vals);
    tds_column *x = ct->cols + ct->nsel;
    tds_value *xv = ct->vals + ct->nsel;
    char lsn[24], ops[2] = {op, '\0'};
    snprintf(lsn, sizeof lsn, "%020llu", (unsigned long long)version);
    int n0 = tds_encode_text(&x[0], lsn, 20, ct->lsn, sizeof ct->lsn);
    int n1 = tds_encode_int(&x[1], op == 'D', ct->del, sizeof ct->del);
    int n3 = tds_encode_text(&x[3], ops, 1, ct->op, sizeof ct->op);
    if (n0 < 0 || n1 < 0 || n3 < 0)
        return ct_fail(ct, "cannot encode the _cdc_ columns");
    xv[0] = (tds_value){ct->lsn, (uint32_t)n0, 0};
    xv[1] = (tds_value){ct->del, (uint32_t)n1, 0};
    xv[2] = (tds_value){ct->now, (uint32_t)ct->now_len, 0};
    xv[3] = (tds_value){ct->op, (uint32_t)n3, 0};
    return pipe_mssql_row(ct->m, ct->vals);
}

static int on_plp(void *ud, uint16_t col, const uint8_t *data, size_t len)
{
    pipe_ct *ct = ud;
    if (!ct->begun || ct->m->dropping || col < ct->prefix)
        return NET_ROW_NEXT;
    return pipe_mssql_chunk(ct->m, col - ct->prefix, data, len);
}

const net_result_cb pipe_ct_rows_cb = {
    .columns = on_columns,
    .row = on_row,
    .plp = on_plp,
};
