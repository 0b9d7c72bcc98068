/*
 * ct_read.c — a Change Tracking read (one transaction: the version, the
 * rows through changes_rows.c, COMMIT), the new cursor saved into the load's
 * commit, and the state's release.
 */
#include <stdio.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ct_int.h"

/* ------------------------------------------------------------ read */

int pipe_ct_read(pipe_ct *ct, net_client *cl, pipe_mssql *m, net_error *ne)
{
    /* One transaction over three requests (the session carries its
     * descriptor): the versions, the rows, COMMIT. Under SNAPSHOT both
     * reads see one point in time; under SERIALIZABLE the changes read is
     * bounded by the version read first, and a row changed after it has a
     * later SYS_CHANGE_VERSION and is left for the next run. */
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, ct->snap_iso ? "SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n"
                          : "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n");
    /* The version is read first, before any row. SQL Server starts a
     * SNAPSHOT transaction's view at its first data access, which is then
     * no older than the version: a change committed in between has a
     * higher version, so the changes read (bounded by the version) leaves
     * it for the next run, and a snapshot row showing it is re-sent then
     * (the merge is idempotent). Reading the version after the view began
     * could count a commit the view cannot see, and lose it. */
    pipe_sqlbuf_put(&b, "BEGIN TRANSACTION;\nSELECT CHANGE_TRACKING_CURRENT_VERSION(), CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID(");
    pipe_ct_tstr(&b, ct->qname);
    pipe_sqlbuf_put(&b, "))");
    if (b.oom) {
        free(b.p);
        return pipe_changes_fail(ne, "out of memory");
    }
    char v[1][2][64];
    bool null[1][2];
    int rc = pipe_ct_scalars(cl, b.p, 1, v, null, false, ne);
    free(b.p);
    if (rc)
        return rc;
    uint64_t minv = 0;
    if (null[0][0] || null[0][1] || !pipe_ct_parse_version(v[0][0], &ct->version) || !pipe_ct_parse_version(v[0][1], &minv))
        return pipe_changes_fail(ne, "Change Tracking was turned off for the table while reading it");
    if (!ct->snapshot && ct->cursor < minv)
        return pipe_changes_fail(ne,
                                 "the Change Tracking cursor (version %" PRIu64 ") expired while reading "
                                 "(oldest kept %" PRIu64 "): run again with --full-refresh",
                                 ct->cursor, minv);

    b = (pipe_sqlbuf){0};
    pipe_sqlbuf_put(&b, ct->select);
    if (!ct->snapshot) {
        char w[64];
        snprintf(w, sizeof w, " WHERE [ct].[SYS_CHANGE_VERSION] <= %" PRIu64, ct->version);
        pipe_sqlbuf_put(&b, w);
        pipe_sqlbuf_put(&b, ct->order);
    }
    if (b.oom) {
        free(b.p);
        return pipe_changes_fail(ne, "out of memory");
    }
    pipe_ct_rows_init(ct, m);
    ct->rows.prefix = ct->snapshot ? 0 : 2;
    memset(ne, 0, sizeof *ne);
    rc = net_client_batch(cl, b.p, &pipe_changes_rows_cb, &ct->rows, ne);
    free(b.p);
    if (ct->rows.fail)
        return pipe_changes_fail(ne, "%s", ct->rows.err);
    if (rc)
        return rc;
    net_result_cb none;
    memset(&none, 0, sizeof none);
    memset(ne, 0, sizeof *ne);
    return net_client_batch(cl, "COMMIT TRANSACTION", &none, NULL, ne);
}

int pipe_ct_save(pipe_ct *ct, sink *sk)
{
    /* no write when nothing moved: the state row is not rewritten */
    if (ct->have_cursor && !ct->snapshot && ct->version == ct->cursor)
        return 0;
    char val[32];
    snprintf(val, sizeof val, "%020" PRIu64, ct->version);
    return sink_state_set(sk, ct->state_name, val);
}

void pipe_ct_free(pipe_ct *ct)
{
    if (!ct)
        return;
    free(ct->qname);
    free(ct->db);
    free(ct->select);
    free(ct->order);
    free(ct->rows.is_key);
    pipe_changes_rows_free(&ct->rows);
    free(ct);
}

