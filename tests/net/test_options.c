/*
 * test_options.c — net/options.c: URI and key parsing (the ingestr
 * contract), encrypt modes, booleans, secrets kept out of error text.
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "net.h"

Test(options, uri_basic)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql://sa:p%40ss%2Fw@db.example.com:1444/sales?encrypt=false&TrustServerCertificate=yes&packet+size=32767&app%20name=x&connection%20timeout=7", err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.user, "sa");
    cr_assert_str_eq(o.password, "p@ss/w");
    cr_assert_str_eq(o.host, "db.example.com");
    cr_assert_eq(o.port, 1444);
    cr_assert_str_eq(o.database, "sales");
    cr_assert_eq(o.encrypt, NET_ENCRYPT_OPTIONAL);
    cr_assert(o.trust_server_cert);
    cr_assert_eq(o.packet_size, 32767);
    cr_assert_str_eq(o.app_name, "x");
    cr_assert_eq(o.connect_timeout_ms, 7000);
    net_opts_free(&o);
    cr_assert_null(o.host);
}

Test(options, encrypt_modes)
{
    static const struct { const char *v; net_encrypt e; } cases[] = {
        {"disable", NET_ENCRYPT_DISABLE}, {"false", NET_ENCRYPT_OPTIONAL}, {"no", NET_ENCRYPT_OPTIONAL},
        {"optional", NET_ENCRYPT_OPTIONAL}, {"0", NET_ENCRYPT_OPTIONAL}, {"true", NET_ENCRYPT_MANDATORY},
        {"yes", NET_ENCRYPT_MANDATORY}, {"mandatory", NET_ENCRYPT_MANDATORY}, {"Strict", NET_ENCRYPT_STRICT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        net_opts o = {0};
        char err[256];
        o.encrypt = NET_ENCRYPT_STRICT + 1;
        cr_assert_eq(net_opts_set(&o, "Encrypt", cases[i].v, err, sizeof err), NET_OK);
        cr_assert_eq(o.encrypt, cases[i].e, "%s", cases[i].v);
        net_opts_free(&o);
    }
    net_opts o = {0};
    char err[256];
    cr_assert_eq(net_opts_set(&o, "encrypt", "maybe", err, sizeof err), NET_E_ARG);
    cr_assert(strstr(err, "maybe"));
    net_opts zero = {0};
    cr_assert_eq(zero.encrypt, NET_ENCRYPT_MANDATORY, "zeroed options must mean mandatory encryption");
}

Test(options, azure_token_and_instance)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "azuresql://u:eyJ0eXAi.tok@srv%5CINST/db?Authentication=ActiveDirectoryAccessToken&HostNameInCertificate=*.database.windows.net&ServerCertificate=/tmp/ca.pem&driver=ODBC+Driver+18+for+SQL+Server", err, sizeof err), NET_OK, "%s", err);
    cr_assert(o.password_is_token);
    cr_assert_str_eq(o.password, "eyJ0eXAi.tok");
    cr_assert_str_eq(o.host, "srv");
    cr_assert_str_eq(o.instance, "INST");
    cr_assert_str_eq(o.host_in_cert, "*.database.windows.net");
    cr_assert_str_eq(o.ca_file, "/tmp/ca.pem");
    net_opts_free(&o);
}

Test(options, bools_everywhere)
{
    const char *yes[] = {"yes", "YES", "true", "True", "1"}, *no[] = {"no", "false", "0", "FALSE"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq(net_parse_bool(yes[i]), 1);
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(net_parse_bool(no[i]), 0);
    cr_assert_eq(net_parse_bool("si"), -1);
}

Test(options, errors_never_quote_the_password)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql://u:S3cretPw%ZZ@h/db", err, sizeof err), NET_E_ARG);
    cr_assert_null(strstr(err, "S3cret"), "%s", err);
    net_opts_free(&o);
    memset(&o, 0, sizeof o);
    cr_assert_eq(net_opts_from_uri(&o, "postgres://u:S3cretPw@h/db", err, sizeof err), NET_E_ARG);
    cr_assert_null(strstr(err, "S3cret"), "%s", err);
    net_opts_free(&o);
    memset(&o, 0, sizeof o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://u:S3cretPw@h/db?bogus=1", err, sizeof err), NET_E_ARG);
    cr_assert(strstr(err, "bogus"));
    cr_assert_null(strstr(err, "S3cret"), "%s", err);
    net_opts_free(&o);
}

Test(options, odbc_server_forms)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_set(&o, "Server", "tcp:10.0.0.5,1450", err, sizeof err), NET_OK);
    cr_assert_str_eq(o.host, "10.0.0.5");
    cr_assert_eq(o.port, 1450);
    cr_assert_eq(net_opts_set(&o, "packet size", "100", err, sizeof err), NET_E_ARG);
    cr_assert_eq(net_opts_set(&o, "Connect Timeout", "0", err, sizeof err), NET_OK);
    cr_assert_eq(o.connect_timeout_ms, NET_NO_TIMEOUT);
    cr_assert_eq(net_opts_set(&o, "query timeout", "3", err, sizeof err), NET_OK);
    cr_assert_eq(o.query_timeout_ms, 3000);
    net_opts_free(&o);
    memset(&o, 0, sizeof o);
    cr_assert_eq(net_opts_from_uri(&o, "sqlserver://u:p@[::1]:1500/d", err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.host, "::1");
    cr_assert_eq(o.port, 1500);
    net_opts_free(&o);
}

Test(options, at_signs_in_user_password_and_query)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql://user@srv:pa/ss#1@host.example/db?app%20name=a@b", err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.user, "user@srv");
    cr_assert_str_eq(o.password, "pa/ss#1");
    cr_assert_str_eq(o.host, "host.example");
    cr_assert_str_eq(o.database, "db");
    cr_assert_str_eq(o.app_name, "a@b");
    net_opts_free(&o);
    memset(&o, 0, sizeof o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://host:1433/db?app+name=x@y", err, sizeof err), NET_OK, "%s", err);
    cr_assert_null(o.user);
    cr_assert_str_eq(o.host, "host");
    cr_assert_str_eq(o.app_name, "x@y");
    net_opts_free(&o);
}

/* Random and truncated URIs never crash, leak or read out of bounds
 * (run under ASan/UBSan). */
