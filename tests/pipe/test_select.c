/* test_select.c — pipe/mssql_select.c: the SQL text a SQL Server source sends. */
#include <criterion/criterion.h>
#include <string.h>

#include "mssql_int.h"

static void catalog(pipe_catalog *c)
{
    memset(c, 0, sizeof *c);
    const char *names[] = {"id", "Name", "amount", "created", "odd]col"};
    const char *types[] = {"int", "nvarchar", "decimal", "datetime", "varchar"};
    for (int i = 0; i < 5; i++) {
        pipe_list_add(&c->names, names[i], strlen(names[i]));
        pipe_list_add(&c->types, types[i], strlen(types[i]));
    }
    pipe_list_add(&c->pk, "id", 2);
}

Test(select, table_plain_and_limits)
{
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    pipe_catalog cat;
    catalog(&cat);
    pipe_mssql_name n = {false, NULL, "db", "sales", "orders"};
    pipe_select sel = {&o, &cat, NULL, 0, SINK_REPLACE, NULL, 0, ""};
    char *sql = NULL;
    cr_assert_eq(pipe_select_table(&sel, &n, NULL, false, NULL, &sql), 0, "%s", sel.err);
    cr_assert_str_eq(sql, "SELECT [id], [Name], [amount], [created], [odd]]col] FROM [db].[sales].[orders]");
    free(sql);
    o.sql_limit = 10;
    const char *ex[] = {"name"}; /* case-insensitive */
    o.exclude = ex;
    o.nexclude = 1;
    pipe_colspec spec[2];
    char why[200];
    cr_assert_eq(pipe_colspec_parse("amount:double", &spec[0], why, sizeof why), 0);
    cr_assert_eq(pipe_colspec_parse("made::created", &spec[1], why, sizeof why), 0);
    sel.specs = spec;
    sel.nspecs = 2;
    o.incremental_key = "created";
    cr_assert_eq(pipe_select_table(&sel, &n, "2024-01-01", true, "2024-02-01T00:00:00+01:00", &sql), 0, "%s", sel.err);
    cr_assert_str_eq(sql, "SELECT TOP (10) [id], CAST([amount] AS float) AS [amount], [created] AS [made], [odd]]col] "
                          "FROM [db].[sales].[orders] WHERE [created] > CAST(N'2024-01-01' AS datetime2(7)) AND "
                          "[created] <= CAST(N'2024-01-31 23:00:00.0000000' AS datetime2(7))");
    free(sql);
    pipe_catalog_free(&cat);
}

/* A parallel read's window (pipe/par_read.c): the sequential SELECT with
 * the window's predicate ANDed after the incremental bounds, or as the
 * WHERE when there are none. */
Test(select, table_window_predicate)
{
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    pipe_catalog cat;
    catalog(&cat);
    pipe_mssql_name n = {false, NULL, NULL, "dbo", "t"};
    pipe_select sel = {&o, &cat, NULL, 0, SINK_APPEND, "[id] >= 10 AND [id] < 20", 0, ""};
    char *sql = NULL;
    cr_assert_eq(pipe_select_table(&sel, &n, NULL, false, NULL, &sql), 0, "%s", sel.err);
    cr_assert_str_eq(sql, "SELECT [id], [Name], [amount], [created], [odd]]col] FROM [dbo].[t] "
                          "WHERE ([id] >= 10 AND [id] < 20)");
    free(sql);
    o.incremental_key = "id";
    cr_assert_eq(pipe_select_table(&sel, &n, "5", true, "100", &sql), 0, "%s", sel.err);
    cr_assert_str_eq(sql, "SELECT [id], [Name], [amount], [created], [odd]]col] FROM [dbo].[t] "
                          "WHERE [id] > 5 AND [id] <= 100 AND ([id] >= 10 AND [id] < 20)");
    free(sql);
    pipe_sqlbuf b = {0};
    cr_assert_eq(pipe_select_where(&sel, &b, NULL, false, "100"), 1);
    cr_assert_str_eq(b.p, " WHERE [id] <= 100");
    free(b.p);
    pipe_sqlbuf e = {0};
    cr_assert_eq(pipe_select_where(&sel, &e, NULL, false, NULL), 0, "no bound, nothing put");
    cr_assert_null(e.p);
    pipe_catalog_free(&cat);
}

