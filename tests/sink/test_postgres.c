/*
 * test_postgres.c — the PostgreSQL sink (sink/postgres.c) against a real
 * server (tests/sink/pg_server.sh gives TDSPIPE_PG_URI), read back through
 * libpq: every type's exact value and declared type, (max) values, each
 * strategy, and failures (abort mid-load, a bad value, a commit that
 * fails) that must leave the previous table as it was.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_int.h"
#include "readback.h"
#include "rows.h"

static const sink_pq_api *pq;
static PGconn *conn;
static char uri[512];

static void setup(void)
{
    const char *u = getenv("TDSPIPE_PG_URI");
    cr_assert(u && *u, "TDSPIPE_PG_URI is not set: run under tests/sink/pg_server.sh");
    snprintf(uri, sizeof uri, "%s", u);
    char err[256];
    pq = sink__pq_load(NULL, err, sizeof err);
    cr_assert_not_null(pq, "%s", err);
    conn = pq->PQconnectdb(uri);
    cr_assert_eq(pq->PQstatus(conn), SINK_PQ_CONNECTION_OK, "%s", pq->PQerrorMessage(conn));
    PGresult *r = pq->PQexec(conn, "SET TimeZone = 'UTC'; SET extra_float_digits = 3; SET client_min_messages = warning");
    pq->PQclear(r);
}

static void teardown(void)
{
    if (conn)
        pq->PQfinish(conn);
}

TestSuite(postgres, .init = setup, .fini = teardown);

/* Runs sql; returns rows as "a|b|c" (NULL "∅"). */
static char **query(const char *sql, size_t *n)
{
    PGresult *r = pq->PQexec(conn, sql);
    cr_assert_eq(pq->PQresultStatus(r), SINK_PGRES_TUPLES_OK, "%s: %s", sql, pq->PQresultErrorMessage(r));
    *n = (size_t)pq->PQntuples(r);
    char **rows = calloc(*n + 1, sizeof *rows);
    int nf = pq->PQnfields(r);
    for (size_t i = 0; i < *n; i++) {
        size_t len = 1;
        for (int c = 0; c < nf; c++)
            len += (size_t)pq->PQgetlength(r, (int)i, c) + 4;
        char *s = malloc(len), *o = s;
        for (int c = 0; c < nf; c++) {
            if (c)
                *o++ = '|';
            const char *v = pq->PQgetisnull(r, (int)i, c) ? "\xe2\x88\x85" : pq->PQgetvalue(r, (int)i, c);
            size_t k = strlen(v);
            memcpy(o, v, k);
            o += k;
        }
        *o = '\0';
        rows[i] = s;
    }
    pq->PQclear(r);
    return rows;
}

static void free_rows(char **rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
}

static void expect(const char *sql, const char *const *want, size_t nwant)
{
    size_t n;
    char **got = query(sql, &n);
    rows_eq(got, n, want, nwant, sql);
    free_rows(got, n);
}

static const char all_cols[] =
    "SELECT id, ti, si, bi, bt, r, f, sm, m, d38, d5, d18, dt, tm, tm3, dtm, sdt, dt2, dt23, dto, g, vc, nc, "
    "nvm, encode(vbm, 'hex'), x FROM ";

static const char *const typed_rows[] = {
    "1|42|-1234|1234567890123|t|0.1|0.1|12.5000|-1234.5678|3.1415926535|-1.50|0|2024-02-29|13:14:15.123457|"
    "13:14:15.123|2024-01-02 03:04:05.997|2024-01-02 03:04:00|2024-01-02 03:04:05.123457|2024-01-02 03:04:05.123|"
    "2024-01-02 08:34:05.123457+00|6f9619ff-8b86-d011-b42d-00c04fc964ff|a,b \"q\"\r\nline2|caf\xc3\xa9      |"
    "tab\there \\ \xf0\x9f\x98\x80 \xe4\xb8\xad\x01|00ff1080|<a b=\"1\">x</a>",
    "2|0|-32768|-9223372036854775808|f|-3.4028235e+38|-1.7976931348623157e+308|-214748.3648|-922337203685477.5808|"
    "-9999999999999999999999999999.9999999999|-999.99|-999999999999999999|0001-01-01|00:00:00|00:00:00|"
    "1753-01-01 00:00:00|1900-01-01 00:00:00|1677-09-22 00:00:00|0001-01-01 00:00:00|0001-01-01 00:00:00+00|"
    "00000000-0000-0000-0000-000000000000||          |||",
    "3|255|32767|9223372036854775807|t|1e-45|5e-324|214748.3647|922337203685477.5807|"
    "9999999999999999999999999999.9999999999|999.99|999999999999999999|9999-12-31|24:00:00|23:59:59.999|"
    "9999-12-31 23:59:59.997|2079-06-06 23:59:00|2262-04-11 00:00:00|9999-12-31 23:59:59.999|10000-01-01 00:00:00+00|"
    "ffffffff-ffff-ffff-ffff-ffffffffffff| lead|\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
    "\xf0\x9f\x98\x80|\"|deadbe|<r/>",
    "4|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|"
    "\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|"
    "\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|\xe2\x88\x85|"
    "\xe2\x88\x85",
};

