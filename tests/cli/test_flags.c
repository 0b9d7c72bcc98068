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
        "PROGRESS", "SCHEMA_NAMING", "NO_LOAD_TIMESTAMP", "SKIP_CONFIRMATION", "DEST_URI", "SCHEMA_CONTRACT",
        "TRIM_WHITESPACE", "MASK", "INCREMENTAL_PREDICATE", "PARTITION_BY", "CLUSTER_BY", "LOADER_FILE_SIZE",
        "LOADER_FILE_FORMAT", "EXTRACT_PARTITION_BY", "EXTRACT_PARTITION_INTERVAL", "DISABLE_PRESTAGING",
        "SQL_BACKEND", "NO_INFERENCE", "PIPELINES_DIR", "STAGING_BUCKET", "STAGING_DATASET", "DEBUG", "STREAM",
        "FLUSH_INTERVAL", "FLUSH_RECORDS", "METRICS_ADDR", "QUERY_ANNOTATIONS", "EXTRACT_SPLIT_ROWS", NULL};
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

/* Parallel reads (issue 16, docs/parallel.md): ingestr's partition flags
 * are implemented now; their values are checked as they are read. */
Test(flags, extract_partition_flags)
{
    cli_opts o;
    char err[512];
    int rc = parse(&o, err, sizeof err, 12, REQ, "--extract-partition-by", "created", "--extract-partition-interval",
                   "7d", "--extract-parallelism", "8");
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(o.extract_partition_by, "created");
    cr_assert_str_eq(o.extract_partition_interval, "7d");
    cr_assert_eq(o.parallelism, 8);
    cr_assert_eq(o.extract_split_rows, 0, "default: the library's threshold");
    cli_opts_free(&o);
    setenv("EXTRACT_PARTITION_INTERVAL", "auto", 1);
    setenv("INGESTR_EXTRACT_PARTITION_BY", "id", 1);
    setenv("EXTRACT_SPLIT_ROWS", "0", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_str_eq(o.extract_partition_by, "id");
    cr_assert_str_eq(o.extract_partition_interval, "auto");
    cr_assert_eq(o.extract_split_rows, -1, "0: never split automatically");
    cli_opts_free(&o);
    clear_env();
    static const char *const bad[] = {"0", "7x", "-1", "h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--extract-partition-interval", bad[i]), CLI_EXIT_USAGE, "%s", bad[i]);
        cr_assert(strstr(err, "--extract-partition-interval"), "%s", err);
        cli_opts_free(&o);
    }
    cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--extract-partition-by", ""), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "empty column name"), "%s", err);
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--extract-split-rows", "x"), CLI_EXIT_USAGE);
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

/* ------------------------------------------------ issue 13: ingestr's other flags */

