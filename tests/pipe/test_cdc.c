/* test_cdc.c — the Change Data Capture source's pieces that need no
 * server: LSN text, the SQL text of a snapshot and of a changes window,
 * the select list's checks and the flag checks (pipe/cdc_*.c). The end-to-
 * end behaviour against tdstestd is tests/cli/e2e_cdc.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdc_int.h"

Test(cdc, lsn_parse)
{
    char out[CDC_LSN_HEX + 1];
    cr_assert(pipe_cdc_lsn_parse("0x0000002A000000100003", out));
    cr_assert_str_eq(out, "0000002A000000100003");
    cr_assert(pipe_cdc_lsn_parse("0000002a000000100003", out), "bare digits, any case");
    cr_assert_str_eq(out, "0000002A000000100003");
    /* a _cdc_lsn (LSN then seqval) gives its LSN */
    cr_assert(pipe_cdc_lsn_parse("0000002A000000100003FFFFFFFFFFFFFFFFFFFF", out));
    cr_assert_str_eq(out, "0000002A000000100003");
    cr_assert(!pipe_cdc_lsn_parse("", out));
    cr_assert(!pipe_cdc_lsn_parse("0x", out));
    cr_assert(!pipe_cdc_lsn_parse("0x0000002A00000010000", out), "19 digits");
    cr_assert(!pipe_cdc_lsn_parse("0x0000002A00000010000G", out));
    cr_assert(pipe_cdc_lsn_parse("00000000000000000042", out));
    cr_assert(!pipe_cdc_lsn_parse("12345", out), "a Change Tracking version is not an LSN");
}

Test(cdc, lsn_dec)
{
    char out[CDC_LSN_HEX + 1];
    pipe_cdc_lsn_dec("0000002A000000100003", out);
    cr_assert_str_eq(out, "0000002A000000100002");
    pipe_cdc_lsn_dec("0000002A000000100000", out);
    cr_assert_str_eq(out, "0000002A0000000FFFFF", "borrows");
    pipe_cdc_lsn_dec("00000000000000000000", out);
    cr_assert_str_eq(out, "00000000000000000000", "zero stays zero");
}

static pipe_cdc *fixture(pipe_catalog *cat)
{
    pipe_cdc *c = calloc(1, sizeof *c);
    cr_assert(c);
    c->db = strdup("shop");
    c->qname = strdup("[shop].[dbo].[orders]");
    snprintf(c->instance, sizeof c->instance, "dbo_orders");
    const char *cols[] = {"id", "customer", "amount"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(pipe_list_add(&c->captured, cols[i], strlen(cols[i])), 0);
        cr_assert_eq(pipe_list_add(&cat->names, cols[i], strlen(cols[i])), 0);
    }
    cr_assert_eq(pipe_list_add(&cat->pk, "id", 2), 0);
    c->cat = cat;
    return c;
}