static const char *const pg_types[] = {
    "integer,smallint,smallint,bigint,boolean,real,double precision,numeric(10,4),numeric(19,4),numeric(38,10),"
    "numeric(5,2),numeric(18,0),date,time(6) without time zone,time(3) without time zone,"
    "timestamp(3) without time zone,timestamp(0) without time zone,timestamp(6) without time zone,"
    "timestamp(3) without time zone,timestamp(6) with time zone,uuid,character varying(50),character varying(10),"
    "text,bytea,text",
};

static void load_ok(const sink_table *t, const tds_value *vals, size_t n, size_t per)
{
    char msg[512];
    int rc = load(uri, t, vals, n, per, msg, sizeof msg);
    cr_assert_eq(rc, 0, "load: %d %s", rc, msg);
}

Test(postgres, every_type_exact_and_declared)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "tdspipe_test.types", SINK_REPLACE);
    load_ok(&t, rs.vals, 4, 3);
    char sql[512];
    snprintf(sql, sizeof sql, "%s tdspipe_test.types ORDER BY id", all_cols);
    expect(sql, typed_rows, 4);
    expect("SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute "
           "WHERE attrelid = 'tdspipe_test.types'::regclass AND attnum > 0 AND NOT attisdropped",
           pg_types, 1);
    /* the key became the primary key */
    static const char *const pk[] = { "id" };
    expect("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
           "WHERE i.indrelid = 'tdspipe_test.types'::regclass AND i.indisprimary", pk, 1);
    rows_free(&rs);
}

Test(postgres, large_max_values)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "big", SINK_REPLACE);
    load_ok(&t, rs.vals + 4 * NCOLS, 1, 1);
    PGresult *r = pq->PQexec(conn, "SELECT nvm, encode(vbm, 'hex') FROM big");
    cr_assert_eq(pq->PQresultStatus(r), SINK_PGRES_TUPLES_OK);
    cr_assert_eq((size_t)pq->PQgetlength(r, 0, 0), rs.big_text_len);
    cr_assert(memcmp(pq->PQgetvalue(r, 0, 0), rs.big_text, rs.big_text_len) == 0);
    const char *hex = pq->PQgetvalue(r, 0, 1);
    cr_assert_eq(strlen(hex), 2 * rs.big_bin_len);
    for (size_t i = 0; i < rs.big_bin_len; i++) {
        char h[3];
        snprintf(h, sizeof h, "%02x", rs.big_bin[i]);
        cr_assert(hex[2 * i] == h[0] && hex[2 * i + 1] == h[1], "byte %zu", i);
    }
    pq->PQclear(r);
    rows_free(&rs);
}

static void kv_load(const char *table, sink_strategy st, const int *ids, const char *const *tx, size_t n, size_t per)
{
    kv_table k;
    kv_build(&k, ids, tx, n);
    sink_table t = kv_sink_table(&k, table, st);
    load_ok(&t, k.vals, n, per);
    kv_free(&k);
}

