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

/* The whole reply of cur (freed here) into r. */
static void run_cursor(srv_cursor *cur, res *r)
{
    memset(r, 0, sizeof *r);
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

static void run(srv_conn *c, const char *sql, res *r)
{
    run_cursor(srv_exec_batch(c, sql, strlen(sql)), r);
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

/* sp_cdc_help_jobs: the documented columns, the cleanup job's retention
 * (3 days by default, the scenario's retention_minutes, then what
 * sp_cdc_change_job sets); CDC off: 22901. */
Test(cdc, help_jobs_retention)
{
    srv_db *db = load("");
    srv_conn *c = login(db);
    fails(c, "EXEC sys.sp_cdc_help_jobs", 22901, NULL, 0);
    ok(c, "EXEC sys.sp_cdc_enable_db");
    res r;
    run(c, "EXEC sys.sp_cdc_help_jobs", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(r.cols[0], "job_id|job_type|job_name|maxtrans|maxscans|continuous|pollinginterval|retention|threshold");
    cr_assert_eq(r.nrows[0], 2);
    cr_assert(strstr(r.rows[0][0], "|capture|cdc.shop_capture|500|10|1|5|0|0"), "%s", r.rows[0][0]);
    cr_assert(strstr(r.rows[0][1], "|cleanup|cdc.shop_cleanup|0|0|0|0|4320|5000"), "%s", r.rows[0][1]);
    res_free(&r);
    ok(c, "EXEC sys.sp_cdc_change_job @job_type = N'cleanup', @retention = 60");
    run(c, "EXEC sys.sp_cdc_help_jobs", &r);
    cr_assert(strstr(r.rows[0][1], "|cleanup|cdc.shop_cleanup|0|0|0|0|60|5000"), "%s", r.rows[0][1]);
    res_free(&r);
    ok(c, "EXEC sys.sp_cdc_change_job @job_type = N'capture', @retention = 7"); /* not the cleanup job's */
    run(c, "EXEC sys.sp_cdc_help_jobs", &r);
    cr_assert(strstr(r.rows[0][1], "|60|5000"), "%s", r.rows[0][1]);
    res_free(&r);
    fails(c, "EXEC sys.sp_cdc_change_job @job_type = N'cleanup', @retention = 0", 22985, NULL, 0);
    fails(c, "EXEC sys.sp_cdc_change_job @job_type = N'nightly'", 22992, NULL, 0);
    srv_conn_free(c);
    srv_db_free(db);
    db = load("\"cdc\": { \"retention_minutes\": 1 },");
    c = login(db);
    run(c, "EXEC sys.sp_cdc_help_jobs", &r);
    cr_assert_eq(r.nrows[0], 2);
    cr_assert(strstr(r.rows[0][1], "|cleanup|cdc.shop_cleanup|0|0|0|0|1|5000"), "%s", r.rows[0][1]);
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

/* ------------------------------------------------------------ model */

/* The model knows SQL Server's documented rules, not the emulation: a
 * committed transaction's changes appear in the change table only after a
 * capture scan (or at commit in immediate mode), all with one commit LSN,
 * in commit order; an insert is one row (2), a delete one row (1), an
 * update two rows (3 then 4) sharing a seqval; a key update is a delete
 * and an insert; the update mask has bit k for captured column k (id,
 * name, qty) when it changed, every bit for inserts and deletes; cleanup
 * to a mapping entry's LSN moves the low water mark to the smallest LSN
 * with that entry's commit time and removes rows below it. LSN values are
 * the server's: the model learns each transaction's LSN from the first row
 * it checks and then holds every other row and function to it. */

#define MIDS 40

typedef struct mrow {
    int id;
    int name;                   /* -1 NULL, else letter index */
    int qty;                    /* -1 NULL */
} mrow;

typedef struct mchange {
    int op;                     /* 1 delete, 2 insert, 4 update */
    mrow before, after;
    int stmt;                   /* statement number (rows of one statement compare as a set) */
} mchange;

typedef struct mtx {
    mchange ch[256];
    int n;
    char lsn[64];               /* learned */
} mtx;

typedef struct model {
    mrow live[MIDS + 1];        /* by id; id 0 = absent */
    bool has[MIDS + 1];
    mtx *pend;                  /* the open transaction (or the autocommit statement's) */
    mtx *committed[512];        /* not captured yet */
    int ncommitted;
    mtx *captured[2048];        /* in the change table (cleanup removes a prefix) */
    int ncaptured, first;       /* captured[first..ncaptured) are still there */
    int stmt;
    bool immediate;
    char min_lsn[64];
} model;

/* Names by index; "one" and "two" are the scenario's rows. */
static const char *const NAMES[] = { "alpha", "beta", "gamma", "delta", "epsilon", "one", "two" };

static void row_text(const mrow *r, char *out, size_t cap)
{
    const char *const *names = NAMES;
    char q[16];
    snprintf(q, sizeof q, "%d", r->qty);
    snprintf(out, cap, "%d|%s|%s", r->id, r->name < 0 ? "NULL" : names[r->name], r->qty < 0 ? "NULL" : q);
}

static void row_sql(const mrow *r, char *out, size_t cap)
{
    const char *const *names = NAMES;
    char q[16], n[32];
    snprintf(q, sizeof q, "%d", r->qty);
    snprintf(n, sizeof n, "N'%s'", r->name < 0 ? "" : names[r->name]);
    snprintf(out, cap, "%d, %s, %s", r->id, r->name < 0 ? "NULL" : n, r->qty < 0 ? "NULL" : q);
}

static int mask_of(const mchange *c)
{
    if (c->op != 4)
        return 7;
    return (c->before.id != c->after.id) | (c->before.name != c->after.name) << 1 | (c->before.qty != c->after.qty) << 2;
}

static void m_change(model *m, int op, const mrow *before, const mrow *after)
{
    mtx *t = m->pend;
    cr_assert(t->n < 256);
    mchange *c = &t->ch[t->n++];
    memset(c, 0, sizeof *c);
    c->op = op;
    if (before)
        c->before = *before;
    if (after)
        c->after = *after;
    c->stmt = m->stmt;
}

static bool m_commit(model *m)
{
    bool any = m->pend->n > 0;
    if (!any) {
        free(m->pend);
    } else if (m->immediate) {
        m->captured[m->ncaptured++] = m->pend;
    } else {
        m->committed[m->ncommitted++] = m->pend;
    }
    m->pend = NULL;
    return any;
}

static void m_scan(model *m)
{
    for (int i = 0; i < m->ncommitted; i++)
        m->captured[m->ncaptured++] = m->committed[i];
    m->ncommitted = 0;
}

/* ------------------------------------------------------------ model checks */

typedef struct ctrow {
    char f[8][256];             /* lsn, seqval, op, mask, id, name, qty, command_id */
} ctrow;

static void split(const char *line, ctrow *out, int nf)
{
    memset(out, 0, sizeof *out);
    const char *p = line;
    for (int i = 0; i < nf; i++) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(out->f[i], sizeof out->f[i], "%.*s", (int)n, p);
        p = e ? e + 1 : p + n;
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* One change as text: "op|mask|row" (an update: both rows joined by ';'). */
static void change_text(const mchange *ch, char *out, size_t cap)
{
    char b[128], a[128];
    row_text(&ch->before, b, sizeof b);
    row_text(&ch->after, a, sizeof a);
    int mk = mask_of(ch);
    if (ch->op == 2)
        snprintf(out, cap, "2|0x%02X|%s", mk, a);
    else if (ch->op == 1)
        snprintf(out, cap, "1|0x%02X|%s", mk, b);
    else
        snprintf(out, cap, "3|0x%02X|%s;4|0x%02X|%s", mk, b, mk, a);
}

/* The observed change starting at row *k (two rows for an update). */
static void observed_change(res *r, int *k, mtx *t, char *prev_seq, int *cmd, char *out, size_t cap)
{
    ctrow x, y;
    cr_assert(*k < r->nrows[0], "change table has fewer rows than the model");
    split(r->rows[0][(*k)++], &x, 8);
    if (!t->lsn[0])
        snprintf(t->lsn, sizeof t->lsn, "%s", x.f[0]);
    cr_assert_str_eq(x.f[0], t->lsn, "all rows of a transaction share its commit LSN");
    cr_assert(strcmp(x.f[1], prev_seq) > 0, "seqval increases within the transaction: %s after %s", x.f[1], prev_seq);
    cr_assert(strcmp(x.f[1], t->lsn) < 0, "a change's seqval is below its commit LSN");
    snprintf(prev_seq, 64, "%s", x.f[1]);
    cr_assert_eq(atoi(x.f[7]), ++*cmd, "__$command_id counts the transaction's changes");
    snprintf(out, cap, "%s|%s|%s|%s|%s", x.f[2], x.f[3], x.f[4], x.f[5], x.f[6]);
    if (strcmp(x.f[2], "3") == 0) {
        cr_assert(*k < r->nrows[0]);
        split(r->rows[0][(*k)++], &y, 8);
        cr_assert_str_eq(y.f[0], t->lsn);
        cr_assert_str_eq(y.f[1], x.f[1], "update old and new rows share the seqval");
        cr_assert_str_eq(y.f[7], x.f[7]);
        size_t n = strlen(out);
        snprintf(out + n, cap - n, ";%s|%s|%s|%s|%s", y.f[2], y.f[3], y.f[4], y.f[5], y.f[6]);
    }
}

/* The change table against the model, statement by statement (the rows of
 * one multi-row statement compare as a set). */
static void check_ct(srv_conn *c, model *m)
{
    res r;
    run(c, "SELECT __$start_lsn, __$seqval, __$operation, __$update_mask, id, name, qty, __$command_id FROM cdc.dbo_t_CT", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    int k = 0;
    char prev_lsn[64] = "";
    for (int i = m->first; i < m->ncaptured; i++) {
        mtx *t = m->captured[i];
        char prev_seq[64] = "";
        int cmd = 0;
        for (int j = 0; j < t->n;) {
            int e = j;
            while (e < t->n && t->ch[e].stmt == t->ch[j].stmt)
                e++;
            char *want[256], *got[256];
            for (int q = j; q < e; q++) {
                want[q - j] = malloc(512);
                got[q - j] = malloc(512);
                change_text(&t->ch[q], want[q - j], 512);
                observed_change(&r, &k, t, prev_seq, &cmd, got[q - j], 512);
            }
            qsort(want, (size_t)(e - j), sizeof *want, cmp_str);
            qsort(got, (size_t)(e - j), sizeof *got, cmp_str);
            for (int q = 0; q < e - j; q++) {
                cr_assert_str_eq(got[q], want[q], "transaction %d statement %d", i, t->ch[j].stmt);
                free(want[q]);
                free(got[q]);
            }
            j = e;
        }
        cr_assert(strcmp(t->lsn, prev_lsn) > 0, "commit LSNs increase in commit order");
        snprintf(prev_lsn, sizeof prev_lsn, "%s", t->lsn);
    }
    cr_assert_eq(k, r.nrows[0], "change table has %d rows, the model %d", r.nrows[0], k);
    res_free(&r);
}

static void lsns(srv_conn *c, char *min, char *max)
{
    char v[256];
    one(c, "SELECT sys.fn_cdc_get_min_lsn('dbo_t'), sys.fn_cdc_get_max_lsn()", v, sizeof v);
    const char *bar = strchr(v, '|');
    cr_assert(bar);
    snprintf(min, 64, "%.*s", (int)(bar - v), v);
    snprintf(max, 64, "%s", bar + 1);
}

/* get_net_changes(from the f-th captured transaction, max, 'all'). */
static void check_net(srv_conn *c, model *m, int f, const char *from_sql, const char *max)
{
    char *want[MIDS + 1];
    int nw = 0;
    for (int id = 1; id <= MIDS; id++) {
        const mchange *first = NULL, *last = NULL;
        const mtx *lt = NULL;
        for (int i = f; i < m->ncaptured; i++)
            for (int j = 0; j < m->captured[i]->n; j++) {
                const mchange *ch = &m->captured[i]->ch[j];
                if ((ch->op == 2 ? ch->after.id : ch->before.id) != id)
                    continue;
                if (!first)
                    first = ch;
                last = ch;
                lt = m->captured[i];
            }
        if (!first || (first->op == 2 && last->op == 1))
            continue;
        int op = last->op == 1 ? 1 : first->op == 2 ? 2 : 4;
        char row[128];
        row_text(last->op == 1 ? &last->before : &last->after, row, sizeof row);
        want[nw] = malloc(256);
        snprintf(want[nw++], 256, "%s|%d|NULL|%s", lt->lsn, op, row);
    }
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_net_changes_dbo_t(%s, %s, N'all')", from_sql, max);
    res r;
    run(c, sql, &r);
    cr_assert_eq(r.nerr, 0, "%s: %s", sql, r.errmsg[0]);
    cr_assert_str_eq(r.cols[0], "__$start_lsn|__$operation|__$update_mask|id|name|qty");
    cr_assert_eq(r.nrows[0], nw, "%s: %d net rows, the model %d", sql, r.nrows[0], nw);
    qsort(want, (size_t)nw, sizeof *want, cmp_str);
    qsort(r.rows[0], (size_t)r.nrows[0], sizeof *r.rows[0], cmp_str);
    for (int i = 0; i < nw; i++) {
        cr_assert_str_eq(r.rows[0][i], want[i]);
        free(want[i]);
    }
    res_free(&r);
}

/* All changes against the (checked) change table; errors for ranges
 * outside [min, max]. */
static void check_all(srv_conn *c, const char *min, const char *max)
{
    char sql[512];
    res ct, r;
    snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(%s, %s, N'all update old')", min, max);
    run(c, "SELECT __$start_lsn, __$seqval, __$operation, __$update_mask, id, name, qty FROM cdc.dbo_t_CT", &ct);
    run(c, sql, &r);
    cr_assert_eq(r.nerr, 0, "%s: %s", sql, r.errmsg[0]);
    cr_assert_str_eq(r.cols[0], "__$start_lsn|__$seqval|__$operation|__$update_mask|id|name|qty");
    cr_assert_eq(r.nrows[0], ct.nrows[0]);
    int updates_old = 0;
    for (int i = 0; i < ct.nrows[0]; i++) {
        cr_assert_str_eq(r.rows[0][i], ct.rows[0][i]);
        ctrow x;
        split(ct.rows[0][i], &x, 3);
        updates_old += strcmp(x.f[2], "3") == 0;
    }
    res_free(&r);
    snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(%s, %s, N'all')", min, max);
    run(c, sql, &r);
    cr_assert_eq(r.nrows[0], ct.nrows[0] - updates_old, "'all' leaves out the update-old rows");
    res_free(&r);
    res_free(&ct);
    snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_decrement_lsn(%s), %s, N'all')", min, max);
    fails(c, sql, 313, NULL, 0);
    snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(%s, sys.fn_cdc_increment_lsn(%s), N'all')", min, max);
    fails(c, sql, 313, NULL, 0);
    snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_net_changes_dbo_t(sys.fn_cdc_increment_lsn(%s), %s, N'all')", max, max);
    fails(c, sql, 313, NULL, 0);
}

static void check_model(srv_conn *c, model *m, char *last_max, bool may_move, unsigned *seed)
{
    char min[64], max[64];
    check_ct(c, m);
    lsns(c, min, max);
    cr_assert_str_eq(min, m->min_lsn, "min LSN is the capture instance's low water mark");
    if (!may_move)
        cr_assert_str_eq(max, last_max, "max LSN moves only when the capture runs");
    if (m->ncaptured > m->first)
        cr_assert(strcmp(max, m->captured[m->ncaptured - 1]->lsn) >= 0);
    snprintf(last_max, 64, "%s", max);
    if (strcmp(min, max) > 0)
        return; /* nothing captured yet: every range is out of the timeline */
    check_all(c, min, max);
    int f = m->first + (m->ncaptured > m->first ? (int)(rand_r(seed) % (unsigned)(m->ncaptured - m->first)) : 0);
    char from[128];
    if (f > m->first)
        snprintf(from, sizeof from, "sys.fn_cdc_increment_lsn(%s)", m->captured[f - 1]->lsn);
    else
        snprintf(from, sizeof from, "%s", min);
    check_net(c, m, f, from, max);
}

/* ------------------------------------------------------------ random rounds */

static int live_id(const model *m, unsigned *seed)
{
    int n = 0, ids[MIDS];
    for (int id = 1; id <= MIDS; id++)
        if (m->has[id])
            ids[n++] = id;
    return n ? ids[rand_r(seed) % (unsigned)n] : 0;
}

static int free_id(const model *m, unsigned *seed)
{
    for (int tries = 0; tries < 100; tries++) {
        int id = 1 + (int)(rand_r(seed) % MIDS);
        if (!m->has[id])
            return id;
    }
    return 0;
}

static void s_insert(srv_conn *c, model *m, unsigned *seed)
{
    mrow r = { .id = 1 + (int)(rand_r(seed) % MIDS), .name = (int)(rand_r(seed) % 6) - 1, .qty = (int)(rand_r(seed) % 6) - 1 };
    char sql[256], v[128];
    row_sql(&r, v, sizeof v);
    snprintf(sql, sizeof sql, "INSERT INTO t (id, name, qty) VALUES (%s)", v);
    if (m->has[r.id]) { /* a failed statement leaves no change */
        fails(c, sql, 2627, NULL, 0);
        return;
    }
    ok(c, sql);
    m_change(m, 2, NULL, &r);
    m->live[r.id] = r;
    m->has[r.id] = true;
}

static void s_update(srv_conn *c, model *m, unsigned *seed, bool key)
{
    int id = live_id(m, seed), nid = key ? free_id(m, seed) : 0;
    if (!id || (key && !nid)) {
        s_insert(c, m, seed);
        return;
    }
    mrow b = m->live[id], a = b;
    char sql[256], n[32];
    if (key) {
        a.id = nid;
        snprintf(sql, sizeof sql, "UPDATE t SET id = %d WHERE id = %d", nid, id);
    } else {
        a.name = rand_r(seed) % 3 ? (int)(rand_r(seed) % 6) - 1 : b.name;
        a.qty = rand_r(seed) % 3 ? (int)(rand_r(seed) % 6) - 1 : b.qty;
        char q[16];
        snprintf(n, sizeof n, a.name < 0 ? "NULL" : "N'%s'", a.name < 0 ? "" : NAMES[a.name]);
        snprintf(q, sizeof q, a.qty < 0 ? "NULL" : "%d", a.qty);
        snprintf(sql, sizeof sql, "UPDATE t SET name = %s, qty = %s WHERE id = %d", n, q, id);
    }
    ok(c, sql);
    if (key) { /* a key update is a delete and an insert */
        m_change(m, 1, &b, NULL);
        m_change(m, 2, NULL, &a);
        m->has[id] = false;
    } else {
        m_change(m, 4, &b, &a);
    }
    m->live[a.id] = a;
    m->has[a.id] = true;
}

static void s_delete(srv_conn *c, model *m, unsigned *seed)
{
    int id = live_id(m, seed);
    if (!id) {
        s_insert(c, m, seed);
        return;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM t WHERE id = %d", id);
    ok(c, sql);
    m_change(m, 1, &m->live[id], NULL);
    m->has[id] = false;
}

/* A statement touching every row with qty = q: delete them or rename them. */
static void s_multi(srv_conn *c, model *m, unsigned *seed)
{
    int q = (int)(rand_r(seed) % 5);
    bool del = rand_r(seed) % 2;
    char sql[128];
    snprintf(sql, sizeof sql, del ? "DELETE FROM t WHERE qty = %d" : "UPDATE t SET name = N'epsilon' WHERE qty = %d", q);
    ok(c, sql);
    for (int id = 1; id <= MIDS; id++) {
        if (!m->has[id] || m->live[id].qty != q)
            continue;
        mrow b = m->live[id], a = b;
        a.name = 4;
        m_change(m, del ? 1 : 4, &b, del ? NULL : &a);
        if (del)
            m->has[id] = false;
        else
            m->live[id] = a;
    }
}

static void statement(srv_conn *c, model *m, unsigned *seed)
{
    m->stmt++;
    unsigned k = rand_r(seed) % 20;
    if (k < 7)
        s_insert(c, m, seed);
    else if (k < 12)
        s_update(c, m, seed, false);
    else if (k < 14)
        s_update(c, m, seed, true);
    else if (k < 18)
        s_delete(c, m, seed);
    else
        s_multi(c, m, seed);
}

/* sp_cdc_cleanup_change_table to a captured transaction's LSN: the low
 * water mark becomes the smallest mapping LSN with the same commit time. */
static void m_cleanup(srv_conn *c, model *m, unsigned *seed)
{
    if (m->ncaptured == m->first)
        return;
    const char *lsn = m->captured[m->first + (int)(rand_r(seed) % (unsigned)(m->ncaptured - m->first))]->lsn;
    res r;
    ctrow x, y;
    char when[64] = "", mark[64] = "", sql[256];
    run(c, "SELECT start_lsn, tran_end_time FROM cdc.lsn_time_mapping", &r);
    for (int i = 0; i < r.nrows[0]; i++) {
        split(r.rows[0][i], &x, 2);
        if (strcmp(x.f[0], lsn) == 0)
            snprintf(when, sizeof when, "%s", x.f[1]);
    }
    cr_assert(when[0], "a captured transaction has a mapping entry");
    for (int i = 0; i < r.nrows[0]; i++) {
        split(r.rows[0][i], &y, 2);
        if (strcmp(y.f[1], when) == 0 && (!mark[0] || strcmp(y.f[0], mark) < 0))
            snprintf(mark, sizeof mark, "%s", y.f[0]);
    }
    res_free(&r);
    snprintf(sql, sizeof sql, "EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_t', @low_water_mark = %s, @threshold = 10", lsn);
    ok(c, sql);
    if (strcmp(mark, m->min_lsn) > 0)
        snprintf(m->min_lsn, sizeof m->min_lsn, "%s", mark);
    while (m->first < m->ncaptured && strcmp(m->captured[m->first]->lsn, m->min_lsn) < 0)
        free(m->captured[m->first++]);
}

/* The source table against the model's rows. */
static void check_source(srv_conn *c, const model *m)
{
    res r;
    run(c, "SELECT id, name, qty FROM t ORDER BY id", &r);
    int k = 0;
    for (int id = 1; id <= MIDS; id++) {
        if (!m->has[id])
            continue;
        char want[128];
        row_text(&m->live[id], want, sizeof want);
        cr_assert(k < r.nrows[0]);
        cr_assert_str_eq(r.rows[0][k++], want);
    }
    cr_assert_eq(k, r.nrows[0]);
    res_free(&r);
}

/* BEGIN … COMMIT or ROLLBACK around a few statements; a scan from the
 * other connection may run in the middle and must not see them. */
static bool m_transaction(srv_conn *c, srv_conn *reader, model *m, unsigned *seed, bool *scanned)
{
    mrow live[MIDS + 1];
    bool has[MIDS + 1];
    memcpy(live, m->live, sizeof live);
    memcpy(has, m->has, sizeof has);
    ok(c, "BEGIN TRANSACTION");
    m->pend = calloc(1, sizeof *m->pend);
    int n = 1 + (int)(rand_r(seed) % 6);
    for (int i = 0; i < n; i++) {
        statement(c, m, seed);
        if (rand_r(seed) % 8 == 0) {
            ok(reader, "EXEC sys.sp_cdc_scan");
            m_scan(m);
            *scanned = true;
        }
    }
    if (rand_r(seed) % 5 == 0) {
        ok(c, "ROLLBACK TRANSACTION");
        memcpy(m->live, live, sizeof live);
        memcpy(m->has, has, sizeof has);
        free(m->pend);
        m->pend = NULL;
        return false;
    }
    ok(c, "COMMIT TRANSACTION");
    return m_commit(m);
}

static void rounds(bool immediate, unsigned seed, int n)
{
    srv_db *db = load(immediate ? "\"cdc\": { \"capture\": \"immediate\", \"tables\": [ { \"name\": \"t\" } ] },"
                                : "\"cdc\": { \"enabled\": true, \"tables\": [ { \"schema\": \"dbo\", \"name\": \"t\" } ] },");
    srv_conn *c = login(db), *reader = login(db);
    model *m = calloc(1, sizeof *m);
    m->immediate = immediate;
    m->live[1] = (mrow){ 1, 5, 10 };
    m->live[2] = (mrow){ 2, 6, 20 };
    m->has[1] = m->has[2] = true;
    char max[64], last_max[64];
    lsns(reader, m->min_lsn, max);
    snprintf(last_max, sizeof last_max, "%s", max);
    for (int round = 0; round < n; round++) {
        unsigned a = rand_r(&seed) % 10;
        bool scanned = false, committed = false;
        if (a < 5) {
            m->pend = calloc(1, sizeof *m->pend);
            statement(c, m, &seed);
            committed = m_commit(m);
        } else if (a < 8) {
            committed = m_transaction(c, reader, m, &seed, &scanned);
        } else if (a == 8 || rand_r(&seed) % 2) {
            ok(reader, "EXEC sys.sp_cdc_scan");
            m_scan(m);
            scanned = true;
        } else {
            m_cleanup(reader, m, &seed);
        }
        check_model(reader, m, last_max, scanned || (immediate && committed), &seed);
        if (round % 10 == 0)
            check_source(reader, m);
    }
    for (int i = m->first; i < m->ncaptured; i++)
        free(m->captured[i]);
    for (int i = 0; i < m->ncommitted; i++)
        free(m->committed[i]);
    free(m);
    srv_conn_free(c);
    srv_conn_free(reader);
    srv_db_free(db);
}

Test(cdc_model, random_rounds_scan, .timeout = 240)
{
    for (unsigned seed = 1; seed <= 4; seed++)
        rounds(false, seed * 7919u, 150);
}

Test(cdc_model, random_rounds_immediate, .timeout = 240)
{
    for (unsigned seed = 1; seed <= 2; seed++)
        rounds(true, seed * 104729u, 150);
}

Test(cdc, lsn_time_mapping_rows)
{
    srv_db *db = load("\"cdc\": { \"capture\": \"immediate\", \"tables\": [ { \"name\": \"t\" } ] },");
    srv_conn *c = login(db);
    ok(c, "INSERT INTO t (id, name, qty) VALUES (3, N'three', 30)");
    res r;
    run(c, "SELECT start_lsn, tran_begin_time, tran_end_time, tran_id FROM cdc.lsn_time_mapping", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.nrows[0], 2, "the enable's scan-progress entry, then the insert's transaction");
    for (int i = 0; i < r.nrows[0]; i++)
        cr_assert(!strstr(r.rows[0][i], "NULL"), "%s", r.rows[0][i]);
    res_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ documented behaviours */

static const char *ENABLE_T = "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL";

/* Rows of the first result set joined by '\n'. */
static void all_rows(srv_conn *c, const char *sql, char *out, size_t cap)
{
    res r;
    run(c, sql, &r);
    cr_assert_eq(r.nerr, 0, "%s: %s", sql, r.errmsg[0]);
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < r.nrows[0]; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s\n", r.rows[0][i]);
    res_free(&r);
}

Test(cdc, enable_db_twice_and_system_db)
{
    srv_db *db = load("");
    srv_conn *c = login(db);
    ok(c, "EXEC sys.sp_cdc_enable_db");
    res r;
    run(c, "EXEC sys.sp_cdc_enable_db", &r);
    cr_assert_eq(r.nerr, 0);
    cr_assert_eq(r.ninfo, 1);
    cr_assert_eq(r.info[0], 22905);
    res_free(&r);
    ok(c, "USE master");
    fails(c, "EXEC sys.sp_cdc_enable_db", 22989, NULL, 0);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, enable_table_errors)
{
    srv_db *db = load("\"cdc\": true,");
    srv_conn *c = login(db);
    char msg[1024];
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'nope', @role_name = NULL", 22931, msg, sizeof msg);
    cr_assert_str_eq(msg, "Source table 'dbo.nope' does not exist in the current database. Ensure that the correct database context is set. Specify a valid schema and table name for the database.");
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't'", 201, msg, sizeof msg);
    cr_assert_str_eq(msg, "Procedure or function 'sp_cdc_enable_table' expects parameter '@role_name', which was not supplied.");
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = N''", 22907, NULL, 0);
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'nokey', @role_name = NULL, @supports_net_changes = 1",
          22939, msg, sizeof msg);
    cr_assert_str_eq(msg, "The parameter @supports_net_changes is set to 1, but the source table does not have a primary key defined and no alternate unique index has been specified.");
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL, @captured_column_list = N'id, nope'",
          22930, msg, sizeof msg);
    cr_assert_str_eq(msg, "Could not locate 'nope' as a column of source table 'dbo.t'. Specify a valid column name.");
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL, @captured_column_list = N'name, qty'",
          22943, NULL, 0);
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL, @index_name = N'ix_nope'",
          22928, NULL, 0);
    fails(c, "EXEC sys.sp_cdc_enable_table N'dbo', N't', NULL, N'this_name_is_far_too_long_for_a_capture_instance_because_the_limit_is_one_hundred_characters_xxxxxxxx'",
          22927, NULL, 0);
    ok(c, ENABLE_T);
    fails(c, ENABLE_T, 22926, msg, sizeof msg);
    cr_assert_str_eq(msg, "Could not create a capture instance because the capture instance name 'dbo_t' already exists in the current database. Specify an explicit unique name for the parameter @capture_instance.");
    ok(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL, @capture_instance = N't_two'");
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL, @capture_instance = N't_three'",
          22962, msg, sizeof msg);
    cr_assert_str_eq(msg, "Two capture instances already exist for source table 'dbo.t'. A table can have at most two capture instances. If the current tracking options are not appropriate, disable change tracking for the obsolete instance by using sys.sp_cdc_disable_table and retry the operation.");
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'cdc', @source_name = N'dbo_t_CT', @role_name = NULL", 22974, NULL, 0);
    fails(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = NULL, @bogus = 1", 8145, NULL, 0);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, metadata_views)
{
    srv_db *db = load("\"cdc\": true,");
    srv_conn *c = login(db);
    ok(c, "EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N't', @role_name = N'cdc_reader', "
          "@capture_instance = N'slim', @captured_column_list = N'[id], \"qty\"'");
    ok(c, "EXEC sys.sp_cdc_enable_table N'dbo', N'nokey', NULL");
    char v[4096];
    all_rows(c, "SELECT capture_instance, supports_net_changes, role_name, index_name FROM cdc.change_tables ORDER BY capture_instance", v, sizeof v);
    cr_assert_str_eq(v, "dbo_nokey|0|NULL|NULL\nslim|1|cdc_reader|PK_t\n");
    all_rows(c, "SELECT cc.column_name, cc.column_id, cc.column_ordinal, cc.column_type FROM cdc.captured_columns AS cc JOIN "
                "cdc.change_tables AS ct ON cc.object_id = ct.object_id WHERE ct.capture_instance = N'slim' ORDER BY cc.column_ordinal",
             v, sizeof v);
    cr_assert_str_eq(v, "id|1|1|int\nqty|3|2|int\n");
    all_rows(c, "SELECT ic.column_name, ic.index_ordinal, ic.column_id FROM cdc.index_columns AS ic", v, sizeof v);
    cr_assert_str_eq(v, "id|1|1\n");
    one(c, "SELECT source_object_id FROM cdc.change_tables WHERE capture_instance = N'slim'", v, sizeof v);
    char oid[64];
    one(c, "SELECT OBJECT_ID('dbo.t')", oid, sizeof oid);
    cr_assert_str_eq(v, oid);
    /* the change table's documented columns, in order */
    res r;
    run(c, "SELECT * FROM cdc.slim_CT", &r);
    cr_assert_str_eq(r.cols[0], "__$start_lsn|__$end_lsn|__$seqval|__$operation|__$update_mask|id|qty|__$command_id");
    res_free(&r);
    all_rows(c, "SELECT name, is_tracked_by_cdc, is_ms_shipped FROM sys.tables ORDER BY name", v, sizeof v);
    cr_assert_str_eq(v, "dbo_nokey_CT|0|1\nlsn_time_mapping|0|1\nnokey|1|0\nslim_CT|0|1\nt|1|0\n");
    /* no net changes function without a row identifier */
    fails(c, "SELECT * FROM cdc.fn_cdc_get_net_changes_dbo_nokey(0x00, 0x00, N'all')", 208, NULL, 0);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, capture_lag_and_transactions)
{
    srv_db *db = load("\"cdc\": { \"tables\": [ { \"name\": \"t\" } ] },");
    srv_conn *a = login(db), *b = login(db);
    char before[64], after[64], v[8192];
    ok(a, "BEGIN TRAN; UPDATE t SET qty = 1 WHERE id = 1; UPDATE t SET qty = 2 WHERE id = 1; UPDATE t SET name = NULL WHERE id = 1");
    ok(a, "INSERT INTO t VALUES (3, N'x', 3)");
    ok(b, "EXEC sys.sp_cdc_scan"); /* the open transaction is not captured */
    all_rows(b, "SELECT * FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "");
    one(b, "SELECT sys.fn_cdc_get_max_lsn()", before, sizeof before);
    ok(a, "COMMIT");
    one(b, "SELECT sys.fn_cdc_get_max_lsn()", after, sizeof after);
    cr_assert_str_eq(after, before, "committed but not captured: max LSN has not moved");
    ok(b, "EXEC sys.sp_cdc_scan");
    all_rows(b, "SELECT __$operation, __$update_mask, id, name, qty, __$command_id FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3|0x04|1|one|10|1\n4|0x04|1|one|1|1\n3|0x04|1|one|1|2\n4|0x04|1|one|2|2\n"
                        "3|0x02|1|one|2|3\n4|0x02|1|NULL|2|3\n2|0x07|3|x|3|4\n");
    res r;
    run(b, "SELECT DISTINCT __$start_lsn FROM cdc.dbo_t_CT", &r);
    if (r.nerr == 0) /* DISTINCT may be outside the subset: then check by hand below */
        cr_assert_eq(r.nrows[0], 1, "one transaction, one commit LSN");
    res_free(&r);
    run(b, "SELECT __$start_lsn, __$seqval FROM cdc.dbo_t_CT", &r);
    for (int i = 1; i < r.nrows[0]; i++) {
        ctrow x, y;
        split(r.rows[0][i - 1], &x, 2);
        split(r.rows[0][i], &y, 2);
        cr_assert_str_eq(x.f[0], y.f[0]);
        cr_assert(strcmp(y.f[1], x.f[1]) >= 0);
    }
    res_free(&r);
    one(b, "SELECT sys.fn_cdc_get_max_lsn()", after, sizeof after);
    cr_assert(strcmp(after, before) > 0);
    /* rolled back: nothing; a key update: delete then insert */
    ok(a, "BEGIN TRAN; DELETE FROM t WHERE id = 2; ROLLBACK");
    ok(a, "UPDATE t SET id = 7 WHERE id = 2");
    fails(a, "TRUNCATE TABLE t", 4711, NULL, 0);
    ok(b, "EXEC sys.sp_cdc_scan");
    fails(b, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_increment_lsn(0x00000000000000000000), "
             "sys.fn_cdc_get_max_lsn(), N'all')", 313, NULL, 0);
    all_rows(b, "SELECT __$operation, __$update_mask, id, name, qty FROM cdc.fn_cdc_get_all_changes_dbo_t("
                "sys.fn_cdc_get_min_lsn(N'dbo_t'), sys.fn_cdc_get_max_lsn(), N'all')", v, sizeof v);
    cr_assert_str_eq(v, "4|0x04|1|one|1\n4|0x04|1|one|2\n4|0x02|1|NULL|2\n2|0x07|3|x|3\n1|0x07|2|two|20\n2|0x07|7|two|20\n");
    srv_conn_free(a);
    srv_conn_free(b);
    srv_db_free(db);
}

Test(cdc, lsn_functions)
{
    srv_db *db = load("\"cdc\": { \"capture\": \"immediate\", \"tables\": [ { \"name\": \"t\", \"captured_column_list\": \"id, qty\" } ] },");
    srv_conn *c = login(db);
    char v[1024];
    one(c, "SELECT sys.fn_cdc_increment_lsn(0x0000002A000000FFFFFF), sys.fn_cdc_decrement_lsn(0x0000002A000001000000), "
           "sys.fn_cdc_increment_lsn(NULL)", v, sizeof v);
    cr_assert_str_eq(v, "0x0000002A000001000000|0x0000002A000000FFFFFF|NULL");
    one(c, "SELECT sys.fn_cdc_get_min_lsn(N'no_such_instance')", v, sizeof v);
    cr_assert_str_eq(v, "0x00000000000000000000", "documented: zeros for an unknown instance");
    /* bit k of the mask, counted from the last byte, is captured column k */
    one(c, "SELECT sys.fn_cdc_is_bit_set(1, 0x0102), sys.fn_cdc_is_bit_set(2, 0x0102), sys.fn_cdc_is_bit_set(9, 0x0102), "
           "sys.fn_cdc_get_column_ordinal(N'dbo_t', N'qty'), sys.fn_cdc_get_column_ordinal(N'dbo_t', N'name'), "
           "sys.fn_cdc_has_column_changed(N'dbo_t', N'qty', 0x02)", v, sizeof v);
    cr_assert_str_eq(v, "0|1|1|2|-1|1");
    ok(c, "UPDATE t SET name = N'renamed' WHERE id = 1"); /* name is not captured: both bits clear */
    ok(c, "UPDATE t SET qty = 99 WHERE id = 2");
    char all[4096];
    all_rows(c, "SELECT __$operation, __$update_mask, id, qty FROM cdc.dbo_t_CT", all, sizeof all);
    cr_assert_str_eq(all, "3|0x00|1|10\n4|0x00|1|10\n3|0x02|2|20\n4|0x02|2|99\n");
    /* the commit LSN maps to its commit time and back */
    char lsn[64], t1[64], t2[64];
    one(c, "SELECT TOP 1 __$start_lsn FROM cdc.dbo_t_CT", lsn, sizeof lsn);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT sys.fn_cdc_map_lsn_to_time(%s)", lsn);
    one(c, sql, t1, sizeof t1);
    snprintf(sql, sizeof sql, "SELECT tran_end_time FROM cdc.lsn_time_mapping WHERE start_lsn = %s", lsn);
    one(c, sql, t2, sizeof t2);
    cr_assert_str_eq(t1, t2);
    snprintf(sql, sizeof sql, "SELECT sys.fn_cdc_map_time_to_lsn('smallest greater than or equal', '%s') ", t1);
    one(c, sql, v, sizeof v);
    cr_assert(strcmp(v, lsn) <= 0, "an entry at that time is at or before %s: %s", lsn, v);
    one(c, "SELECT sys.fn_cdc_map_time_to_lsn('largest less than', '1990-01-01')", v, sizeof v);
    cr_assert_str_eq(v, "NULL");
    one(c, "SELECT sys.fn_cdc_map_time_to_lsn('largest less than or equal', '2999-01-01'), sys.fn_cdc_get_max_lsn()", v, sizeof v);
    const char *bar = strchr(v, '|');
    cr_assert(bar && strncmp(v, bar + 1, (size_t)(bar - v)) == 0, "the latest entry is the max LSN: %s", v);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, range_errors_are_313)
{
    srv_db *db = load("\"cdc\": { \"capture\": \"immediate\", \"tables\": [ { \"name\": \"t\" } ] },");
    srv_conn *c = login(db);
    char msg[1024];
    ok(c, "INSERT INTO t VALUES (5, N'five', 5)");
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_decrement_lsn(sys.fn_cdc_get_min_lsn('dbo_t')), "
             "sys.fn_cdc_get_max_lsn(), N'all')", 313, msg, sizeof msg);
    cr_assert_str_eq(msg, "An insufficient number of arguments were supplied for the procedure or function cdc.fn_cdc_get_all_changes_ ... .");
    fails(c, "SELECT * FROM cdc.fn_cdc_get_net_changes_dbo_t(sys.fn_cdc_get_min_lsn('dbo_t'), "
             "sys.fn_cdc_increment_lsn(sys.fn_cdc_get_max_lsn()), N'all')", 313, msg, sizeof msg);
    cr_assert_str_eq(msg, "An insufficient number of arguments were supplied for the procedure or function cdc.fn_cdc_get_net_changes_ ... .");
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_get_max_lsn(), sys.fn_cdc_get_min_lsn('dbo_t'), N'all')",
          313, NULL, 0);
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(NULL, sys.fn_cdc_get_max_lsn(), N'all')", 313, NULL, 0);
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_get_min_lsn('dbo_t'), sys.fn_cdc_get_max_lsn(), N'all with merge')",
          313, NULL, 0);
    /* too few arguments: the instance named, as SQL Server's own 313 */
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_get_min_lsn('dbo_t'), sys.fn_cdc_get_max_lsn())", 313, msg, sizeof msg);
    cr_assert_str_eq(msg, "An insufficient number of arguments were supplied for the procedure or function cdc.fn_cdc_get_all_changes_dbo_t.");
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(0x00, 0x00, N'all', 1)", 8144, NULL, 0);
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_nope(0x00, 0x00, N'all')", 208, msg, sizeof msg);
    cr_assert_str_eq(msg, "Invalid object name 'cdc.fn_cdc_get_all_changes_nope'.");
    /* LSNs are binary(10): text is not converted implicitly */
    fails(c, "SELECT sys.fn_cdc_increment_lsn(N'0x0000002A000000010010')", 257, NULL, 0);
    fails(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(N'x', sys.fn_cdc_get_max_lsn(), N'all')", 257, NULL, 0);
    /* from = to = max is a valid one-point range */
    ok(c, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_get_max_lsn(), sys.fn_cdc_get_max_lsn(), N' ALL ')");
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, net_changes_options)
{
    srv_db *db = load("\"cdc\": { \"capture\": \"immediate\", \"tables\": [ { \"name\": \"t\" } ] },");
    srv_conn *c = login(db);
    ok(c, "INSERT INTO t VALUES (3, N'three', 30)");
    ok(c, "UPDATE t SET qty = 31 WHERE id = 3");
    ok(c, "UPDATE t SET name = N'uno' WHERE id = 1");
    ok(c, "UPDATE t SET qty = 11 WHERE id = 1");
    ok(c, "DELETE FROM t WHERE id = 2");
    ok(c, "INSERT INTO t VALUES (4, N'four', 40)");
    ok(c, "DELETE FROM t WHERE id = 4"); /* inserted and deleted in the window: no net row */
    char v[4096];
    const char *range = "(sys.fn_cdc_get_min_lsn('dbo_t'), sys.fn_cdc_get_max_lsn(), N'%s') ORDER BY id";
    char sql[512], fmt[512];
    snprintf(fmt, sizeof fmt, "SELECT __$operation, __$update_mask, id, name, qty FROM cdc.fn_cdc_get_net_changes_dbo_t%s", range);
    snprintf(sql, sizeof sql, fmt, "all");
    all_rows(c, sql, v, sizeof v);
    cr_assert_str_eq(v, "4|NULL|1|uno|11\n1|NULL|2|two|20\n2|NULL|3|three|31\n");
    snprintf(sql, sizeof sql, fmt, "all with mask");
    all_rows(c, sql, v, sizeof v);
    cr_assert_str_eq(v, "4|0x06|1|uno|11\n1|0x07|2|two|20\n2|0x07|3|three|31\n");
    snprintf(sql, sizeof sql, fmt, "all with merge");
    all_rows(c, sql, v, sizeof v);
    cr_assert_str_eq(v, "5|NULL|1|uno|11\n1|NULL|2|two|20\n5|NULL|3|three|31\n");
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, cleanup_change_table)
{
    srv_db *db = load("\"cdc\": { \"tables\": [ { \"name\": \"t\" } ] },");
    srv_conn *c = login(db);
    ok(c, "INSERT INTO t VALUES (3, N'three', 30)");
    ok(c, "EXEC sys.sp_cdc_scan");
    ok(c, "INSERT INTO t VALUES (4, N'four', 40)");
    ok(c, "EXEC sys.sp_cdc_scan");
    char lsn[2][64], min[64], sql[512], v[4096], msg[1024];
    res r;
    run(c, "SELECT __$start_lsn FROM cdc.dbo_t_CT", &r);
    cr_assert_eq(r.nrows[0], 2);
    snprintf(lsn[0], 64, "%s", r.rows[0][0]);
    snprintf(lsn[1], 64, "%s", r.rows[0][1]);
    res_free(&r);
    fails(c, "EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_t', @low_water_mark = 0x0000002A000000000001", 22964, msg, sizeof msg);
    cr_assert_str_eq(msg, "LSN 0x0000002A000000000001, specified as the new low end point for change table cleanup must represent the start_lsn value of a current entry in the cdc.lsn_time_mapping table. Choose an LSN value that satisfies this requirement.");
    fails(c, "EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'nope', @low_water_mark = NULL", 22920, NULL, 0);
    snprintf(sql, sizeof sql, "SELECT tran_end_time FROM cdc.lsn_time_mapping WHERE start_lsn = %s", lsn[0]);
    char t0[64], t1[64];
    one(c, sql, t0, sizeof t0);
    snprintf(sql, sizeof sql, "SELECT tran_end_time FROM cdc.lsn_time_mapping WHERE start_lsn = %s", lsn[1]);
    one(c, sql, t1, sizeof t1);
    snprintf(sql, sizeof sql, "EXEC sys.sp_cdc_cleanup_change_table N'dbo_t', %s", lsn[1]);
    ok(c, sql);
    one(c, "SELECT sys.fn_cdc_get_min_lsn('dbo_t')", min, sizeof min);
    all_rows(c, "SELECT id FROM cdc.dbo_t_CT", v, sizeof v);
    if (strcmp(t0, t1) == 0) { /* same commit time: the low water mark is the group's smallest LSN */
        cr_assert_str_eq(min, lsn[0]);
        cr_assert_str_eq(v, "3\n4\n");
    } else {
        cr_assert_str_eq(min, lsn[1]);
        cr_assert_str_eq(v, "4\n");
        /* the old cursor is now out of the timeline */
        snprintf(sql, sizeof sql, "SELECT * FROM cdc.fn_cdc_get_all_changes_dbo_t(%s, sys.fn_cdc_get_max_lsn(), N'all')", lsn[0]);
        fails(c, sql, 313, NULL, 0);
    }
    /* a lower mark or NULL leaves the low water mark alone */
    snprintf(sql, sizeof sql, "EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_t', @low_water_mark = %s", lsn[0]);
    ok(c, sql);
    ok(c, "EXEC sys.sp_cdc_cleanup_change_table @capture_instance = N'dbo_t', @low_water_mark = NULL");
    one(c, "SELECT sys.fn_cdc_get_min_lsn('dbo_t')", v, sizeof v);
    cr_assert_str_eq(v, min);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, disable_and_drop)
{
    srv_db *db = load("\"cdc\": { \"capture\": \"immediate\", \"tables\": [ { \"name\": \"t\" }, "
                      "{ \"name\": \"t\", \"capture_instance\": \"t_v2\", \"captured_column_list\": \"id,name\" } ] },");
    srv_conn *c = login(db);
    char v[4096], msg[1024];
    ok(c, "UPDATE t SET name = N'x', qty = 0 WHERE id = 1");
    all_rows(c, "SELECT __$operation, __$update_mask, id, name FROM cdc.t_v2_CT", v, sizeof v);
    cr_assert_str_eq(v, "3|0x02|1|one\n4|0x02|1|x\n");
    all_rows(c, "SELECT __$operation, __$update_mask FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3|0x06\n4|0x06\n");
    fails(c, "EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N't', @capture_instance = N'nope'", 22960, msg, sizeof msg);
    cr_assert_str_eq(msg, "Change data capture instance 'nope' has not been enabled for the source table 'dbo.t'. Use sys.sp_cdc_help_change_data_capture to verify the capture instance name and retry the operation.");
    fails(c, "EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N'nokey', @capture_instance = N'all'", 22985, NULL, 0);
    ok(c, "EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N't', @capture_instance = N't_v2'");
    fails(c, "SELECT * FROM cdc.t_v2_CT", 208, NULL, 0);
    one(c, "SELECT is_tracked_by_cdc FROM sys.tables WHERE name = 't'", v, sizeof v);
    cr_assert_str_eq(v, "1");
    ok(c, "EXEC sys.sp_cdc_disable_table @source_schema = N'dbo', @source_name = N't', @capture_instance = N'all'");
    one(c, "SELECT is_tracked_by_cdc FROM sys.tables WHERE name = 't'", v, sizeof v);
    cr_assert_str_eq(v, "0");
    ok(c, "TRUNCATE TABLE t"); /* no longer refused */
    /* dropping a source table drops its capture instances */
    ok(c, "EXEC sys.sp_cdc_enable_table N'dbo', N'nokey', NULL");
    ok(c, "DROP TABLE nokey");
    all_rows(c, "SELECT capture_instance FROM cdc.change_tables", v, sizeof v);
    cr_assert_str_eq(v, "");
    fails(c, "SELECT * FROM cdc.dbo_nokey_CT", 208, NULL, 0);
    ok(c, "EXEC sys.sp_cdc_disable_db");
    one(c, "SELECT is_cdc_enabled FROM sys.databases WHERE name = DB_NAME()", v, sizeof v);
    cr_assert_str_eq(v, "0");
    fails(c, "EXEC sys.sp_cdc_scan", 22901, NULL, 0);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, large_values_in_update_old_rows)
{
    srv_db *db = load("\"cdc\": { \"capture\": \"immediate\" },");
    srv_conn *c = login(db);
    ok(c, "CREATE TABLE docs (id int NOT NULL PRIMARY KEY, body nvarchar(max), tag varchar(10))");
    ok(c, "EXEC sys.sp_cdc_enable_table N'dbo', N'docs', NULL");
    ok(c, "INSERT INTO docs VALUES (1, N'long text', 'a')");
    ok(c, "UPDATE docs SET tag = 'b' WHERE id = 1");
    ok(c, "UPDATE docs SET body = N'longer text' WHERE id = 1");
    ok(c, "DELETE FROM docs WHERE id = 1");
    char v[4096];
    /* documented: (max) columns are NULL in update-old rows unless they changed; deletes keep them */
    all_rows(c, "SELECT __$operation, body, tag FROM cdc.dbo_docs_CT", v, sizeof v);
    cr_assert_str_eq(v, "2|long text|a\n3|NULL|a\n4|long text|b\n3|long text|b\n4|longer text|b\n1|longer text|b\n");
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, source_ddl_after_enabling)
{
    srv_db *db = load("\"cdc\": { \"tables\": [ { \"name\": \"t\" } ] },");
    srv_conn *c = login(db);
    char v[4096];
    ok(c, "UPDATE t SET qty = 12 WHERE id = 1"); /* not captured yet when the heap is rebuilt below */
    ok(c, "ALTER TABLE t ADD note nvarchar(10)");
    ok(c, "UPDATE t SET note = N'n', qty = 13 WHERE id = 1");
    ok(c, "EXEC sys.sp_cdc_scan");
    /* documented: the change table keeps its definition; added columns are not captured */
    res r;
    run(c, "SELECT * FROM cdc.dbo_t_CT", &r);
    cr_assert_str_eq(r.cols[0], "__$start_lsn|__$end_lsn|__$seqval|__$operation|__$update_mask|id|name|qty|__$command_id");
    res_free(&r);
    all_rows(c, "SELECT __$operation, id, name, qty FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3|1|one|10\n4|1|one|12\n3|1|one|12\n4|1|one|13\n");
    ok(c, "ALTER TABLE t ALTER COLUMN qty bigint");
    ok(c, "UPDATE t SET qty = 14 WHERE id = 1");
    ok(c, "EXEC sys.sp_cdc_scan");
    all_rows(c, "SELECT __$operation, id, qty FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3|1|10\n4|1|12\n3|1|12\n4|1|13\n3|1|NULL\n4|1|NULL\n");
    srv_conn_free(c);
    srv_db_free(db);
}

Test(cdc, help_and_capture_mode)
{
    srv_db *db = load("\"cdc\": { \"tables\": [ { \"name\": \"t\", \"captured_column_list\": \"id, qty\" } ] },");
    srv_conn *c = login(db);
    char v[4096];
    all_rows(c, "EXEC sys.sp_cdc_help_change_data_capture", v, sizeof v);
    cr_assert(strstr(v, "dbo|t|dbo_t|"), "%s", v);
    cr_assert(strstr(v, "|[id]|[id], [qty]\n"), "%s", v);
    all_rows(c, "EXEC sys.sp_cdc_help_change_data_capture @source_schema = N'dbo', @source_name = N'nokey'", v, sizeof v);
    cr_assert_str_eq(v, "");
    fails(c, "EXEC sys.sp_cdc_help_change_data_capture @source_schema = N'dbo'", 22972, NULL, 0);
    /* switch to immediate capture at run time, and back */
    ok(c, "INSERT INTO t VALUES (3, N'x', 3)");
    all_rows(c, "SELECT id FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "");
    ok(c, "EXEC tdstestd_cdc_capture @mode = N'immediate'");
    all_rows(c, "SELECT id FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3\n", "switching to immediate captures what was committed");
    ok(c, "INSERT INTO t VALUES (4, N'y', 4)");
    all_rows(c, "SELECT id FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3\n4\n");
    ok(c, "EXEC tdstestd_cdc_capture @mode = N'scan'");
    ok(c, "INSERT INTO t VALUES (5, N'z', 5)");
    all_rows(c, "SELECT id FROM cdc.dbo_t_CT", v, sizeof v);
    cr_assert_str_eq(v, "3\n4\n");
    fails(c, "EXEC tdstestd_cdc_capture @mode = N'sometimes'", 50000, NULL, 0);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ bulk load */

/* INSERT BULK into t of rows (id, "b<id>", id * 10); returns the
 * reply's first error number (0: none). */
static int32_t bulk(srv_conn *c, const int *ids, size_t n)
{
    res r;
    run(c, "INSERT BULK t ([id] int, [name] nvarchar(40), [qty] int) WITH (TABLOCK)", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    res_free(&r);
    tds_column cols[3];
    tds_column_init(&cols[0], TDS_T_INTN, 4, 0, 0);
    tds_column_init(&cols[1], TDS_T_NVARCHAR, 80, 0, 0);
    tds_column_init(&cols[2], TDS_T_INTN, 4, 0, 0);
    cr_assert_eq(srv_bulk_columns(c, cols, 3), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t id[4] = { (uint8_t)ids[i], 0, 0, 0 }, qty[4] = { (uint8_t)(ids[i] * 10), 0, 0, 0 };
        uint8_t name[4] = { 'b', 0, (uint8_t)('0' + ids[i]), 0 };
        tds_value v[3] = { { id, 4, 0 }, { name, 4, 0 }, { qty, 4, 0 } };
        cr_assert_eq(srv_bulk_row(c, cols, v, 3), 0);
    }
    run_cursor(srv_bulk_end(c), &r);
    int32_t e = r.nerr ? r.err[0] : 0;
    res_free(&r);
    return e;
}

/* Rows loaded with INSERT BULK into a captured table are captured as
 * inserts (SQL Server reads them from the log like any insert): one
 * commit for an autocommit load, the transaction's for one inside BEGIN
 * TRAN; a rejected or rolled-back load leaves nothing. */
Test(cdc, bulk_load_is_captured)
{
    srv_db *db = load("");
    srv_conn *c = login(db);
    ok(c, "EXEC sys.sp_cdc_enable_db");
    ok(c, ENABLE_T);
    static const int a[] = { 3, 4 }, dup[] = { 5, 1 }, rolled[] = { 6 }, kept[] = { 7 };
    cr_assert_eq(bulk(c, a, 2), 0);
    cr_assert_eq(bulk(c, dup, 2), 2627, "a duplicate rejects the load");
    ok(c, "BEGIN TRAN");
    cr_assert_eq(bulk(c, rolled, 1), 0);
    ok(c, "ROLLBACK");
    ok(c, "BEGIN TRAN");
    cr_assert_eq(bulk(c, kept, 1), 0);
    ok(c, "UPDATE t SET qty = 71 WHERE id = 7");
    ok(c, "COMMIT");
    ok(c, "EXEC sys.sp_cdc_scan");
    res r;
    run(c, "SELECT __$operation, id, name, qty FROM cdc.fn_cdc_get_all_changes_dbo_t(sys.fn_cdc_get_min_lsn('dbo_t'), "
           "sys.fn_cdc_get_max_lsn(), N'all')", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.nrows[0], 4);
    cr_assert_str_eq(r.rows[0][0], "2|3|b3|30");
    cr_assert_str_eq(r.rows[0][1], "2|4|b4|40");
    cr_assert_str_eq(r.rows[0][2], "2|7|b7|70");
    cr_assert_str_eq(r.rows[0][3], "4|7|b7|71");
    res_free(&r);
    /* one load, one transaction: its rows share the commit LSN */
    run(c, "SELECT __$start_lsn FROM cdc.dbo_t_CT ORDER BY __$seqval", &r);
    cr_assert_eq(r.nrows[0], 5);
    cr_assert_str_eq(r.rows[0][0], r.rows[0][1]);
    cr_assert_str_neq(r.rows[0][1], r.rows[0][2]);
    cr_assert_str_eq(r.rows[0][2], r.rows[0][4]);
    res_free(&r);
    char v[256];
    one(c, "SELECT COUNT(*) FROM t", v, sizeof v);
    cr_assert_str_eq(v, "5", "1, 2, 3, 4, 7");
    srv_conn_free(c);
    srv_db_free(db);
}
