/*
 * test_query_sub.c — tdstestd's subqueries, CTEs, ROW_NUMBER, OR/NOT/
 * EXISTS conditions and UPDATE … FROM, run through srv_exec_batch and
 * decoded by a client-role session (the harness of test_query.c, cut to
 * rows, errors and DONE counts). Expected values are worked out from SQL
 * Server's documented semantics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "engine.h"
#include "query_int.h"

#ifndef TDSTESTD_SCENARIOS
#define TDSTESTD_SCENARIOS "tests/server/scenarios"
#endif

typedef struct reply {
    char rows[8192];          /* every row of every set: "v|v\n" */
    int nerr;
    int32_t err;
    char errmsg[512];
    int ndone;
    uint64_t done_count[64];
} reply;

static srv_db *db_;
static srv_conn *c_;

static void setup(void)
{
    char err[256] = "";
    db_ = srv_db_load(TDSTESTD_SCENARIOS "/demo.json", err, sizeof err);
    cr_assert(db_, "%s", err);
    srv_login_req req = { .user = "sa", .password = "Passw0rd!" };
    srv_error e;
    cr_assert(srv_login(db_, &req, &c_, &e), "login: %s", e.message);
}

static void teardown(void)
{
    srv_conn_free(c_);
    srv_db_free(db_);
}

static void run(const char *sql, reply *r)
{
    memset(r, 0, sizeof *r);
    srv_cursor *cur = srv_exec_batch(c_, sql, strlen(sql));
    cr_assert(cur);
    tds_session_opts so = { .role = TDS_ROLE_SERVER }, co = { .role = TDS_ROLE_CLIENT };
    tds_session *srv = tds_session_new(&so), *cli = tds_session_new(&co);
    size_t o = 0;
    for (int steps = 0;; steps++) {
        int rc = srv_cursor_step(cur, srv, 1024);
        const uint8_t *buf;
        size_t len, off = 0;
        tds_send_buf(srv, &buf, &len);
        while (off < len) {
            ptrdiff_t n = tds_feed(cli, buf + off, len - off);
            cr_assert(n >= 0);
            off += (size_t)n;
            tds_event ev;
            int e;
            while ((e = tds_next(cli, &ev)) == 1) {
                if (ev.type == TDS_EV_ROW) {
                    for (int i = 0; i < ev.u.row.ncols; i++) {
                        char text[512];
                        size_t tl = 0;
                        if (ev.u.row.values[i].flags & TDS_VF_NULL)
                            snprintf(text, sizeof text, "NULL");
                        else
                            cr_assert(tds_value_text(&ev.u.row.cols[i], &ev.u.row.values[i], text, sizeof text, &tl) >= 0);
                        o += (size_t)snprintf(r->rows + o, sizeof r->rows - o, "%s%s", i ? "|" : "", text);
                    }
                    o += (size_t)snprintf(r->rows + o, sizeof r->rows - o, "\n");
                } else if (ev.type == TDS_EV_ERROR && !r->nerr++) {
                    r->err = ev.u.msg.number;
                    snprintf(r->errmsg, sizeof r->errmsg, "%s", ev.u.msg.message.ptr);
                } else if (ev.type == TDS_EV_DONE && r->ndone < 64) {
                    r->done_count[r->ndone++] = ev.u.done.rowcount;
                }
            }
            cr_assert_eq(e, 0);
        }
        tds_send_ack(srv, len);
        if (rc != SRV_MORE)
            break;
        cr_assert(steps < 1000000);
    }
    tds_session_free(srv);
    tds_session_free(cli);
    srv_cursor_free(cur);
}

static void ok(const char *sql, reply *r)
{
    run(sql, r);
    cr_assert_eq(r->nerr, 0, "%s: %d %s", sql, r->err, r->errmsg);
}

static void expect_rows(const char *sql, const char *want)
{
    reply r;
    ok(sql, &r);
    cr_assert_str_eq(r.rows, want, "%s", sql);
}

static void expect_err(const char *sql, int32_t num, const char *msg)
{
    reply r;
    run(sql, &r);
    cr_assert_eq(r.err, num, "%s: got %d %s", sql, r.err, r.errmsg);
    if (msg)
        cr_assert_str_eq(r.errmsg, msg);
}

TestSuite(sub, .init = setup, .fini = teardown);

/* a stage with duplicate and case-folded text keys, in load order */
static void stage(void)
{
    reply r;
    ok("CREATE TABLE st (k nvarchar(10) NOT NULL, v int NULL, o bigint NOT NULL);"
       "INSERT INTO st (k, v, o) VALUES (N'a', 1, 1), (N'b', 2, 2), (N'A', 3, 3), (N'c', NULL, 4), (N'b ', 5, 5), (N'a', 6, 0)",
       &r);
}

Test(sub, row_number_partitions_fold_case_and_trailing_blanks)
{
    stage();
    /* 'a', 'A' and 'a' share a partition (case-insensitive collation);
     * so do 'b' and 'b ' (trailing blanks ignored) */
    expect_rows("SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY o DESC) AS rn FROM st ORDER BY o",
                "a|6|3\na|1|2\nb|2|2\nA|3|1\nc|NULL|1\nb |5|1\n");
    /* no PARTITION BY: one partition; ASC puts NULL first */
    expect_rows("SELECT v, row_number() over (order by v) FROM st AS s ORDER BY o",
                "6|6\n1|2\n2|3\n3|4\nNULL|1\n5|5\n");
}