Test(postgres, strategies)
{
    int a[] = { 1, 2, 3 };
    const char *ta[] = { "a1", "a2", "a3" };
    kv_load("s.kv", SINK_REPLACE, a, ta, 3, 2);
    static const char *const r1[] = { "1|a1", "2|a2", "3|a3" };
    expect("SELECT * FROM s.kv ORDER BY id", r1, 3);

    /* replace again: the old rows go */
    int b[] = { 7 };
    const char *tb[] = { "b7" };
    kv_load("s.kv", SINK_REPLACE, b, tb, 1, 1);
    static const char *const r2[] = { "7|b7" };
    expect("SELECT * FROM s.kv ORDER BY id", r2, 1);

    /* append */
    int c[] = { 8, 9 };
    const char *tc[] = { "c8", NULL };
    kv_load("s.kv", SINK_APPEND, c, tc, 2, 1);
    static const char *const r3[] = { "7|b7", "8|c8", "9|\xe2\x88\x85" };
    expect("SELECT * FROM s.kv ORDER BY id", r3, 3);

    /* merge: update 8, insert 10; key 10 twice in one load, last wins */
    int d[] = { 8, 10, 10 };
    const char *td[] = { "m8", "first", "last" };
    kv_load("s.kv", SINK_MERGE, d, td, 3, 2);
    static const char *const r4[] = { "7|b7", "8|m8", "9|\xe2\x88\x85", "10|last" };
    expect("SELECT * FROM s.kv ORDER BY id", r4, 4);

    /* delete+insert on window 8..9: 8 and 9 go, 8 comes back */
    int e[] = { 9, 8 };
    const char *te[] = { "d9", "d8" };
    kv_load("s.kv", SINK_DELETE_INSERT, e, te, 2, 2);
    static const char *const r5[] = { "7|b7", "8|d8", "9|d9", "10|last" };
    expect("SELECT * FROM s.kv ORDER BY id", r5, 4);

    /* no stage tables left behind */
    static const char *const none[] = { "0" };
    expect("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_tdspipe\\_stage%'", none, 1);
}

Test(postgres, merge_into_new_table_and_append_creates)
{
    int a[] = { 5, 5 };
    const char *ta[] = { "x", "y" };
    kv_load("newmerge", SINK_MERGE, a, ta, 2, 1);
    static const char *const r[] = { "5|y" };
    expect("SELECT * FROM newmerge", r, 1);
    kv_load("newappend", SINK_APPEND, a, ta, 1, 1);
    static const char *const r2[] = { "5|x" };
    expect("SELECT * FROM newappend", r2, 1);
}

static const char *const before[] = { "1|a1", "2|a2", "3|a3" };

static void seed(const char *table)
{
    int a[] = { 1, 2, 3 };
    const char *ta[] = { "a1", "a2", "a3" };
    kv_load(table, SINK_REPLACE, a, ta, 3, 3);
}

Test(postgres, abort_mid_load_keeps_old_table)
{
    seed("keep1");
    int b[] = { 10, 11, 12, 13 };
    const char *tb[] = { "n", "n", "n", "n" };
    kv_table k;
    kv_build(&k, b, tb, 4);
    for (int st = SINK_REPLACE; st <= SINK_DELETE_INSERT; st++) {
        sink_table t = kv_sink_table(&k, "keep1", (sink_strategy)st);
        load_abort(uri, &t, k.vals, 4, 1, 2);
        expect("SELECT * FROM keep1 ORDER BY id", before, 3);
    }
    kv_free(&k);
}

Test(postgres, bad_value_mid_load_keeps_old_table)
{
    seed("keep2");
    int b[] = { 10, 11, 12 };
    const char *tb[] = { "ok", "nul\x01", "ok" };
    kv_table k;
    kv_build(&k, b, tb, 3);
    /* a U+0000 in text: PostgreSQL cannot store it */
    static const uint8_t nul[] = { 'a', 0, 0, 0 };
    k.vals[2 * 1 + 1] = (tds_value){ nul, 4, 0 };
    char msg[512];
    for (int st = SINK_REPLACE; st <= SINK_DELETE_INSERT; st++) {
        sink_table t = kv_sink_table(&k, "keep2", (sink_strategy)st);
        int rc = load(uri, &t, k.vals, 3, 1, msg, sizeof msg);
        cr_assert_eq(rc, SINK_E_VALUE, "%d %s", rc, msg);
        cr_assert(strstr(msg, "column v") != NULL, "%s", msg);
        expect("SELECT * FROM keep2 ORDER BY id", before, 3);
    }
    kv_free(&k);
}

