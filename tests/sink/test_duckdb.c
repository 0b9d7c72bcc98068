/*
 * test_duckdb.c — the DuckDB sink (sink/duckdb.c) against libduckdb.so
 * (scripts/get_duckdb.sh; TDSPIPE_DUCKDB_LIB), read back through the
 * DuckDB C API: every type's exact value and DuckDB type, (max) values,
 * each strategy, and failures that must leave the previous table as it
 * was.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duckdb_int.h"
#include "duckdb_sink.h"
#include "readback.h"
#include "rows.h"

static const sink_ddb_api *ddb;
static char path[1024], uri[1200];

static void setup(void)
{
    char err[512];
    ddb = sink__ddb_load(NULL, err, sizeof err);
    cr_assert_not_null(ddb, "%s", err);
    snprintf(path, sizeof path, "%s", tmp_path("t.duckdb"));
    snprintf(uri, sizeof uri, "duckdb:///%s", path);
}

TestSuite(duckdb, .init = setup);

/* Opens the file (the sink has closed it), runs sql, rows as "a|b" with
 * NULL as "∅". Queries wrap columns in COALESCE(…, '∅') where NULLs are
 * possible: duckdb_value_varchar's NULL return is the only NULL test the
 * deprecated accessors offer. */
static char **query(const char *sql, size_t *n)
{
    sink_ddb_handle db = NULL, conn = NULL;
    char *oe = NULL;
    cr_assert_eq(ddb->duckdb_open_ext(path, &db, NULL, &oe), SINK_DDB_SUCCESS, "%s", oe ? oe : "");
    cr_assert_eq(ddb->duckdb_connect(db, &conn), SINK_DDB_SUCCESS);
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    int st = ddb->duckdb_query(conn, sql, &r);
    cr_assert_eq(st, SINK_DDB_SUCCESS, "%s: %s", sql, ddb->duckdb_result_error(&r));
    *n = (size_t)ddb->duckdb_row_count(&r);
    size_t nc = (size_t)ddb->duckdb_column_count(&r);
    char **rows = calloc(*n + 1, sizeof *rows);
    for (size_t i = 0; i < *n; i++) {
        size_t cap = 64, len = 0;
        char *s = malloc(cap);
        s[0] = '\0';
        for (size_t c = 0; c < nc; c++) {
            char *v = ddb->duckdb_value_varchar(&r, c, i); /* NULL for SQL NULL */
            const char *t = v ? v : "\xe2\x88\x85";
            size_t k = strlen(t);
            while (len + k + 2 > cap)
                s = realloc(s, cap *= 2);
            if (c)
                s[len++] = '|';
            memcpy(s + len, t, k + 1);
            len += k;
            if (v)
                ddb->duckdb_free(v);
        }
        rows[i] = s;
    }
    ddb->duckdb_destroy_result(&r);
    ddb->duckdb_disconnect(&conn);
    ddb->duckdb_close(&db);
    return rows;
}

static void expect(const char *sql, const char *const *want, size_t nwant)
{
    size_t n;
    char **got = query(sql, &n);
    rows_eq(got, n, want, nwant, sql);
    for (size_t i = 0; i < n; i++)
        free(got[i]);
    free(got);
}

static void load_ok(const sink_table *t, const tds_value *vals, size_t n, size_t per)
{
    char msg[512];
    int rc = load(uri, t, vals, n, per, msg, sizeof msg);
    cr_assert_eq(rc, 0, "load: %d %s", rc, msg);
}

#define V(c) "COALESCE(CAST(" c " AS VARCHAR), '\xe2\x88\x85')"
static const char all_cols[] =
    "SELECT " V("id") "," V("ti") "," V("si") "," V("bi") "," V("bt") "," V("r") "," V("f") "," V("sm") ","
    V("m") "," V("d38") "," V("d5") "," V("d18") "," V("dt") "," V("tm") "," V("tm3") "," V("dtm") ","
    V("sdt") "," V("dt2") "," V("dt23") "," V("dto") "," V("g") "," V("vc") "," V("nc") "," V("nvm") ","
    V("hex(vbm)") "," V("x") " FROM ";

