/*
 * test_sqlite.c — the SQLite sink (sink/sqlite.c), read back through the
 * sqlite3 API: storage class and exact value of every type, declared
 * types, (max) values, each strategy, and failures that must leave the
 * previous table as it was.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readback.h"
#include "rows.h"

static char path[1024], uri[1200];

static void setup(void)
{
    snprintf(path, sizeof path, "%s", tmp_path("t.db"));
    snprintf(uri, sizeof uri, "sqlite:///%s", path);
}

TestSuite(sqlite, .init = setup);

static void fmt_double(char *o, size_t cap, double d)
{
    for (int p = 15; p <= 17; p++) {
        snprintf(o, cap, "%.*g", p, d);
        if (strtod(o, NULL) == d)
            break;
    }
}

/* Rows as "i:1|r:0.5|t:text|b:00ff|∅". */
static char **query(const char *sql, size_t *n)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    size_t cap = 8;
    char **rows = calloc(cap, sizeof *rows);
    *n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = 1;
        int nc = sqlite3_column_count(st);
        for (int c = 0; c < nc; c++)
            len += 2 * (size_t)sqlite3_column_bytes(st, c) + 40;
        char *s = malloc(len), *o = s;
        for (int c = 0; c < nc; c++) {
            if (c)
                *o++ = '|';
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_NULL: o += sprintf(o, "\xe2\x88\x85"); break;
            case SQLITE_INTEGER: o += sprintf(o, "i:%lld", (long long)sqlite3_column_int64(st, c)); break;
            case SQLITE_FLOAT: {
                char d[40];
                fmt_double(d, sizeof d, sqlite3_column_double(st, c));
                o += sprintf(o, "r:%s", d);
                break;
            }
            case SQLITE_TEXT: {
                o += sprintf(o, "t:");
                size_t k = (size_t)sqlite3_column_bytes(st, c);
                memcpy(o, sqlite3_column_text(st, c), k);
                o += k;
                break;
            }
            default: {
                o += sprintf(o, "b:");
                const uint8_t *b = sqlite3_column_blob(st, c);
                for (int k = 0; k < sqlite3_column_bytes(st, c); k++)
                    o += sprintf(o, "%02x", b[k]);
            }
            }
        }
        *o = '\0';
        if (*n + 1 >= cap)
            rows = realloc(rows, (cap *= 2) * sizeof *rows);
        rows[(*n)++] = s;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
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

#define N "\xe2\x88\x85"
static const char *const typed_rows[] = {
    "i:1|i:42|i:-1234|i:1234567890123|i:1|r:0.10000000149011612|r:0.1|t:12.5000|t:-1234.5678|"
    "t:3.1415926535|t:-1.50|t:0|t:2024-02-29|t:13:14:15.1234567|t:13:14:15.123|t:2024-01-02 03:04:05.997|"
    "t:2024-01-02 03:04:00|t:2024-01-02 03:04:05.1234567|t:2024-01-02 03:04:05.123|"
    "t:2024-01-02 03:04:05.1234567 -05:30|t:6F9619FF-8B86-D011-B42D-00C04FC964FF|t:a,b \"q\"\r\nline2|"
    "t:caf\xc3\xa9      |t:tab\there \\ \xf0\x9f\x98\x80 \xe4\xb8\xad\x01|b:00ff1080|t:<a b=\"1\">x</a>",
    "i:2|i:0|i:-32768|i:-9223372036854775808|i:0|r:-3.4028234663852886e+38|r:-1.7976931348623157e+308|"
    "t:-214748.3648|t:-922337203685477.5808|t:-9999999999999999999999999999.9999999999|t:-999.99|"
    "t:-999999999999999999|t:0001-01-01|t:00:00:00.0000000|t:00:00:00.000|t:1753-01-01 00:00:00.000|"
    "t:1900-01-01 00:00:00|t:1677-09-22 00:00:00.0000001|t:0001-01-01 00:00:00.000|"
    "t:0001-01-01 14:00:00.0000000 +14:00|t:00000000-0000-0000-0000-000000000000|t:|t:          |t:|b:|t:",
    "i:3|i:255|i:32767|i:9223372036854775807|i:1|r:1.401298464324817e-45|r:4.94065645841247e-324|"
    "t:214748.3647|t:922337203685477.5807|t:9999999999999999999999999999.9999999999|t:999.99|"
    "t:999999999999999999|t:9999-12-31|t:23:59:59.9999999|t:23:59:59.999|t:9999-12-31 23:59:59.997|"
    "t:2079-06-06 23:59:00|t:2262-04-10 23:59:59.9999999|t:9999-12-31 23:59:59.999|"
    "t:9999-12-31 09:59:59.9999999 -14:00|t:FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF|t: lead|"
    "t:\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80|t:\"|b:deadbe|t:<r/>",
    "i:4|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|"
    N "|" N "|" N "|" N "|" N "|" N "|" N "|" N "|" N,
};

