/*
 * test_query.c — the query half end to end without a network: a batch (or
 * RPC) goes through srv_exec_batch/srv_exec_rpc, the cursor writes its
 * reply into a server-role tds_session with a small budget (so streaming
 * and resumption are exercised), and the bytes are decoded by a
 * client-role tds_session. Assertions are on decoded values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "engine.h"
#include "query_int.h"

#ifndef TDSTESTD_SCENARIOS
#define TDSTESTD_SCENARIOS "tests/server/scenarios"
#endif

/* ------------------------------------------------------------ harness */

typedef struct reply {
    int nsets;
    int ncols[16];
    char cols[16][512];       /* "a|b|c" */
    int nrows[16];
    char *rows[16];           /* "v|v|v\n" per row */
    size_t rows_len[16];
    int nerr;
    int32_t err[16];
    char errmsg[16][512];
    uint8_t errclass[16];
    int ninfo;
    int32_t info[16];
    int ndone;
    uint16_t done_status[32];
    uint64_t done_count[32];
    uint8_t done_token[32];
    int nenv;
    uint8_t env_type[8];
    char env_new[8][128];
    int32_t retstatus;
    int messages;             /* reply messages seen */
} reply;

static srv_db *load(const char *name)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/%s", TDSTESTD_SCENARIOS, name);
    srv_db *db = srv_db_load(path, err, sizeof err);
    cr_assert(db, "load %s: %s", name, err);
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

static void row_append(reply *r, int set, const char *s)
{
    size_t n = strlen(s);
    r->rows[set] = realloc(r->rows[set], r->rows_len[set] + n + 1);
    memcpy(r->rows[set] + r->rows_len[set], s, n + 1);
    r->rows_len[set] += n;
}

static void drain(srv_cursor *cur, reply *r, size_t budget)
{
    tds_session_opts so = { .role = TDS_ROLE_SERVER };
    tds_session_opts co = { .role = TDS_ROLE_CLIENT };
    tds_session *srv = tds_session_new(&so), *cli = tds_session_new(&co);
    memset(r, 0, sizeof *r);
    int steps = 0;
    for (;;) {
        int rc = srv_cursor_step(cur, srv, budget);
        steps++;
        const uint8_t *buf;
        size_t len;
        tds_send_buf(srv, &buf, &len);
        size_t off = 0;
        while (off < len) {
            ptrdiff_t n = tds_feed(cli, buf + off, len - off);
            cr_assert(n >= 0, "feed: %s", tds_strerror((int)n));
            off += (size_t)n;
            tds_event ev;
            int e;
            while ((e = tds_next(cli, &ev)) == 1) {
                switch (ev.type) {
                case TDS_EV_COLMETADATA: {
                    int k = r->nsets++;
                    r->ncols[k] = ev.u.colmeta.ncols;
                    size_t o = 0;
                    for (int i = 0; i < ev.u.colmeta.ncols; i++)
                        o += (size_t)snprintf(r->cols[k] + o, sizeof r->cols[k] - o, "%s%s", i ? "|" : "",
                                              ev.u.colmeta.cols[i].name.ptr ? ev.u.colmeta.cols[i].name.ptr : "");
                    break;
                }
                case TDS_EV_ROW: {
                    int k = r->nsets - 1;
                    r->nrows[k]++;
                    for (int i = 0; i < ev.u.row.ncols; i++) {
                        char text[40000];
                        size_t tl = 0;
                        if (ev.u.row.values[i].flags & TDS_VF_NULL) {
                            snprintf(text, sizeof text, "NULL");
                        } else {
                            int vr = tds_value_text(&ev.u.row.cols[i], &ev.u.row.values[i], text, sizeof text, &tl);
                            if (vr < 0)
                                snprintf(text, sizeof text, "<%s>", tds_strerror(vr));
                        }
                        if (i)
                            row_append(r, k, "|");
                        row_append(r, k, text);
                    }
                    row_append(r, k, "\n");
                    break;
                }
                case TDS_EV_ERROR:
                    if (r->nerr < 16) {
                        r->errclass[r->nerr] = ev.u.msg.severity;
                        snprintf(r->errmsg[r->nerr], 512, "%s", ev.u.msg.message.ptr);
                        r->err[r->nerr++] = ev.u.msg.number;
                    }
                    break;
                case TDS_EV_INFO:
                    if (r->ninfo < 16)
                        r->info[r->ninfo++] = ev.u.msg.number;
                    break;
                case TDS_EV_DONE:
                    if (r->ndone < 32) {
                        r->done_status[r->ndone] = ev.u.done.status;
                        r->done_token[r->ndone] = ev.token;
                        r->done_count[r->ndone++] = ev.u.done.rowcount;
                    }
                    break;
                case TDS_EV_ENVCHANGE:
                    if (r->nenv < 8) {
                        r->env_type[r->nenv] = ev.u.env.type;
                        snprintf(r->env_new[r->nenv++], 128, "%s", ev.u.env.new_text.ptr ? ev.u.env.new_text.ptr : "");
                    }
                    break;
                case TDS_EV_RETURNSTATUS:
                    r->retstatus = ev.u.return_status;
                    break;
                case TDS_EV_MESSAGE_END:
                    r->messages++;
                    break;
                default:
                    break;
                }
            }
            cr_assert(e == 0, "tds_next: %s at %llu", tds_strerror(e), (unsigned long long)tds_error_offset(cli));
        }
        tds_send_ack(srv, len);
        if (rc != SRV_MORE)
            break;
        cr_assert(steps < 10000000);
    }
    tds_session_free(srv);
    tds_session_free(cli);
}

static void reply_free(reply *r)
{
    for (int i = 0; i < 16; i++)
        free(r->rows[i]);
}