#define N "\xe2\x88\x85"
static const char *const typed_rows[] = {
    "1|42|-1234|1234567890123|true|0.1|0.1|12.5000|-1234.5678|3.1415926535|-1.50|0|2024-02-29|13:14:15.1234567|"
    "13:14:15.123|"
    "2024-01-02 03:04:05.997|"
    "2024-01-02 03:04:00|"
    "2024-01-02 03:04:05.1234567|"
    "2024-01-02 03:04:05.123|"
    "2024-01-02 08:34:05.123457+00|"
    "6f9619ff-8b86-d011-b42d-00c04fc964ff|"
    "a,b \"q\"\r\nline2|"
    "caf\xc3""\xa9""      |"
    "tab\there \\ \xf0""\x9f""\x98""\x80"" \xe4""\xb8""\xad""\x01""|"
    "00FF1080|"
    "<a b=\"1\">x</a>",
    "2|0|-32768|-9223372036854775808|false|-3.4028235e+38|-1.7976931348623157e+308|-214748.3648|-922337203685477.5808|"
    "-9999999999999999999999999999.9999999999|"
    "-999.99|"
    "-999999999999999999|"
    "0001-01-01|"
    "00:00:00|"
    "00:00:00|"
    "1753-01-01 00:00:00|"
    "1900-01-01 00:00:00|"
    "1677-09-22 00:00:00.0000001|"
    "0001-01-01 00:00:00|"
    "0001-01-01 00:00:00+00|"
    "00000000-0000-0000-0000-000000000000|"
    "|"
    "          |"
    "|"
    "|"
    "",
    "3|255|32767|9223372036854775807|true|1e-45|5e-324|214748.3647|922337203685477.5807|9999999999999999999999999999.9999999999|"
    "999.99|"
    "999999999999999999|"
    "9999-12-31|"
    "23:59:59.9999999|"
    "23:59:59.999|"
    "9999-12-31 23:59:59.997|"
    "2079-06-06 23:59:00|"
    "2262-04-10 23:59:59.9999999|"
    "9999-12-31 23:59:59.999|"
    "10000-01-01 00:00:00+00|"
    "ffffffff-ffff-ffff-ffff-ffffffffffff|"
    " lead|"
    "\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""\xf0""\x9f""\x98""\x80""|"
    "\"|"
    "DEADBE|"
    "<r/>",
    "4|\xe2""\x88""\x85""|\xe2""\x88""\x85""|\xe2""\x88""\x85""|\xe2""\x88""\x85""|\xe2""\x88""\x85""|\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""|"
    "\xe2""\x88""\x85""",
};

static const char *const types[] = {
    "INTEGER,UTINYINT,SMALLINT,BIGINT,BOOLEAN,FLOAT,DOUBLE,DECIMAL(10,4),DECIMAL(19,4),DECIMAL(38,10),"
    "DECIMAL(5,2),DECIMAL(18,0),DATE,TIME_NS,TIME,TIMESTAMP,TIMESTAMP,TIMESTAMP_NS,TIMESTAMP,"
    "TIMESTAMP WITH TIME ZONE,UUID,VARCHAR,VARCHAR,VARCHAR,BLOB,VARCHAR",
};

Test(duckdb, every_type_exact_and_declared)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "dbo.types", SINK_REPLACE);
    load_ok(&t, rs.vals, 4, 3);
    char sql[2048];
    snprintf(sql, sizeof sql, "%s dbo.types ORDER BY id", all_cols);
    expect(sql, typed_rows, 4);
    expect("SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns "
           "WHERE table_schema = 'dbo' AND table_name = 'types'", types, 1);
    rows_free(&rs);
}