Test(sub, derived_table_and_cte_latest_row_per_key)
{
    stage();
    const char *want = "A|3\nb |5\nc|NULL\n";
    expect_rows("SELECT k, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY o DESC) AS rn FROM st) AS x"
                " WHERE rn = 1 ORDER BY k", want);
    expect_rows("WITH [w] AS (SELECT [s].*, ROW_NUMBER() OVER (PARTITION BY [s].[k] ORDER BY [s].[o] DESC) AS [rn] FROM st AS [s])"
                " SELECT [w].[k], [w].[v] FROM [w] WHERE [w].[rn] = 1 ORDER BY [w].[k]", want);
    /* a later CTE reads an earlier one */
    expect_rows("WITH a AS (SELECT k, o FROM st WHERE v > 1), b AS (SELECT k FROM a WHERE o < 4 AND o > 0) SELECT k FROM b ORDER BY k",
                "A\nb\n");
    /* the CTE is gone after its statement */
    expect_err("WITH w AS (SELECT k FROM st) SELECT k FROM w; SELECT k FROM w", 208, "Invalid object name 'w'.");
}

Test(sub, exists_correlated)
{
    stage();
    reply r;
    ok("CREATE TABLE t (k nvarchar(10) NOT NULL PRIMARY KEY, v int NULL); INSERT INTO t (k, v) VALUES (N'A', 10), (N'z', 26)", &r);
    expect_rows("SELECT k FROM t WHERE EXISTS (SELECT 1 FROM st WHERE st.k = t.k)", "A\n");
    expect_rows("SELECT k FROM t WHERE NOT EXISTS (SELECT 1 FROM st WHERE st.k = t.k)", "z\n");
    /* an unqualified name binds to the innermost query that has it */
    expect_rows("SELECT k FROM t WHERE EXISTS (SELECT 1 FROM st WHERE st.v = 6 AND o = 0 AND k = t.k)", "A\n");
    /* the sorted-lookup answer (qualified equalities) and the row-by-row
     * one (unqualified names) agree, NULLs included */
    expect_rows("SELECT o FROM st WHERE EXISTS (SELECT 1 FROM st AS i WHERE i.v = st.v AND i.o > 2) ORDER BY o", "3\n5\n");
    expect_rows("SELECT o FROM st WHERE EXISTS (SELECT 1 FROM st AS i WHERE v = st.v AND o > 2) ORDER BY o", "3\n5\n");
    expect_rows("SELECT o FROM st WHERE NOT EXISTS (SELECT 1 FROM st AS i WHERE i.v = st.v AND i.o > 2) ORDER BY o",
                "0\n1\n2\n4\n");
    expect_rows("SELECT o FROM st WHERE NOT EXISTS (SELECT 1 FROM st AS i WHERE v = st.v AND o > 2) ORDER BY o",
                "0\n1\n2\n4\n");
    expect_rows("SELECT k FROM t WHERE EXISTS (SELECT 1 FROM st WHERE st.k = t.k AND st.o = 3)", "A\n");
    expect_rows("SELECT k FROM t WHERE EXISTS (SELECT 1 FROM st WHERE st.k = t.k AND st.o = 2)", "");
    ok("DELETE FROM t WHERE EXISTS (SELECT 1 FROM st WHERE st.k = t.k)", &r);
    cr_assert_eq(r.done_count[0], 1);
    expect_rows("SELECT k, v FROM t", "z|26\n");
}

Test(sub, or_not_three_valued)
{
    stage();
    /* v = NULL is unknown: NOT unknown stays unknown (row c never shows) */
    expect_rows("SELECT k FROM st WHERE NOT (v = 1 OR v > 4) ORDER BY o", "b\nA\n");
    expect_rows("SELECT k FROM st WHERE v IS NULL OR (v > 2 AND (k = N'a' OR o = 5)) ORDER BY o", "a\nA\nc\nb \n");
    expect_rows("SELECT k FROM st WHERE v NOT BETWEEN 2 AND 5 ORDER BY o", "a\na\n");
    expect_rows("SELECT k FROM st WHERE NOT v IS NULL AND NOT o >= 2 ORDER BY o", "a\na\n");
}

/* equality joins go through a sorted key index: the same rows, in the
 * nested loop's order, NULL never equal */
Test(sub, equality_join_rows_and_order)
{
    stage();
    expect_rows("SELECT s.o, x.o FROM st AS s JOIN st AS x ON x.k = s.k AND x.o <> s.o",
                "1|3\n1|0\n2|5\n3|1\n3|0\n5|2\n0|1\n0|3\n");
    expect_rows("SELECT s.o, x.o FROM st AS s LEFT JOIN st AS x ON x.v = s.v", "1|1\n2|2\n3|3\n4|NULL\n5|5\n0|0\n");
    expect_rows("SELECT s.o, x.o FROM st AS s LEFT JOIN st AS x ON s.v = x.v AND x.o <> s.o",
                "1|NULL\n2|NULL\n3|NULL\n4|NULL\n5|NULL\n0|NULL\n");
    expect_rows("SELECT s.o FROM st AS s JOIN st AS x ON x.o = 3 AND x.k = s.k", "1\n3\n0\n");
}