static const char *const decl[] = {
    "t:INTEGER,INTEGER,INTEGER,INTEGER,BOOLEAN,REAL,REAL,TEXT,TEXT,TEXT,TEXT,TEXT,DATE,TIME,TIME,DATETIME,"
    "DATETIME,DATETIME,DATETIME,DATETIMEOFFSET,TEXT,TEXT,TEXT,TEXT,BLOB,TEXT",
};

static void load_ok(const sink_table *t, const tds_value *vals, size_t n, size_t per)
{
    char msg[512];
    int rc = load(uri, t, vals, n, per, msg, sizeof msg);
    cr_assert_eq(rc, 0, "load: %d %s", rc, msg);
}

Test(sqlite, every_type_exact_and_declared)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "dbo.types", SINK_REPLACE);
    load_ok(&t, rs.vals, 4, 3);
    expect("SELECT * FROM types ORDER BY id", typed_rows, 4);
    expect("SELECT group_concat(type, ',') FROM (SELECT type FROM pragma_table_info('types') ORDER BY cid)", decl, 1);
    static const char *const pk[] = { "t:id" };
    expect("SELECT name FROM pragma_table_info('types') WHERE pk = 1", pk, 1);
    /* SQLite's own date functions read the text forms */
    static const char *const fn[] = { "t:2024-01-02 08:34:05|t:2024-01-02 03:04:05" };
    expect("SELECT datetime(dto), datetime(dt2) FROM types WHERE id = 1", fn, 1);
    rows_free(&rs);
}

Test(sqlite, large_max_values)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "big", SINK_REPLACE);
    load_ok(&t, rs.vals + 4 * NCOLS, 1, 1);
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT nvm, vbm FROM big", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq((size_t)sqlite3_column_bytes(st, 0), rs.big_text_len);
    cr_assert(memcmp(sqlite3_column_text(st, 0), rs.big_text, rs.big_text_len) == 0);
    cr_assert_eq((size_t)sqlite3_column_bytes(st, 1), rs.big_bin_len);
    cr_assert(memcmp(sqlite3_column_blob(st, 1), rs.big_bin, rs.big_bin_len) == 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
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

Test(sqlite, strategies)
{
    int a[] = { 1, 2, 3 };
    const char *ta[] = { "a1", "a2", "a3" };
    kv_load("kv", SINK_REPLACE, a, ta, 3, 2);
    static const char *const r1[] = { "i:1|t:a1", "i:2|t:a2", "i:3|t:a3" };
    expect("SELECT * FROM kv ORDER BY id", r1, 3);
    int b[] = { 7 };
    const char *tb[] = { "b7" };
    kv_load("kv", SINK_REPLACE, b, tb, 1, 1);
    static const char *const r2[] = { "i:7|t:b7" };
    expect("SELECT * FROM kv ORDER BY id", r2, 1);
    int c[] = { 8, 9 };
    const char *tc[] = { "c8", NULL };
    kv_load("kv", SINK_APPEND, c, tc, 2, 1);
    static const char *const r3[] = { "i:7|t:b7", "i:8|t:c8", ("i:9|" N) };
    expect("SELECT * FROM kv ORDER BY id", r3, 3);
    int d[] = { 8, 10, 10 };
    const char *td[] = { "m8", "first", "last" };
    kv_load("kv", SINK_MERGE, d, td, 3, 2);
    static const char *const r4[] = { "i:7|t:b7", "i:8|t:m8", ("i:9|" N), "i:10|t:last" };
    expect("SELECT * FROM kv ORDER BY id", r4, 4);
    int e[] = { 9, 8 };
    const char *te[] = { "d9", "d8" };
    kv_load("kv", SINK_DELETE_INSERT, e, te, 2, 2);
    static const char *const r5[] = { "i:7|t:b7", "i:8|t:d8", "i:9|t:d9", "i:10|t:last" };
    expect("SELECT * FROM kv ORDER BY id", r5, 4);
    static const char *const none[] = { "i:0" };
    expect("SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_tdspipe\\_stage%' ESCAPE '\\'", none, 1);
}

static const char *const before[] = { "i:1|t:a1", "i:2|t:a2", "i:3|t:a3" };

static void seed(const char *table)
{
    int a[] = { 1, 2, 3 };
    const char *ta[] = { "a1", "a2", "a3" };
    kv_load(table, SINK_REPLACE, a, ta, 3, 3);
}

Test(sqlite, abort_mid_load_keeps_old_table)
{
    seed("keep");
    int b[] = { 10, 11, 12, 13 };
    const char *tb[] = { "n", "n", "n", "n" };
    kv_table k;
    kv_build(&k, b, tb, 4);
    for (int st = SINK_REPLACE; st <= SINK_DELETE_INSERT; st++) {
        sink_table t = kv_sink_table(&k, "keep", (sink_strategy)st);
        load_abort(uri, &t, k.vals, 4, 1, 2);
        expect("SELECT * FROM keep ORDER BY id", before, 3);
    }
    kv_free(&k);
}

Test(sqlite, bad_value_or_key_clash_keeps_old_table)
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
        expect("SELECT * FROM keep ORDER BY id", before, 3);
    }
    int c[] = { 4, 1 };
    const char *tc[] = { "x", "y" };
    kv_table k2;
    kv_build(&k2, c, tc, 2);
    sink_table t = kv_sink_table(&k2, "keep", SINK_APPEND);
    cr_assert_eq(load(uri, &t, k2.vals, 2, 1, msg, sizeof msg), SINK_E_DEST);
    cr_assert(strstr(msg, "UNIQUE") != NULL, "%s", msg);
    expect("SELECT * FROM keep ORDER BY id", before, 3);
    kv_free(&k);
    kv_free(&k2);
}

