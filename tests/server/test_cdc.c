/*
 * test_cdc.c — tdstestd's Change Data Capture emulation, in-process (the
 * query half through srv_exec_batch, replies decoded by a client-role
 * tds_session). Two kinds of tests:
 *  - documented behaviours one by one (procedures, errors, functions,
 *    change-table rows, capture lag, cleanup, net changes);
 *  - random transactions checked against a model written here, without
 *    looking at the emulation: it predicts every change-table row, the
 *    all-changes and net-changes outputs and the min/max LSNs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "engine.h"
#include "query_int.h"

/* ------------------------------------------------------------ harness */

#define MAXROWS 4096

typedef struct res {
    int nsets;
    char cols[8][1024];          /* "a|b|c" of each result set */
    int nrows[8];
    char *rows[8][MAXROWS];      /* "v|v|v" */
    int nerr;
    int32_t err[8];
    char errmsg[8][1024];
    int ninfo;
    int32_t info[8];
} res;

static void res_free(res *r)
{
    for (int s = 0; s < 8; s++)
        for (int i = 0; i < r->nrows[s]; i++)
            free(r->rows[s][i]);
    memset(r, 0, sizeof *r);
}

static void on_row(res *r, const tds_event *ev)
{
    int k = r->nsets - 1;
    cr_assert(k >= 0 && r->nrows[k] < MAXROWS);
    char line[65536];
    size_t o = 0;
    for (int i = 0; i < ev->u.row.ncols; i++) {
        char text[8192];
        size_t tl = 0;
        if (ev->u.row.values[i].flags & TDS_VF_NULL)
            snprintf(text, sizeof text, "NULL");
        else if (tds_value_text(&ev->u.row.cols[i], &ev->u.row.values[i], text, sizeof text, &tl) < 0)
            snprintf(text, sizeof text, "<?>");
        o += (size_t)snprintf(line + o, sizeof line - o, "%s%s", i ? "|" : "", text);
    }
    r->rows[k][r->nrows[k]++] = strdup(line);
}

static void on_event(res *r, const tds_event *ev)
{
    switch (ev->type) {
    case TDS_EV_COLMETADATA: {
        int k = r->nsets++;
        cr_assert(k < 8);
        size_t o = 0;
        for (int i = 0; i < ev->u.colmeta.ncols; i++)
            o += (size_t)snprintf(r->cols[k] + o, sizeof r->cols[k] - o, "%s%s", i ? "|" : "",
                                  ev->u.colmeta.cols[i].name.ptr ? ev->u.colmeta.cols[i].name.ptr : "");
        break;
    }
    case TDS_EV_ROW:
        on_row(r, ev);
        break;
    case TDS_EV_ERROR:
        if (r->nerr < 8) {
            snprintf(r->errmsg[r->nerr], sizeof r->errmsg[0], "%s", ev->u.msg.message.ptr);
            r->err[r->nerr++] = ev->u.msg.number;
        }
        break;
    case TDS_EV_INFO:
        if (r->ninfo < 8)
            r->info[r->ninfo++] = ev->u.msg.number;
        break;
    default:
        break;
    }
}

static void run(srv_conn *c, const char *sql, res *r)
{
    memset(r, 0, sizeof *r);
    srv_cursor *cur = srv_exec_batch(c, sql, strlen(sql));
    cr_assert(cur);
    tds_session_opts so = { .role = TDS_ROLE_SERVER }, co = { .role = TDS_ROLE_CLIENT };
    tds_session *srv = tds_session_new(&so), *cli = tds_session_new(&co);
    for (;;) {
        int rc = srv_cursor_step(cur, srv, 4096);
        const uint8_t *buf;
        size_t len, off = 0;
        tds_send_buf(srv, &buf, &len);
        while (off < len) {
            ptrdiff_t n = tds_feed(cli, buf + off, len - off);
            cr_assert(n >= 0);
            off += (size_t)n;
            tds_event ev;
            int e;
            while ((e = tds_next(cli, &ev)) == 1)
                on_event(r, &ev);
            cr_assert(e == 0, "tds_next: %s", tds_strerror(e));
        }
        tds_send_ack(srv, len);
        if (rc != SRV_MORE)
            break;
    }
    tds_session_free(srv);
    tds_session_free(cli);
    srv_cursor_free(cur);
}

/* Runs sql and asserts it raised no error. */
static void ok(srv_conn *c, const char *sql)
{
    res r;
    run(c, sql, &r);
    cr_assert_eq(r.nerr, 0, "%s: %d %s", sql, r.nerr ? r.err[0] : 0, r.errmsg[0]);
    res_free(&r);
}

/* The first row of the first result set of sql, into out. */
static void one(srv_conn *c, const char *sql, char *out, size_t cap)
{
    res r;
    run(c, sql, &r);
    cr_assert_eq(r.nerr, 0, "%s: %s", sql, r.errmsg[0]);
    cr_assert(r.nsets >= 1 && r.nrows[0] >= 1, "%s: no row", sql);
    snprintf(out, cap, "%s", r.rows[0][0]);
    res_free(&r);
}