Test(duckdb, large_max_values)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "big", SINK_REPLACE);
    load_ok(&t, rs.vals + 4 * NCOLS, 1, 1);
    size_t n;
    char **got = query("SELECT nvm, hex(vbm) FROM big", &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(strlen(got[0]), rs.big_text_len + 1 + 2 * rs.big_bin_len);
    cr_assert(memcmp(got[0], rs.big_text, rs.big_text_len) == 0);
    const char *hex = got[0] + rs.big_text_len + 1;
    for (size_t i = 0; i < rs.big_bin_len; i++) {
        char h[3];
        snprintf(h, sizeof h, "%02X", rs.big_bin[i]);
        cr_assert(hex[2 * i] == h[0] && hex[2 * i + 1] == h[1], "byte %zu", i);
    }
    free(got[0]);
    free(got);
    rows_free(&rs);
}

/* More rows than one DuckDB vector (2048), in odd batch sizes, with
 * NULLs: chunk boundaries and validity masks. */
Test(duckdb, many_rows_across_chunks)
{
    enum { M = 5000 };
    int *ids = malloc(M * sizeof *ids);
    const char **tx = malloc(M * sizeof *tx);
    for (int i = 0; i < M; i++) {
        ids[i] = i;
        tx[i] = i % 7 == 0 ? NULL : i % 2 ? "odd" : "even";
    }
    kv_table k;
    kv_build(&k, ids, tx, M);
    sink_table t = kv_sink_table(&k, "many", SINK_REPLACE);
    load_ok(&t, k.vals, M, 999);
    static const char *const want[] = { "5000|4999|715|2143|2142" };
    expect("SELECT count(*), max(id), count(*) FILTER (WHERE v IS NULL), count(*) FILTER (WHERE v = 'odd'), "
           "count(*) FILTER (WHERE v = 'even') FROM many", want, 1);
    static const char *const spot[] = { "2047|odd", "2048|even", "2049|odd", "2051|\xe2\x88\x85" };
    expect("SELECT id, COALESCE(v, '\xe2\x88\x85') FROM many WHERE id IN (2047, 2048, 2049, 2051) ORDER BY id", spot, 4);
    kv_free(&k);
    free(ids);
    free(tx);
}

static void kv_load(const char *table, sink_strategy st, const int *ids, const char *const *tx, size_t n, size_t per)
{
    kv_table k;
    kv_build(&k, ids, tx, n);
    sink_table t = kv_sink_table(&k, table, st);
    load_ok(&t, k.vals, n, per);
    kv_free(&k);
}

#define KV "SELECT id, COALESCE(v, '\xe2\x88\x85') FROM "

Test(duckdb, strategies)
{
    int a[] = { 1, 2, 3 };
    const char *ta[] = { "a1", "a2", "a3" };
    kv_load("s.kv", SINK_REPLACE, a, ta, 3, 2);
    static const char *const r1[] = { "1|a1", "2|a2", "3|a3" };
    expect(KV "s.kv ORDER BY id", r1, 3);
    int b[] = { 7 };
    const char *tb[] = { "b7" };
    kv_load("s.kv", SINK_REPLACE, b, tb, 1, 1);
    static const char *const r2[] = { "7|b7" };
    expect(KV "s.kv ORDER BY id", r2, 1);
    int c[] = { 8, 9 };
    const char *tc[] = { "c8", NULL };
    kv_load("s.kv", SINK_APPEND, c, tc, 2, 1);
    static const char *const r3[] = { "7|b7", "8|c8", ("9|" N) };
    expect(KV "s.kv ORDER BY id", r3, 3);
    int d[] = { 8, 10, 10 };
    const char *td[] = { "m8", "first", "last" };
    kv_load("s.kv", SINK_MERGE, d, td, 3, 2);
    static const char *const r4[] = { "7|b7", "8|m8", ("9|" N), "10|last" };
    expect(KV "s.kv ORDER BY id", r4, 4);
    int e[] = { 9, 8 };
    const char *te[] = { "d9", "d8" };
    kv_load("s.kv", SINK_DELETE_INSERT, e, te, 2, 2);
    static const char *const r5[] = { "7|b7", "8|d8", "9|d9", "10|last" };
    expect(KV "s.kv ORDER BY id", r5, 4);
    static const char *const none[] = { "0" };
    expect("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\\_tdspipe\\_stage%' ESCAPE '\\'", none, 1);
}

static const char *const before[] = { "1|a1", "2|a2", "3|a3" };