Test(options, random_uris_are_safe)
{
    static const char alphabet[] = "ms:/@?&=%5Cx[]:1#+aZ.,\\";
    const char *base = "mssql://us%40er:p%2Fw@[::1]:1433/db?encrypt=strict&packet%20size=8192&app+name=a";
    uint32_t seed = 12345;
    char buf[160];
    for (int i = 0; i < 20000; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 8) % (sizeof buf - 1);
        if (i % 2) {
            size_t bl = strlen(base);
            memcpy(buf, base, n < bl ? n : bl);
            n = n < bl ? n : bl;
            if (n) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 8) % n] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
            }
        } else {
            for (size_t k = 0; k < n; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
            }
        }
        buf[n] = 0;
        net_opts o = {0};
        char err[256];
        int rc = net_opts_from_uri(&o, buf, err, sizeof err);
        cr_assert(rc == NET_OK || rc == NET_E_ARG, "%d for %s", rc, buf);
        net_opts_free(&o);
    }
}

/* The RFC 3986 checks every SQL Server URI passes, source and destination
 * alike (one parser): raw spaces, broken escapes, several path segments
 * and a parameter without a value are refused without quoting the
 * password; empty path segments are skipped; a raw backslash names an
 * instance; Azure schemes encrypt by default. */
Test(options, rfc3986_checks)
{
    static const char *const bad[] = {
        "mssql://u:S3cret PW@h/db",      "mssql://u:S3cretPw@h/db?encrypt", "mssql://u:S3cretPw@h/db/extra",
        "mssql://u:S3cretPw@h/db\n",     "mssql://u:S3cretPw%zz@h/db",      "sqlserver://u:S3cretPw@h/a/b?x=1",
    };
    static const char *const why[] = {"malformed URI", "needs a value", "just the database name",
                                      "malformed URI", "malformed URI", "just the database name"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        net_opts o = {0};
        char err[256] = "";
        cr_expect_eq(net_opts_from_uri(&o, bad[i], err, sizeof err), NET_E_ARG, "case %zu accepted", i);
        cr_expect(strstr(err, why[i]), "case %zu: %s", i, err);
        cr_expect_null(strstr(err, "S3cret"), "case %zu: %s", i, err);
        net_opts_free(&o);
    }
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql://u:p%2Fw%23d@h//db/", err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.password, "p/w#d");
    cr_assert_str_eq(o.database, "db");
    net_opts_free(&o);
    memset(&o, 0, sizeof o);
    cr_assert_eq(net_opts_from_uri(&o, "azure-sql://u:p@srv\\inst/db", err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.instance, "inst");
    cr_assert_eq(o.encrypt, NET_ENCRYPT_MANDATORY);
    net_opts_free(&o);
}

/* ingestr's Change Tracking / Change Data Capture URI parameters: the
 * +ct and +cdc schemes parse like the others; poll_interval (a Go
 * duration) on both, capture_instance and dest_schema on +cdc; elsewhere
 * each is a one-line refusal naming it. */
Test(options, change_source_parameters)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql+cdc://u:p%40w@h:1500/shop?encrypt=disable&capture_instance=dbo_customers"
                                       "&dest_schema=raw&poll_interval=1m30s", err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.password, "p@w");
    cr_assert_eq(o.port, 1500);
    cr_assert_str_eq(o.database, "shop");
    cr_assert_str_eq(o.capture_instance, "dbo_customers");
    cr_assert_str_eq(o.dest_schema, "raw");
    cr_assert_eq(o.poll_interval_ms, 90000);
    net_opts_free(&o);
    static const char *const schemes[] = {"sqlserver+cdc", "azuresql+cdc", "azure-sql+cdc", "MSSQL+CDC"};
    for (size_t i = 0; i < 4; i++) {
        char u[128];
        snprintf(u, sizeof u, "%s://u:p@h/db?poll_interval=500ms", schemes[i]);
        cr_expect_eq(net_opts_from_uri(&o, u, err, sizeof err), NET_OK, "%s: %s", u, err);
        cr_expect_eq(o.poll_interval_ms, 500);
        net_opts_free(&o);
    }
    static const struct { const char *v; uint32_t ms; } dur[] = {{"1s", 1000}, {"2.5s", 2500}, {"1h", 3600000},
                                                                 {"1m", 60000}, {"250000us", 250}, {"1h1m1s", 3661000}};
    for (size_t i = 0; i < sizeof dur / sizeof dur[0]; i++) {
        char u[128];
        snprintf(u, sizeof u, "mssql+ct://u:p@h/db?poll_interval=%s", dur[i].v);
        cr_expect_eq(net_opts_from_uri(&o, u, err, sizeof err), NET_OK, "%s: %s", u, err);
        cr_expect_eq(o.poll_interval_ms, dur[i].ms, "%s", dur[i].v);
        net_opts_free(&o);
    }
    static const struct { const char *uri, *says; } bad[] = {
        {"mssql+ct://u:p@h/db?poll_interval=0s", "poll_interval"},
        {"mssql+ct://u:p@h/db?poll_interval=5", "poll_interval"},
        {"mssql+ct://u:p@h/db?poll_interval=-1s", "poll_interval"},
        {"mssql+ct://u:p@h/db?poll_interval=1x", "poll_interval"},
        {"mssql+ct://u:p@h/db?capture_instance=x", "mssql+cdc://"},
        {"mssql+ct://u:p@h/db?dest_schema=x", "mssql+cdc://"},
        {"mssql://u:p@h/db?poll_interval=1s", "mssql+ct:// and mssql+cdc://"},
        {"mssql://u:p@h/db?capture_instance=x", "mssql+ct:// and mssql+cdc://"},
        {"mssql+cdc://u:p@h/db?capture_instance=", "capture_instance"},
        {"mssql+xyz://u:p@h/db", "unsupported URI scheme"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(net_opts_from_uri(&o, bad[i].uri, err, sizeof err), NET_E_ARG, "%s accepted", bad[i].uri);
        cr_expect(strstr(err, bad[i].says) && !strchr(err, '\n'), "%s: '%s'", bad[i].uri, err);
        net_opts_free(&o);
    }
}

