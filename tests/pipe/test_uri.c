/* test_uri.c — URIs of a load: SQL Server sources into net options
 * (pipe/mssql_conn.c over net_opts_from_uri, the one parser of SQL Server
 * URIs), the source registry's schemes, destinations (pipe/load_dest.c and
 * the sinks' own refusals at open). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "load_int.h"
#include "mssql_int.h"

/* A source URI as a load reads it: an unknown scheme is refused before
 * anything connects (tdspipe_load stops there), a SQL Server one is
 * parsed by the source. Returns 0 or TDSPIPE_E_USAGE with err. */
static int mssql(const char *uri, net_opts *o, bool *ct, char *err)
{
    memset(o, 0, sizeof *o);
    *ct = pipe_mssql_scheme(uri, true);
    tdspipe_load_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.source_uri = uri;
    lo.source_table = "t";
    lo.dest_uri = "discard://";
    tdspipe_error e;
    memset(&e, 0, sizeof e);
    const pipe_source_vtable *vt = pipe_source_find(uri);
    int rc = vt ? pipe_mssql_opts(&lo, o, &e) : tdspipe_load(&lo, &e);
    snprintf(err, 512, "%s", e.message);
    return rc;
}

/* A destination as a load checks it: pipe_dest_check, then what the sink
 * refuses at open (an empty file path) maps to a usage error. */
static int dest(const char *uri, char *err, size_t cap, bool try_open)
{
    tdspipe_error e;
    memset(&e, 0, sizeof e);
    int rc = pipe_dest_check(uri, &e);
    snprintf(err, cap, "%s", e.message);
    if (rc || !try_open)
        return rc;
    sink *sk = NULL;
    int src = sink_open(uri, NULL, &sk, err, cap);
    sink_close(sk);
    return src == SINK_E_URI ? TDSPIPE_E_USAGE : 0;
}

Test(uri, full_form)
{
    net_opts o;
    bool ct;
    char err[512];
    cr_assert_eq(mssql("mssql://us%40er:p%40ss%3Aw%2Frd@db.example.com:1444/my%20db?encrypt=disable"
                       "&TrustServerCertificate=yes&HostNameInCertificate=cn.example.com&packet+size=8192"
                       "&app%20name=my+app&connection+timeout=7&driver=ODBC+Driver+18+for+SQL+Server",
                       &o, &ct, err),
                 0, "%s", err);
    cr_assert(!ct);
    cr_assert_str_eq(o.host, "db.example.com");
    cr_assert_eq(o.port, 1444);
    cr_assert_str_eq(o.user, "us@er");
    cr_assert_str_eq(o.password, "p@ss:w/rd");
    cr_assert_str_eq(o.database, "my db");
    cr_assert_eq(o.encrypt, NET_ENCRYPT_DISABLE);
    cr_assert(o.trust_server_cert);
    cr_assert_str_eq(o.host_in_cert, "cn.example.com");
    cr_assert_eq(o.packet_size, 8192);
    cr_assert_str_eq(o.app_name, "my app");
    cr_assert_eq(o.connect_timeout_ms, 7000);
    net_opts_free(&o);
}

Test(uri, schemes_and_ct)
{
    static const char *const ok[] = {"mssql", "sqlserver", "azuresql", "azure-sql", "MSSQL", NULL};
    for (size_t i = 0; ok[i]; i++) {
        char u[128], err[512];
        net_opts o;
        bool ct = true;
        snprintf(u, sizeof u, "%s://u:p@h/db", ok[i]);
        cr_expect_eq(mssql(u, &o, &ct, err), 0, "%s: %s", u, err);
        cr_expect(!ct);
        net_opts_free(&o);
        snprintf(u, sizeof u, "%s+ct://u:p@h/db", ok[i]);
        cr_expect_eq(mssql(u, &o, &ct, err), 0, "%s: %s", u, err);
        cr_expect(ct);
        net_opts_free(&o);
    }
    net_opts o;
    bool ct;
    char err[512];
    cr_assert_eq(mssql("mysql://u:p@h/db", &o, &ct, err), TDSPIPE_E_USAGE);
    cr_assert(strstr(err, "unsupported source scheme 'mysql'"), "%s", err);
    net_opts_free(&o);
}