Test(flags, schema_contract)
{
    static const char *const modes[] = {"evolve", "freeze", "discard_row", "discard_value"};
    static const tdspipe_contract want[] = {TDSPIPE_CONTRACT_EVOLVE, TDSPIPE_CONTRACT_FREEZE,
                                            TDSPIPE_CONTRACT_DISCARD_ROW, TDSPIPE_CONTRACT_DISCARD_VALUE};
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_eq(o.schema_contract, TDSPIPE_CONTRACT_EVOLVE, "evolve by default");
    cli_opts_free(&o);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--schema-contract", modes[i]), 0, "%s", err);
        cr_assert_eq(o.schema_contract, want[i], "%s", modes[i]);
        cli_opts_free(&o);
    }
    cr_assert_eq(parse(&o, err, sizeof err, 7, REQ, "--schema-contract=strict"), CLI_EXIT_USAGE);
    cr_assert(strstr(err, "--schema-contract") && strstr(err, "discard_value"), "%s", err);
    cli_opts_free(&o);
    setenv("SCHEMA_CONTRACT", "freeze", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_eq(o.schema_contract, TDSPIPE_CONTRACT_FREEZE);
    cli_opts_free(&o);
    unsetenv("SCHEMA_CONTRACT");
    setenv("INGESTR_SCHEMA_CONTRACT", "discard_row", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_eq(o.schema_contract, TDSPIPE_CONTRACT_DISCARD_ROW);
    cli_opts_free(&o);
    clear_env();
}

Test(flags, trim_whitespace)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert(!o.trim_whitespace, "off by default");
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 7, REQ, "--trim-whitespace"), 0, "%s", err);
    cr_assert(o.trim_whitespace);
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 7, REQ, "--trim-whitespace=false"), 0, "%s", err);
    cr_assert(!o.trim_whitespace);
    cli_opts_free(&o);
    setenv("TRIM_WHITESPACE", "true", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert(o.trim_whitespace, "TRIM_WHITESPACE");
    cli_opts_free(&o);
    unsetenv("TRIM_WHITESPACE");
    setenv("INGESTR_TRIM_WHITESPACE", "1", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert(o.trim_whitespace, "INGESTR_TRIM_WHITESPACE");
    cli_opts_free(&o);
    clear_env();
}

Test(flags, mask)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 13, REQ, "--mask", "email:hash", "--mask=ssn:partial:4,name:stars",
                       "--mask", "c:hmac:k3y", "--mask", "d:FIXED"), 0, "%s", err);
    cr_assert_eq(o.masks.n, 5);
    cr_assert_str_eq(o.masks.v[0], "email:hash");
    cr_assert_str_eq(o.masks.v[1], "ssn:partial:4");
    cr_assert_str_eq(o.masks.v[2], "name:stars");
    cr_assert_str_eq(o.masks.v[3], "c:hmac:k3y");
    cr_assert_str_eq(o.masks.v[4], "d:FIXED"); /* the algorithm's case does not matter */
    cli_opts_free(&o);
    setenv("MASK", "a:md5", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_eq(o.masks.n, 1);
    cr_assert_str_eq(o.masks.v[0], "a:md5");
    cli_opts_free(&o);
    unsetenv("MASK");
    setenv("INGESTR_MASK", "a:redact,b:sha256", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_eq(o.masks.n, 2);
    cli_opts_free(&o);
    clear_env();
}

Test(flags, bad_mask)
{
    static const struct bad_case cases[] = {
        {{"--mask", "email", NULL}, "column:algorithm"},
        {{"--mask", ":hash", NULL}, "column and algorithm"},
        {{"--mask", "email:", NULL}, "column and algorithm"},
        {{"--mask", "email:rot13", NULL}, "unknown mask algorithm 'rot13'"},
        {{"--mask", "email:email", NULL}, "'email' is not supported by tdspipe yet"},
        {{"--mask", "salary:round:5000", NULL}, "'round' is not supported"},
        {{"--mask", "id:hmac", NULL}, "requires a key"},
        {{"--mask", "id:hmac:", NULL}, "requires a key"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cli_opts o;
        char err[512];
        int rc = parse(&o, err, sizeof err, 8, REQ, cases[i].args[0], cases[i].args[1]);
        cr_expect_eq(rc, CLI_EXIT_USAGE, "case %zu rc %d", i, rc);
        cr_expect(strstr(err, "--mask") && strstr(err, cases[i].needle), "case %zu: '%s' lacks '%s'", i, err,
                  cases[i].needle);
        cr_expect(!strchr(err, '\n'));
        cli_opts_free(&o);
    }
}

/* --incremental-predicate: ANDed to the destination's merge join, so as in
 * ingestr only with merge and never with --full-refresh; a +ct/+cdc
 * source's merge is its own. Every refusal is one line naming the flag. */
Test(flags, incremental_predicate)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 10, REQ, "--incremental-strategy", "merge", "--incremental-predicate",
                       "target.x > 1"), 0, "%s", err);
    cr_assert_str_eq(o.incremental_predicate, "target.x > 1");
    cli_opts_free(&o);
    cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--incremental-strategy=merge", "--incremental-predicate=a = 'b'"),
                 0, "%s", err);
    cr_assert_str_eq(o.incremental_predicate, "a = 'b'");
    cli_opts_free(&o);
    static const char *const env[] = {"INCREMENTAL_PREDICATE", "INGESTR_INCREMENTAL_PREDICATE"};
    for (int k = 0; k < 2; k++) {
        setenv(env[k], "target.y IS NULL", 1);
        cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--incremental-strategy", "merge"), 0, "%s", err);
        cr_assert_str_eq(o.incremental_predicate, "target.y IS NULL", "%s", env[k]);
        cli_opts_free(&o);
        unsetenv(env[k]);
    }
    /* empty asks for nothing, with any strategy */
    cr_assert_eq(parse(&o, err, sizeof err, 7, REQ, "--incremental-predicate="), 0, "%s", err);
    cli_opts_free(&o);
    struct {
        const char *src; /* the source URI */
        const char *args[5];
        int n;
        const char *needle;
    } bad[] = {
        {"mssql://u:p@h/db", {"--incremental-predicate", "target.x > 1"}, 2, "merge"},
        {"mssql://u:p@h/db", {"--incremental-strategy", "append", "--incremental-predicate", "target.x > 1"}, 4, "merge"},
        {"mssql://u:p@h/db", {"--incremental-strategy", "merge", "--incremental-predicate", "target.x > 1",
         "--full-refresh"}, 5, "--full-refresh"},
        {"mssql+ct://u:p@h/db", {"--incremental-strategy", "merge", "--incremental-predicate", "target.x > 1"}, 4, "+ct"},
        {"MSSQL+CDC://u:p@h/db", {"--incremental-predicate", "target.x > 1"}, 2, "+cdc"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[16] = {"tdspipe", "ingest", "--source-uri", (char *)bad[i].src, "--dest-uri", "csv://x.csv",
                          "--source-table", "t"};
        int argc = 8;
        for (int j = 0; j < bad[i].n; j++)
            argv[argc++] = (char *)bad[i].args[j];
        int rc = cli_flags_parse(&o, argc, argv, 2, err, sizeof err);
        cr_expect_eq(rc, CLI_EXIT_USAGE, "case %zu rc %d", i, rc);
        cr_expect(strstr(err, "--incremental-predicate") && strstr(err, bad[i].needle), "case %zu: '%s'", i, err);
        cr_expect(!strchr(err, '\n'));
        cr_expect(!strstr(err, "u:p@"), "case %zu: a URI in '%s'", i, err);
        cli_opts_free(&o);
    }
}