/* ingestr's Azure SQL forms: fedauth=ActiveDirectoryServicePrincipalAccessToken
 * (= Authentication=ActiveDirectoryAccessToken) carries a token in the
 * password; Entra methods that cannot run unattended, Entra methods without
 * encryption, and tenant_id on a SQL login are refused rather than tried
 * as SQL logins (issue 15 made the other Entra methods real). */
Test(options, azure_fedauth_and_tenant)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "azuresql://u:tok@srv.database.windows.net/db?fedauth=ActiveDirectoryServicePrincipalAccessToken&tenant_id=t1",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert(o.password_is_token);
    cr_assert_str_eq(o.password, "tok");
    cr_assert_eq(o.encrypt, NET_ENCRYPT_MANDATORY);
    cr_assert_eq(o.auth, NET_AUTH_ACCESS_TOKEN);
    net_opts_free(&o);
    static const struct { const char *uri, *says; } bad[] = {
        {"azuresql://h/db?fedauth=ActiveDirectoryDefault&encrypt=false", "ActiveDirectoryDefault"},
        {"azuresql://c:s@h/db?fedauth=ActiveDirectoryInteractive", "fedauth=ActiveDirectoryInteractive"},
        {"mssql://u:p@h/db?Authentication=ActiveDirectoryIntegrated", "Authentication"},
        {"mssql://c:secretpw@h/db?tenant_id=t1", "tenant_id"},
        {"sqlserver://c:secretpw@h/db?Authentication=SqlPassword&tenant_id=t1", "tenant_id"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        cr_expect_eq(net_opts_from_uri(&o, bad[i].uri, err, sizeof err), NET_E_ARG, "%s accepted", bad[i].uri);
        cr_expect(strstr(err, bad[i].says) && !strstr(err, "secretpw"), "%s: '%s'", bad[i].uri, err);
        net_opts_free(&o);
    }
}

