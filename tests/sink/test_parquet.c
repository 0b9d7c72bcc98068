/*
 * test_parquet.c — the Parquet sink (sink/parquet.c, parquet_file.c)
 * against libduckdb.so, read back through DuckDB's Parquet reader: every
 * value and type equal to what the DuckDB sink stores for the same rows,
 * rows across many chunks in order, abort and failure leaving an earlier
 * file as it was, append's parts, and the URI's path and parameters.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duckdb_int.h"
#include "parquet_int.h"
#include "readback.h"
#include "rows.h"

static const sink_ddb_api *ddb;
static char dir[1024], pq[1200], pq_uri[1300];

static void setup(void)
{
    char err[512];
    ddb = sink__ddb_load(NULL, err, sizeof err);
    cr_assert_not_null(ddb, "%s", err);
    snprintf(dir, sizeof dir, "%s", tmp_path("pq"));
    mkdir(dir, 0777);
    snprintf(pq, sizeof pq, "%s/t.parquet", dir);
    snprintf(pq_uri, sizeof pq_uri, "parquet://%s", pq);
}

TestSuite(parquet, .init = setup);

/* The first value of sql's first row, run in a fresh in-memory DuckDB
 * (malloc'd; "∅" for NULL). */
static char *one(const char *sql)
{
    sink_ddb_handle db = NULL, conn = NULL;
    char *oe = NULL;
    cr_assert_eq(ddb->duckdb_open_ext(":memory:", &db, NULL, &oe), SINK_DDB_SUCCESS, "%s", oe ? oe : "");
    cr_assert_eq(ddb->duckdb_connect(db, &conn), SINK_DDB_SUCCESS);
    sink_ddb_result r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(ddb->duckdb_query(conn, sql, &r), SINK_DDB_SUCCESS, "%s: %s", sql, ddb->duckdb_result_error(&r));
    char *v = ddb->duckdb_row_count(&r) ? ddb->duckdb_value_varchar(&r, 0, 0) : NULL;
    char *out = strdup(v ? v : "\xe2\x88\x85");
    if (v)
        ddb->duckdb_free(v);
    ddb->duckdb_destroy_result(&r);
    ddb->duckdb_disconnect(&conn);
    ddb->duckdb_close(&db);
    return out;
}

static void expect_one(const char *sql, const char *want)
{
    char *got = one(sql);
    cr_expect_str_eq(got, want, "%s", sql);
    free(got);
}

static void load_ok(const char *uri, const sink_table *t, const tds_value *vals, size_t n, size_t per)
{
    char msg[512];
    int rc = load(uri, t, vals, n, per, msg, sizeof msg);
    cr_assert_eq(rc, 0, "load: %d %s", rc, msg);
}

/* The same rows into a DuckDB file and a Parquet file: DuckDB reads the
 * same values with the same types from both (EXCEPT both ways). */
Test(parquet, every_type_as_the_duckdb_sink_stores_it)
{
    rowset rs;
    rows_build(&rs);
    char db[1200], db_uri[1300], sql[4096];
    snprintf(db, sizeof db, "%s/t.duckdb", dir);
    snprintf(db_uri, sizeof db_uri, "duckdb:///%s", db);
    sink_table t = rows_table(&rs, "types", SINK_REPLACE);
    load_ok(db_uri, &t, rs.vals, NROWS, 2);
    load_ok(pq_uri, &t, rs.vals, NROWS, 2);
    snprintf(sql, sizeof sql,
             "ATTACH '%s' AS d (READ_ONLY); SELECT (SELECT count(*) FROM (SELECT * FROM read_parquet('%s') EXCEPT "
             "SELECT * FROM d.types)) || '|' || (SELECT count(*) FROM (SELECT * FROM d.types EXCEPT SELECT * FROM "
             "read_parquet('%s'))) || '|' || (SELECT count(*) FROM read_parquet('%s'))",
             db, pq, pq, pq);
    expect_one(sql, "0|0|5");
    snprintf(sql, sizeof sql,
             "ATTACH '%s' AS d (READ_ONLY); SELECT (SELECT string_agg(column_type, ',') FROM (DESCRIBE SELECT * "
             "FROM read_parquet('%s'))) = (SELECT string_agg(column_type, ',') FROM (DESCRIBE d.types))",
             db, pq);
    expect_one(sql, "true");
    /* equal to DuckDB's types; three spelled out */
    snprintf(sql, sizeof sql, "SELECT typeof(dt2) || ',' || typeof(tm) || ',' || typeof(m) FROM read_parquet('%s') "
                              "LIMIT 1", pq);
    expect_one(sql, "TIMESTAMP_NS,TIME_NS,DECIMAL(19,4)");
    rows_free(&rs);
}

