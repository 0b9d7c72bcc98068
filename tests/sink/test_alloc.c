/*
 * test_alloc.c — every allocation site of the sinks fails once: for each
 * n, the nth allocation of a load (open, begin, appends, commit) fails;
 * the load must report SINK_E_NOMEM (or succeed once n is past the last
 * allocation), leak nothing (ASan) and leave the destination as it was.
 * Runs the destinations whose every allocation is ours to fail: CSV,
 * JSONL (plain and gzip), SQLite (its own allocations are SQLite's) and
 * discard.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rows.h"
#include "sink_int.h"

static void walk(const char *scheme, const char *file, sink_strategy st)
{
    rowset rs;
    rows_build(&rs);
    char path[1024], uri[1200], msg[512];
    snprintf(path, sizeof path, "%s", tmp_path(file));
    if (strcmp(scheme, "discard") == 0)
        snprintf(uri, sizeof uri, "discard://");
    else
        snprintf(uri, sizeof uri, "%s://%s", scheme, path);
    sink_table t = rows_table(&rs, "dbo.t", st);
    /* a first good load: the contents every failure must leave alone */
    cr_assert_eq(load(uri, &t, rs.vals, 2, 1, msg, sizeof msg), 0, "%s", msg);
    size_t n0 = 0;
    char *before = strcmp(scheme, "discard") ? read_file(path, strstr(file, ".gz") != NULL, &n0) : NULL;
    bool done = false;
    for (long n = 1; !done && n < 2000; n++) {
        sink__alloc_fail_after(n);
        int rc = load(uri, &t, rs.vals, NROWS, 2, msg, sizeof msg);
        long used = sink__alloc_fail_after(0);
        if (rc == 0) {
            cr_assert_lt(used, n, "succeeded although allocation %ld failed", n);
            done = true;
            break;
        }
        cr_assert(rc == SINK_E_NOMEM || rc == SINK_E_DEST, "n=%ld: rc %d (%s)", n, rc, msg);
        if (before) {
            size_t n1;
            char *after = read_file(path, strstr(file, ".gz") != NULL, &n1);
            cr_assert(n1 == n0 && memcmp(before, after, n0) == 0, "n=%ld: destination changed", n);
            free(after);
        }
    }
    cr_assert(done, "never succeeded");
    free(before);
    rows_free(&rs);
}

Test(alloc, csv_replace) { walk("csv", "a.csv", SINK_REPLACE); }
Test(alloc, csv_gzip_append) { walk("csv", "a.csv.gz", SINK_APPEND); }
Test(alloc, jsonl_replace) { walk("jsonl", "a.jsonl", SINK_REPLACE); }
Test(alloc, discard_merge) { walk("discard", "x", SINK_MERGE); }

/* SQLite: a file database can't be compared byte for byte after a
 * rollback (the journal may touch it), so compare the table instead. */
#include <sqlite3.h>

static char *dump(const char *path)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT group_concat(id || ':' || quote(nvm), ',') FROM t", -1, &st, NULL),
                 SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    const char *t = (const char *)sqlite3_column_text(st, 0);
    char *r = strdup(t ? t : "");
    sqlite3_finalize(st);
    sqlite3_close(db);
    return r;
}

/* The second load under contract k; with a new column (x renamed) the
 * contract's filter (discard_*) or ALTER TABLE (evolve) is walked too. */
static void walk_sqlite_contract(sink_strategy st, sink_contract k, bool new_column)
{
    rowset rs;
    rows_build(&rs);
    char path[1024], uri[1200], msg[512];
    snprintf(path, sizeof path, "%s", tmp_path("a.db"));
    snprintf(uri, sizeof uri, "sqlite:///%s", path);
    sink_table t = rows_table(&rs, "dbo.t", SINK_REPLACE);
    cr_assert_eq(load(uri, &t, rs.vals, 2, 1, msg, sizeof msg), 0, "%s", msg);
    char *before = dump(path);
    t = rows_table(&rs, "dbo.t", st);
    t.contract = k;
    const char *names[NCOLS];
    if (new_column) {
        for (size_t i = 0; i < NCOLS; i++)
            names[i] = t.names ? t.names[i] : rs.cols[i].name.ptr;
        names[C_X] = "x_new";
        t.names = names;
    }
    bool done = false;
    for (long n = 1; !done && n < 2000; n++) {
        sink__alloc_fail_after(n);
        int rc = load(uri, &t, rs.vals + 2 * NCOLS, 2, 1, msg, sizeof msg);
        long used = sink__alloc_fail_after(0);
        if (rc == 0) {
            cr_assert_lt(used, n);
            done = true;
            break;
        }
        cr_assert(rc == SINK_E_NOMEM, "n=%ld: rc %d (%s)", n, rc, msg);
        char *after = dump(path);
        cr_assert_str_eq(after, before, "n=%ld", n);
        free(after);
    }
    cr_assert(done);
    free(before);
    rows_free(&rs);
}

static void walk_sqlite(sink_strategy st) { walk_sqlite_contract(st, SINK_EVOLVE, false); }

Test(alloc, sqlite_merge) { walk_sqlite(SINK_MERGE); }
Test(alloc, sqlite_delete_insert) { walk_sqlite(SINK_DELETE_INSERT); }
Test(alloc, sqlite_append_evolve_new_column) { walk_sqlite_contract(SINK_APPEND, SINK_EVOLVE, true); }
Test(alloc, sqlite_merge_discard_value_new_column) { walk_sqlite_contract(SINK_MERGE, SINK_DISCARD_VALUE, true); }
Test(alloc, sqlite_append_discard_row_new_column) { walk_sqlite_contract(SINK_APPEND, SINK_DISCARD_ROW, true); }