/* Every method's spellings: ODBC/go-mssqldb names, SqlClient's spaced
 * names, any case, on Authentication= and fedauth=. */
Test(options, entra_method_names)
{
    static const struct { const char *v; net_auth a; } cases[] = {
        {"ActiveDirectoryAccessToken", NET_AUTH_ACCESS_TOKEN},
        {"activedirectoryserviceprincipalaccesstoken", NET_AUTH_ACCESS_TOKEN},
        {"ActiveDirectoryServicePrincipal", NET_AUTH_SERVICE_PRINCIPAL},
        {"Active Directory Service Principal", NET_AUTH_SERVICE_PRINCIPAL},
        {"ActiveDirectoryApplication", NET_AUTH_SERVICE_PRINCIPAL},
        {"ActiveDirectoryManagedIdentity", NET_AUTH_MANAGED_IDENTITY},
        {"Active Directory Managed Identity", NET_AUTH_MANAGED_IDENTITY},
        {"ACTIVEDIRECTORYMSI", NET_AUTH_MANAGED_IDENTITY},
        {"ActiveDirectoryWorkloadIdentity", NET_AUTH_WORKLOAD_IDENTITY},
        {"Active Directory Workload Identity", NET_AUTH_WORKLOAD_IDENTITY},
        {"ActiveDirectoryAzCli", NET_AUTH_AZ_CLI},
        {"ActiveDirectoryPassword", NET_AUTH_PASSWORD},
        {"Active Directory Password", NET_AUTH_PASSWORD},
        {"ActiveDirectoryDefault", NET_AUTH_DEFAULT},
        {"Active Directory Default", NET_AUTH_DEFAULT},
        {"SqlPassword", NET_AUTH_SQL},
        {"", NET_AUTH_SQL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int k = 0; k < 2; k++) {
            net_opts o = {0};
            char err[256] = "";
            o.auth = NET_AUTH_DEFAULT + 1;
            cr_expect_eq(net_opts_set(&o, k ? "fedauth" : "Authentication", cases[i].v, err, sizeof err), NET_OK,
                         "'%s': %s", cases[i].v, err);
            cr_expect_eq(o.auth, cases[i].a, "'%s'", cases[i].v);
            cr_expect_eq(o.password_is_token, cases[i].a == NET_AUTH_ACCESS_TOKEN, "'%s'", cases[i].v);
            net_opts_free(&o);
        }
}

/* go-mssqldb (what ingestr v1 hands the URI to) prefers fedauth= over
 * Authentication=, whichever comes first in the query. */
Test(options, fedauth_wins_over_authentication)
{
    static const char *uris[] = {
        "mssql://app%40t:s@h/db?fedauth=ActiveDirectoryServicePrincipal&Authentication=ActiveDirectoryMSI",
        "mssql://app%40t:s@h/db?Authentication=ActiveDirectoryMSI&fedauth=ActiveDirectoryServicePrincipal",
    };
    for (size_t i = 0; i < 2; i++) {
        net_opts o = {0};
        char err[256] = "";
        cr_assert_eq(net_opts_from_uri(&o, uris[i], err, sizeof err), NET_OK, "%s", err);
        cr_expect_eq(o.auth, NET_AUTH_SERVICE_PRINCIPAL, "%s", uris[i]);
        net_opts_free(&o);
    }
}

/* Interactive, device code and integrated sign-in need a person or
 * Windows: one line naming the method and what to use instead. */
Test(options, entra_refused_methods)
{
    static const char *const names[] = {"ActiveDirectoryInteractive", "ActiveDirectoryDeviceCode",
                                        "ActiveDirectoryDeviceCodeFlow", "ActiveDirectoryIntegrated"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        net_opts o = {0};
        char err[256] = "";
        cr_expect_eq(net_opts_set(&o, "Authentication", names[i], err, sizeof err), NET_E_ARG);
        cr_expect(strstr(err, names[i]) && strstr(err, "ActiveDirectoryServicePrincipal") && !strchr(err, '\n'),
                  "'%s'", err);
        net_opts_free(&o);
    }
    net_opts o = {0};
    char err[256] = "";
    cr_expect_eq(net_opts_set(&o, "Authentication", "Active Directory Device Code Flow", err, sizeof err), NET_E_ARG);
    cr_expect(strstr(err, "ActiveDirectoryDeviceCodeFlow"), "'%s'", err);
    cr_expect_eq(net_opts_set(&o, "fedauth", "ActiveDirectoryOnBehalfOf", err, sizeof err), NET_E_ARG);
    cr_expect(strstr(err, "unsupported fedauth 'ActiveDirectoryOnBehalfOf'"), "'%s'", err);
    net_opts_free(&o);
}

/* Service principal: client id (and tenant) from the user slot, secret in
 * the password; tenant_id, clientcertpath and the other Entra parameters
 * stored. */
Test(options, entra_service_principal)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql://app-id%40tenant-x:s3cret@srv/db?Authentication=ActiveDirectoryServicePrincipal&tenant_id=ignored",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_SERVICE_PRINCIPAL);
    cr_assert_str_eq(o.user, "app-id");
    cr_assert_str_eq(o.tenant_id, "tenant-x");
    cr_assert_str_eq(o.password, "s3cret");
    cr_assert(!o.password_is_token);
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "sqlserver://app-id@srv/db?fedauth=ActiveDirectoryApplication&clientcertpath=/k/c.pem&tenant_id=t9",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_SERVICE_PRINCIPAL);
    cr_assert_str_eq(o.user, "app-id");
    cr_assert_str_eq(o.tenant_id, "t9");
    cr_assert_str_eq(o.client_cert_path, "/k/c.pem");
    cr_assert_null(o.password);
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://u%40contoso.com:pw@srv/db?Authentication=ActiveDirectoryPassword&applicationclientid=app2",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_PASSWORD);
    cr_assert_str_eq(o.user, "u@contoso.com", "a password-grant user name keeps its domain");
    cr_assert_null(o.tenant_id);
    cr_assert_str_eq(o.app_client_id, "app2");
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://uami-client@srv/db?Authentication=ActiveDirectoryMSI&resource%20id=/subs/x/rg/y&tokenfilepath=/t",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_MANAGED_IDENTITY);
    cr_assert_str_eq(o.user, "uami-client");
    cr_assert_str_eq(o.mi_resource_id, "/subs/x/rg/y");
    cr_assert_str_eq(o.token_file_path, "/t");
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://srv/db?Authentication=ActiveDirectoryManagedIdentity&msi_res_id=/r2",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert_str_eq(o.mi_resource_id, "/r2");
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://c%40t:x@srv/db?fedauth=ActiveDirectoryWorkloadIdentity", err, sizeof err),
                 NET_OK, "%s", err);
    cr_assert_str_eq(o.user, "c");
    cr_assert_str_eq(o.tenant_id, "t");
    net_opts_free(&o);
}