static void seed(const char *table)
{
    int a[] = { 1, 2, 3 };
    const char *ta[] = { "a1", "a2", "a3" };
    kv_load(table, SINK_REPLACE, a, ta, 3, 3);
}

Test(duckdb, abort_mid_load_keeps_old_table)
{
    seed("keep");
    enum { M = 4100 }; /* aborts after two full chunks went to the appender */
    int *ids = malloc(M * sizeof *ids);
    const char **tx = malloc(M * sizeof *tx);
    for (int i = 0; i < M; i++) {
        ids[i] = 100 + i;
        tx[i] = "n";
    }
    kv_table k;
    kv_build(&k, ids, tx, M);
    for (int st = SINK_REPLACE; st <= SINK_DELETE_INSERT; st++) {
        sink_table t = kv_sink_table(&k, "keep", (sink_strategy)st);
        load_abort(uri, &t, k.vals, M, 1000, 5);
        expect(KV "keep ORDER BY id", before, 3);
    }
    kv_free(&k);
    free(ids);
    free(tx);
}

Test(duckdb, bad_value_or_key_clash_keeps_old_table)
{
    seed("keep");
    int b[] = { 10, 11, 12 };
    const char *tb[] = { "ok", "x", "ok" };
    kv_table k;
    kv_build(&k, b, tb, 3);
    static const uint8_t bad[] = { 0x00, 0xD8 }; /* lone surrogate */
    k.vals[2 * 1 + 1] = (tds_value){ bad, 2, 0 };
    char msg[512];
    for (int st = SINK_REPLACE; st <= SINK_DELETE_INSERT; st++) {
        sink_table t = kv_sink_table(&k, "keep", (sink_strategy)st);
        int rc = load(uri, &t, k.vals, 3, 1, msg, sizeof msg);
        cr_assert_eq(rc, SINK_E_VALUE, "%d %s", rc, msg);
        expect(KV "keep ORDER BY id", before, 3);
    }
    /* tdspipe declares no primary key in DuckDB (sink/duckdb.c); a user's
     * unique index makes the clash */
    size_t qn;
    char **qr = query("CREATE UNIQUE INDEX keep_id ON keep (id)", &qn);
    for (size_t i = 0; i < qn; i++)
        free(qr[i]);
    free(qr);
    int c[] = { 4, 1 };
    const char *tc[] = { "x", "y" };
    kv_table k2;
    kv_build(&k2, c, tc, 2);
    sink_table t = kv_sink_table(&k2, "keep", SINK_APPEND);
    cr_assert_eq(load(uri, &t, k2.vals, 2, 1, msg, sizeof msg), SINK_E_DEST);
    cr_assert(strstr(msg, "duckdb") != NULL && !strchr(msg, '\n'), "%s", msg);
    expect(KV "keep ORDER BY id", before, 3);
    kv_free(&k);
    kv_free(&k2);
}

/* datetime2(7) goes to TIMESTAMP_NS while its values fit; the first
 * value outside (here 9999-12-31, SQL Server's usual sentinel) widens the
 * column to TIMESTAMP (µs) inside the load: earlier rows are rounded half
 * up like later ones (also before 1970), for every strategy that creates
 * the table. */
static void set_dt2(rowset *rs, int row, const char *text, uint8_t raw[10])
{
    tds_datetime dt;
    cr_assert_eq(tds_datetime_parse(text, strlen(text), TDS_K_DATETIME2, 7, &dt), TDS_OK);
    int n = tds_encode_datetime(&rs->cols[C_DT2], &dt, raw, 10);
    cr_assert_gt(n, 0);
    rs->vals[(size_t)row * NCOLS + C_DT2] = (tds_value){ raw, (uint32_t)n, 0 };
}