/* Runs sql expecting error number num; returns its message. */
static void fails(srv_conn *c, const char *sql, int32_t num, char *msg, size_t cap)
{
    res r;
    run(c, sql, &r);
    cr_assert(r.nerr >= 1, "%s: no error", sql);
    cr_assert_eq(r.err[0], num, "%s: error %d %s", sql, r.err[0], r.errmsg[0]);
    if (msg)
        snprintf(msg, cap, "%s", r.errmsg[0]);
    res_free(&r);
}

static const char *SCENARIO =
    "{ \"logins\": [ { \"user\": \"sa\", \"password\": \"Passw0rd!\", \"database\": \"shop\" } ],"
    "  \"databases\": [ { \"name\": \"shop\", %s \"tables\": ["
    "    { \"name\": \"t\", \"columns\": [ { \"name\": \"id\", \"type\": \"int\", \"nullable\": false },"
    "        { \"name\": \"name\", \"type\": \"nvarchar(40)\" }, { \"name\": \"qty\", \"type\": \"int\" } ],"
    "      \"primary_key\": [ \"id\" ], \"data\": [ [ 1, \"one\", 10 ], [ 2, \"two\", 20 ] ] },"
    "    { \"name\": \"nokey\", \"columns\": [ { \"name\": \"v\", \"type\": \"int\" } ], \"data\": [ [ 1 ] ] }"
    "  ] } ] }";

static srv_db *load(const char *cdc)
{
    char json[4096], err[256] = "";
    snprintf(json, sizeof json, SCENARIO, cdc);
    srv_db *db = srv_db_load_text(json, strlen(json), "cdc-test", err, sizeof err);
    cr_assert(db, "scenario: %s", err);
    return db;
}

static srv_conn *login(srv_db *db)
{
    srv_login_req req = { .user = "sa", .password = "Passw0rd!" };
    srv_conn *c = NULL;
    srv_error e;
    cr_assert(srv_login(db, &req, &c, &e), "login: %s", e.message);
    return c;
}

/* ------------------------------------------------------------ smoke */

Test(cdc, enable_capture_read)
{
    srv_db *db = load("");
    srv_conn *c = login(db);
    char v[4096];
    one(c, "SELECT is_cdc_enabled FROM sys.databases WHERE name = 'shop'", v, sizeof v);
    cr_assert_str_eq(v, "0");
    ok(c, "EXEC sys.sp_cdc_enable_db");
    one(c, "SELECT is_cdc_enabled FROM sys.databases WHERE name = 'shop'", v, sizeof v);
    cr_assert_str_eq(v, "1");
    ok(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL");
    one(c, "SELECT is_tracked_by_cdc FROM sys.tables WHERE name = 't'", v, sizeof v);
    cr_assert_str_eq(v, "1");
    ok(c, "INSERT INTO t (id, name, qty) VALUES (3, N'three', 30)");
    ok(c, "UPDATE t SET qty = 11 WHERE id = 1");
    ok(c, "DELETE FROM t WHERE id = 2");
    res r;
    run(c, "SELECT * FROM cdc.dbo_t_CT", &r);
    cr_assert_eq(r.nrows[0], 0, "not captured before a scan");
    res_free(&r);
    ok(c, "EXEC sys.sp_cdc_scan");
    run(c, "SELECT __$operation, __$update_mask, id, name, qty FROM cdc.dbo_t_CT", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.nrows[0], 4);
    cr_assert_str_eq(r.rows[0][0], "2|0x07|3|three|30");
    cr_assert_str_eq(r.rows[0][1], "3|0x04|1|one|10");
    cr_assert_str_eq(r.rows[0][2], "4|0x04|1|one|11");
    cr_assert_str_eq(r.rows[0][3], "1|0x07|2|two|20");
    res_free(&r);
    run(c, "SELECT __$operation, id, qty FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_get_min_lsn('dbo_t'), "
           "sys.fn_cdc_get_max_lsn(), N'all')", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.nrows[0], 3);
    cr_assert_str_eq(r.rows[0][0], "2|3|30");
    cr_assert_str_eq(r.rows[0][1], "4|1|11");
    cr_assert_str_eq(r.rows[0][2], "1|2|20");
    res_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, enable_table_needs_enabled_db)
{
    srv_db *db = load("");
    srv_conn *c = login(db);
    char msg[1024];
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL", 22901, msg,
          sizeof msg);
    cr_assert_str_eq(msg, "The database 'shop' is not enabled for Change Data Capture. Ensure that the correct database context "
                          "is set and retry the operation. To report on the databases enabled for Change Data Capture, query "
                          "the is_cdc_enabled column in the sys.databases catalog view.");
    srv_conn_free(c);
    srv_db_free(db);
}