Test(sqlite, max_value)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "maxv", SINK_REPLACE);
    load_ok(&t, rs.vals, 4, 4);
    sink *s;
    char err[256], out[128];
    bool found;
    cr_assert_eq(sink_open(uri, NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sink_max_value(s, "dbo.maxv", "id", out, sizeof out, &found), 0, "%s", sink_errmsg(s));
    cr_assert(found);
    cr_assert_str_eq(out, "4");
    cr_assert_eq(sink_max_value(s, "maxv", "dt2", out, sizeof out, &found), 0);
    cr_assert_str_eq(out, "2262-04-10 23:59:59.9999999");
    cr_assert_eq(sink_max_value(s, "missing", "id", out, sizeof out, &found), 0);
    cr_assert(!found);
    cr_assert_eq(sink_max_value(s, "maxv", "id", out, 1, &found), SINK_E_ARG);
    sink_close(s);
    rows_free(&rs);
}

Test(sqlite, unopenable_path_is_one_line_error)
{
    sink *s = NULL;
    char err[512];
    cr_assert_eq(sink_open("sqlite:////nonexistent-dir/x.db", NULL, &s, err, sizeof err), SINK_E_DEST);
    cr_assert(strstr(err, "/nonexistent-dir/x.db") && !strchr(err, '\n'), "%s", err);
}

/* delete+insert with the source's interval: [8, 9] goes, even the rows
 * the new load does not bring back (9); 10 stays. Then an open-ended
 * window from 10. */
Test(sqlite, delete_insert_window)
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
    static const char *const r1[] = { "i:7|t:a", "i:8|t:w8", "i:10|t:a", "i:11|t:a" };
    expect("SELECT * FROM win ORDER BY id", r1, 4);
    int c[] = { 12 };
    const char *tc[] = { "w12" };
    kv_table k2;
    kv_build(&k2, c, tc, 1);
    t = kv_sink_table(&k2, "win", SINK_DELETE_INSERT);
    kv_window(&k2, &t, 10, -1);
    load_ok(&t, k2.vals, 1, 1);
    static const char *const r2[] = { "i:7|t:a", "i:8|t:w8", "i:12|t:w12" };
    expect("SELECT * FROM win ORDER BY id", r2, 3);
    kv_free(&k0);
    kv_free(&k);
    kv_free(&k2);
}

/* Typed windows: datetime2(7) and datetimeoffset bounds become literals of
 * the destination's own types. Rows: 1 (2024), 2 (min), 3 (max). */
Test(sqlite, delete_insert_typed_window)
{
    rows_window_load(uri, "tw", C_DT2, "2000-01-01 00:00:00", "2100-01-01 00:00:00");
    static const char *const r1[] = { "i:2", "i:3" };
    expect("SELECT id FROM tw ORDER BY id", r1, 2);
    /* datetimeoffset is stored as local text plus offset (lossless), so it
     * compares as text: a bound in the rows' own offset (docs/types.md) */
    rows_window_load(uri, "tw", C_DTO, "2024-01-02 03:04:05.1234567 -05:30", NULL);
    static const char *const r2[] = { "i:2" };
    expect("SELECT id FROM tw ORDER BY id", r2, 1);
    rows_window_load(uri, "tw", C_DATE, NULL, "2024-02-28"); /* row 1 is on the 29th */
    static const char *const r3[] = { "i:1", "i:3" };
    expect("SELECT id FROM tw ORDER BY id", r3, 2);
}

/* Load state moves with the data: written in the load's transaction,
 * gone with an aborted load, last value wins. */
Test(sqlite, state_in_the_same_transaction)
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

/* Schema evolution: a load that brings a column the target lacks adds it
 * (nullable); the old rows read NULL there. Merge replaces whole rows. */