Test(uri, encrypt_and_booleans)
{
    static const struct {
        const char *v;
        int enc;
    } encs[] = {{"disable", NET_ENCRYPT_DISABLE}, {"false", NET_ENCRYPT_OPTIONAL}, {"no", NET_ENCRYPT_OPTIONAL},
                {"0", NET_ENCRYPT_OPTIONAL}, {"optional", NET_ENCRYPT_OPTIONAL}, {"true", NET_ENCRYPT_MANDATORY},
                {"yes", NET_ENCRYPT_MANDATORY}, {"1", NET_ENCRYPT_MANDATORY}, {"mandatory", NET_ENCRYPT_MANDATORY},
                {"strict", NET_ENCRYPT_STRICT}};
    for (size_t i = 0; i < sizeof encs / sizeof encs[0]; i++) {
        char u[128], err[512];
        net_opts o;
        bool ct;
        snprintf(u, sizeof u, "mssql://h?encrypt=%s", encs[i].v);
        cr_expect_eq(mssql(u, &o, &ct, err), 0, "%s", err);
        cr_expect_eq((int)o.encrypt, encs[i].enc, "encrypt=%s", encs[i].v);
        net_opts_free(&o);
    }
    static const char *const yes[] = {"yes", "true", "1", "YES", "True"}, *const no[] = {"no", "false", "0"};
    for (size_t i = 0; i < 5; i++) {
        char u[128], err[512];
        net_opts o;
        bool ct;
        snprintf(u, sizeof u, "mssql://h?TrustServerCertificate=%s", yes[i]);
        cr_expect_eq(mssql(u, &o, &ct, err), 0, "%s", err);
        cr_expect(o.trust_server_cert, "%s", yes[i]);
        net_opts_free(&o);
    }
    for (size_t i = 0; i < 3; i++) {
        char u[128], err[512];
        net_opts o;
        bool ct;
        snprintf(u, sizeof u, "mssql://h?trustservercertificate=%s", no[i]);
        cr_expect_eq(mssql(u, &o, &ct, err), 0, "%s", err);
        cr_expect(!o.trust_server_cert, "%s", no[i]);
        net_opts_free(&o);
    }
}

Test(uri, token_and_instance)
{
    net_opts o;
    bool ct;
    char err[512];
    cr_assert_eq(mssql("azuresql://:eyJ0eXAi.tok%2Ben@srv\\inst/db?Authentication=ActiveDirectoryAccessToken",
                       &o, &ct, err),
                 0, "%s", err);
    cr_assert(o.password_is_token);
    cr_assert_str_eq(o.password, "eyJ0eXAi.tok+en");
    cr_assert_str_eq(o.host, "srv");
    cr_assert_str_eq(o.instance, "inst");
    cr_assert_eq(o.encrypt, NET_ENCRYPT_MANDATORY);
    net_opts_free(&o);
    cr_assert_eq(mssql("mssql://u:p@srv%5Cnamed:0", &o, &ct, err), TDSPIPE_E_USAGE);
    net_opts_free(&o);
    cr_assert_eq(mssql("mssql://u:p@srv%5Cnamed", &o, &ct, err), 0, "%s", err);
    cr_assert_str_eq(o.instance, "named");
    net_opts_free(&o);
}

Test(uri, bad_sources_never_quote_the_password)
{
    static const char *const bad[] = {
        "mssql://u:SECRETPW@h/db?encrypt=sometimes",
        "mssql://u:SECRETPW@h/db?packet%20size=12",
        "mssql://u:SECRETPW@h/db?TrustServerCertificate=maybe",
        "mssql://u:SECRETPW@h/db?Authentication=ActiveDirectoryInteractive",
        "mssql://u:SECRETPW@h/db?bogus=1",
        "mssql://u:SECRETPW@h/db?encrypt",
        "mssql://u:SECRETPW@h:notaport/db",
        "mssql://u:SECRETPW@/db",
        "mssql://u:SECRET PW@h/db",
        "mssql://u:SECRETPW@h/db/extra",
        "nothing-here",
        "oracle://u:SECRETPW@h/db",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        net_opts o;
        bool ct;
        char err[512] = "";
        cr_expect_eq(mssql(bad[i], &o, &ct, err), TDSPIPE_E_USAGE, "case %zu accepted", i);
        cr_expect(err[0], "case %zu: no message", i);
        cr_expect(!strstr(err, "SECRET"), "case %zu: '%s'", i, err);
        net_opts_free(&o);
    }
}