Test(cdc, sql_snapshot_and_changes)
{
    pipe_catalog cat = {0};
    pipe_cdc *c = fixture(&cat);
    tdspipe_load_opts o = {0};
    pipe_plan p = {.o = &o};
    char err[300];
    cr_assert_eq(pipe_cdc_build_cols(c, &p, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c->rows.nsel, 3);
    char *sql = pipe_cdc_sql_snapshot(c);
    cr_assert_str_eq(sql, "SELECT [id], [customer], [amount] FROM [shop].[dbo].[orders]");
    free(sql);
    snprintf(c->from, sizeof c->from, "0000002A000000100001");
    snprintf(c->to, sizeof c->to, "0000002A000000200000");
    sql = pipe_cdc_sql_changes(c);
    cr_assert_str_eq(sql, "SELECT [__$start_lsn], [__$seqval], [__$operation], [id], [customer], [amount] FROM [cdc]."
                          "[fn_cdc_get_all_changes_dbo_orders](0x0000002A000000100001, 0x0000002A000000200000, N'all') "
                          "ORDER BY [__$start_lsn], [__$seqval], [__$operation]");
    free(sql);
    c->empty = true; /* nothing captured after the cursor: the function would refuse the range */
    sql = pipe_cdc_sql_changes(c);
    cr_assert_str_eq(sql, "SELECT TOP (0) CAST(NULL AS binary(10)) AS [__$start_lsn], CAST(NULL AS binary(10)) AS "
                          "[__$seqval], CAST(NULL AS int) AS [__$operation], [id], [customer], [amount] FROM "
                          "[shop].[dbo].[orders]");
    free(sql);
    pipe_cdc_free(c);
    pipe_catalog_free(&cat);
}

Test(cdc, select_list_exclude_and_columns)
{
    pipe_catalog cat = {0};
    pipe_cdc *c = fixture(&cat);
    const char *ex[] = {"amount"};
    tdspipe_load_opts o = {.exclude = ex, .nexclude = 1};
    pipe_colspec spec = {.name = "who", .source = "customer", .sqltype = "nvarchar(10)"};
    pipe_plan p = {.o = &o, .specs = &spec, .nspecs = 1};
    char err[300];
    cr_assert_eq(pipe_cdc_build_cols(c, &p, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c->cols, "[id], CAST([customer] AS nvarchar(10)) AS [who]");
    free(c->cols);
    c->cols = NULL;
    /* a column the instance does not capture cannot be excluded or cast */
    const char *ex2[] = {"nope"};
    o.exclude = ex2;
    cr_assert_eq(pipe_cdc_build_cols(c, &p, err, sizeof err), TDSPIPE_E_USAGE);
    cr_assert(strstr(err, "capture instance 'dbo_orders' has no column 'nope'"), "%s", err);
    o.nexclude = 0;
    snprintf(spec.source, sizeof spec.source, "secret");
    cr_assert_eq(pipe_cdc_build_cols(c, &p, err, sizeof err), TDSPIPE_E_USAGE);
    cr_assert(strstr(err, "does not capture column 'secret'"), "%s", err);
    pipe_cdc_free(c);
    pipe_catalog_free(&cat);
}

Test(cdc, flag_checks)
{
    tdspipe_error e;
    tdspipe_load_opts o = {.source_table = "dbo.orders"};
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), 0);
    o.strategy_given = true;
    o.strategy = SINK_APPEND;
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "load by merge") && strstr(e.message, "--full-refresh"), "%s", e.message);
    o.full_refresh = true;
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), 0, "any strategy with --full-refresh");
    o.sql_limit = 5;
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "--sql-limit"), "%s", e.message);
    o.sql_limit = 0;
    const char *ex[] = {"_CDC_lsn"};
    o.exclude = ex;
    o.nexclude = 1;
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "'_CDC_lsn' cannot be excluded"), "%s", e.message);
    o.nexclude = 0;
    o.incremental_key = "updated_at";
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), TDSPIPE_E_USAGE);
    o.incremental_key = NULL;
    o.source_table = "query:SELECT 1";
    cr_assert_eq(pipe_cdc_check_flags(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "query:"), "%s", e.message);
}

