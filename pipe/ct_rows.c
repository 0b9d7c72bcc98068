/*
 * ct_rows.c — what a Change Tracking read gives the shared result adapter
 * (changes_rows.c): its leading SYS_CHANGE_VERSION and
 * SYS_CHANGE_OPERATION columns become
 *   _cdc_lsn        nvarchar(20)  the version, 20 digits zero-padded (the
 *                                 text orders like the number)
 *   _cdc_op         I, U or D: the net operation since the cursor
 *                   (snapshot rows are I, at the read's version)
 * Non-key table columns are marked nullable: a deleted row arrives as its
 * key only (the LEFT JOIN finds nothing), and tombstones hold NULLs.
 */
#include <stdio.h>

#include "ct_int.h"

static const char *ct_change(const pipe_changes_rows *r, const tds_column *cols, const tds_value *vals, char lsn[48],
                             char *op)
{
    const pipe_ct *ct = r->src;
    uint64_t version = ct->version;
    *op = 'I';
    if (r->prefix) {
        int64_t v;
        char buf[8];
        size_t len = 0;
        if ((vals[0].flags & TDS_VF_NULL) || tds_value_int(&cols[0], &vals[0], &v) != TDS_OK || v < 0 ||
            (vals[1].flags & TDS_VF_NULL) || tds_value_utf8(&cols[1], &vals[1], buf, sizeof buf, &len) != TDS_OK ||
            len < 1 || (buf[0] != 'I' && buf[0] != 'U' && buf[0] != 'D'))
            return "CHANGETABLE returned a row without a valid version or operation";
        version = (uint64_t)v;
        *op = buf[0];
    }
    snprintf(lsn, 48, "%020llu", (unsigned long long)version);
    return NULL;
}

void pipe_ct_rows_init(pipe_ct *ct, pipe_mssql *m)
{
    ct->rows.what = "Change Tracking";
    ct->rows.lsn_bytes = 40;
    ct->rows.change = ct_change;
    ct->rows.src = ct;
    ct->rows.m = m;
}