/* ingestr v1's azuresql:// rules (pkg/source/mssql/mssql.go): encrypt on
 * unless given; no method + user + tenant_id = service principal; no
 * method and no user = ActiveDirectoryDefault; a user alone stays a SQL
 * login; mssql:// never guesses. */
Test(options, azuresql_defaults)
{
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "azuresql://cid:sec@srv/db?tenant_id=t1", err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_SERVICE_PRINCIPAL);
    cr_assert_str_eq(o.user, "cid");
    cr_assert_str_eq(o.tenant_id, "t1");
    cr_assert_eq(o.encrypt, NET_ENCRYPT_MANDATORY);
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "azure-sql://srv/db", err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_DEFAULT);
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "azuresql://sa:pw@srv/db", err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_SQL);
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "azuresql://sa:pw@srv/db?encrypt=disable", err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.encrypt, NET_ENCRYPT_DISABLE, "a SQL login may still turn encryption off");
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://srv/db", err, sizeof err), NET_OK, "%s", err);
    cr_assert_eq(o.auth, NET_AUTH_SQL);
    net_opts_free(&o);
}

/* Entra methods refuse encrypt=false/optional/disable (the FEDAUTH_TOKEN
 * message would travel in clear after a login-only TLS); an access token
 * keeps today's behaviour; the checks need a client id or user. */