/* More rows than one chunk (2048), odd batches, NULLs: order and values. */
Test(parquet, many_rows_in_order)
{
    enum { M = 10000 };
    int *ids = malloc(M * sizeof *ids);
    const char **tx = malloc(M * sizeof *tx);
    for (int i = 0; i < M; i++) {
        ids[i] = i;
        tx[i] = i % 7 == 0 ? NULL : i % 2 ? "odd" : "even";
    }
    kv_table k;
    kv_build(&k, ids, tx, M);
    sink_table t = kv_sink_table(&k, "many", SINK_REPLACE);
    char uri[1400];
    snprintf(uri, sizeof uri, "%s?row_group_size=4096&compression=snappy", pq_uri);
    load_ok(uri, &t, k.vals, M, 999);
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT count(*) || '|' || count(*) FILTER (WHERE id = file_row_number) || '|' || "
                              "count(*) FILTER (WHERE v IS NULL) || '|' || count(*) FILTER (WHERE v = 'odd') "
                              "FROM read_parquet('%s', file_row_number = true)", pq);
    expect_one(sql, "10000|10000|1429|4286");
    snprintf(sql, sizeof sql, "SELECT count(DISTINCT row_group_id) || '|' || min(compression) FROM "
                              "parquet_metadata('%s')", pq);
    expect_one(sql, "3|SNAPPY");
    kv_free(&k);
    free(ids);
    free(tx);
}

static char *slurp(const char *path, size_t *n)
{
    return read_file(path, false, n);
}

static size_t temp_files(void)
{
    char sql[1400];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM glob('%s/*.tmp-*')", dir);
    char *n = one(sql);
    size_t k = (size_t)atol(n);
    free(n);
    return k;
}

/* An aborted load (after two batches) and a load that fails on a value
 * leave the earlier file byte for byte, and no temp file. */
Test(parquet, abort_and_failure_keep_the_old_file)
{
    int ids[] = { 1, 2, 3, 4, 5, 6 };
    const char *tx[] = { "a", "b", "c", "d", "e", "f" };
    kv_table k;
    kv_build(&k, ids, tx, 6);
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    load_ok(pq_uri, &t, k.vals, 3, 2);
    size_t n0, n1;
    char *before = slurp(pq, &n0);
    cr_assert_eq(load_abort(pq_uri, &t, k.vals, 6, 2, 2), 0);
    char *after = slurp(pq, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "the file changed");
    free(after);
    k.vals[4 * 2 + 1].flags |= TDS_VF_STREAMED; /* a value no sink takes */
    char msg[512];
    cr_assert_neq(load(pq_uri, &t, k.vals, 6, 2, msg, sizeof msg), 0);
    cr_expect(strstr(msg, "column v"), "%s", msg);
    after = slurp(pq, &n1);
    cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "the file changed");
    cr_expect_eq(temp_files(), 0);
    free(before);
    free(after);
    kv_free(&k);
}

/* append: the file, then parts; replace removes the parts. */
Test(parquet, append_writes_parts)
{
    int ids[] = { 1, 2 };
    const char *tx[] = { "a", "b" };
    kv_table k;
    kv_build(&k, ids, tx, 2);
    sink_table t = kv_sink_table(&k, "t", SINK_APPEND);
    for (int i = 0; i < 3; i++)
        load_ok(pq_uri, &t, k.vals, 2, 2);
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM read_parquet(['%s', '%s/t.part-*.parquet'])", pq, dir);
    expect_one(sql, "6");
    char part[1400];
    snprintf(part, sizeof part, "%s/t.part-0002.parquet", dir);
    cr_assert_eq(access(part, F_OK), 0);
    t.strategy = SINK_REPLACE;
    load_ok(pq_uri, &t, k.vals, 2, 2);
    cr_assert_neq(access(part, F_OK), 0, "replace left a part");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM glob('%s/t.*')", dir);
    expect_one(sql, "1");
    t.strategy = SINK_MERGE;
    char msg[512];
    cr_assert_eq(load(pq_uri, &t, k.vals, 2, 2, msg, sizeof msg), SINK_E_UNSUPPORTED);
    kv_free(&k);
}

Test(parquet, uri_path_and_parameters)
{
    pq_target t;
    char err[256];
    cr_assert_eq(sink__pq_target("/abs/x%20y.parquet?compression=SNAPPY&row_group_size=5000", &t, err, sizeof err), 0,
                 "%s", err);
    cr_expect_str_eq(t.path, "/abs/x y.parquet");
    cr_expect_str_eq(t.compression, "snappy");
    cr_expect_eq(t.row_group_size, 5000);
    sink__pq_target_free(&t);
    cr_assert_eq(sink__pq_target("rel.parquet", &t, err, sizeof err), 0);
    cr_expect_str_eq(t.path, "rel.parquet");
    cr_expect_str_eq(t.compression, "zstd");
    cr_expect_eq(t.row_group_size, 0);
    sink__pq_target_free(&t);
    static const char *const bad[] = { "x.parquet?compression=zip", "x.parquet?row_group_size=0",
                                       "x.parquet?row_group_size=12x", "x.parquet?level=3", "", "dir/" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(sink__pq_target(bad[i], &t, err, sizeof err), SINK_E_URI, "%s accepted", bad[i]);
        cr_expect(err[0] && !strchr(err, '\n'), "%s: '%s'", bad[i], err);
    }
    char *p = sink__pq_part_name("/nonexistent-dir-of-tdspipe/x.parquet");
    cr_expect_str_eq(p, "/nonexistent-dir-of-tdspipe/x.parquet"); /* absent: the file itself */
    free(p);
}