/* Every ingestr v1 flag tdspipe refuses: given, exit 2 and one line naming
 * it; a value that asks for nothing (false, empty) is accepted. */
struct refused {
    const char *flag, *value; /* value NULL: a boolean flag */
    const char *env;          /* its first environment name */
    bool ingestr_only;        /* read as INGESTR_X only, as ingestr does */
};

static const struct refused refused[] = {
    {"partition-by", "day", "PARTITION_BY", false},
    {"cluster-by", "a,b", "CLUSTER_BY", false},
    {"loader-file-size", "1000", "LOADER_FILE_SIZE", false},
    {"loader-file-format", "parquet", "LOADER_FILE_FORMAT", false},
    {"disable-prestaging", NULL, "INGESTR_DISABLE_PRESTAGING", true},
    {"no-inference", NULL, "NO_INFERENCE", false},
    {"staging-bucket", "gs://b", "STAGING_BUCKET", false},
    {"staging-dataset", "stage", "STAGING_DATASET", false},
    {"debug", NULL, "DEBUG", false},
    {"query-annotations", "{\"a\":\"b\"}", "INGESTR_QUERY_ANNOTATIONS", true},
};

Test(flags, refused_flags)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const struct refused *r = &refused[i];
        cli_opts o;
        char err[512], flag[64], needle[64];
        snprintf(flag, sizeof flag, "--%s", r->flag);
        snprintf(needle, sizeof needle, "--%s:", r->flag);
        int rc = r->value ? parse(&o, err, sizeof err, 8, REQ, flag, r->value) : parse(&o, err, sizeof err, 7, REQ, flag);
        cr_expect_eq(rc, CLI_EXIT_USAGE, "%s rc %d", flag, rc);
        cr_expect(strstr(err, needle) && strstr(err, "not supported"), "%s: '%s'", flag, err);
        cr_expect(!strchr(err, '\n'));
        cli_opts_free(&o);
        /* --flag=value too */
        char eq[128];
        snprintf(eq, sizeof eq, "--%s=%s", r->flag, r->value ? r->value : "true");
        cr_expect_eq(parse(&o, err, sizeof err, 7, REQ, eq), CLI_EXIT_USAGE, "%s", eq);
        cli_opts_free(&o);
        /* asking for nothing is no use of the flag */
        snprintf(eq, sizeof eq, "--%s=%s", r->flag, r->value ? "" : "false");
        cr_expect_eq(parse(&o, err, sizeof err, 7, REQ, eq), 0, "%s: %s", eq, err);
        cli_opts_free(&o);
    }
}