Test(options, entra_needs)
{
    static const struct { const char *uri, *says; } bad[] = {
        {"mssql://c:secretpw@h/db?Authentication=ActiveDirectoryServicePrincipal&encrypt=false", "encrypted"},
        {"mssql://h/db?encrypt=optional&Authentication=ActiveDirectoryMSI", "ActiveDirectoryManagedIdentity needs an encrypted"},
        {"mssql://h/db?Authentication=ActiveDirectoryAzCli&encrypt=disable", "ActiveDirectoryAzCli"},
        {"azuresql://c:secretpw@h/db?tenant_id=t&encrypt=no", "encrypted"},
        {"mssql://:secretpw@h/db?Authentication=ActiveDirectoryServicePrincipal", "client) id"},
        {"mssql://%40t:secretpw@h/db?Authentication=ActiveDirectoryServicePrincipal", "client_id@tenant_id"},
        {"mssql://u@h/db?Authentication=ActiveDirectoryPassword", "user name and a password"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        net_opts o = {0};
        char err[256] = "";
        cr_expect_eq(net_opts_from_uri(&o, bad[i].uri, err, sizeof err), NET_E_ARG, "%s accepted", bad[i].uri);
        cr_expect(strstr(err, bad[i].says) && !strstr(err, "secretpw") && !strchr(err, '\n'), "%s: '%s'", bad[i].uri, err);
        net_opts_free(&o);
    }
    net_opts o = {0};
    char err[256] = "";
    cr_assert_eq(net_opts_from_uri(&o, "mssql://:tok@h/db?encrypt=disable&Authentication=ActiveDirectoryAccessToken",
                                   err, sizeof err), NET_OK, "%s", err);
    cr_assert(o.password_is_token);
    net_opts_free(&o);
    cr_assert_eq(net_opts_from_uri(&o, "mssql://h/db?Authentication=ActiveDirectoryDefault&encrypt=strict", err, sizeof err),
                 NET_OK, "%s", err);
    net_opts_free(&o);
}