Test(postgres, failing_commit_keeps_old_table)
{
    seed("keep3");
    /* replace with a duplicate key: ADD PRIMARY KEY fails at commit */
    int b[] = { 20, 20 };
    const char *tb[] = { "x", "y" };
    kv_table k;
    kv_build(&k, b, tb, 2);
    sink_table t = kv_sink_table(&k, "keep3", SINK_REPLACE);
    char msg[512];
    int rc = load(uri, &t, k.vals, 2, 1, msg, sizeof msg);
    cr_assert_eq(rc, SINK_E_DEST, "%d %s", rc, msg);
    cr_assert(strstr(msg, "postgresql") != NULL && !strchr(msg, '\n'), "%s", msg);
    expect("SELECT * FROM keep3 ORDER BY id", before, 3);
    /* append of an existing key fails in COPY: nothing of it stays */
    int c[] = { 4, 1 };
    kv_table k2;
    kv_build(&k2, c, tb, 2);
    t = kv_sink_table(&k2, "keep3", SINK_APPEND);
    cr_assert_eq(load(uri, &t, k2.vals, 2, 1, msg, sizeof msg), SINK_E_DEST);
    expect("SELECT * FROM keep3 ORDER BY id", before, 3);
    kv_free(&k);
    kv_free(&k2);
}

