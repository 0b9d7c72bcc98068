/*
 * test_mssql.c — sink/mssql.c against build/tdstestd (started here): the
 * edge-value table of rows.h (every kind, minima, maxima, NULLs, large
 * (max) values) round-trips exactly with its types; strategies; aborted
 * and rejected loads keep the old table; state written in the load's
 * transaction; the incremental maximum; sink_options.cancel stops a load
 * (no signal handler of the library's own).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "rows.h"

static pid_t srv_pid;
static char uri[256];

static const char scenario[] =
    "{\"server\": {\"name\": \"tdstestd\"},"
    " \"logins\": [{\"user\": \"sa\", \"password\": \"Passw0rd!\", \"database\": \"types\"}],"
    " \"databases\": [{\"name\": \"types\", \"tables\": []}]}";

/* build/tdstestd next to SINK_TEST_TMP's build directory */
static void start_server(void)
{
    char bin[512], scen[512];
    snprintf(bin, sizeof bin, "%s/../tdstestd", SINK_TEST_TMP);
    mkdir(SINK_TEST_TMP, 0755); /* first: "<tmp>/.." resolves only when <tmp> exists */
    if (access(bin, X_OK))
        cr_skip_test("build/tdstestd is not built");
    snprintf(scen, sizeof scen, "%s/mssql-%d.json", SINK_TEST_TMP, (int)getpid());
    FILE *f = fopen(scen, "w");
    cr_assert_not_null(f);
    fputs(scenario, f);
    fclose(f);
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    srv_pid = fork();
    cr_assert_geq(srv_pid, 0);
    if (srv_pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        if (!getenv("SINK_TEST_VERBOSE") && !freopen("/dev/null", "w", stderr))
            _exit(126);
        execl(bin, bin, "--scenario", scen, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    char line[64] = "";
    int port = 0;
    if (fgets(line, sizeof line, in))
        sscanf(line, "port %d", &port);
    fclose(in);
    cr_assert_gt(port, 0, "tdstestd did not start");
    snprintf(uri, sizeof uri, "mssql://sa:Passw0rd%%21@127.0.0.1:%d/types?encrypt=disable", port);
}

static void stop_server(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = 0;
    }
}

TestSuite(mssql, .init = start_server, .fini = stop_server);

/* ---------------------------------------------------------- reading */

typedef struct rd {
    char out[16384];
    tds_column cols[64];
    size_t ncols;
    size_t rows;
} rd;

static int rd_cols(void *ud, const tds_column *c, uint16_t n)
{
    rd *r = ud;
    for (uint16_t i = 0; i < n && i < 64; i++)
        r->cols[i] = c[i];
    r->ncols = n;
    return NET_ROW_NEXT;
}

static int rd_row(void *ud, const tds_column *c, uint16_t n, const tds_value *v)
{
    rd *r = ud;
    r->rows++;
    for (uint16_t i = 0; i < n; i++) {
        char t[512] = "NULL";
        size_t l;
        if (!(v[i].flags & TDS_VF_NULL) && tds_value_text(&c[i], &v[i], t, sizeof t, &l) == TDS_E_SPACE)
            snprintf(t, sizeof t, "<%u bytes>", (unsigned)v[i].len);
        strncat(r->out, i ? "|" : "", sizeof r->out - strlen(r->out) - 1);
        strncat(r->out, t, sizeof r->out - strlen(r->out) - 1);
    }
    strncat(r->out, "\n", sizeof r->out - strlen(r->out) - 1);
    return NET_ROW_NEXT;
}

static void query(const char *sql, rd *r)
{
    memset(r, 0, sizeof *r);
    net_opts o;
    memset(&o, 0, sizeof o);
    char err[256];
    cr_assert_eq(net_opts_from_uri(&o, uri, err, sizeof err), NET_OK, "%s", err);
    net_error e;
    net_client *cl = net_client_open(&o, &e);
    cr_assert_not_null(cl, "%s", e.message);
    net_result_cb cb = {.columns = rd_cols, .row = rd_row};
    cr_assert_eq(net_client_batch(cl, sql, &cb, r, &e), NET_OK, "%s: %s", sql, e.message);
    net_client_close(cl);
    net_opts_free(&o);
}

static void expect_rows(const char *sql, const char *want)
{
    rd r;
    query(sql, &r);
    cr_assert_str_eq(r.out, want, "%s", sql);
}

/* ------------------------------------------------------------ tests */

Test(mssql, every_kind_and_edge_value_round_trips)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "dbo.edge", SINK_REPLACE);
    char msg[512];
    cr_assert_eq(load(uri, &t, rs.vals, NROWS, 2, msg, sizeof msg), 0, "%s", msg);
    rd r;
    query("SELECT * FROM edge ORDER BY id", &r);
    cr_assert_eq(r.ncols, NCOLS);
    cr_assert_eq(r.rows, NROWS);
    /* the same kinds, and every value's canonical text as loaded */
    rd want = {0};
    for (size_t i = 0; i < NCOLS; i++)
        cr_expect_eq(r.cols[i].kind, rs.cols[i].kind, "column %s", rs.names[i]);
    for (size_t row = 0; row < NROWS; row++)
        rd_row(&want, rs.cols, NCOLS, rs.vals + row * NCOLS);
    cr_expect_str_eq(r.out, want.out);
    rows_free(&rs);
}

