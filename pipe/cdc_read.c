/*
 * cdc_read.c — a Change Data Capture read (a snapshot in one transaction,
 * or one window of changes), the new cursor saved into the load's commit,
 * and the state's release.
 *
 * The handoff from a snapshot to the changes (docs/cdc.md has the whole
 * argument): the snapshot transaction's first statement reads
 * sys.fn_cdc_get_max_lsn() together with cdc.change_tables, a table, which
 * fixes the transaction's view (SQL Server assigns a SNAPSHOT transaction
 * its version at the first data access, not at BEGIN), then SYSDATETIME().
 * The LSN L is a captured commit, so it committed before the view began:
 * every commit the view cannot see has a later LSN and is read by a later
 * run (the cursor is L). A commit the view does see but capture had not
 * reached yet also has an LSN after L. So that such a change is never
 * applied over the snapshot out of order (an older image over a newer
 * one), the first changes run waits (reads nothing, writes nothing) until
 * capture holds a commit later than the snapshot's time: capture works in
 * commit order, so every commit the snapshot saw is then in the window
 * (L, max], and the window applied in LSN order over the snapshot leaves
 * exactly the table as of max (CDC gives whole row images). The cursor
 * carries the time until then: "<LSN> after <time>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"

/* SQL Server's "permission denied" (229) on the change function or table
 * becomes a message naming the instance. */
static int rows_result(pipe_cdc *c, int rc, net_error *ne)
{
    if (c->rows.fail)
        return pipe_changes_fail(ne, "%s", c->rows.err);
    if (rc == NET_E_SERVER && ne->server_number == 229)
        return pipe_changes_fail(ne, "no SELECT permission on capture instance '%s': %.400s", c->instance, ne->message);
    return rc;
}

static int run_rows(pipe_cdc *c, net_client *cl, pipe_mssql *m, const char *sql, net_error *ne)
{
    if (!sql)
        return pipe_changes_fail(ne, "out of memory");
    pipe_cdc_rows_init(c, m);
    memset(ne, 0, sizeof *ne);
    int rc = net_client_batch(cl, sql, &pipe_changes_rows_cb, &c->rows, ne);
    return rows_result(c, rc, ne);
}

static int use_db(pipe_cdc *c, pipe_sqlbuf *b)
{
    pipe_sqlbuf_put(b, "USE ");
    pipe_sqlbuf_ident(b, c->db);
    pipe_sqlbuf_put(b, ";\n");
    return b->oom ? -1 : 0;
}

/* The snapshot's LSN: the captured maximum its view saw; below the
 * instance's start (nothing captured for it yet) the LSN just before the
 * start, so the next run's range begins at the instance's minimum. */
static int snapshot_lsn(pipe_cdc *c, net_client *cl, net_error *ne)
{
    pipe_sqlbuf b = {0};
    use_db(c, &b);
    pipe_sqlbuf_put(&b, c->snap_iso ? "SET TRANSACTION ISOLATION LEVEL SNAPSHOT;\n"
                                    : "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\n");
    pipe_sqlbuf_put(&b, "BEGIN TRANSACTION;\nSELECT sys.fn_cdc_get_max_lsn(), sys.fn_cdc_get_min_lsn(");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, ") FROM cdc.change_tables WHERE capture_instance = ");
    pipe_ct_tstr(&b, c->instance);
    /* after the view began: no earlier than any commit it sees */
    pipe_sqlbuf_put(&b, ";\nSELECT SYSDATETIME(), NULL");
    if (b.oom) {
        free(b.p);
        return pipe_changes_fail(ne, "out of memory");
    }
    pipe_list r[2] = {{0}, {0}};
    int rc = pipe_cdc_rows(cl, b.p, 2, r, false, ne);
    free(b.p);
    char max[CDC_LSN_HEX + 1] = "", min[CDC_LSN_HEX + 1] = "";
    bool ok = !rc && r[0].n >= 2 && pipe_cdc_lsn_parse(r[0].v[1], min) && r[1].n >= 2 && r[1].v[0][0] &&
              strlen(r[1].v[0]) < sizeof c->next_time;
    if (ok && !pipe_cdc_lsn_parse(r[0].v[0], max)) /* NULL: nothing captured yet */
        memset(max, '0', CDC_LSN_HEX);
    if (ok)
        snprintf(c->next_time, sizeof c->next_time, "%s", r[1].v[0]);
    pipe_list_free(&r[0]);
    pipe_list_free(&r[1]);
    if (rc)
        return rc;
    if (!ok)
        return pipe_changes_fail(ne, "capture instance '%s' was disabled while reading it", c->instance);
    if (strcmp(max, min) < 0)
        pipe_cdc_lsn_dec(min, c->next);
    else
        memcpy(c->next, max, sizeof c->next);
    return 0;
}