Test(duckdb, timestamp_ns_widens_to_timestamp)
{
    static const sink_strategy sts[] = { SINK_REPLACE, SINK_APPEND, SINK_MERGE, SINK_DELETE_INSERT };
    static const char *const want[] = {
        "TIMESTAMP|1677-09-22 00:00:00.000001", "TIMESTAMP|10000-01-01 00:00:00", "TIMESTAMP|2262-04-11 00:00:00", "TIMESTAMP|" N,
    };
    static const char *const narrow[] = { "TIMESTAMP_NS|1677-09-22 00:00:00.0000005" };
    for (size_t k = 0; k < sizeof sts / sizeof sts[0]; k++) {
        rowset rs;
        rows_build(&rs);
        uint8_t r0[10], r1[10], r2[10];
        set_dt2(&rs, 0, "1677-09-22 00:00:00.0000005", r0);
        set_dt2(&rs, 1, "9999-12-31 23:59:59.9999999", r1);
        set_dt2(&rs, 2, "2262-04-10 23:59:59.9999999", r2);
        char table[32], sql[256];
        snprintf(table, sizeof table, "wide%zu", k);
        /* a first load whose values fit keeps the 100 ns digit */
        sink_table t = rows_table(&rs, table, sts[k]);
        load_ok(&t, rs.vals, 1, 1);
        snprintf(sql, sizeof sql, "SELECT typeof(dt2), " V("dt2") " FROM %s", table);
        expect(sql, narrow, 1);
        /* the next one brings 9999-12-31: the table's column is widened
         * too, its row rounded like the new ones (append adds rows 1–3) */
        if (sts[k] == SINK_APPEND)
            load_ok(&t, rs.vals + NCOLS, 3, 1);
        else
            load_ok(&t, rs.vals, 4, 4);
        snprintf(sql, sizeof sql, "SELECT typeof(dt2), " V("dt2") " FROM %s ORDER BY id", table);
        expect(sql, want, 4);
        rows_free(&rs);
    }
}