static void kv_load(const char *table, sink_strategy st, const int *ids, const char *const *texts, size_t n,
                    size_t per)
{
    kv_table k;
    kv_build(&k, ids, texts, n);
    sink_table t = kv_sink_table(&k, table, st);
    char msg[512];
    cr_assert_eq(load(uri, &t, k.vals, n, per, msg, sizeof msg), 0, "%s", msg);
    kv_free(&k);
}

Test(mssql, strategies)
{
    int a[] = {1, 2, 3};
    const char *ta[] = {"a1", "a2", "a3"};
    kv_load("kv", SINK_REPLACE, a, ta, 3, 2);
    expect_rows("SELECT * FROM kv ORDER BY id", "1|a1\n2|a2\n3|a3\n");
    int b[] = {7};
    const char *tb[] = {"b7"};
    kv_load("kv", SINK_REPLACE, b, tb, 1, 1);
    expect_rows("SELECT * FROM kv ORDER BY id", "7|b7\n");
    int c[] = {8, 9};
    const char *tc[] = {"c8", NULL};
    kv_load("kv", SINK_APPEND, c, tc, 2, 1);
    expect_rows("SELECT * FROM kv ORDER BY id", "7|b7\n8|c8\n9|NULL\n");
    int d[] = {8, 10};
    const char *td[] = {"m8", "m10"};
    kv_load("kv", SINK_MERGE, d, td, 2, 1);
    expect_rows("SELECT * FROM kv ORDER BY id", "7|b7\n8|m8\n9|NULL\n10|m10\n");
    int e[] = {9, 8};
    const char *te[] = {"d9", "d8"};
    kv_load("kv", SINK_DELETE_INSERT, e, te, 2, 2);
    expect_rows("SELECT * FROM kv ORDER BY id", "7|b7\n8|d8\n9|d9\n10|m10\n");
    /* a window [8, 10] (both ends included) deletes 10 too */
    kv_table k;
    int f[] = {8};
    const char *tf[] = {"w8"};
    kv_build(&k, f, tf, 1);
    sink_table t = kv_sink_table(&k, "kv", SINK_DELETE_INSERT);
    kv_window(&k, &t, 8, 10);
    char msg[512];
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    expect_rows("SELECT * FROM kv ORDER BY id", "7|b7\n8|w8\n");
    kv_free(&k);
    expect_rows("SELECT COUNT(*) FROM sys.tables WHERE name = '_tdspipe_stage_kv'", "0\n");
}

static void seed(const char *table)
{
    int a[] = {1, 2, 3};
    const char *ta[] = {"a1", "a2", "a3"};
    kv_load(table, SINK_REPLACE, a, ta, 3, 3);
}

Test(mssql, abort_and_rejection_keep_the_old_table)
{
    seed("keep");
    int b[] = {10, 11, 12, 13};
    const char *tb[] = {"n", "n", "n", "n"};
    kv_table k;
    kv_build(&k, b, tb, 4);
    for (int st = SINK_REPLACE; st <= SINK_DELETE_INSERT; st++) {
        sink_table t = kv_sink_table(&k, "keep", (sink_strategy)st);
        load_abort(uri, &t, k.vals, 4, 1, 2);
        expect_rows("SELECT * FROM keep ORDER BY id", "1|a1\n2|a2\n3|a3\n");
    }
    kv_free(&k);
    int c[] = {4, 1};
    const char *tc[] = {"x", "y"};
    kv_build(&k, c, tc, 2);
    sink_table t = kv_sink_table(&k, "keep", SINK_APPEND);
    char msg[512];
    cr_assert_eq(load(uri, &t, k.vals, 2, 1, msg, sizeof msg), SINK_E_DEST);
    cr_assert(strstr(msg, "PRIMARY KEY") && !strchr(msg, '\n'), "%s", msg);
    expect_rows("SELECT * FROM keep ORDER BY id", "1|a1\n2|a2\n3|a3\n");
    kv_free(&k);
}