static int read_snapshot(pipe_cdc *c, net_client *cl, pipe_mssql *m, net_error *ne)
{
    int rc = snapshot_lsn(c, cl, ne);
    if (rc)
        return rc;
    c->rows.prefix = 0;
    char *sql = pipe_cdc_sql_snapshot(c);
    rc = run_rows(c, cl, m, sql, ne);
    free(sql);
    if (rc)
        return rc;
    net_result_cb none;
    memset(&none, 0, sizeof none);
    memset(ne, 0, sizeof *ne);
    return net_client_batch(cl, "COMMIT TRANSACTION", &none, NULL, ne);
}

/* The window from..to, then the instance's minimum again: a cleanup that
 * ran during the read may have taken changes the read still needed. */
static int read_changes(pipe_cdc *c, net_client *cl, pipe_mssql *m, net_error *ne)
{
    pipe_sqlbuf b = {0};
    use_db(c, &b);
    char *sel = pipe_cdc_sql_changes(c);
    pipe_sqlbuf_put(&b, sel ? sel : "");
    free(sel);
    if (b.oom || !sel) {
        free(b.p);
        return pipe_changes_fail(ne, "out of memory");
    }
    c->rows.prefix = 3;
    memcpy(c->next, c->empty ? c->cursor : c->to, sizeof c->next);
    /* a handoff still pending keeps its time */
    snprintf(c->next_time, sizeof c->next_time, "%s", c->empty ? c->snap_time : "");
    int rc = run_rows(c, cl, m, b.p, ne);
    free(b.p);
    if (rc || c->empty)
        return rc;
    b = (pipe_sqlbuf){0};
    use_db(c, &b);
    pipe_sqlbuf_put(&b, "SELECT sys.fn_cdc_get_min_lsn(");
    pipe_ct_tstr(&b, c->instance);
    pipe_sqlbuf_put(&b, ")");
    pipe_list r[1] = {{0}};
    rc = b.oom ? pipe_changes_fail(ne, "out of memory") : pipe_cdc_rows(cl, b.p, 1, r, false, ne);
    free(b.p);
    char min[CDC_LSN_HEX + 1];
    bool ok = !rc && r[0].n >= 2 && pipe_cdc_lsn_parse(r[0].v[0], min);
    pipe_list_free(&r[0]);
    if (rc)
        return rc;
    if (!ok || strcmp(c->from, min) < 0)
        return pipe_changes_fail(ne,
                                 "the Change Data Capture cursor (LSN 0x%s) expired while reading (cleanup ran): "
                                 "run again with --full-refresh (or --cdc-expired=resnapshot)",
                                 c->cursor);
    return 0;
}

int pipe_cdc_read(pipe_cdc *c, net_client *cl, pipe_mssql *m, net_error *ne)
{
    return c->snapshot ? read_snapshot(c, cl, m, ne) : read_changes(c, cl, m, ne);
}

int pipe_cdc_save(pipe_cdc *c, sink *sk)
{
    /* no write when nothing moved: the state row is not rewritten */
    if (c->have_cursor && !c->snapshot && !strcmp(c->next, c->cursor) && !strcmp(c->next_time, c->snap_time))
        return 0;
    char val[CDC_LSN_HEX + 8 + sizeof c->next_time];
    snprintf(val, sizeof val, "%s%s%s", c->next, c->next_time[0] ? " after " : "", c->next_time);
    return sink_state_set(sk, c->state_name, val);
}

void pipe_cdc_free(pipe_cdc *c)
{
    if (!c)
        return;
    free(c->db);
    free(c->qname);
    free(c->cols);
    pipe_list_free(&c->key);
    pipe_list_free(&c->captured);
    pipe_changes_rows_free(&c->rows);
    free(c);
}