Test(cdc, registry_takes_the_four_schemes)
{
    const char *ok[] = {"mssql+cdc://u:p@h/db", "SQLSERVER+CDC://h/db", "azuresql+cdc://h/db", "azure-sql+cdc://h/db"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(pipe_source_find(ok[i]), &pipe_src_cdc, "%s", ok[i]);
    cr_assert_neq(pipe_source_find("mssql+ct://h/db"), &pipe_src_cdc);
    cr_assert_neq(pipe_source_find("mssql://h/db"), &pipe_src_cdc);
}

Test(cdc, cursor_values)
{
    char lsn[CDC_LSN_HEX + 1], t[40];
    cr_assert(pipe_cdc_cursor_parse("0000002A000000100003", lsn, t, sizeof t));
    cr_assert_str_eq(lsn, "0000002A000000100003");
    cr_assert_str_eq(t, "");
    cr_assert(pipe_cdc_cursor_parse("0000002A000000100003 after 2026-12-05 19:30:00.1234567", lsn, t, sizeof t));
    cr_assert_str_eq(lsn, "0000002A000000100003");
    cr_assert_str_eq(t, "2026-12-05 19:30:00.1234567");
    cr_assert(!pipe_cdc_cursor_parse("0000002A000000100003 before 2026-12-05", lsn, t, sizeof t));
    cr_assert(!pipe_cdc_cursor_parse("0000002A000000100003 after ", lsn, t, sizeof t));
    cr_assert(!pipe_cdc_cursor_parse("00000000000000000042 after 2026-12-05 19:30:00", lsn, t, 8), "time too long");
    /* an ingestr-loaded table's MAX(_cdc_lsn) (LSN and seqval) */
    cr_assert(pipe_cdc_cursor_parse("0000002A000000100003FFFFFFFFFFFFFFFFFFFF", lsn, t, sizeof t));
    cr_assert_str_eq(lsn, "0000002A000000100003");
}

/* The snapshot-to-changes handoff waits until capture has taken a commit
 * more than 10 ms after the snapshot's time (tran_end_time is a datetime,
 * 1/300 s steps): every commit the snapshot saw is then captured. */
Test(cdc, handoff_passed)
{
    const char *snap = "2026-12-05 19:30:00.1234567";
    cr_assert(!pipe_cdc_handoff_passed(snap, "2026-12-05 19:29:59.997"), "a commit before the snapshot");
    cr_assert(!pipe_cdc_handoff_passed(snap, "2026-12-05 19:30:00.127"), "within the datetime's rounding");
    cr_assert(!pipe_cdc_handoff_passed(snap, "2026-12-05 19:30:00.133"), "10 ms is not more than 10 ms");
    cr_assert(pipe_cdc_handoff_passed(snap, "2026-12-05 19:30:00.137"));
    cr_assert(pipe_cdc_handoff_passed(snap, "2026-12-06 00:00:00.000"), "the next day");
    cr_assert(pipe_cdc_handoff_passed("2024-02-28 23:59:59.9999999", "2024-02-29 00:00:00.013"), "a leap day");
    cr_assert(!pipe_cdc_handoff_passed("2024-12-31 23:59:59.995", "2025-01-01 00:00:00.003"), "a new year, 8 ms");
    cr_assert(pipe_cdc_handoff_passed(snap, ""), "no time from the server: the changes are applied");
    cr_assert(pipe_cdc_handoff_passed("garbage", "2026-12-05 19:30:00.000"), "an unreadable time never blocks");
}

/* Several tables in one +cdc run: commas outside [brackets] and "quotes"
 * separate them; a query: source and other schemes never split. */
Test(cdc, multi_table_lists)
{
    tdspipe_load_opts o = {.source_uri = "mssql+cdc://u:p@h/db", .source_table = "dbo.a, dbo.b"};
    cr_assert(pipe_cdc_multi(&o));
    o.source_table = "dbo.a";
    cr_assert(!pipe_cdc_multi(&o));
    o.source_table = "dbo.[a,b]";
    cr_assert(!pipe_cdc_multi(&o), "a comma inside brackets is part of the name");
    o.source_table = "dbo.[a]]x,b], dbo.c";
    cr_assert(pipe_cdc_multi(&o), "]] inside brackets");
    o.source_table = "dbo.\"a,b\"";
    cr_assert(!pipe_cdc_multi(&o));
    o.source_table = "query:SELECT a, b FROM t";
    cr_assert(!pipe_cdc_multi(&o));
    o.source_table = "dbo.a,dbo.b";
    o.source_uri = "mssql+ct://u:p@h/db";
    cr_assert(!pipe_cdc_multi(&o), "Change Tracking reads one table");
    /* refusals before anything connects */
    o.source_uri = "mssql+cdc://u:p@h/db";
    o.dest_uri = "sqlite:///x.db";
    o.dest_table = "t";
    tdspipe_error e;
    cr_assert_eq(pipe_cdc_load_tables(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "dest_schema"), "%s", e.message);
    o.dest_table = NULL;
    o.source_table = "dbo.a, dbo.A";
    cr_assert_eq(pipe_cdc_load_tables(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "twice"), "%s", e.message);
    o.source_table = "dbo.a,,dbo.b";
    cr_assert_eq(pipe_cdc_load_tables(&o, &e), TDSPIPE_E_USAGE);
    cr_assert(strstr(e.message, "empty name"), "%s", e.message);
}