Test(uri, destinations)
{
    static const char *const ok[] = {"duckdb:///x.duckdb", "duckdb:////tmp/x.duckdb", "postgresql://u:p@h:5432/db",
                                     "postgres://h/db?sslmode=disable", "sqlite:///x.db", "csv:///x.csv",
                                     "csv:///x.csv.gz", "jsonl:///x.jsonl", "jsonl:///x.jsonl.gz", "discard://",
                                     "csv://x.csv", "ndjson://x.jsonl", "ndjson:///tmp/x.jsonl.gz",
                                     "postgresql://u:p%40w@h/db?sslmode=require&application_name=x",
                                     "mssql://u:p@h/db", "sqlserver://h/db?encrypt=strict",
                                     "azuresql://srv.database.windows.net/db", "azure-sql://h/db", NULL};
    for (size_t i = 0; ok[i]; i++) {
        char err[512];
        cr_expect_eq(dest(ok[i], err, sizeof err, false), 0, "%s: %s", ok[i], err);
    }
    static const char *const bad[] = {"bigquery://p/d", "mssql+ct://u:p@h/db", "csv:///", "csv://", "x.csv",
                                      "postgresql://u:p w@h/db", "mssql+cdc://u:p@h/db", "csv://dir/",
                                      "parquet://", NULL};
    for (size_t i = 0; bad[i]; i++) {
        char err[512] = "";
        cr_expect_eq(dest(bad[i], err, sizeof err, true), TDSPIPE_E_USAGE, "%s accepted", bad[i]);
        cr_expect(err[0]);
    }
}

/* The one parser (net_opts_from_uri) keeps refusals on one line even for
 * decoded control characters, and refuses what uriparser refused: raw
 * spaces, broken escapes, several path segments, a parameter without a
 * value. */
Test(uri, refusals_stay_one_line)
{
    static const char *const bad[] = {
        "mssql://h/db?bad%0Akey=1", "mssql://h/db?k%0D=1", "mssql://u:p@h/db/x", "mssql://u:p@h/db?encrypt",
        "mssql://u:p w@h/db", "mssql://u:p%zz@h/db", "mssql://u:p@h/db\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        net_opts o;
        bool ct;
        char err[512] = "";
        cr_expect_eq(mssql(bad[i], &o, &ct, err), TDSPIPE_E_USAGE, "case %zu accepted", i);
        cr_expect(err[0] && !strchr(err, '\n') && !strchr(err, '\r'), "case %zu: '%s'", i, err);
        net_opts_free(&o);
    }
    net_opts o;
    bool ct;
    char err[512];
    cr_assert_eq(mssql("mssql://u:p%2Fw%23d@h/db/", &o, &ct, err), 0, "%s", err);
    cr_assert_str_eq(o.password, "p/w#d");
    cr_assert_str_eq(o.database, "db");
    net_opts_free(&o);
}

/* parquet:// is read with ingestr's file rule and accepted (sink/parquet.c
 * writes it); a malformed one says what is wrong in one line. */
Test(uri, parquet_checked)
{
    char err[512] = "";
    cr_assert_eq(dest("parquet:///tmp/x.parquet?compression=zstd", err, sizeof err, false), 0, "%s", err);
    cr_assert_eq(dest("parquet://", err, sizeof err, false), TDSPIPE_E_USAGE);
    cr_assert(strstr(err, "parquet destination: the URI names no file"), "%s", err);
}

/* +cdc sources: every SQL Server form is parsed (a bad one says why,
 * capture_instance/dest_schema/poll_interval are checked) and taken by the
 * Change Data Capture source, never read as a plain table: into a file or
 * discard destination (no state table for its cursor) the load is refused
 * with a usage error before anything connects. */
Test(uri, cdc_sources_refused)
{
    static const char *const ok[] = {
        "mssql+cdc://u:p%40w@h:1433/shop?encrypt=disable&capture_instance=dbo_c&dest_schema=raw&poll_interval=2s",
        "sqlserver+cdc://u:p@h/db", "azuresql+cdc://u:p@srv.database.windows.net/db", "azure-sql+cdc://u:p@h/db",
        "MSSQL+CDC://u:p@h%5CINST/db?TrustServerCertificate=yes"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cr_expect_eq(pipe_source_find(ok[i]), &pipe_src_cdc, "%s", ok[i]);
        tdspipe_load_opts lo = {.source_uri = ok[i], .source_table = "dbo.customers", .dest_uri = "discard://"};
        tdspipe_error e = {0};
        cr_expect_eq(tdspipe_load(&lo, &e), TDSPIPE_E_USAGE, "%s", ok[i]);
        cr_expect_str_eq(e.message, "Change Data Capture needs a database destination (duckdb, postgresql, sqlite, "
                                    "mssql) to keep its cursor, not discard");
    }
    static const struct { const char *uri, *says; } bad[] = {
        {"mssql+cdc://u:p@h/db?poll_interval=soon", "poll_interval"},
        {"mssql+cdc://u:p@h/db/x", "just the database name"},
        {"mssql+cdc://u:p w@h/db", "malformed source URI"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tdspipe_load_opts lo = {.source_uri = bad[i].uri, .source_table = "t", .dest_uri = "discard://"};
        tdspipe_error e = {0};
        cr_expect_eq(tdspipe_load(&lo, &e), TDSPIPE_E_USAGE, "%s", bad[i].uri);
        cr_expect(strstr(e.message, bad[i].says), "%s: %s", bad[i].uri, e.message);
    }
}
