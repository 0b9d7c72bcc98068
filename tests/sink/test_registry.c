/*
 * test_registry.c — the public entry points (sink/registry.c): scheme
 * lookup, URI errors, call-order checks, strategy names; the row batcher
 * (sink_rows in sink/value.c); and the discard sink (sink/discard.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rows.h"

Test(registry, every_destination_is_registered)
{
    static const char *const want[] = { "csv", "jsonl", "sqlite", "postgresql", "duckdb", "parquet", "mssql",
                                        "azuresql", "discard" };
    const sink_vtable *const *r = sink_registry();
    size_t n = 0;
    while (r[n])
        n++;
    cr_assert_eq(n, 9);
    for (size_t i = 0; i < 9; i++) {
        const sink_vtable *vt = sink_find(want[i], strlen(want[i]));
        cr_assert_not_null(vt, "%s", want[i]);
        cr_assert(vt->open && vt->begin && vt->append && vt->commit && vt->abort && vt->close);
    }
    cr_assert_eq(sink_find("postgres", 8), sink_find("postgresql", 10));
    cr_assert_eq(sink_find("sqlserver", 9), sink_find("mssql", 5));
    cr_assert_eq(sink_find("azure-sql", 9), sink_find("azuresql", 8));
    cr_assert(sink_find("mssql", 5)->lookup && sink_find("azuresql", 8)->lookup);
    cr_assert_eq(sink_find("CSV", 3), sink_find("csv", 3));
    cr_assert_eq(sink_find("ndjson", 6), sink_find("jsonl", 5)); /* ingestr's second name */
    cr_assert_not_null(sink_find("parquet", 7)); /* sink/parquet.c */
    cr_assert_null(sink_find("mysql", 5));
}

Test(registry, bad_uris)
{
    sink *s = (sink *)1;
    char err[256];
    cr_assert_eq(sink_open("nothing-here", NULL, &s, err, sizeof err), SINK_E_URI);
    cr_assert_null(s);
    cr_assert_str_eq(err, "destination URI has no scheme:// part");
    cr_assert_eq(sink_open("mysql://h/db", NULL, &s, err, sizeof err), SINK_E_URI);
    cr_assert_str_eq(err, "unknown destination scheme 'mysql'");
    cr_assert_eq(sink_open("csv://", NULL, &s, err, sizeof err), SINK_E_URI);
    cr_assert_eq(sink_open("csv:///", NULL, &s, err, sizeof err), SINK_E_URI);
    cr_assert_eq(sink_open(NULL, NULL, &s, err, sizeof err), SINK_E_ARG);
    /* err may be absent */
    cr_assert_eq(sink_open("x", NULL, &s, NULL, 0), SINK_E_URI);
}

Test(registry, strategy_names)
{
    static const char *const names[] = { "replace", "append", "merge", "delete+insert" };
    for (int i = 0; i < 4; i++) {
        sink_strategy st;
        cr_assert_eq(sink_strategy_parse(names[i], &st), 0);
        cr_assert_eq((int)st, i);
        cr_assert_str_eq(sink_strategy_name(st), names[i]);
    }
    sink_strategy st;
    cr_assert_eq(sink_strategy_parse("scd2", &st), SINK_E_ARG);
    cr_assert_eq(sink_strategy_parse("Replace", &st), SINK_E_ARG);
    for (int e = 0; e >= -9; e--)
        cr_assert_not_null(sink_strerror(e));
}