Test(flags, refused_flags_from_environment)
{
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const struct refused *r = &refused[i];
        const char *v = r->value ? r->value : "true";
        char names[2][64];
        snprintf(names[0], sizeof names[0], "%s", r->env);
        snprintf(names[1], sizeof names[1], "INGESTR_%s", r->env);
        for (int k = 0; k < (r->ingestr_only ? 1 : 2); k++) {
            cli_opts o;
            char err[512];
            setenv(names[k], v, 1);
            cr_expect_eq(parse(&o, err, sizeof err, 6, REQ), CLI_EXIT_USAGE, "%s", names[k]);
            cr_expect(strstr(err, names[k]) && strstr(err, r->flag), "%s: '%s'", names[k], err);
            cli_opts_free(&o);
            unsetenv(names[k]);
        }
        if (r->ingestr_only) { /* ingestr reads no STREAM, FLUSH_RECORDS, … */
            cli_opts o;
            char err[512];
            setenv(r->env + 8, v, 1);
            cr_expect_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s is not read: %s", r->env + 8, err);
            cli_opts_free(&o);
            unsetenv(r->env + 8);
        }
    }
}

/* --stream and its flags (implemented since issue 14; the environment
 * forms are INGESTR_X only, as ingestr reads them). */
Test(flags, stream_flags)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 13, REQ, "--stream", "--flush-interval", "1m30s", "--flush-records=100",
                       "--metrics-addr", "127.0.0.1:6060", "--progress=json"), 0, "%s", err);
    cr_expect(o.stream);
    cr_expect_eq(o.flush_interval_ms, 90000u);
    cr_expect_eq(o.flush_records, 100u);
    cr_expect_str_eq(o.metrics_addr, "127.0.0.1:6060");
    cli_opts_free(&o);
    static const char *const durations[][2] = {{"500ms", "500"}, {"15s", "15000"}, {"2", "2000"}, {"1h", "3600000"}};
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(parse(&o, err, sizeof err, 8, REQ, "--flush-interval", durations[i][0]), 0, "%s", err);
        cr_expect_eq(o.flush_interval_ms, (uint32_t)atol(durations[i][1]), "%s", durations[i][0]);
        cli_opts_free(&o);
    }
    static const char *const bad[][2] = {{"--flush-interval", "15x"}, {"--flush-interval", "0s"},
                                         {"--flush-interval", "-1s"}, {"--flush-records", "0"},
                                         {"--flush-records", "ten"}, {"--metrics-addr", ""}, {"--stream=maybe", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = bad[i][1] ? parse(&o, err, sizeof err, 8, REQ, bad[i][0], bad[i][1]) : parse(&o, err, sizeof err, 7, REQ, bad[i][0]);
        cr_expect_eq(rc, CLI_EXIT_USAGE, "%s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
        cr_expect(!strchr(err, '\n'));
        cli_opts_free(&o);
    }
    static const char *const env[][2] = {{"STREAM", "true"}, {"FLUSH_INTERVAL", "2s"}, {"FLUSH_RECORDS", "7"},
                                         {"METRICS_ADDR", "127.0.0.1:1"}};
    for (size_t i = 0; i < 4; i++) { /* not read without the INGESTR_ prefix */
        setenv(env[i][0], env[i][1], 1);
        cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
        cr_expect(!o.stream && !o.flush_interval_ms && !o.flush_records && !o.metrics_addr, "%s read", env[i][0]);
        cli_opts_free(&o);
        unsetenv(env[i][0]);
        char name[64];
        snprintf(name, sizeof name, "INGESTR_%s", env[i][0]);
        setenv(name, env[i][1], 1);
        cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
        cr_expect(o.stream || o.flush_interval_ms == 2000 || o.flush_records == 7 || o.metrics_addr, "%s not read", name);
        cli_opts_free(&o);
        unsetenv(name);
    }
}

Test(flags, ignored_by_ingestr_too)
{
    cli_opts o;
    char err[512];
    cr_assert_eq(parse(&o, err, sizeof err, 12, REQ, "--sql-backend", "pyarrow", "--pipelines-dir", "/tmp/p",
                       "--sql-backend", "connectorx"), 0, "%s", err);
    cr_assert_eq(o.notes.n, 2, "one line per flag");
    cr_assert(strstr(o.notes.v[0], "--sql-backend") && strstr(o.notes.v[0], "no effect"), "%s", o.notes.v[0]);
    cr_assert(strstr(o.notes.v[1], "--pipelines-dir") && strstr(o.notes.v[1], "no effect"), "%s", o.notes.v[1]);
    cli_opts_free(&o);
    setenv("INGESTR_PIPELINES_DIR", "/tmp/p", 1);
    cr_assert_eq(parse(&o, err, sizeof err, 6, REQ), 0, "%s", err);
    cr_assert_eq(o.notes.n, 1);
    cr_assert(strstr(o.notes.v[0], "INGESTR_PIPELINES_DIR"), "%s", o.notes.v[0]);
    cli_opts_free(&o);
    clear_env();
}

/* The help lists every ingestr v1 ingest flag: implemented, ignored or refused. */
Test(flags, help_names_every_ingestr_flag)
{
    static const char *const ingestr_v1[] = {"source-uri", "dest-uri", "source-table", "dest-table",
        "incremental-key", "incremental-predicate", "incremental-strategy", "interval-start", "interval-end",
        "primary-key", "partition-by", "cluster-by", "yes", "full-refresh", "schema-contract", "schema-naming",
        "progress", "page-size", "loader-file-size", "loader-file-format", "extract-parallelism",
        "extract-partition-by", "extract-partition-interval", "disable-prestaging", "sql-limit",
        "sql-exclude-columns", "sql-backend", "columns", "no-inference", "mask", "trim-whitespace",
        "no-load-timestamp", "pipelines-dir", "staging-bucket", "staging-dataset", "debug", "stream",
        "flush-interval", "flush-records", "metrics-addr", "query-annotations"};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert(f);
    cli_flags_help(f);
    fclose(f);
    for (size_t i = 0; i < sizeof ingestr_v1 / sizeof ingestr_v1[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "--%s", ingestr_v1[i]);
        const char *p = buf;
        bool found = false;
        while (!found && (p = strstr(p, needle))) { /* whole flag, not a prefix of another */
            char next = p[strlen(needle)];
            found = next == ' ' || next == '\n' || next == '\0';
            p++;
        }
        cr_expect(found, "help lacks %s", needle);
        /* and the parser knows it (not "unknown flag") */
        cli_opts o;
        char err[512], arg[128];
        snprintf(arg, sizeof arg, "--%s=x", ingestr_v1[i]);
        parse(&o, err, sizeof err, 7, REQ, arg);
        cr_expect(!strstr(err, "unknown flag"), "%s: %s", arg, err);
        cli_opts_free(&o);
    }
    free(buf);
}