Test(select, table_errors)
{
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    pipe_catalog cat;
    catalog(&cat);
    pipe_mssql_name n = {false, NULL, NULL, "dbo", "t"};
    char *sql = NULL;
    pipe_select sel = {&o, &cat, NULL, 0, SINK_APPEND, NULL, 0, ""};
    const char *ex[] = {"nope"};
    o.exclude = ex;
    o.nexclude = 1;
    cr_assert_eq(pipe_select_table(&sel, &n, NULL, false, NULL, &sql), -1);
    cr_assert_eq(sel.code, TDSPIPE_E_USAGE);
    cr_assert(strstr(sel.err, "'nope'"));
    o.nexclude = 0;
    memset(&sel, 0, sizeof sel);
    sel.o = &o;
    sel.cat = &cat;
    o.incremental_key = "id";
    cr_assert_eq(pipe_select_table(&sel, &n, "1; DROP TABLE x", false, NULL, &sql), -1);
    cr_assert_eq(sel.code, TDSPIPE_E_USAGE);
    pipe_catalog_free(&cat);
}

Test(select, query_placeholders)
{
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    pipe_select sel = {&o, NULL, NULL, 0, SINK_APPEND, NULL, 0, ""};
    char *sql = NULL;
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t WHERE k >= :interval_start AND k < :INTERVAL_END",
                                  "5", "2024-01-02T03:04:05Z", &sql),
                 0, "%s", sel.err);
    cr_assert_str_eq(sql, "SELECT * FROM t WHERE k >= 5 AND k < CAST(N'2024-01-02 03:04:05.0000000 +00:00' AS "
                          "datetimeoffset(7))");
    free(sql);
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t WHERE d >= :interval_start", "2024-01-02", NULL, &sql), 0);
    cr_assert_str_eq(sql, "SELECT * FROM t WHERE d >= N'2024-01-02'");
    free(sql);
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t", "5", NULL, &sql), -1);
    cr_assert_eq(sel.code, TDSPIPE_E_USAGE);
    memset(&sel, 0, sizeof sel);
    sel.o = &o;
    sel.strategy = SINK_MERGE; /* merge tolerates an unused bound */
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t", "5", NULL, &sql), 0);
    free(sql);
    memset(&sel, 0, sizeof sel);
    sel.o = &o;
    cr_assert_eq(pipe_select_query(&sel, "SELECT :interval_end_x, :interval_start", NULL, NULL, &sql), -1);
    cr_assert(strstr(sel.err, "--interval-start"), "%s", sel.err);
}

/* delete+insert with a query that has no placeholder: resuming from the
 * destination's MAX (no --interval-start) reads the query whole, as
 * ingestr does (the sink's window is then the loaded rows' [MIN, MAX]);
 * a bound the user gave and the query ignores is still refused. */
Test(select, query_delete_insert_without_placeholder)
{
    tdspipe_load_opts o;
    memset(&o, 0, sizeof o);
    pipe_select sel = {&o, NULL, NULL, 0, SINK_DELETE_INSERT, NULL, 0, ""};
    char *sql = NULL;
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t WHERE dt = '2021-01-02'", "2021-01-02", NULL, &sql), 0,
                 "%s", sel.err);
    cr_assert_str_eq(sql, "SELECT * FROM t WHERE dt = '2021-01-02'");
    free(sql);
    o.interval_start = "2021-01-02";
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t", "2021-01-02", NULL, &sql), -1);
    cr_assert(strstr(sel.err, ":interval_start"), "%s", sel.err);
    memset(&sel, 0, sizeof sel);
    o.interval_start = NULL;
    sel.o = &o;
    sel.strategy = SINK_APPEND; /* append would duplicate the rows at the cursor */
    cr_assert_eq(pipe_select_query(&sel, "SELECT * FROM t", "5", NULL, &sql), -1);
}
