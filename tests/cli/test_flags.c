/* test_flags.c — cli/flags.c: every flag, env forms, bad usage → exit 2. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

static int parse(cli_opts *o, char *err, size_t cap, int n, ...)
{
    static char *argv[64];
    va_list ap;
    va_start(ap, n);
    argv[0] = "tdspipe";
    argv[1] = "ingest";
    for (int i = 0; i < n; i++)
        argv[2 + i] = va_arg(ap, char *);
    va_end(ap);
    return cli_flags_parse(o, n + 2, argv, 2, err, cap);
}

#define REQ "--source-uri", "mssql://u:p@h/db", "--dest-uri", "csv://x.csv", "--source-table", "t"

static void clear_env(void)
{
    static const char *const names[] = {"SOURCE_URI", "DESTINATION_URI", "SOURCE_TABLE", "DESTINATION_TABLE",
        "INCREMENTAL_STRATEGY", "INCREMENTAL_KEY", "INTERVAL_START", "INTERVAL_END", "PRIMARY_KEY",
        "FULL_REFRESH", "SQL_LIMIT", "SQL_EXCLUDE_COLUMNS", "COLUMNS", "PAGE_SIZE", "EXTRACT_PARALLELISM",
        "PROGRESS", "SCHEMA_NAMING", "NO_LOAD_TIMESTAMP", "SKIP_CONFIRMATION", "DEST_URI", NULL};
    char buf[64];
    for (size_t i = 0; names[i]; i++) {
        unsetenv(names[i]);
        snprintf(buf, sizeof buf, "INGESTR_%s", names[i]);
        unsetenv(buf);
    }
}

TestSuite(flags, .init = clear_env);

Test(flags, defaults)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_str_eq(o.source_uri, "mssql://u:p@h/db");
    cr_assert_str_eq(o.source_table, "t");
    cr_assert_eq(o.strategy, SINK_REPLACE);
    cr_assert_eq(o.page_size, 25000);
    cr_assert_eq(o.parallelism, 5);
    cr_assert_eq(o.sql_limit, -1);
    cr_assert_eq(o.progress, CLI_PROGRESS_INTERACTIVE);
    cr_assert_eq(o.naming, CLI_NAMING_AUTO);
    cr_assert(!o.full_refresh && !o.no_load_timestamp && !o.yes);
    cli_opts_free(&o);
}

Test(flags, every_flag)
{
    cli_opts o;
    char err[512];
    int rc = parse(&o, err, sizeof err, 33, REQ, "--dest-table", "out.t", "--incremental-strategy=merge",
                   "--incremental-key", "id", "--interval-start", "2024-01-01", "--interval-end=2024-02-01",
                   "--primary-key", "a", "--primary-key=b,c", "--full-refresh", "--sql-limit", "10",
                   "--sql-exclude-columns", "x", "--columns", "id:bigint,amount:decimal(10,2)", "--page-size=7",
                   "--extract-parallelism", "3", "--progress", "json", "--schema-naming", "direct",
                   "--no-load-timestamp", "--yes");
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(o.dest_table, "out.t");
    cr_assert_eq(o.strategy, SINK_MERGE);
    cr_assert_str_eq(o.incremental_key, "id");
    cr_assert_str_eq(o.interval_start, "2024-01-01");
    cr_assert_str_eq(o.interval_end, "2024-02-01");
    cr_assert_eq(o.primary_keys.n, 3);
    cr_assert_str_eq(o.primary_keys.v[2], "c");
    cr_assert(o.full_refresh && o.no_load_timestamp && o.yes);
    cr_assert_eq(o.sql_limit, 10);
    cr_assert_eq(o.exclude.n, 1);
    cr_assert_eq(o.columns.n, 2);
    cr_assert_str_eq(o.columns.v[1], "amount:decimal(10,2)");
    cr_assert_eq(o.page_size, 7);
    cr_assert_eq(o.parallelism, 3);
    cr_assert_eq(o.progress, CLI_PROGRESS_JSON);
    cr_assert_eq(o.naming, CLI_NAMING_DIRECT);
    cli_opts_free(&o);
}

Test(flags, env_forms)
{
    cli_opts o;
    char err[512];
    setenv("SOURCE_URI", "mssql://a@h/d", 1);
    setenv("INGESTR_DESTINATION_URI", "csv://e.csv", 1);
    setenv("INGESTR_SOURCE_TABLE", "s.t", 1);
    setenv("SOURCE_TABLE", "first.wins", 1);
    setenv("INCREMENTAL_STRATEGY", "append", 1);
    setenv("FULL_REFRESH", "true", 1);
    setenv("COLUMNS", "120", 1); /* a terminal width, not --columns */
    setenv("INGESTR_PAGE_SIZE", "100", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 2, "--dest-uri", "jsonl://cmd.jsonl"), 0, "%s", err);
    cr_assert_str_eq(o.source_uri, "mssql://a@h/d");
    cr_assert_str_eq(o.dest_uri, "jsonl://cmd.jsonl"); /* the command line wins */
    cr_assert_str_eq(o.source_table, "first.wins");      /* X before INGESTR_X */
    cr_assert_eq(o.strategy, SINK_APPEND);
    cr_assert(o.full_refresh);
    cr_assert_eq(o.columns.n, 0);
    cr_assert_eq(o.page_size, 100);
    cli_opts_free(&o);
    clear_env();
}