static void run(srv_conn *c, const char *sql, reply *r)
{
    srv_cursor *cur = srv_exec_batch(c, sql, strlen(sql));
    cr_assert(cur);
    drain(cur, r, 1024);
    srv_cursor_free(cur);
}

static const char *rows(reply *r, int set) { return r->rows[set] ? r->rows[set] : ""; }

/* ------------------------------------------------------------ basics */

Test(query, version_and_set)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "SET NOCOUNT ON; SET ANSI_NULLS ON SET TEXTSIZE 2147483647\nSELECT @@VERSION", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.nsets, 1);
    cr_assert(strstr(rows(&r, 0), "Microsoft SQL Server 2022"), "%s", rows(&r, 0));
    cr_assert(strstr(rows(&r, 0), "(tdstestd)"));
    cr_assert_eq(r.ndone, 4);
    for (int i = 0; i < 3; i++)
        cr_assert(r.done_status[i] & TDS_DONE_MORE);
    cr_assert_eq(r.done_status[3] & (TDS_DONE_MORE | TDS_DONE_COUNT), 0); /* NOCOUNT ON */
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, select_where_order_top)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "select id, name, email from dbo.customers where id >= 2 order by id desc", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(r.cols[0], "id|name|email");
    cr_assert_str_eq(rows(&r, 0), "3|Zoë Ünicode 😀|zoe@example.com\n2|Grace Hopper|NULL\n");
    cr_assert_eq(r.done_status[0], TDS_DONE_COUNT);
    cr_assert_eq(r.done_count[0], 2);
    reply_free(&r);
    run(c, "SELECT TOP (2) [order_id], amount FROM demo.sales.orders WHERE customer_id = 2 AND order_id BETWEEN 1 AND 100 ORDER BY order_id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    /* customer_id(i) = 1 + (i mod 3): 2 at i = 1, 4 → order_id 2, 5; amount = (100 + 37 i)/100 */
    cr_assert_str_eq(rows(&r, 0), "2|1.37\n5|2.48\n");
    reply_free(&r);
    run(c, "select name from customers where email is null", &r);
    cr_assert_str_eq(rows(&r, 0), "Grace Hopper\n");
    reply_free(&r);
    run(c, "select count(*), min(id), max(name) from customers", &r);
    cr_assert_str_eq(rows(&r, 0), "3|1|Zoë Ünicode 😀\n");
    reply_free(&r);
    run(c, "select count(*) from sales.orders", &r);
    cr_assert_str_eq(rows(&r, 0), "1000\n");
    reply_free(&r);
    run(c, "select count(*) from sales.orders where amount is null", &r);
    cr_assert_str_eq(rows(&r, 0), "20\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, errors)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "select * from nope", &r);
    cr_assert_eq(r.nerr, 1);
    cr_assert_eq(r.err[0], 208);
    cr_assert_str_eq(r.errmsg[0], "Invalid object name 'nope'.");
    cr_assert(r.done_status[r.ndone - 1] & TDS_DONE_ERROR);
    reply_free(&r);
    run(c, "select bogus from customers", &r);
    cr_assert_eq(r.err[0], 207);
    cr_assert_str_eq(r.errmsg[0], "Invalid column name 'bogus'.");
    reply_free(&r);
    run(c, "selec 1", &r);
    cr_assert_eq(r.err[0], 102);
    cr_assert_eq(r.errclass[0], 15);
    cr_assert_str_eq(r.errmsg[0], "Incorrect syntax near 'selec'.");
    reply_free(&r);
    run(c, "select * from customers where", &r);
    cr_assert_eq(r.err[0], 156);
    reply_free(&r);
    run(c, "select * from customers order", &r);
    cr_assert_eq(r.err[0], 156);
    cr_assert_str_eq(r.errmsg[0], "Incorrect syntax near the keyword 'order'.");
    reply_free(&r);
    /* a statement error does not stop the batch; the reply still ends */
    run(c, "exec nothing_here; select 1 as one", &r);
    cr_assert_eq(r.err[0], 2812);
    cr_assert_str_eq(rows(&r, 0), "1\n");
    cr_assert(r.done_status[0] & TDS_DONE_ERROR);
    cr_assert(r.done_status[0] & TDS_DONE_MORE);
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, use_and_rules)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "USE master", &r);
    cr_assert_eq(r.nenv, 1);
    cr_assert_eq(r.env_type[0], TDS_ENV_DATABASE);
    cr_assert_str_eq(r.env_new[0], "master");
    cr_assert_eq(r.info[0], 5701);
    cr_assert_str_eq(srv_conn_database(c), "master");
    reply_free(&r);
    run(c, "use nodb", &r);
    cr_assert_eq(r.err[0], 911);
    reply_free(&r);
    run(c, "use demo", &r);
    reply_free(&r);
    run(c, "select name from sys.server_principals", &r);
    cr_assert_str_eq(rows(&r, 0), "sa\nreader\n");
    reply_free(&r);
    run(c, "exec dbo.failing_proc", &r);
    cr_assert_eq(r.err[0], 50001);
    reply_free(&r);
    run(c, "update legacy set x = 1", &r);
    cr_assert_eq(r.done_count[0], 42);
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, fmtonly)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "SET FMTONLY ON select * from sales.orders SET FMTONLY OFF", &r);
    cr_assert_eq(r.nerr, 0);
    cr_assert_eq(r.nsets, 1);
    cr_assert_str_eq(r.cols[0], "order_id|customer_id|amount|placed_at|note");
    cr_assert_eq(r.nrows[0], 0);
    reply_free(&r);
    run(c, "select count(*) from sales.orders", &r);
    cr_assert_str_eq(rows(&r, 0), "1000\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, catalog)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "SELECT COLUMN_NAME, DATA_TYPE, IS_NULLABLE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE "
           "FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = 'sales' AND TABLE_NAME = N'orders' ORDER BY ORDINAL_POSITION", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0),
                     "order_id|bigint|NO|NULL|19|0\n"
                     "customer_id|int|NO|NULL|10|0\n"
                     "amount|decimal|YES|NULL|12|2\n"
                     "placed_at|datetime2|YES|NULL|NULL|NULL\n"
                     "note|nvarchar|YES|-1|NULL|NULL\n");
    reply_free(&r);
    run(c, "SELECT kcu.COLUMN_NAME FROM INFORMATION_SCHEMA.TABLE_CONSTRAINTS tc "
           "JOIN INFORMATION_SCHEMA.KEY_COLUMN_USAGE kcu ON tc.CONSTRAINT_NAME = kcu.CONSTRAINT_NAME "
           "AND tc.TABLE_SCHEMA = kcu.TABLE_SCHEMA AND tc.TABLE_NAME = kcu.TABLE_NAME "
           "WHERE tc.CONSTRAINT_TYPE = 'PRIMARY KEY' AND tc.TABLE_SCHEMA = 'dbo' AND tc.TABLE_NAME = 'customers' "
           "ORDER BY kcu.ORDINAL_POSITION", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "id\n");
    reply_free(&r);
    run(c, "SELECT c.name, t.name AS type_name, c.max_length, c.precision, c.scale, c.is_nullable "
           "FROM sys.columns c JOIN sys.types t ON c.user_type_id = t.user_type_id "
           "WHERE c.object_id = OBJECT_ID('dbo.customers') ORDER BY c.column_id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "id|int|4|10|0|0\nname|nvarchar|200|0|0|0\nemail|varchar|200|0|0|1\ncreated|datetime2|7|23|3|1\n");
    reply_free(&r);
    run(c, "SELECT c.name FROM sys.indexes i JOIN sys.index_columns ic ON i.object_id = ic.object_id AND i.index_id = ic.index_id "
           "JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id "
           "JOIN sys.tables t ON t.object_id = i.object_id JOIN sys.schemas s ON s.schema_id = t.schema_id "
           "WHERE i.is_primary_key = 1 AND s.name = 'sales' AND t.name = 'orders' ORDER BY ic.key_ordinal", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "order_id\n");
    reply_free(&r);
    run(c, "select TABLE_SCHEMA, TABLE_NAME from INFORMATION_SCHEMA.TABLES order by TABLE_NAME", &r);
    cr_assert_str_eq(rows(&r, 0), "dbo|customers\nsales|orders\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ streaming */

Test(query, narrow_streams_and_cancels)
{
    srv_db *db = load("narrow.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "select top 3 * from narrow order by id desc", &r);
    /* big(i) = i * 1000003, name = "name-" + (1 + i), val = i / 4 */
    cr_assert_str_eq(rows(&r, 0), "1000000|1000001999997|name-1000000|249999.75\n"
                                  "999999|1000000999994|name-999999|249999.5\n"
                                  "999998|999999999991|name-999998|249999.25\n");
    reply_free(&r);
    const char *q = "select * from narrow";
    srv_cursor *cur = srv_exec_batch(c, q, strlen(q));
    tds_session_opts so = { .role = TDS_ROLE_SERVER };
    tds_session *s = tds_session_new(&so);
    cr_assert_eq(srv_cursor_step(cur, s, 8192), SRV_MORE);
    size_t pending = tds_send_pending(s);
    cr_assert(pending >= 8192 && pending < 8192 + 200, "%zu", pending);
    srv_cursor_cancel(cur);
    cr_assert_eq(srv_cursor_step(cur, s, 8192), SRV_DONE);
    srv_cursor_free(cur);
    tds_session_free(s);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, attention_reply_decodes)
{
    srv_db *db = load("narrow.json");
    srv_conn *c = login(db);
    const char *q = "select * from narrow";
    srv_cursor *cur = srv_exec_batch(c, q, strlen(q));
    srv_cursor_cancel(cur);
    reply r;
    drain(cur, &r, 4096);
    cr_assert_eq(r.done_status[r.ndone - 1], TDS_DONE_ATTN);
    cr_assert_eq(r.messages, 2);
    reply_free(&r);
    srv_cursor_free(cur);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, alltypes_roundtrip)
{
    srv_db *db = load("alltypes.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "select * from alltypes order by id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.ncols[0], 34);
    cr_assert_eq(r.nrows[0], 23);
    /* edge rows */
    cr_assert(strstr(rows(&r, 0), "1000001|1|255|32767|2147483647|9223372036854775807|"), "%.300s", strstr(rows(&r, 0), "1000001"));
    cr_assert(strstr(rows(&r, 0), "|922337203685477.5807|9999999999999999999999999999.9999999999|9999999.99|2079-06-06 23:59:00|9999-12-31 23:59:59.997|9999-12-31|23:59:59.9999999|9999-12-31 23:59:59.9999999|9999-12-31 23:59:59|2024-02-29 12:34:56.1234567 -08:00|FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF|ABCDEFGHIJ|héllo wörld|"));
    cr_assert(strstr(rows(&r, 0), "1000002|0|0|-32768|-2147483648|-9223372036854775808|"));
    cr_assert(strstr(rows(&r, 0), "|-922337203685477.5808|"));
    cr_assert(strstr(rows(&r, 0), "1000003|NULL|NULL|"));
    cr_assert(strstr(rows(&r, 0), "日本語 😀 é"));
    /* generated row 0: id 1 */
    cr_assert(strstr(rows(&r, 0), "1|1|1|1|1|1|0.25|0.25|0.0100|0.0100|0.0000000001|0.01|2020-01-01 01:02:00|2020-01-01 01:02:03.123|"), "%.200s", rows(&r, 0));
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ DML / DDL / transactions */

Test(query, ddl_dml_transactions)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "CREATE TABLE dbo.t1 (id int NOT NULL, v nvarchar(10) NULL, CONSTRAINT PK_t1 PRIMARY KEY (id))", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    reply_free(&r);
    run(c, "insert into t1 (id, v) values (1, N'a'), (2, 'b'), (3, NULL)", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.done_count[0], 3);
    reply_free(&r);
    run(c, "insert into t1 values (2, 'dup')", &r);
    cr_assert_eq(r.err[0], 2627);
    cr_assert_str_eq(r.errmsg[0], "Violation of PRIMARY KEY constraint 'PK_t1'. Cannot insert duplicate key in object 'dbo.t1'. The duplicate key value is (2).");
    reply_free(&r);
    run(c, "insert into t1 (v) values ('x')", &r);
    cr_assert_eq(r.err[0], 515);
    reply_free(&r);
    run(c, "insert into t1 values (9, 'much too long')", &r);
    cr_assert_eq(r.err[0], 2628);
    reply_free(&r);
    run(c, "update t1 set v = 'B' where id = 2; delete from t1 where id = 3; select * from t1 order by id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "1|a\n2|B\n");
    reply_free(&r);
    run(c, "BEGIN TRAN; insert into t1 values (10, 'x'); delete from t1 where id = 1; ROLLBACK", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.env_type[0], TDS_ENV_BEGIN_TRAN);
    cr_assert_eq(r.env_type[1], TDS_ENV_ROLLBACK_TRAN);
    reply_free(&r);
    run(c, "select id from t1 order by id", &r);
    cr_assert_str_eq(rows(&r, 0), "1\n2\n");
    reply_free(&r);
    run(c, "begin transaction; insert into t1 values (11, 'y'); commit transaction; select count(*) from t1", &r);
    cr_assert_str_eq(rows(&r, 0), "3\n");
    reply_free(&r);
    run(c, "commit", &r);
    cr_assert_eq(r.err[0], 3902);
    reply_free(&r);
    run(c, "create table stage (id int not null primary key, v nvarchar(10))", &r);
    reply_free(&r);
    run(c, "insert into stage values (1, 'A1'), (50, 'new')", &r);
    reply_free(&r);
    run(c, "MERGE dbo.t1 AS tgt USING dbo.stage AS src ON tgt.id = src.id "
           "WHEN MATCHED THEN UPDATE SET tgt.v = src.v WHEN NOT MATCHED THEN INSERT (id, v) VALUES (src.id, src.v);", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.done_count[0], 2);
    reply_free(&r);
    run(c, "select * from t1 order by id", &r);
    cr_assert_str_eq(rows(&r, 0), "1|A1\n2|B\n11|y\n50|new\n");
    reply_free(&r);
    run(c, "insert into t1 select id + 0, v from stage", &r);
    cr_assert_eq(r.err[0], 102); /* arithmetic is not in the subset */
    reply_free(&r);
    run(c, "truncate table stage; insert into stage values (60, 's'); insert into t1 select id, v from stage; select count(*) from t1", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "5\n");
    reply_free(&r);
    run(c, "exec sp_rename 'dbo.stage', 'stage2'; select * from stage2", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "60|s\n");
    reply_free(&r);
    run(c, "drop table stage2; drop table if exists stage2; drop table stage2", &r);
    cr_assert_eq(r.nerr, 1);
    cr_assert_eq(r.err[0], 3701);
    reply_free(&r);
    run(c, "create schema etl; create table etl.x (a int); create table etl.x (a int)", &r);
    cr_assert_eq(r.err[0], 2714);
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ALTER TABLE … ADD / ALTER COLUMN as SQL Server does them: new columns
 * read NULL in old rows; widening keeps every value; a value the new type
 * cannot hold fails the statement (2628, 8115) and changes nothing; a key
 * column cannot change (5074 then 4922); a NOT NULL column cannot be added
 * to a table with rows (4901). */
Test(query, alter_table_add_and_alter_column)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "CREATE TABLE dbo.a1 (id int NOT NULL, n int NULL, s varchar(10) NULL, d decimal(10,2) NULL, "
           "CONSTRAINT PK_a1 PRIMARY KEY (id)); INSERT INTO a1 VALUES (1, 10, 'abc', 1.50), (2, NULL, 'de', 2.25)", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    reply_free(&r);
    run(c, "ALTER TABLE dbo.a1 ADD [extra] nvarchar(20) NULL, x2 int; SELECT * FROM a1 ORDER BY id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "1|10|abc|1.50|NULL|NULL\n2|NULL|de|2.25|NULL|NULL\n");
    reply_free(&r);
    run(c, "ALTER TABLE a1 ALTER COLUMN n bigint NULL; ALTER TABLE a1 ALTER COLUMN s varchar(50) COLLATE "
           "SQL_Latin1_General_CP1_CI_AS NULL; ALTER TABLE a1 ALTER COLUMN d decimal(18,2) NULL; "
           "INSERT INTO a1 (id, n, s, d) VALUES (3, 3000000000, 'a string longer than ten', 12345678901.25); "
           "SELECT DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION FROM INFORMATION_SCHEMA.COLUMNS "
           "WHERE TABLE_NAME = N'a1' ORDER BY ORDINAL_POSITION", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "int|NULL|10\nbigint|NULL|19\nvarchar|50|NULL\ndecimal|NULL|18\nnvarchar|20|NULL\nint|NULL|10\n");
    reply_free(&r);
    run(c, "ALTER TABLE a1 ALTER COLUMN s varchar(5)", &r);
    cr_assert_eq(r.err[0], 2628, "%s", r.errmsg[0]);
    reply_free(&r);
    run(c, "ALTER TABLE a1 ALTER COLUMN n int", &r);
    cr_assert_eq(r.err[0], 8115, "%s", r.errmsg[0]);
    reply_free(&r);
    run(c, "ALTER TABLE a1 ALTER COLUMN id bigint NOT NULL", &r);
    cr_assert_eq(r.nerr, 2);
    cr_assert_eq(r.err[0], 5074);
    cr_assert_eq(r.err[1], 4922);
    reply_free(&r);
    run(c, "ALTER TABLE a1 ADD y int NOT NULL", &r);
    cr_assert_eq(r.err[0], 4901);
    reply_free(&r);
    run(c, "ALTER TABLE a1 ADD n int", &r);
    cr_assert_eq(r.err[0], 2705);
    reply_free(&r);
    run(c, "ALTER TABLE a1 ALTER COLUMN nope int", &r);
    cr_assert_eq(r.err[0], 4924);
    reply_free(&r);
    run(c, "ALTER TABLE nope ADD z int", &r);
    cr_assert_eq(r.err[0], 4902);
    reply_free(&r);
    /* the failed statements changed nothing; the key still finds rows */
    run(c, "SELECT id, n, s FROM a1 ORDER BY id; INSERT INTO a1 (id) VALUES (3)", &r);
    cr_assert_str_eq(rows(&r, 0), "1|10|abc\n2|NULL|de\n3|3000000000|a string longer than ten\n");
    cr_assert_eq(r.err[0], 2627);
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ bulk */

Test(query, bulk_load)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "create table b (id int not null primary key, s nvarchar(5) not null)", &r);
    reply_free(&r);
    run(c, "INSERT BULK b ([id] int, [s] nvarchar(5) COLLATE Latin1_General_CI_AS) WITH (TABLOCK)", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    reply_free(&r);
    tds_column cols[2];
    tds_column_init(&cols[0], TDS_T_INTN, 4, 0, 0);
    tds_column_init(&cols[1], TDS_T_NVARCHAR, 10, 0, 0);
    cr_assert_eq(srv_bulk_columns(c, cols, 2), 0);
    uint8_t i1[4] = { 1, 0, 0, 0 }, i2[4] = { 2, 0, 0, 0 };
    uint8_t s1[4] = { 'h', 0, 'i', 0 };
    tds_value v[2] = { { i1, 4, 0 }, { s1, 4, 0 } };
    cr_assert_eq(srv_bulk_row(c, cols, v, 2), 0);
    v[0].ptr = i2;
    cr_assert_eq(srv_bulk_row(c, cols, v, 2), 0);
    srv_cursor *cur = srv_bulk_end(c);
    drain(cur, &r, 4096);
    srv_cursor_free(cur);
    cr_assert_eq(r.nerr, 0);
    cr_assert_eq(r.done_count[0], 2);
    reply_free(&r);
    /* a duplicate rejects the whole batch */
    run(c, "insert bulk b (id int, s nvarchar(5))", &r);
    reply_free(&r);
    srv_bulk_columns(c, cols, 2);
    uint8_t i3[4] = { 3, 0, 0, 0 };
    v[0].ptr = i3;
    srv_bulk_row(c, cols, v, 2);
    v[0].ptr = i1;
    srv_bulk_row(c, cols, v, 2);
    cur = srv_bulk_end(c);
    drain(cur, &r, 4096);
    srv_cursor_free(cur);
    cr_assert_eq(r.err[0], 2627);
    reply_free(&r);
    /* NULL into NOT NULL */
    run(c, "insert bulk b (id int, s nvarchar(5))", &r);
    reply_free(&r);
    srv_bulk_columns(c, cols, 2);
    v[0].ptr = i3;
    v[1].flags = TDS_VF_NULL;
    srv_bulk_row(c, cols, v, 2);
    cur = srv_bulk_end(c);
    drain(cur, &r, 4096);
    srv_cursor_free(cur);
    cr_assert_eq(r.err[0], 515);
    reply_free(&r);
    run(c, "select * from b order by id", &r);
    cr_assert_str_eq(rows(&r, 0), "1|hi\n2|hi\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ change tracking */

Test(query, change_tracking)
{
    srv_db *db = load("ct.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "SELECT CHANGE_TRACKING_CURRENT_VERSION(), CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('dbo.orders'))", &r);
    cr_assert_str_eq(rows(&r, 0), "0|0\n");
    reply_free(&r);
    run(c, "select d.database_id from sys.change_tracking_databases d where d.database_id = DB_ID(); "
           "select t.object_id from sys.change_tracking_tables t where t.object_id = OBJECT_ID('[dbo].[orders]')", &r);
    cr_assert_eq(r.nrows[0], 1);
    cr_assert_eq(r.nrows[1], 1);
    reply_free(&r);
    run(c, "insert into orders values (4, 'dave', 1.00, '2024-02-01')", &r);          /* v1 */
    reply_free(&r);
    run(c, "update orders set amount = 11.00 where id = 1", &r);                     /* v2 */
    reply_free(&r);
    run(c, "update orders set amount = 5.00 where id = 4", &r);                      /* v3: I+U → I */
    reply_free(&r);
    run(c, "delete from orders where id = 2", &r);                                   /* v4 */
    reply_free(&r);
    run(c, "insert into orders values (5, 'eve', 2, null); delete from orders where id = 5", &r); /* v5, v6: I+D → D */
    reply_free(&r);
    run(c, "SELECT ct.SYS_CHANGE_VERSION, ct.SYS_CHANGE_CREATION_VERSION, ct.SYS_CHANGE_OPERATION, ct.id, t.customer, t.amount "
           "FROM CHANGETABLE(CHANGES dbo.orders, 0) AS ct LEFT JOIN dbo.orders AS t ON t.id = ct.id "
           "ORDER BY ct.SYS_CHANGE_VERSION, ct.id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "2|NULL|U|1|alice|11.00\n3|1|I|4|dave|5.00\n4|NULL|D|2|NULL|NULL\n6|NULL|D|5|NULL|NULL\n");
    reply_free(&r);
    run(c, "select SYS_CHANGE_OPERATION, id from changetable(changes orders, 3) ct order by id", &r);
    cr_assert_str_eq(rows(&r, 0), "D|2\nD|5\n");
    reply_free(&r);
    run(c, "exec tdstestd_ct_cleanup @min_valid = 4; select CHANGE_TRACKING_MIN_VALID_VERSION(OBJECT_ID('orders')), CHANGE_TRACKING_CURRENT_VERSION()", &r);
    cr_assert_str_eq(rows(&r, 0), "4|6\n");
    reply_free(&r);
    run(c, "select * from changetable(changes dbo.untracked, 0) as c", &r);
    cr_assert_eq(r.err[0], 22105);
    reply_free(&r);
    run(c, "SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN; SELECT CHANGE_TRACKING_CURRENT_VERSION(); select count(*) from orders; COMMIT", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 1), "3\n");
    reply_free(&r);
    run(c, "use nosnap; SET TRANSACTION ISOLATION LEVEL SNAPSHOT; BEGIN TRAN; select * from t", &r);
    cr_assert_eq(r.err[0], 3952);
    reply_free(&r);
    run(c, "rollback; use ctdb; alter table nokey enable change_tracking", &r);
    cr_assert_eq(r.err[0], 4997);
    reply_free(&r);
    run(c, "alter table untracked enable change_tracking; insert into untracked values (2, 'y'); "
           "select SYS_CHANGE_OPERATION, id from changetable(changes untracked, 0) c", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "I|2\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* ------------------------------------------------------------ rpc and faults */

Test(query, sp_executesql)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    tds_param p[3];
    memset(p, 0, sizeof p);
    const char *sql = "select name from customers where id = @id";
    tds_column_init(&p[0].col, TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    p[0].value.ptr = (const uint8_t *)sql;
    p[0].value.len = (uint32_t)strlen(sql);
    p[0].value.flags = TDS_VF_UTF8;
    const char *decl = "@id int";
    tds_column_init(&p[1].col, TDS_T_NVARCHAR, 0xFFFF, 0, 0);
    p[1].value.ptr = (const uint8_t *)decl;
    p[1].value.len = (uint32_t)strlen(decl);
    p[1].value.flags = TDS_VF_UTF8;
    uint8_t two[4] = { 2, 0, 0, 0 };
    p[2].name = "@id";
    tds_column_init(&p[2].col, TDS_T_INTN, 4, 0, 0);
    p[2].value.ptr = two;
    p[2].value.len = 4;
    tds_rpc_decoded rpc = { .proc_id = TDS_PROC_SP_EXECUTESQL };
    srv_cursor *cur = srv_exec_rpc(c, &rpc, p, 3);
    reply r;
    drain(cur, &r, 4096);
    srv_cursor_free(cur);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "Grace Hopper\n");
    cr_assert_eq(r.done_token[0], TDS_TOK_DONEINPROC);
    cr_assert_eq(r.done_token[r.ndone - 1], TDS_TOK_DONEPROC);
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, faults)
{
    srv_db *db = load("narrow.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "exec tdstestd_fault @error_after_rows = 5", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    reply_free(&r);
    run(c, "select * from narrow; select 1", &r);
    cr_assert_eq(r.nrows[0], 5);
    cr_assert_eq(r.err[0], 50000);
    cr_assert_eq(r.nsets, 1);
    reply_free(&r);
    run(c, "exec tdstestd_fault @close_after_rows = 3, @close_after_bytes = 100, @drip = 1", &r);
    reply_free(&r);
    cr_assert_eq(srv_conn_faults(c)->close_after_bytes, 100);
    cr_assert(srv_conn_faults(c)->drip);
    const char *q = "select * from narrow";
    srv_cursor *cur = srv_exec_batch(c, q, strlen(q));
    tds_session_opts so = { .role = TDS_ROLE_SERVER };
    tds_session *s = tds_session_new(&so);
    cr_assert_eq(srv_cursor_step(cur, s, 1 << 20), SRV_CLOSE);
    srv_cursor_free(cur);
    tds_session_free(s);
    run(c, "exec tdstestd_fault", &r);
    reply_free(&r);
    cr_assert_eq(srv_conn_faults(c)->close_after_bytes, 0);
    srv_conn_free(c);
    srv_db_free(db);
}

Test(query, login_checks)
{
    srv_db *db = load("demo.json");
    srv_conn *c = NULL;
    srv_error e;
    srv_login_req bad = { .user = "sa", .password = "wrong" };
    cr_assert_not(srv_login(db, &bad, &c, &e));
    cr_assert_eq(e.number, 18456);
    cr_assert_str_eq(e.message, "Login failed for user 'sa'.");
    srv_login_req nodb = { .user = "sa", .password = "Passw0rd!", .database = "nope" };
    cr_assert_not(srv_login(db, &nodb, &c, &e));
    cr_assert_eq(e.number, 4060);
    srv_login_req tok = { .token = "eyJ0eXAi" };
    cr_assert(srv_login(db, &tok, &c, &e));
    cr_assert_str_eq(srv_conn_database(c), "demo");
    srv_conn_free(c);
    cr_assert_eq(srv_db_settings(db)->version, 0x10001013u);
    srv_db_free(db);
}

/* ------------------------------------------------------------ regressions */

/* freebcp probes `SET FMTONLY ON select * from <empty table>` before `in`:
 * an empty stored table has no row list yet (it crashed the server). */
Test(query, fmtonly_empty_table)
{
    srv_db *db = load("regress.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "SET FMTONLY ON select * from regress.dbo.empty_t SET FMTONLY OFF", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.nsets, 1);
    cr_assert_str_eq(r.cols[0], "id|v");
    cr_assert_eq(r.nrows[0], 0);
    reply_free(&r);
    run(c, "select * from empty_t", &r);
    cr_assert_eq(r.nerr, 0);
    cr_assert_eq(r.nrows[0], 0);
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* Big integers in scenario JSON are exact (cJSON alone reads doubles), and
 * a (max) binary value given as 0x… hex keeps every byte. */
Test(query, scenario_bigint_and_long_hex)
{
    srv_db *db = load("regress.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "select id, b, d from big order by id", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0),
                     "1|9223372036854775807|12345678901234567890123456789012345678\n"
                     "2|-9223372036854775808|-99999999999999999999999999999999999999\n"
                     "3|9007199254740993|1\n");
    reply_free(&r);
    run(c, "select vb from big where id = 1", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    const char *v = rows(&r, 0);
    size_t n = strlen(v);
    cr_assert_eq(n, 2 + 18000 + 1, "length %zu", n); /* 0x + 9000 bytes + \n */
    for (size_t k = 0; k < 9000; k++) {
        char hx[3];
        snprintf(hx, sizeof hx, "%02X", (unsigned)(k % 251));
        cr_assert(v[2 + 2 * k] == hx[0] && v[3 + 2 * k] == hx[1], "byte %zu", k);
    }
    reply_free(&r);
    run(c, "select vb from big where id = 2", &r);
    cr_assert_str_eq(rows(&r, 0), "0x\n");
    reply_free(&r);
    run(c, "select b from gen_big", &r);
    cr_assert_str_eq(rows(&r, 0), "9223372036854775806\n9223372036854775807\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* A malformed scenario value is refused with a reason, not truncated. */
Test(query, scenario_bad_hex_refused)
{
    char path[] = "/tmp/tdstestd_badhex_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *j = "{\"databases\":[{\"name\":\"x\",\"tables\":[{\"name\":\"t\",\"columns\":"
                    "[{\"name\":\"v\",\"type\":\"varbinary(10)\"}],\"data\":[[\"0xZZ\"]]}]}]}";
    cr_assert_eq(write(fd, j, strlen(j)), (ssize_t)strlen(j));
    close(fd);
    char err[256] = "";
    srv_db *db = srv_db_load(path, err, sizeof err);
    unlink(path);
    cr_assert_null(db);
    cr_assert(strstr(err, "'v'"), "%s", err);
}

/* freebcp sends char(n)/binary(n) trimmed and several columns in types the
 * table does not use (each needing conversion): the stored row is padded
 * and every converted column fits (a too small conversion budget rejected
 * the 7th converted column with 4815). */
Test(query, bulk_fixed_padding_and_many_conversions)
{
    srv_db *db = load("demo.json");
    srv_conn *c = login(db);
    reply r;
    run(c, "create table p (c char(10), n nchar(4), b binary(4), "
           "a1 bigint, a2 bigint, a3 bigint, a4 bigint, a5 bigint, a6 bigint, a7 bigint, a8 bigint)", &r);
    reply_free(&r);
    run(c, "insert bulk p (c char(10), n nchar(4), b binary(4), a1 bigint, a2 bigint, a3 bigint, "
           "a4 bigint, a5 bigint, a6 bigint, a7 bigint, a8 bigint)", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    reply_free(&r);
    tds_column cols[11];
    tds_column_init(&cols[0], TDS_T_BIGCHAR, 10, 0, 0);
    tds_column_init(&cols[1], TDS_T_NCHAR, 8, 0, 0);
    tds_column_init(&cols[2], TDS_T_BIGBINARY, 4, 0, 0);
    for (int k = 3; k < 11; k++)
        tds_column_init(&cols[k], TDS_T_INTN, 4, 0, 0); /* int sent for bigint: converted */
    uint8_t cv[3] = { 'a', 'b', 'c' }, nv[2] = { 'x', 0 }, bv[2] = { 0xDE, 0xAD };
    uint8_t iv[8][4];
    tds_value v[11] = { { cv, 3, 0 }, { nv, 2, 0 }, { bv, 2, 0 } };
    for (int k = 0; k < 8; k++) {
        iv[k][0] = (uint8_t)(k + 1);
        iv[k][1] = iv[k][2] = iv[k][3] = 0;
        v[3 + k].ptr = iv[k];
        v[3 + k].len = 4;
    }
    cr_assert_eq(srv_bulk_columns(c, cols, 11), 0);
    cr_assert_eq(srv_bulk_row(c, cols, v, 11), 0);
    srv_cursor *cur = srv_bulk_end(c);
    drain(cur, &r, 4096);
    srv_cursor_free(cur);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_eq(r.done_count[0], 1);
    reply_free(&r);
    run(c, "select * from p", &r);
    cr_assert_str_eq(rows(&r, 0), "abc       |x   |0xDEAD0000|1|2|3|4|5|6|7|8\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* The precomputed generator plans (the streaming hot path) make exactly
 * the bytes srv_gen_value makes, in order and out of order, with one output
 * buffer per column reused, and with the tight srv_genplan_cap and another
 * buffer each row, as the stream's batches do. */
Test(query, genplan_matches_gen_value)
{
    static const char *files[] = { "alltypes.json", "narrow.json", "demo.json", "regress.json" };
    uint8_t *want = malloc(1 << 20);
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        srv_db *db = load(files[f]);
        for (size_t d = 0; d < db->ndbs; d++)
            for (size_t k = 0; k < db->dbs[d]->ntables; k++) {
                srv_table *t = db->dbs[d]->tables[k];
                if (!t->generated)
                    continue;
                for (uint16_t c = 0; c < t->ncols; c++) {
                    srv_genplan p, q;
                    srv_genplan_init(&p, &t->cols[c]);
                    srv_genplan_init(&q, &t->cols[c]);
                    size_t cap = srv_gen_cap(&t->cols[c]);
                    uint8_t *got = malloc(cap);
                    /* batches: the tight cap, a different buffer each row */
                    size_t qcap = srv_genplan_cap(&q);
                    cr_assert_leq(qcap, cap);
                    uint8_t *ring = malloc(3 * qcap + 1);
                    uint64_t i = 0;
                    for (int step = 0; step < 3000; step++) {
                        /* sequential, with jumps (and back) now and then */
                        i = step % 500 == 499 ? i * 7 + 13 : step % 777 == 0 ? i / 3 : i + 1;
                        uint32_t a = srv_gen_value(&t->cols[c], c, i, want, cap);
                        uint32_t b = srv_genplan_value(&p, i, got, cap);
                        cr_assert_eq(a, b, "%s %s.%s row %llu: length %u, plan %u", files[f], t->name,
                                     t->cols[c].name, (unsigned long long)i, a, b);
                        if (a != SRV_NULL_LEN)
                            cr_assert(!memcmp(want, got, a), "%s %s.%s row %llu", files[f], t->name,
                                      t->cols[c].name, (unsigned long long)i);
                        uint8_t *r = ring + (size_t)(step % 3) * qcap;
                        uint32_t e = srv_genplan_value(&q, i, r, qcap);
                        cr_assert_eq(a, e, "%s %s.%s row %llu: length %u, batch plan %u", files[f], t->name,
                                     t->cols[c].name, (unsigned long long)i, a, e);
                        if (a != SRV_NULL_LEN)
                            cr_assert(!memcmp(want, r, a), "%s %s.%s row %llu (batch)", files[f], t->name,
                                      t->cols[c].name, (unsigned long long)i);
                    }
                    free(got);
                    free(ring);
                }
            }
        srv_db_free(db);
    }
    free(want);
}

/* ------------------------------------------------------------ README example */

/* scenarios/shop.json is the README's "Writing a scenario" example: what
 * the README shows it answering, it answers. */
Test(query, readme_shop_example)
{
    srv_db *db = load("shop.json");
    srv_login_req req = { .user = "app", .password = "app-pass" };
    srv_conn *c = NULL;
    srv_error e;
    cr_assert(srv_login(db, &req, &c, &e), "login: %s", e.message);
    cr_assert_str_eq(srv_conn_database(c), "shop");
    reply r;
    run(c, "select * from dbo.products", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(r.cols[0], "sku|title|price|added");
    cr_assert_str_eq(rows(&r, 0), "A-1|Tea, green|3.50|2024-05-01\nB-2|Café au lait|4.20|NULL\n");
    reply_free(&r);
    run(c, "select count(*) from sales.events; select top 3 id, kind, label from sales.events", &r);
    cr_assert_str_eq(rows(&r, 0), "100000\n");
    cr_assert_str_eq(rows(&r, 1), "1|1|ev-1\n2|2|ev-2\n3|3|ev-3\n");
    reply_free(&r);
    run(c, "exec dbo.nightly_job", &r);
    cr_assert_eq(r.ninfo, 1);
    cr_assert_eq(r.info[0], 50000);
    cr_assert_eq(r.done_count[r.ndone - 1], 12);
    reply_free(&r);
    run(c, "select 1/0", &r);                     /* the rule fires once */
    cr_assert_eq(r.nerr, 1);
    cr_assert_eq(r.err[0], 8134);
    reply_free(&r);
    run(c, "select 1/0", &r);                     /* then the parser answers */
    cr_assert_eq(r.nerr, 1);
    cr_assert_eq(r.err[0], 102);
    reply_free(&r);
    run(c, "UPDATE dbo.products SET price = 3.75 WHERE sku = 'A-1'", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    reply_free(&r);
    run(c, "SELECT CHANGE_TRACKING_CURRENT_VERSION(); "
           "SELECT ct.SYS_CHANGE_OPERATION, ct.sku, p.price FROM CHANGETABLE(CHANGES dbo.products, 0) AS ct "
           "LEFT JOIN dbo.products p ON p.sku = ct.sku", &r);
    cr_assert_eq(r.nerr, 0, "%s", r.errmsg[0]);
    cr_assert_str_eq(rows(&r, 0), "1\n");
    cr_assert_str_eq(rows(&r, 1), "U|A-1|3.75\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
}

/* The built-in demo loads from memory exactly as demo.json loads from
 * its file (srv_db_load_text is what tdstestd calls without --scenario). */
Test(query, scenario_from_text)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/demo.json", TDSTESTD_SCENARIOS);
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    char text[8192];
    size_t n = fread(text, 1, sizeof text, f);
    fclose(f);
    cr_assert(n > 0 && n < sizeof text);
    srv_db *db = srv_db_load_text(text, n, "demo text", err, sizeof err);
    cr_assert(db, "%s", err);
    srv_conn *c = login(db);
    reply r;
    run(c, "select id, email from dbo.customers order by id", &r);
    cr_assert_str_eq(rows(&r, 0), "1|ada@example.com\n2|NULL\n3|zoe@example.com\n");
    reply_free(&r);
    srv_conn_free(c);
    srv_db_free(db);
    /* a broken text is refused with the name it was given */
    cr_assert_null(srv_db_load_text("{ \"databases\": [ ", 17, "demo text", err, sizeof err));
    cr_assert(strstr(err, "demo text"), "%s", err);
}