Test(duckdb, max_value)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "dbo.maxv", SINK_REPLACE);
    load_ok(&t, rs.vals, 4, 4);
    sink *s;
    char err[256], out[128];
    bool found;
    cr_assert_eq(sink_open(uri, NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sink_max_value(s, "dbo.maxv", "id", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(found);
    cr_assert_str_eq(out, "4");
    cr_assert_eq(sink_max_value(s, "dbo.maxv", "dt2", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "2262-04-10 23:59:59.9999999");
    tds_datetime dt;
    cr_assert_eq(tds_datetime_parse(out, strlen(out), TDS_K_DATETIME2, 7, &dt), TDS_OK);
    cr_assert_eq(sink_max_value(s, "dbo.maxv", "dto", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "10000-01-01 00:00:00 +00:00");
    cr_assert_eq(sink_max_value(s, "dbo.maxv", "d38", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "9999999999999999999999999999.9999999999");
    cr_assert_eq(sink_max_value(s, "dbo.maxv", "vc", out, sizeof out, &found), 0);
    cr_assert(found);
    cr_assert_eq(sink_max_value(s, "dbo.missing", "id", out, sizeof out, &found), 0);
    cr_assert(!found);
    sink_close(s);
    rows_free(&rs);
}

/* Its own suite: each Criterion test is a fresh process, so the library
 * is not loaded yet here. */
Test(duckdb_nolib, missing_library_is_a_clear_error)
{
    setenv("TDSPIPE_DUCKDB_LIB", "/nonexistent/libduckdb.so", 1);
    sink *s = NULL;
    char err[512];
    cr_assert_eq(sink_open("duckdb:///x.duckdb", NULL, &s, err, sizeof err), SINK_E_LIB);
    cr_assert_null(s);
    cr_assert(strstr(err, "libduckdb.so") && strstr(err, "TDSPIPE_DUCKDB_LIB") && !strchr(err, '\n'), "%s", err);
}

/* delete+insert with the source's interval: [8, 9] goes, even the rows
 * the new load does not bring back (9); 10 stays. Then an open-ended
 * window from 10. */
Test(duckdb, delete_insert_window)
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
    expect(KV "win ORDER BY id", r1, 4);
    int c[] = { 12 };
    const char *tc[] = { "w12" };
    kv_table k2;
    kv_build(&k2, c, tc, 1);
    t = kv_sink_table(&k2, "win", SINK_DELETE_INSERT);
    kv_window(&k2, &t, 10, -1);
    load_ok(&t, k2.vals, 1, 1);
    static const char *const r2[] = { "7|a", "8|w8", "12|w12" };
    expect(KV "win ORDER BY id", r2, 3);
    kv_free(&k0);
    kv_free(&k);
    kv_free(&k2);
}

/* Typed windows: datetime2(7) and datetimeoffset bounds become literals of
 * the destination's own types. Rows: 1 (2024), 2 (min), 3 (max). */
Test(duckdb, delete_insert_typed_window)
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
Test(duckdb, state_in_the_same_transaction)
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

/* Append into a table another tool made, with other types (BIGINT,
 * VARCHAR) and an extra column: the Appender writes a stage and INSERT …
 * SELECT casts (writing our layouts into its vectors would be wrong). */
Test(duckdb, append_into_foreign_table)
{
    size_t n;
    char **r = query("CREATE TABLE foreign_t (id BIGINT PRIMARY KEY, v VARCHAR, extra HUGEINT DEFAULT 7)", &n);
    free(r);
    int a[] = { 1, 2 };
    const char *ta[] = { "x", NULL };
    kv_load("foreign_t", SINK_APPEND, a, ta, 2, 1);
    kv_load("foreign_t", SINK_MERGE, a + 1, ta, 1, 1);
    static const char *const want[] = { "1|x|7", "2|x|7" };
    expect("SELECT id, v, extra FROM foreign_t ORDER BY id", want, 2);
    static const char *const ftypes[] = { "BIGINT,VARCHAR,HUGEINT" };
    expect("SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns "
           "WHERE table_name = 'foreign_t'", ftypes, 1);
}

/* Schema evolution: a load that brings a column the target lacks adds it
 * (nullable); the old rows read NULL there. Merge replaces whole rows. */
Test(duckdb, new_columns_are_added)
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
    expect("SELECT id, COALESCE(v, '\xe2\x88\x85'), COALESCE(w, '\xe2\x88\x85') FROM evo ORDER BY id", r1, 2);
    kv_build(&k, c, tc, 1);
    const char *names_x[2] = { "id", "x" };
    t = kv_sink_table(&k, "evo", SINK_MERGE);
    t.names = names_x;
    load_ok(&t, k.vals, 1, 1);
    kv_free(&k);
    static const char *const r2[] = { "1|\xe2\x88\x85|\xe2\x88\x85|c", "2|\xe2\x88\x85|b|\xe2\x88\x85" };
    expect("SELECT id, COALESCE(v, '\xe2\x88\x85'), COALESCE(w, '\xe2\x88\x85'), COALESCE(x, '\xe2\x88\x85') FROM evo ORDER BY id", r2, 2);
}

/* Every type survives the stage of merge and delete+insert exactly (the
 * INSERT … SELECT from the stage keeps the values). */
Test(duckdb, every_type_through_merge_and_delete_insert)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "dbo.mtypes", SINK_MERGE);
    load_ok(&t, rs.vals, 4, 2);
    load_ok(&t, rs.vals, 4, 4); /* again: every row merges onto itself */
    char sql[2048];
    snprintf(sql, sizeof sql, "%s dbo.mtypes ORDER BY id", all_cols);
    expect(sql, typed_rows, 4);
    t = rows_table(&rs, "dbo.mtypes", SINK_DELETE_INSERT);
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

Test(duckdb, change_tracking_merge_rules)
{
    cdc_sequence(uri, "s.cdc", cdc_expect);
}

/* --incremental-predicate (sink_table.merge_predicate): a merge whose join
 * is ON target.id = source.id AND (pred), as ingestr's. DuckDB's tables
 * carry no key, so a key whose target row fails the predicate ends with
 * two rows (MERGE … WHEN NOT MATCHED THEN INSERT; ingestr's DuckDB). */
static void kv_merge_pred(const char *table, const char *pred, const int *ids, const char *const *tx, size_t n)
{
    kv_table k;
    kv_build(&k, ids, tx, n);
    sink_table t = kv_sink_table(&k, table, SINK_MERGE);
    t.merge_predicate = pred;
    load_ok(&t, k.vals, n, 2);
    kv_free(&k);
}

Test(duckdb, merge_predicate_is_anded_to_the_join)
{
    seed("s.mp");
    int a[] = { 1, 4, 4, 3 };
    const char *ta[] = { "b1", "first", "b4", "b3" };
    kv_merge_pred("s.mp", "target.v <> 'a3' AND source.v <> 'first'", a, ta, 4);
    static const char *const r1[] = { "1|b1", "2|a2", "3|a3", "3|b3", "4|b4" };
    expect(KV "s.mp ORDER BY id, v", r1, 5);
    /* both rows of 3 pass now: both take the staged values */
    int b[] = { 3 };
    const char *tb[] = { "c3" };
    kv_merge_pred("s.mp", "target.id = 3", b, tb, 1);
    static const char *const r2[] = { "1|b1", "2|a2", "3|c3", "3|c3", "4|b4" };
    expect(KV "s.mp ORDER BY id, v", r2, 5);
    static const char *const none[] = { "0" };
    expect("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '\\_tdspipe\\_stage%' ESCAPE '\\'", none, 1);
}

/* ------------------------------------------------ the URI's parameters */

/* sink__ddb_uri on target: 0 with the path and threads, or the error. */
static int ddb_uri(const char *target, char *path_out, size_t cap, unsigned *threads, char *err, size_t errcap)
{
    char *p = NULL;
    int rc = sink__ddb_uri(target, &p, threads, err, errcap);
    snprintf(path_out, cap, "%s", p ? p : "");
    free(p);
    return rc;
}

Test(ddb_uri, path_and_threads)
{
    static const struct { const char *target, *path; unsigned threads; } ok[] = {
        {"/rel.duckdb", "rel.duckdb", 1},
        {"//abs/x.duckdb", "/abs/x.duckdb", 1},
        {"/x.duckdb?threads=2", "x.duckdb", 2},
        {"/x.duckdb?THREADS=64", "x.duckdb", 64},
        {"/x.duckdb?&threads=3&", "x.duckdb", 3},
        {"/x.duckdb?threads=4#frag", "x.duckdb", 4},
        {"/a%20b%3Fc.duckdb?threads=2", "a b?c.duckdb", 2},   /* SQLAlchemy: decoded before '?' */
        {"/e#f.duckdb", "e#f.duckdb", 1},                    /* '#' is part of the path */
        {"/100%.duckdb", "100%.duckdb", 1},                  /* a broken escape stays as written */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char got[256], err[256] = "";
        unsigned th = 0;
        cr_assert_eq(ddb_uri(ok[i].target, got, sizeof got, &th, err, sizeof err), SINK_OK, "%s: %s", ok[i].target, err);
        cr_expect_str_eq(got, ok[i].path, "%s", ok[i].target);
        cr_expect_eq(th, ok[i].threads, "%s", ok[i].target);
    }
}

Test(ddb_uri, refusals_on_one_line)
{
    static const struct { const char *target, *msg; } bad[] = {
        {"/x.duckdb?threads=0", "threads must be 1 to 64"},
        {"/x.duckdb?threads=65", "threads must be 1 to 64"},
        {"/x.duckdb?threads=99999999999999999999", "threads must be 1 to 64"},
        {"/x.duckdb?threads=2x", "threads must be 1 to 64"},
        {"/x.duckdb?threads", "threads must be 1 to 64"},
        {"/x.duckdb?thread=2", "unknown URI parameter 'thread' (threads)"},
        {"/x.duckdb?a%0Ab=1", "unknown URI parameter 'a%0Ab' (threads)"},
        {"/?threads=2", "no file path"},
        {"", "no file path"},
        {"/a%00b.duckdb", "escaped NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char got[256], err[256] = "";
        unsigned th = 0;
        cr_expect_eq(ddb_uri(bad[i].target, got, sizeof got, &th, err, sizeof err), SINK_E_URI, "%s", bad[i].target);
        cr_expect(strstr(err, bad[i].msg) && !strchr(err, '\n'), "%s: %s", bad[i].target, err);
    }
}
