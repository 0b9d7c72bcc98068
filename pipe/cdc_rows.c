/*
 * cdc_rows.c — what a Change Data Capture read gives the shared result
 * adapter (changes_rows.c): its leading __$start_lsn, __$seqval and
 * __$operation columns become
 *   _cdc_lsn        nvarchar(40)  __$start_lsn then __$seqval, 20 upper-case
 *                                 hex digits each: text order is change
 *                                 order, so the merge's "highest _cdc_lsn
 *                                 wins" keeps the last change of a key even
 *                                 within one transaction (a key update is a
 *                                 delete and an insert sharing one LSN);
 *                                 snapshot rows carry the snapshot's LSN
 *                                 and F digits (after all of its changes)
 *   _cdc_op         I (insert, snapshot), U (update after image) or D
 *                   (delete: the row's values are its before image)
 */
#include <stdio.h>

#include "cdc_int.h"

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

static const char *cdc_change(const pipe_changes_rows *r, const tds_column *cols, const tds_value *vals, char lsn[48],
                              char *op)
{
    const pipe_cdc *c = r->src;
    *op = 'I';
    if (!r->prefix) {
        snprintf(lsn, 48, "%sFFFFFFFFFFFFFFFFFFFF", c->next);
        return NULL;
    }
    if (change_of(cols, vals, lsn, op))
        return "the change function returned a row without a valid LSN or operation";
    return NULL;
}

void pipe_cdc_rows_init(pipe_cdc *c, pipe_mssql *m)
{
    c->rows.what = "Change Data Capture";
    c->rows.lsn_bytes = 80;
    c->rows.change = cdc_change;
    c->rows.src = c;
    c->rows.m = m;
}