Test(registry, call_order_and_table_checks)
{
    int ids[] = { 1 };
    const char *tx[] = { "a" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    sink *s;
    char err[256];
    cr_assert_eq(sink_open("discard://", NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sink_name(s), "discard");
    sink_batch b = { k.vals, 1 };
    cr_assert_eq(sink_append(s, &b), SINK_E_ARG);
    cr_assert_str_eq(sink_errmsg(s), "append before begin");
    cr_assert_eq(sink_commit(s), SINK_E_ARG);

    sink_table t = kv_sink_table(&k, "t", SINK_MERGE);
    t.npk = 0;
    cr_assert_eq(sink_begin(s, &t), SINK_E_UNSUPPORTED);
    cr_assert_str_eq(sink_errmsg(s), "merge needs a primary key");
    t = kv_sink_table(&k, "t", SINK_DELETE_INSERT);
    t.incremental_key = -1;
    cr_assert_eq(sink_begin(s, &t), SINK_E_UNSUPPORTED);
    t = kv_sink_table(&k, "t", SINK_REPLACE);
    t.incremental_key = 5;
    cr_assert_eq(sink_begin(s, &t), SINK_E_ARG);
    t = kv_sink_table(&k, "", SINK_REPLACE);
    cr_assert_eq(sink_begin(s, &t), SINK_E_ARG);

    t = kv_sink_table(&k, "t", SINK_REPLACE);
    cr_assert_eq(sink_begin(s, &t), 0);
    cr_assert_eq(sink_begin(s, &t), SINK_E_ARG); /* already loading */
    cr_assert_eq(sink_append(s, &b), 0);
    sink_batch empty = { NULL, 0 };
    cr_assert_eq(sink_append(s, &empty), 0);
    cr_assert_eq(sink_commit(s), 0);
    /* begin again after commit */
    cr_assert_eq(sink_begin(s, &t), 0);
    sink_abort(s);
    sink_abort(s);
    char out[8];
    bool found = true;
    cr_assert_eq(sink_max_value(s, "t", "id", out, sizeof out, &found), SINK_E_UNSUPPORTED);
    cr_assert(!found);
    sink_close(s);
    sink_close(NULL);
    kv_free(&k);
}

/* After a failed append the load is over: no commit can make half of it
 * visible. */
Test(registry, no_commit_after_failure)
{
    int ids[] = { 1 };
    const char *tx[] = { "a" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    static const uint8_t bad[] = { 0x00, 0xD8 };
    k.vals[1] = (tds_value){ bad, 2, 0 };
    sink *s;
    char err[256];
    cr_assert_eq(sink_open("discard://", NULL, &s, err, sizeof err), 0);
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    cr_assert_eq(sink_begin(s, &t), 0);
    sink_batch b = { k.vals, 1 };
    cr_assert_eq(sink_append(s, &b), SINK_E_VALUE);
    cr_assert_str_eq(sink_errmsg(s), "column v: value cannot be decoded");
    cr_assert_eq(sink_append(s, &b), SINK_E_ARG);
    cr_assert_eq(sink_commit(s), SINK_E_ARG);
    cr_assert_str_eq(sink_errmsg(s), "the load already failed");
    sink_close(s);
    kv_free(&k);
}

Test(discard, decodes_every_type)
{
    rowset rs;
    rows_build(&rs);
    sink_table t = rows_table(&rs, "t", SINK_MERGE);
    char msg[256];
    cr_assert_eq(load("discard://", &t, rs.vals, NROWS, 2, msg, sizeof msg), 0, "%s", msg);
    rows_free(&rs);
}

Test(rows, copies_values_and_survives_the_source)
{
    rowset rs;
    rows_build(&rs);
    sink_rows *r = sink_rows_new(NCOLS);
    cr_assert_not_null(r);
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < NROWS; i++)
            cr_assert_eq(sink_rows_add(r, rs.vals + i * NCOLS), 0);
        cr_assert_eq(sink_rows_count(r), NROWS);
        sink_batch b = sink_rows_batch(r);
        cr_assert_eq(b.nrows, NROWS);
        for (size_t i = 0; i < NROWS * NCOLS; i++) {
            cr_assert_eq(b.values[i].len, rs.vals[i].len);
            cr_assert_eq(b.values[i].flags, rs.vals[i].flags);
            if (rs.vals[i].len) {
                cr_assert_neq(b.values[i].ptr, rs.vals[i].ptr, "not a copy");
                cr_assert(memcmp(b.values[i].ptr, rs.vals[i].ptr, rs.vals[i].len) == 0);
            }
        }
        /* the copies load like the originals */
        sink_table t = rows_table(&rs, "t", SINK_REPLACE);
        char msg[256];
        cr_assert_eq(load("discard://", &t, b.values, b.nrows, b.nrows, msg, sizeof msg), 0, "%s", msg);
        sink_rows_reset(r);
        cr_assert_eq(sink_rows_count(r), 0);
    }
    tds_value streamed = { NULL, 10, TDS_VF_STREAMED };
    tds_value row[NCOLS];
    memcpy(row, rs.vals, sizeof row);
    row[C_NVM] = streamed;
    /* a streamed value no chunk came for is empty (not NULL) */
    cr_assert_eq(sink_rows_add(r, row), 0);
    sink_batch sb = sink_rows_batch(r);
    cr_assert_eq(sb.nrows, 1);
    cr_assert_eq(sb.values[C_NVM].len, 0);
    cr_assert_eq(sb.values[C_NVM].flags & (TDS_VF_STREAMED | TDS_VF_NULL), 0);
    sink_rows_free(r);
    sink_rows_free(NULL);
    cr_assert_null(sink_rows_new(0));
    rows_free(&rs);
}

/* Many rows through the batcher: blocks are reused after reset. */
Test(rows, many_rows_many_blocks)
{
    rowset rs;
    rows_build(&rs);
    sink_rows *r = sink_rows_new(NCOLS);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 40; i++)
            cr_assert_eq(sink_rows_add(r, rs.vals + 4 * NCOLS), 0); /* the large row */
        sink_batch b = sink_rows_batch(r);
        for (size_t i = 0; i < b.nrows; i++)
            cr_assert(memcmp(b.values[i * NCOLS + C_VBM].ptr, rs.big_bin, rs.big_bin_len) == 0);
        sink_rows_reset(r);
    }
    sink_rows_free(r);
    rows_free(&rs);
}