Test(sqlite, new_columns_are_added)
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
    static const char *const r1[] = { "i:1|t:a|\xe2\x88\x85", "i:2|\xe2\x88\x85|t:b" };
    expect("SELECT * FROM evo ORDER BY id", r1, 2);
    kv_build(&k, c, tc, 1);
    const char *names_x[2] = { "id", "x" };
    t = kv_sink_table(&k, "evo", SINK_MERGE);
    t.names = names_x;
    load_ok(&t, k.vals, 1, 1);
    kv_free(&k);
    static const char *const r2[] = { "i:1|\xe2\x88\x85|\xe2\x88\x85|t:c", "i:2|\xe2\x88\x85|t:b|\xe2\x88\x85" };
    expect("SELECT * FROM evo ORDER BY id", r2, 2);
}

/* Every type survives the stage of merge and delete+insert exactly (the
 * INSERT … SELECT from the stage keeps the values). */
Test(sqlite, every_type_through_merge_and_delete_insert)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "mtypes", SINK_MERGE);
    load_ok(&t, rs.vals, 4, 2);
    load_ok(&t, rs.vals, 4, 4); /* again: every row merges onto itself */
    char sql[2048];
    snprintf(sql, sizeof sql, "%s", "SELECT * FROM mtypes ORDER BY id");
    expect(sql, typed_rows, 4);
    t = rows_table(&rs, "mtypes", SINK_DELETE_INSERT);
    load_ok(&t, rs.vals, 4, 3);
    expect(sql, typed_rows, 4);
    rows_free(&rs);
}

/* Change Tracking merge (sink_table.cdc): versions, deletes and
 * tombstones per sink.h, in three loads (rows.c's cdc_sequence). */
static void cdc_expect(const char *const *want, size_t n)
{
    char buf[8][64];
    const char *w[8];
    for (size_t i = 0; i < n; i++) {
        snprintf(buf[i], sizeof buf[i], "t:%s", want[i]);
        w[i] = buf[i];
    }
    expect(CDC_SELECT("cdc"), w, n);
}

Test(sqlite, change_tracking_merge_rules)
{
    cdc_sequence(uri, "cdc", cdc_expect);
}

/* --incremental-predicate (sink_table.merge_predicate): a merge whose join
 * is ON target.id = source.id AND (pred), as ingestr's. */
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

Test(sqlite, merge_predicate_is_anded_to_the_join)
{
    char msg[512];
    seed("mp");
    /* 1 matches with the predicate true: replaced; 4 twice: the latest
     * staged row, inserted; 2 and 3 not staged: kept */
    int a[] = { 1, 4, 4 };
    const char *ta[] = { "b1", "first", "b4" };
    cr_assert_eq(kv_merge_pred("mp", "target.v <> 'a3' AND source.v <> 'first'", a, ta, 3, msg, sizeof msg), 0, "%s", msg);
    static const char *const r1[] = { "i:1|t:b1", "i:2|t:a2", "i:3|t:a3", "i:4|t:b4" };
    expect("SELECT * FROM mp ORDER BY id, v", r1, 4);
    /* 3's target row fails the predicate: the staged row is inserted,
     * which the table's primary key refuses; nothing changes */
    int b[] = { 3, 2 };
    const char *tb[] = { "b3", "b2" };
    cr_assert_eq(kv_merge_pred("mp", "target.v <> 'a3'", b, tb, 2, msg, sizeof msg), SINK_E_DEST, "%s", msg);
    expect("SELECT * FROM mp ORDER BY id, v", r1, 4);
    /* a table without a key (the user's): that key ends with two rows,
     * as MERGE … WHEN NOT MATCHED THEN INSERT gives */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE np (id INTEGER, v TEXT); INSERT INTO np VALUES (1, 'a1'), (3, 'a3')",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    cr_assert_eq(kv_merge_pred("np", "target.v <> 'a3'", b, tb, 2, msg, sizeof msg), 0, "%s", msg);
    static const char *const r2[] = { "i:1|t:a1", "i:2|t:b2", "i:3|t:a3", "i:3|t:b3" };
    expect("SELECT * FROM np ORDER BY id, v", r2, 4);
    /* a merge only: any other strategy is refused before anything runs */
    kv_table k;
    kv_build(&k, b, tb, 2);
    sink_table t = kv_sink_table(&k, "mp", SINK_APPEND);
    t.merge_predicate = "target.v <> 'x'";
    cr_assert_eq(load(uri, &t, k.vals, 2, 2, msg, sizeof msg), SINK_E_ARG, "%s", msg);
    kv_free(&k);
    expect("SELECT * FROM mp ORDER BY id, v", r1, 4);
    static const char *const none[] = { "i:0" };
    expect("SELECT count(*) FROM sqlite_master WHERE name LIKE '\\_tdspipe\\_stage%' ESCAPE '\\'", none, 1);
}