Test(sub, update_from_join)
{
    stage();
    reply r;
    ok("CREATE TABLE t (k nvarchar(10) NOT NULL PRIMARY KEY, v int NULL); INSERT INTO t (k, v) VALUES (N'a', 10), (N'z', 26)", &r);
    ok("WITH w AS (SELECT s.*, ROW_NUMBER() OVER (PARTITION BY s.k ORDER BY s.o DESC) AS rn FROM st AS s)"
       " UPDATE [t] SET [v] = [w].[v] FROM t AS [t] JOIN [w] ON [t].[k] = [w].[k] WHERE [w].[rn] = 1", &r);
    cr_assert_eq(r.done_count[0], 1);
    expect_rows("SELECT k, v FROM t ORDER BY k", "a|3\nz|26\n");
    /* without the rn filter three staged rows match 'a': updated once */
    ok("UPDATE t SET v = s.o FROM t JOIN st AS s ON s.k = t.k", &r);
    cr_assert_eq(r.done_count[0], 1);
    expect_err("UPDATE x SET v = 1 FROM t JOIN st ON st.k = t.k", 50000, NULL);
}

Test(sub, insert_select_reads_the_table_as_it_was)
{
    stage();
    reply r;
    ok("CREATE TABLE t (k nvarchar(10) NOT NULL PRIMARY KEY, v int NULL)", &r);
    /* both 'a' rows pass NOT EXISTS (the SELECT runs before the insert):
     * the second violates the key and the statement inserts nothing */
    expect_err("INSERT INTO t (k, v) SELECT k, v FROM st WHERE o < 2 AND NOT EXISTS (SELECT 1 FROM t AS x WHERE x.k = st.k)",
               2627, NULL);
    expect_rows("SELECT COUNT(*) FROM t", "0\n");
    ok("WITH w AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY o DESC) AS rn FROM st)"
       " INSERT INTO t (k, v) SELECT w.k, w.v FROM w WHERE w.rn = 1 AND NOT EXISTS (SELECT 1 FROM t WHERE t.k = w.k)", &r);
    cr_assert_eq(r.done_count[0], 3);
    expect_rows("SELECT k, v FROM t ORDER BY k", "A|3\nb |5\nc|NULL\n");
}

Test(sub, errors_are_sql_servers)
{
    stage();
    expect_err("SELECT * FROM (SELECT k, ROW_NUMBER() OVER (ORDER BY o) FROM st) AS x", 8155,
               "No column name was specified for column 2 of 'x'.");
    expect_err("SELECT * FROM (SELECT k, k FROM st) AS x", 8156, "The column 'k' was specified multiple times for 'x'.");
    expect_err("SELECT ROW_NUMBER() OVER (PARTITION BY k) FROM st", 4112, NULL);
    expect_err("SELECT RANK() OVER (ORDER BY k) FROM st", 102, NULL);
    expect_err("WITH a AS (SELECT k FROM st), a AS (SELECT k FROM st) SELECT k FROM a", 239, NULL);
    expect_err("SELECT k FROM st WHERE v = (SELECT MAX(v) FROM st)", 156, NULL); /* no scalar subqueries */
    expect_err("SELECT * FROM (SELECT k FROM st)", 102, NULL);
    expect_err("WITH a AS (SELECT k FROM st) TRUNCATE TABLE st", 156, NULL);
    /* a CTE hides the table of its name: writing to it is not the table */
    expect_err("WITH st AS (SELECT k FROM st) INSERT INTO st (k) VALUES (N'q')", 4406, NULL);
    expect_err("WITH w AS (SELECT k, ROW_NUMBER() OVER (ORDER BY k) AS rn FROM st) UPDATE w SET k = N'q' FROM w", 4421, NULL);
    expect_rows("SELECT COUNT(*) FROM st", "6\n");
    expect_err("SELECT k FROM st WHERE EXISTS (SELECT 1 FROM st AS i WHERE i.nope = st.k)", 207, NULL);
    /* nesting is bounded as in SQL Server (and the parser's stack with it) */
    char deep[4096] = "SELECT k FROM st WHERE ";
    for (int i = 0; i < 300; i++)
        strcat(deep, "NOT ");
    strcat(deep, "v = 1");
    expect_err(deep, 191, NULL);
    char ok_depth[4096] = "SELECT k FROM st WHERE ";
    for (int i = 0; i < 100; i++)
        strcat(ok_depth, "NOT ");
    strcat(ok_depth, "v = 1 ORDER BY o");
    expect_rows(ok_depth, "a\n"); /* an even count of NOTs: v = 1 */
    /* a type name longer than any type: a syntax error, not a crash */
    expect_err("SELECT CAST(1 AS aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa(1, 2))", 102, NULL);
}