Test(flags, env_bad_value_is_usage)
{
    cli_opts o;
    char err[512];
    setenv("INGESTR_SQL_LIMIT", "ten", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "INGESTR_SQL_LIMIT"), "%s", err);
    cli_opts_free(&o);
    clear_env();
}

struct bad_case {
    const char *args[4];
    const char *needle;
};

Test(flags, bad_usage)
{
    static const struct bad_case cases[] = {
        {{"--nope", NULL}, "unknown flag '--nope'"},
        {{"--sql-limit", "0", NULL}, "--sql-limit"},
        {{"--sql-limit", "-3", NULL}, "--sql-limit"},
        {{"--sql-limit", NULL}, "needs a value"},
        {{"--page-size", "abc", NULL}, "--page-size"},
        {{"--page-size", "0", NULL}, "--page-size"},
        {{"--extract-parallelism", "0", NULL}, "--extract-parallelism"},
        {{"--incremental-strategy", "upsert", NULL}, "unknown strategy"},
        {{"--incremental-strategy", "scd2", NULL}, "scd2"},
        {{"--progress", "fancy", NULL}, "progress"},
        {{"--schema-naming", "camel", NULL}, "naming"},
        {{"--columns", "id", NULL}, "name:type"},
        {{"--columns", "id:blob42", NULL}, "unknown column type"},
        {{"--columns", "id:decimal(x)", NULL}, "unknown column type"},
        {{"--full-refresh=maybe", NULL}, "true or false"},
        {{"stray", NULL}, "unexpected argument"},
        {{"--source-table", "again", NULL}, "given twice"},
        {{"--interval-start", "2024-01-01", NULL}, "need --incremental-key"},
        {{"--incremental-strategy", "delete+insert", NULL}, "needs --incremental-key"},
        {{"--primary-key", "", NULL}, "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_opts o;
        char err[512];
        const char *const *a = cases[i].args;
        int n = 0;
        while (n < 4 && a[n])
            n++;
        int rc = parse(&o, err, sizeof err, 6 + n, REQ, n > 0 ? a[0] : NULL, n > 1 ? a[1] : NULL,
                       n > 2 ? a[2] : NULL);
        cr_expect_eq(rc, CLI_EXIT_USAGE, "case %zu (%s) rc %d", i, a[0], rc);
        cr_expect(strstr(err, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err, cases[i].needle);
        cr_expect(!strchr(err, '\n'));
        cli_opts_free(&o);
    }
}

Test(flags, required)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 4, "--dest-uri", "csv://x", "--source-table", "t"), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "--source-uri is required"));
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 4, "--source-uri", "mssql://h", "--source-table", "t"), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "--dest-uri is required"));
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 4, "--source-uri", "mssql://h", "--dest-uri", "csv://x"), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "--source-table is required"));
    cli_opts_free(&o);
}

Test(flags, unexpected_uri_not_echoed)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 7, REQ, "mssql://u:SECRETPW@h/db"), CLI_EXIT_USAGE);
    cr_assert(!strstr(err, "SECRETPW"), "%s", err);
    cli_opts_free(&o);
}

Test(flags, list_split_keeps_parentheses)
{
    cli_list l = {0};
    cr_assert_eq(cli_list_add_csv(&l, " a , b:decimal(10, 2) ,, c "), 0);
    cr_assert_eq(l.n, 3);
    cr_assert_str_eq(l.v[0], "a");
    cr_assert_str_eq(l.v[1], "b:decimal(10, 2)");
    cr_assert_str_eq(l.v[2], "c");
    cli_list_free(&l);
}

Test(flags, query_timeout_and_retries)
{
    cli_opts o;
    char err[300];
    char *argv[] = {"tdspipe", "ingest", "--source-uri", "mssql://u:p@h/db", "--source-table", "t",
                    "--dest-uri", "csv://x.csv", "--query-timeout", "30", "--retries", "0", NULL};
    cr_assert_eq(cli_flags_parse(&o, 12, argv, 2, err, sizeof err), 0, "%s", err);
    cr_assert_eq(o.query_timeout_s, 30);
    cr_assert_eq(o.retries, 0);
    cli_opts_free(&o);
    char *bad[] = {"tdspipe", "ingest", "--source-uri", "mssql://u:p@h/db", "--source-table", "t",
                   "--dest-uri", "csv://x.csv", "--retries", "many", NULL};
    cr_assert_eq(cli_flags_parse(&o, 10, bad, 2, err, sizeof err), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "retries") != NULL, "%s", err);
    cli_opts_free(&o);
}

Test(flags, ct_expired)
{
    cli_opts o;
    char err[256];
    unsetenv("CT_EXPIRED");
    unsetenv("INGESTR_CT_EXPIRED");
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert(!o.ct_resnapshot, "default is fail");
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 7, REQ, "--ct-expired=resnapshot"), 0, "%s", err);
    cr_assert(o.ct_resnapshot);
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--ct-expired", "fail"), 0, "%s", err);
    cr_assert(!o.ct_resnapshot);
    cli_opts_free(&o);
    setenv("CT_EXPIRED", "resnapshot", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert(o.ct_resnapshot, "CT_EXPIRED from the environment");
    cli_opts_free(&o);
    unsetenv("CT_EXPIRED");
    cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--ct-expired", "later"), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "resnapshot"), "%s", err);
    cli_opts_free(&o);
}