Test(postgres, max_value)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "tdspipe_test.maxv", SINK_REPLACE);
    load_ok(&t, rs.vals, 4, 4);
    sink *s;
    char err[256], out[128];
    bool found;
    cr_assert_eq(sink_open(uri, NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sink_max_value(s, "tdspipe_test.maxv", "id", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(found);
    cr_assert_str_eq(out, "4");
    cr_assert_eq(sink_max_value(s, "tdspipe_test.maxv", "dt2", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "2262-04-11 00:00:00");
    cr_assert_eq(sink_max_value(s, "tdspipe_test.maxv", "dto", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "10000-01-01 00:00:00 +00:00");
    tds_datetime dt;
    cr_assert_eq(sink_max_value(s, "tdspipe_test.maxv", "dt", out, sizeof out, &found), 0);
    cr_assert_eq(tds_datetime_parse(out, strlen(out), TDS_K_DATE, 0, &dt), TDS_OK, "%s", out);
    cr_assert_eq(sink_max_value(s, "tdspipe_test.missing", "id", out, sizeof out, &found), 0);
    cr_assert(!found);
    sink_close(s);
    rows_free(&rs);
}

Test(postgres, connect_error_is_one_line_without_password)
{
    sink *s = NULL;
    char err[512];
    int rc = sink_open("postgresql://u:sekret@127.0.0.1:1/db?connect_timeout=3", NULL, &s, err, sizeof err);
    cr_assert_eq(rc, SINK_E_DEST);
    cr_assert_null(s);
    cr_assert(strstr(err, "sekret") == NULL && !strchr(err, '\n') && strstr(err, "postgresql"), "%s", err);
}

/* delete+insert with the source's interval: [8, 9] goes, even the rows
 * the new load does not bring back (9); 10 stays. Then an open-ended
 * window from 10. */
Test(postgres, delete_insert_window)
{
    int a[] = { 7, 8, 9, 10, 11 };
    const char *ta[] = { "a", "a", "a", "a", "a" };
    kv_table k0;
    kv_build(&k0, a, ta, 5);
    sink_table t0 = kv_sink_table(&k0, "win", SINK_REPLACE);
    load_ok(&t0, k0.vals, 5, 5);
    int b[] = { 8 };
    const char *tb[] = { "w8" };
    kv_table k;
    kv_build(&k, b, tb, 1);
    sink_table t = kv_sink_table(&k, "win", SINK_DELETE_INSERT);
    kv_window(&k, &t, 8, 9);
    load_ok(&t, k.vals, 1, 1);
    static const char *const r1[] = { "7|a", "8|w8", "10|a", "11|a" };
    expect("SELECT * FROM win ORDER BY id", r1, 4);
    int c[] = { 12 };
    const char *tc[] = { "w12" };
    kv_table k2;
    kv_build(&k2, c, tc, 1);
    t = kv_sink_table(&k2, "win", SINK_DELETE_INSERT);
    kv_window(&k2, &t, 10, -1);
    load_ok(&t, k2.vals, 1, 1);
    static const char *const r2[] = { "7|a", "8|w8", "12|w12" };
    expect("SELECT * FROM win ORDER BY id", r2, 3);
    kv_free(&k0);
    kv_free(&k);
    kv_free(&k2);
}

/* Typed windows: datetime2(7) and datetimeoffset bounds become literals of
 * the destination's own types. Rows: 1 (2024), 2 (min), 3 (max). */
Test(postgres, delete_insert_typed_window)
{
    rows_window_load(uri, "tw", C_DT2, "2000-01-01 00:00:00", "2100-01-01 00:00:00");
    static const char *const r1[] = { "2", "3" };
    expect("SELECT id FROM tw ORDER BY id", r1, 2);
    rows_window_load(uri, "tw", C_DTO, "2024-01-02 08:34:05.1234567 +00:00", NULL);
    static const char *const r2[] = { "2" };
    expect("SELECT id FROM tw ORDER BY id", r2, 1);
    rows_window_load(uri, "tw", C_DATE, NULL, "2024-02-28"); /* row 1 is on the 29th */
    static const char *const r3[] = { "1", "3" };
    expect("SELECT id FROM tw ORDER BY id", r3, 2);
}

/* Load state moves with the data: written in the load's transaction,
 * gone with an aborted load, last value wins. */
Test(postgres, state_in_the_same_transaction)
{
    int a[] = { 1, 2 };
    const char *ta[] = { "x", "y" };
    kv_table k;
    kv_build(&k, a, ta, 2);
    sink_table t = kv_sink_table(&k, "st", SINK_APPEND);
    sink *s;
    char err[256], out[64];
    bool found = true;
    cr_assert_eq(sink_open(uri, NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(!found);
    cr_assert_eq(sink_state_set(s, "cursor", "1"), SINK_E_ARG); /* outside a load */
    cr_assert_eq(sink_begin(s, &t), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_state_set(s, "cursor", "00000000000000000041"), 0);
    cr_assert_eq(sink_state_set(s, "cursor", "00000000000000000042"), 0);
    cr_assert_eq(sink_state_set(s, "it's", "quoted 'value'"), 0);
    sink_batch b = { k.vals, 1 };
    cr_assert_eq(sink_append(s, &b), 0);
    cr_assert_eq(sink_commit(s), 0, "%s", sink_errmsg(s));
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(found);
    cr_assert_str_eq(out, "00000000000000000042");
    cr_assert_eq(sink_state_get(s, "it's", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "quoted 'value'");
    /* an aborted load moves neither data nor state */
    cr_assert_eq(sink_begin(s, &t), 0);
    cr_assert_eq(sink_state_set(s, "cursor", "99"), 0);
    sink_batch b2 = { k.vals + 2, 1 };
    cr_assert_eq(sink_append(s, &b2), 0);
    sink_abort(s);
    cr_assert_eq(sink_state_get(s, "cursor", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "00000000000000000042");
    cr_assert_eq(sink_state_get(s, "nothing", out, sizeof out, &found), 0);
    cr_assert(!found);
    sink_close(s);
    kv_free(&k);
}

/* Append into a table another tool made, with other types (bigint,
 * varchar(n)) and an extra column: COPY goes through a stage and the
 * server casts. */
Test(postgres, append_into_foreign_table)
{
    PGresult *r = pq->PQexec(conn, "CREATE TABLE foreign_t (id bigint PRIMARY KEY, v varchar(100), extra int DEFAULT 7)");
    cr_assert_eq(pq->PQresultStatus(r), SINK_PGRES_COMMAND_OK, "%s", pq->PQresultErrorMessage(r));
    pq->PQclear(r);
    int a[] = { 1, 2 };
    const char *ta[] = { "x", NULL };
    kv_load("foreign_t", SINK_APPEND, a, ta, 2, 1);
    kv_load("foreign_t", SINK_MERGE, a + 1, ta, 1, 1);
    static const char *const want[] = { "1|x|7", "2|x|7" };
    expect("SELECT * FROM foreign_t ORDER BY id", want, 2);
    static const char *const ftypes[] = { "bigint,character varying(100),integer" };
    expect("SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute "
           "WHERE attrelid = 'foreign_t'::regclass AND attnum > 0 AND NOT attisdropped", ftypes, 1);
}

/* Schema evolution: a load that brings a column the target lacks adds it
 * (nullable); the old rows read NULL there. Merge replaces whole rows. */
Test(postgres, new_columns_are_added)
{
    int a[] = { 1 }, b[] = { 2 }, c[] = { 1 };
    const char *ta[] = { "a" }, *tb[] = { "b" }, *tc[] = { "c" };
    kv_load("evo", SINK_APPEND, a, ta, 1, 1);
    kv_table k;
    kv_build(&k, b, tb, 1);
    const char *names_w[2] = { "id", "w" };
    sink_table t = kv_sink_table(&k, "evo", SINK_APPEND);
    t.names = names_w;
    load_ok(&t, k.vals, 1, 1);
    kv_free(&k);
    static const char *const r1[] = { "1|a|\xe2\x88\x85", "2|\xe2\x88\x85|b" };
    expect("SELECT * FROM evo ORDER BY id", r1, 2);
    kv_build(&k, c, tc, 1);
    const char *names_x[2] = { "id", "x" };
    t = kv_sink_table(&k, "evo", SINK_MERGE);
    t.names = names_x;
    load_ok(&t, k.vals, 1, 1);
    kv_free(&k);
    static const char *const r2[] = { "1|\xe2\x88\x85|\xe2\x88\x85|c", "2|\xe2\x88\x85|b|\xe2\x88\x85" };
    expect("SELECT * FROM evo ORDER BY id", r2, 2);
}

/* Every type survives the stage of merge and delete+insert exactly (the
 * INSERT … SELECT from the stage keeps the values). */
Test(postgres, every_type_through_merge_and_delete_insert)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "tdspipe_test.mtypes", SINK_MERGE);
    load_ok(&t, rs.vals, 4, 2);
    load_ok(&t, rs.vals, 4, 4); /* again: every row merges onto itself */
    char sql[2048];
    snprintf(sql, sizeof sql, "%s tdspipe_test.mtypes ORDER BY id", all_cols);
    expect(sql, typed_rows, 4);
    t = rows_table(&rs, "tdspipe_test.mtypes", SINK_DELETE_INSERT);
    load_ok(&t, rs.vals, 4, 3);
    expect(sql, typed_rows, 4);
    rows_free(&rs);
}

/* Change Tracking merge (sink_table.cdc): versions, deletes and
 * tombstones per sink.h, in three loads (rows.c's cdc_sequence). */
static void cdc_expect(const char *const *want, size_t n)
{
    expect(CDC_SELECT("s.cdc"), want, n);
}

Test(postgres, change_tracking_merge_rules)
{
    cdc_sequence(uri, "s.cdc", cdc_expect);
}

/* --incremental-predicate (sink_table.merge_predicate): a merge whose join
 * is ON target.id = source.id AND (pred), as ingestr's (INSERT of the
 * unmatched, then UPDATE of the matched). */
static int kv_merge_pred(const char *table, const char *pred, const int *ids, const char *const *tx, size_t n,
                         char *msg, size_t cap)
{
    kv_table k;
    kv_build(&k, ids, tx, n);
    sink_table t = kv_sink_table(&k, table, SINK_MERGE);
    t.merge_predicate = pred;
    int rc = load(uri, &t, k.vals, n, 2, msg, cap);
    kv_free(&k);
    return rc;
}

Test(postgres, merge_predicate_is_anded_to_the_join)
{
    char msg[512];
    seed("s.mp");
    int a[] = { 1, 4, 4 };
    const char *ta[] = { "b1", "first", "b4" };
    cr_assert_eq(kv_merge_pred("s.mp", "target.v <> 'a3' AND source.v <> 'first'", a, ta, 3, msg, sizeof msg), 0, "%s", msg);
    static const char *const r1[] = { "1|b1", "2|a2", "3|a3", "4|b4" };
    expect("SELECT * FROM s.mp ORDER BY id, v", r1, 4);
    /* 3's target row fails the predicate: its staged row is inserted,
     * which the table's primary key refuses; nothing changes */
    int b[] = { 3, 2 };
    const char *tb[] = { "b3", "b2" };
    cr_assert_eq(kv_merge_pred("s.mp", "target.v <> 'a3'", b, tb, 2, msg, sizeof msg), SINK_E_DEST, "%s", msg);
    expect("SELECT * FROM s.mp ORDER BY id, v", r1, 4);
    /* the user's table without a key: 3 ends with two rows */
    PGresult *r = pq->PQexec(conn, "DROP TABLE IF EXISTS mp_nokey; CREATE TABLE mp_nokey (id integer, v text);"
                                   " INSERT INTO mp_nokey VALUES (1, 'a1'), (3, 'a3')");
    cr_assert_eq(pq->PQresultStatus(r), SINK_PGRES_COMMAND_OK, "%s", pq->PQresultErrorMessage(r));
    pq->PQclear(r);
    cr_assert_eq(kv_merge_pred("mp_nokey", "target.v <> 'a3'", b, tb, 2, msg, sizeof msg), 0, "%s", msg);
    static const char *const r2[] = { "1|a1", "2|b2", "3|a3", "3|b3" };
    expect("SELECT * FROM mp_nokey ORDER BY id, v", r2, 4);
    static const char *const none[] = { "0" };
    expect("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\\_tdspipe\\_stage%'", none, 1);
}
