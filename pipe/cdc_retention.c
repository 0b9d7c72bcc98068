/*
 * cdc_retention.c — how long Change Data Capture keeps changes: the
 * cleanup job's retention as sys.sp_cdc_help_jobs reports it (minutes;
 * msdb.dbo.cdc_jobs.retention). --stream restamps an idle cursor within a
 * quarter of it (stream.c). The procedure needs db_owner; a login without
 * it gets an error, and the stream keeps its 5-minute default.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mssql_int.h"
#include "net.h"
#include "stream_int.h"
#include "tds_ascii.h"

typedef struct help_jobs {
    int type_col, retention_col;  /* -1 until the result set names them */
    int64_t minutes;              /* the cleanup row's retention; 0 none */
} help_jobs;

static int hj_columns(void *ud, const tds_column *cols, uint16_t ncols)
{
    help_jobs *h = ud;
    h->type_col = h->retention_col = -1;
    for (uint16_t i = 0; i < ncols; i++) {
        const tds_str *n = &cols[i].name;
        if (n->len == 8 && !tds_ascii_ncasecmp(n->ptr, "job_type", 8))
            h->type_col = i;
        else if (n->len == 9 && !tds_ascii_ncasecmp(n->ptr, "retention", 9))
            h->retention_col = i;
    }
    return NET_ROW_NEXT;
}

static int hj_row(void *ud, const tds_column *cols, uint16_t ncols, const tds_value *vals)
{
    help_jobs *h = ud;
    (void)ncols;
    if (h->type_col < 0 || h->retention_col < 0)
        return NET_ROW_NEXT;
    char type[64], ret[64];
    size_t len;
    const tds_value *tv = &vals[h->type_col], *rv = &vals[h->retention_col];
    if ((tv->flags & TDS_VF_NULL) || (rv->flags & TDS_VF_NULL) ||
        tds_value_text(&cols[h->type_col], tv, type, sizeof type, &len) != TDS_OK ||
        tds_value_text(&cols[h->retention_col], rv, ret, sizeof ret, &len) != TDS_OK)
        return NET_ROW_NEXT;
    if (!tds_ascii_casecmp(type, "cleanup")) {
        char *end;
        long long m = strtoll(ret, &end, 10);
        if (!*end && m > 0)
            h->minutes = m;
    }
    return NET_ROW_NEXT;
}

int64_t pipe_cdc_retention_s(net_client *cl, const char *db, char *why, size_t cap)
{
    pipe_sqlbuf b = {0};
    pipe_sqlbuf_put(&b, "USE ");
    pipe_sqlbuf_ident(&b, db);
    pipe_sqlbuf_put(&b, ";\nEXEC sys.sp_cdc_help_jobs");
    if (b.oom) {
        free(b.p);
        snprintf(why, cap, "out of memory");
        return -1;
    }
    help_jobs h = {-1, -1, 0};
    net_result_cb cb;
    memset(&cb, 0, sizeof cb);
    cb.columns = hj_columns;
    cb.row = hj_row;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    int rc = net_client_batch(cl, b.p, &cb, &h, &ne);
    free(b.p);
    if (rc) {
        snprintf(why, cap, "sys.sp_cdc_help_jobs failed (it needs db_owner): %s",
                 ne.message[0] ? ne.message : net_strerror(rc));
        return -1;
    }
    if (!h.minutes) {
        snprintf(why, cap, "sys.sp_cdc_help_jobs reported no cleanup job");
        return -1;
    }
    return h.minutes * 60;
}