/* File URIs follow ingestr: everything after "scheme://" is the path
 * ("csv://rel.csv" and "jsonl://sub/x.jsonl" relative, "csv:///abs"
 * absolute, percent-decoded, the query dropped; ndjson:// is jsonl://).
 * SQLite and DuckDB keep SQLAlchemy's rule: "sqlite:////abs" absolute. */
Test(registry, file_uri_paths)
{
    int ids[] = { 1 };
    const char *tx[] = { "a" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    sink_table t = kv_sink_table(&k, "t", SINK_REPLACE);
    char dir[1024], uri[1200], msg[256];
    snprintf(dir, sizeof dir, "%s", tmp_path("cwd"));
    cr_assert_eq(mkdir(dir, 0777), 0);
    cr_assert_eq(chdir(dir), 0);
    cr_assert_eq(load("csv://rel.csv", &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(access("rel.csv", F_OK), 0);
    cr_assert_eq(mkdir("sub", 0777), 0);
    cr_assert_eq(load("jsonl://sub/x.jsonl", &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(access("sub/x.jsonl", F_OK), 0);
    cr_assert_eq(load("ndjson://sub/n%20d.jsonl?x=1", &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(access("sub/n d.jsonl", F_OK), 0);
    cr_assert_eq(mkdir("abs", 0777), 0);
    snprintf(uri, sizeof uri, "csv://%s/abs/a.csv", dir); /* = csv:///tmp/…/abs/a.csv */
    cr_assert_eq(uri[6], '/');
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    snprintf(uri, sizeof uri, "%s/abs/a.csv", dir);
    cr_assert_eq(access(uri, F_OK), 0);
    snprintf(uri, sizeof uri, "sqlite:///%s/abs.db", dir);
    cr_assert_eq(load(uri, &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    snprintf(uri, sizeof uri, "%s/abs.db", dir);
    cr_assert_eq(access(uri, F_OK), 0);
    cr_assert_eq(load("sqlite:///rel.db", &t, k.vals, 1, 1, msg, sizeof msg), 0, "%s", msg);
    cr_assert_eq(access("rel.db", F_OK), 0);
    kv_free(&k);
}

/* Streamed (max) values in the engine's order: the chunks of the row's
 * PLP values (TDS_EV_PLP_CHUNK) first, then the row (TDS_EV_ROW) with
 * those values marked streamed; it loads exactly like the row with whole
 * values. */
Test(rows, streamed_values_assembled_from_chunks)
{
    rowset rs;
    rows_build(&rs);
    const tds_value *whole = rs.vals + 4 * NCOLS; /* the large row */
    tds_value row[NCOLS];
    memcpy(row, whole, sizeof row);
    row[C_NVM] = (tds_value){ NULL, 0, TDS_VF_STREAMED };
    row[C_VBM] = (tds_value){ NULL, 0, TDS_VF_STREAMED };
    row[C_X] = (tds_value){ NULL, 0, TDS_VF_STREAMED }; /* an empty one: only the end */
    sink_rows *r = sink_rows_new(NCOLS);
    /* chunks for a column the row does not stream: refused, and dropped */
    cr_assert_eq(sink_rows_chunk(r, C_ID, (const uint8_t *)"x", 1), 0);
    cr_assert_eq(sink_rows_add(r, whole), SINK_E_ARG);
    cr_assert_eq(sink_rows_count(r), 0);
    cr_assert_eq(sink_rows_chunk(r, NCOLS, (const uint8_t *)"x", 1), SINK_E_ARG);
    static const size_t cols[2] = { C_NVM, C_VBM };
    for (int k = 0; k < 2; k++) {
        const tds_value *v = &whole[cols[k]];
        for (size_t off = 0; off < v->len; off += 8000) {
            size_t n = v->len - off < 8000 ? v->len - off : 8000;
            cr_assert_eq(sink_rows_chunk(r, cols[k], v->ptr + off, n), 0);
        }
        cr_assert_eq(sink_rows_chunk(r, cols[k], NULL, 0), 0);
    }
    cr_assert_eq(sink_rows_chunk(r, C_X, NULL, 0), 0);
    cr_assert_eq(sink_rows_count(r), 0);
    cr_assert_eq(sink_rows_add(r, row), 0);
    cr_assert_eq(sink_rows_count(r), 1);
    cr_assert_eq(sink_rows_add(r, whole), 0); /* a next row may come */

    sink_batch b = sink_rows_batch(r);
    cr_assert_eq(b.nrows, 2);
    cr_assert_eq(b.values[C_NVM].len, whole[C_NVM].len);
    cr_assert(memcmp(b.values[C_NVM].ptr, whole[C_NVM].ptr, whole[C_NVM].len) == 0);
    cr_assert(memcmp(b.values[C_VBM].ptr, whole[C_VBM].ptr, whole[C_VBM].len) == 0);
    cr_assert_eq(b.values[C_X].len, 0);
    cr_assert_eq(b.values[C_X].flags, 0);

    /* the same CSV as from the whole values (x aside: empty vs the row's xml) */
    char p1[1024], p2[1024], u1[1200], u2[1200], msg[256];
    snprintf(p1, sizeof p1, "%s", tmp_path("s1.csv"));
    snprintf(p2, sizeof p2, "%s", tmp_path("s2.csv"));
    snprintf(u1, sizeof u1, "csv://%s", p1);
    snprintf(u2, sizeof u2, "csv://%s", p2);
    sink_table t = rows_table(&rs, "t", SINK_REPLACE);
    cr_assert_eq(load(u1, &t, b.values, 1, 1, msg, sizeof msg), 0, "%s", msg);
    memcpy(row, whole, sizeof row);
    row[C_X] = (tds_value){ (const uint8_t *)"", 0, 0 };
    cr_assert_eq(load(u2, &t, row, 1, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n1, n2;
    char *a = read_file(p1, false, &n1), *c = read_file(p2, false, &n2);
    cr_assert(n1 == n2 && memcmp(a, c, n1) == 0);
    free(a);
    free(c);
    sink_rows_reset(r);
    cr_assert_eq(sink_rows_count(r), 0);
    sink_rows_free(r);
    rows_free(&rs);
}

/* sink_table.cdc needs merge and the _cdc_lsn/_cdc_deleted columns; the
 * discard and file sinks, which keep no cursor, refuse it. */
Test(registry, change_tracking_merge_checks)
{
    int ids[] = { 1 };
    const char *tx[] = { "a" };
    kv_table k;
    kv_build(&k, ids, tx, 1);
    sink_table t = kv_sink_table(&k, "kv", SINK_MERGE);
    t.cdc = true;
    char err[256];
    sink *s = NULL;
    cr_assert_eq(sink_open("discard://", NULL, &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sink_begin(s, &t), SINK_E_ARG, "cdc without the _cdc_ columns must be refused");
    cr_assert(strstr(sink_errmsg(s), "_cdc_lsn"), "%s", sink_errmsg(s));
    sink_close(s);
    cr_assert_eq(sink_open("discard://", NULL, &s, err, sizeof err), 0, "%s", err);
    t.strategy = SINK_APPEND;
    cr_assert_eq(sink_begin(s, &t), SINK_E_ARG, "cdc without merge must be refused");
    sink_close(s);
    kv_free(&k);
    char msg[256] = "";
    /* a well-formed cdc table: refused by discard (no state) and csv (no merge) */
    tds_column cols[2];
    cr_assert_eq(tds_column_init(&cols[0], TDS_T_NVARCHAR, 40, 0, 0), TDS_OK);
    cr_assert_eq(tds_column_init(&cols[1], TDS_T_BITN, 1, 0, 0), TDS_OK);
    const char *names[2] = { "_cdc_lsn", "_cdc_deleted" };
    size_t pk[1] = { 0 };
    sink_table c;
    memset(&c, 0, sizeof c);
    c.name = "c";
    c.cols = cols;
    c.names = names;
    c.ncols = 2;
    c.pk = pk;
    c.npk = 1;
    c.incremental_key = -1;
    c.strategy = SINK_MERGE;
    c.cdc = true;
    const char *const dests[] = { "discard://", "csv://never.csv" };
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(sink_open(dests[i], NULL, &s, msg, sizeof msg), 0, "%s", msg);
        cr_assert_eq(sink_begin(s, &c), SINK_E_UNSUPPORTED, "%s accepted a cdc merge", dests[i]);
        sink_close(s);
    }
    cr_assert_neq(access("never.csv", F_OK), 0, "csv left a file");
}