Test(mssql, state_in_the_same_transaction_and_max_value)
{
    int a[] = {1, 2, 3};
    const char *ta[] = {"x", "y", "z"};
    kv_table k;
    kv_build(&k, a, ta, 3);
    sink_table t = kv_sink_table(&k, "st", SINK_APPEND);
    sink *s;
    char err[256], out[64];
    bool found = true;
    cr_assert_eq(sink_open(uri, NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sink_name(s), "mssql");
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(!found);
    cr_assert_eq(sink_max_value(s, "dbo.st", "id", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(!found, "no table yet");
    cr_assert_eq(sink_begin(s, &t), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_state_set(s, "cursor", "00000000000000000041"), 0);
    cr_assert_eq(sink_state_set(s, "cursor", "00000000000000000042"), 0);
    cr_assert_eq(sink_state_set(s, "it's", "quoted 'value'"), 0);
    sink_batch b = {k.vals, 2};
    cr_assert_eq(sink_append(s, &b), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_commit(s), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(found);
    cr_assert_str_eq(out, "00000000000000000042");
    cr_assert_eq(sink_state_get(s, "it's", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "quoted 'value'");
    cr_assert_eq(sink_max_value(s, "dbo.st", "id", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(found);
    cr_assert_str_eq(out, "2");
    /* an aborted load moves neither data nor state */
    cr_assert_eq(sink_begin(s, &t), 0);
    cr_assert_eq(sink_state_set(s, "cursor", "99"), 0);
    sink_batch b3 = {k.vals + 4, 1};
    cr_assert_eq(sink_append(s, &b3), 0, "%s", sink_errmsg(s));
    sink_abort(s);
    cr_assert_eq(sink_max_value(s, "dbo.st", "id", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert_str_eq(out, "2", "the aborted row is not there");
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert_str_eq(out, "00000000000000000042");
    cr_assert_eq(sink_state_get(s, "nothing", out, sizeof out, &found), 0);
    cr_assert(!found);
    /* a Change Tracking merge needs its columns */
    sink_table ct = kv_sink_table(&k, "st", SINK_MERGE);
    ct.cdc = true;
    cr_assert_eq(sink_begin(s, &ct), SINK_E_ARG);
    cr_assert(strstr(sink_errmsg(s), "_cdc_lsn"), "%s", sink_errmsg(s));
    sink_close(s);
    kv_free(&k);
}

Test(mssql, bad_uri_and_unreachable_server)
{
    sink *s = NULL;
    char err[256];
    cr_assert_eq(sink_open("mssql://sa:SECRETPW@127.0.0.1:1/db?encrypt=sometimes", NULL, &s, err, sizeof err),
                 SINK_E_URI);
    cr_assert(!strstr(err, "SECRETPW"), "%s", err);
    cr_assert_eq(sink_open("sqlserver://sa:SECRETPW@127.0.0.1:1/db?encrypt=disable&connect%20timeout=2", NULL, &s, err,
                           sizeof err),
                 SINK_E_DEST);
    cr_assert(strstr(err, "cannot connect") && !strstr(err, "SECRETPW"), "%s", err);
}

/* ------------------------------------------- merge: duplicates, text keys */

/* A merge whose load repeats keys: the last staged row per key wins
 * (DELETE of the staged keys + INSERT of ROW_NUMBER() = 1 per key). */
Test(mssql, merge_duplicate_keys_last_row_wins)
{
    seed("dup");
    int a[] = {2, 4, 2, 4, 5, 2};
    const char *ta[] = {"x1", "y1", "x2", NULL, "z", "x3"};
    kv_load("dup", SINK_MERGE, a, ta, 6, 4); /* the repeats span batches too */
    expect_rows("SELECT * FROM dup ORDER BY id", "1|a1\n2|x3\n3|a3\n4|NULL\n5|z\n");
    expect_rows("SELECT COUNT(*) FROM sys.tables WHERE name = '_tdspipe_stage_dup'", "0\n");
    /* a target named like the statements' aliases keeps its other rows */
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "t" : "w";
        seed(name);
        kv_load(name, SINK_MERGE, a, ta, 6, 4);
        char q[64];
        snprintf(q, sizeof q, "SELECT * FROM [%s] ORDER BY id", name);
        expect_rows(q, "1|a1\n2|x3\n3|a3\n4|NULL\n5|z\n");
    }
}

/* kv with its nvarchar column as the key (pk = v), or both (id, v) */
static void kv_load_pk(const char *table, const size_t *pk, size_t npk, const int *ids, const char *const *texts,
                       size_t n)
{
    kv_table k;
    kv_build(&k, ids, texts, n);
    k.cols[1].flags = 0; /* a key column is NOT NULL */
    sink_table t = kv_sink_table(&k, table, SINK_MERGE);
    t.pk = pk;
    t.npk = npk;
    char msg[512];
    cr_assert_eq(load(uri, &t, k.vals, n, 2, msg, sizeof msg), 0, "%s", msg);
    kv_free(&k);
}

/* Text keys compare as the server's collation does: 'k', 'K' and 'k '
 * are one key in SQL Server's default (case-insensitive, trailing blanks
 * ignored), so one row remains, the latest staged. */
Test(mssql, merge_text_keys_follow_the_collation)
{
    static const size_t pk[1] = {1};
    int a[] = {1, 2, 3};
    const char *ta[] = {"k", "x", "y"};
    kv_load_pk("tk", pk, 1, a, ta, 3);
    expect_rows("SELECT v, id FROM tk ORDER BY v", "k|1\nx|2\ny|3\n");
    int b[] = {10, 11, 12, 13};
    const char *tb[] = {"K", "z", "k ", "Y"};
    kv_load_pk("tk", pk, 1, b, tb, 4);
    /* the key keeps the text of the row that won (the DELETE + INSERT) */
    expect_rows("SELECT v, id FROM tk ORDER BY v", "k |12\nx|2\nY|13\nz|11\n");
}

Test(mssql, merge_composite_keys)
{
    static const size_t pk[2] = {0, 1};
    int a[] = {1, 1, 2};
    const char *ta[] = {"a", "b", "a"};
    kv_load_pk("ck", pk, 2, a, ta, 3);
    int b[] = {1, 2, 2, 3, 2};
    const char *tb[] = {"b", "a", "b", "a", "A"};
    kv_load_pk("ck", pk, 2, b, tb, 5);
    expect_rows("SELECT id, v FROM ck ORDER BY id, v", "1|a\n1|b\n2|A\n2|b\n3|a\n");
    expect_rows("SELECT COUNT(*) FROM ck", "5\n");
}

/* ------------------------------------------------ Change Tracking merge */

/* rows.c's cdc_sequence rows ("id|v|lsn|deleted|stamp", v "-" for NULL)
 * as this server prints them, read from cdc_table */
static const char *cdc_table = "cdc";
static void cdc_expect(const char *const *want, size_t n)
{
    char buf[1024] = "";
    for (size_t i = 0; i < n; i++) {
        int id, lsn, del, stamp;
        char v[32];
        cr_assert_eq(sscanf(want[i], "%d|%31[^|]|%d|%d|%d", &id, v, &lsn, &del, &stamp), 5);
        size_t o = strlen(buf);
        snprintf(buf + o, sizeof buf - o, "%d|%s|%020d|%d|%d\n", id, strcmp(v, "-") ? v : "NULL", lsn, del, stamp);
    }
    char q[128];
    snprintf(q, sizeof q, "SELECT id, v, _cdc_lsn, _cdc_deleted, stamp FROM [%s] ORDER BY id", cdc_table);
    expect_rows(q, buf);
}

Test(mssql, change_tracking_merge_rules)
{
    cdc_table = "cdc";
    cdc_sequence(uri, "cdc", cdc_expect);
    expect_rows("SELECT COUNT(*) FROM sys.tables WHERE name = '_tdspipe_stage_cdc'", "0\n");
}

/* targets named like the statements' aliases and CTE */
Test(mssql, change_tracking_merge_alias_named_targets)
{
    static const char *const names[] = {"w", "t", "s"};
    for (size_t i = 0; i < 3; i++) {
        cdc_table = names[i];
        cdc_sequence(uri, names[i], cdc_expect);
    }
}

/* Rows loaded before Change Tracking (no version yet) take any change */
Test(mssql, change_tracking_merge_over_unversioned_rows)
{
    rd r;
    query("CREATE TABLE cdc (id int NOT NULL PRIMARY KEY, v nvarchar(20) NULL, _cdc_lsn nvarchar(20) NULL,"
          " _cdc_deleted bit NULL, stamp int NOT NULL);"
          "INSERT INTO cdc (id, v, _cdc_lsn, _cdc_deleted, stamp) VALUES (1, N'p', NULL, NULL, 0), (2, N'q', NULL, NULL, 0)",
          &r);
    static const cdc_row l[] = {{1, "p1", 3, false, 1}, {2, NULL, 3, true, 1}};
    cdc_load(uri, "cdc", l, 2);
    expect_rows("SELECT id, v, _cdc_lsn, _cdc_deleted, stamp FROM cdc ORDER BY id",
                "1|p1|00000000000000000003|0|1\n2|q|00000000000000000003|1|0\n");
}

/* The program's cancel flag (sink_options.cancel, what its own SIGINT
 * handler would set) stops the running request: the load fails, the
 * target stays as it was, and the same sink loads again once it is clear. */
Test(mssql, cancel_flag_stops_the_load)
{
    seed("cancelme");
    static volatile sig_atomic_t flag;
    flag = 0;
    sink_options o = {.cancel = &flag};
    sink *s = NULL;
    char err[256];
    cr_assert_eq(sink_open(uri, &o, &s, err, sizeof err), 0, "%s", err);
    int b[] = {5, 6};
    const char *tb[] = {"c5", "c6"};
    kv_table k;
    kv_build(&k, b, tb, 2);
    sink_table t = kv_sink_table(&k, "cancelme", SINK_REPLACE);
    cr_assert_eq(sink_begin(s, &t), 0, "%s", sink_errmsg(s));
    flag = 1;
    sink_batch bt = {k.vals, 2};
    int rc = sink_append(s, &bt);
    cr_expect_eq(rc, SINK_E_DEST, "%d %s", rc, sink_errmsg(s));
    cr_expect(strstr(sink_errmsg(s), "cancel") != NULL, "%s", sink_errmsg(s));
    sink_abort(s);
    flag = 0;
    expect_rows("SELECT * FROM cancelme ORDER BY id", "1|a1\n2|a2\n3|a3\n");
    cr_assert_eq(sink_begin(s, &t), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_append(s, &bt), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_commit(s), 0, "%s", sink_errmsg(s));
    sink_close(s);
    expect_rows("SELECT * FROM cancelme ORDER BY id", "5|c5\n6|c6\n");
    kv_free(&k);
}

/* --incremental-predicate (sink_table.merge_predicate): MERGE … ON
 * target.id = source.id AND (pred), as ingestr writes it for SQL Server,
 * over the stage reduced to its latest row per key. */
static int kv_merge_pred(const char *table, const char *pred, const int *ids, const char *const *texts, size_t n,
                         char *msg, size_t cap)
{
    kv_table k;
    kv_build(&k, ids, texts, n);
    sink_table t = kv_sink_table(&k, table, SINK_MERGE);
    t.merge_predicate = pred;
    int rc = load(uri, &t, k.vals, n, 2, msg, cap);
    kv_free(&k);
    return rc;
}

Test(mssql, merge_predicate_is_anded_to_the_join)
{
    char msg[512];
    seed("mp");
    int a[] = {1, 4, 4};
    const char *ta[] = {"b1", "first", "b4"};
    cr_assert_eq(kv_merge_pred("mp", "target.v <> 'a3' AND source.v <> 'first'", a, ta, 3, msg, sizeof msg), 0, "%s", msg);
    expect_rows("SELECT * FROM mp ORDER BY id", "1|b1\n2|a2\n3|a3\n4|b4\n");
    /* 3's target row fails the predicate: its staged row is inserted,
     * which the table's primary key refuses (2627); nothing changes */
    int b[] = {3, 2};
    const char *tb[] = {"b3", "b2"};
    cr_assert_eq(kv_merge_pred("mp", "target.v <> 'a3'", b, tb, 2, msg, sizeof msg), SINK_E_DEST, "%s", msg);
    expect_rows("SELECT * FROM mp ORDER BY id", "1|b1\n2|a2\n3|a3\n4|b4\n");
    /* the user's table without a key: 3 ends with two rows */
    rd r;
    query("CREATE TABLE mp_nokey (id int NULL, v nvarchar(20) NULL); INSERT INTO mp_nokey VALUES (1, N'a1'), (3, N'a3')", &r);
    cr_assert_eq(kv_merge_pred("mp_nokey", "target.v <> 'a3'", b, tb, 2, msg, sizeof msg), 0, "%s", msg);
    expect_rows("SELECT * FROM mp_nokey ORDER BY id, v", "1|a1\n2|b2\n3|a3\n3|b3\n");
    expect_rows("SELECT COUNT(*) FROM sys.tables WHERE name = '_tdspipe_stage_mp' OR name = '_tdspipe_stage_mp_nokey'",
                "0\n");
}
