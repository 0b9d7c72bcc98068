/*
 * test_entra_core.c — net/entra's pure pieces: token reply parsing
 * (entra_reply.c), the authority/tenant rule and the scope
 * (entra_authority.c), form encoding (entra_util.c) and the token cache
 * (entra_cache.c). No network: the authority tests only assert which host
 * would be asked, so no server-named host can ever receive a request.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "entra/entra_int.h"
#include "json_load.h"

static void one_line(const net_error *e)
{
    cr_assert(strlen(e->message) > 0);
    cr_assert_null(strchr(e->message, '\n'), "%s", e->message);
    cr_assert_null(strchr(e->message, '\r'), "%s", e->message);
}

static int parse(const char *body, long status, int64_t now, entra_token *t, net_error *e)
{
    memset(e, 0, sizeof *e);
    return entra_reply_parse(body, strlen(body), status, now, t, e);
}

/* ------------------------------------------------------------ replies */

/* A fully static build loads no cJSON (test_entra_http.c checks its refusal). */
static void need_json(void)
{
    const net_json_api *cj;
    if (net_json_load(&cj) == NET_JSON_STATIC)
        cr_skip_test("fully static build: no cJSON");
}

TestSuite(entra_reply, .init = need_json);

Test(entra_reply, v2_success)
{
    entra_token t;
    net_error e;
    cr_assert_eq(parse("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                       "\"access_token\":\"eyJ0eXAi.abc.def\"}",
                       200, 1000, &t, &e),
                 NET_OK, "%s", e.message);
    cr_assert_str_eq(t.access_token, "eyJ0eXAi.abc.def");
    cr_assert_eq(t.expires_at, 1000 + 3599);
    entra_token_clear(&t);
    cr_assert_null(t.access_token);
    cr_assert_eq(t.expires_at, 0);
}

Test(entra_reply, v2_error_first_line_only)
{
    entra_token t;
    net_error e;
    const char *body = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
                       "secret provided. Ensure the secret being sent in the request is the client secret "
                       "value.\\r\\nTrace ID: 7c4e\\r\\nCorrelation ID: 9f1a\\r\\nTimestamp: 2026-01-01 "
                       "00:00:00Z\",\"error_codes\":[7000215],\"timestamp\":\"2026-01-01 00:00:00Z\","
                       "\"trace_id\":\"7c4e\",\"correlation_id\":\"9f1a\",\"error_uri\":\"https://x/error?code=7000215\"}";
    cr_assert_eq(parse(body, 401, 0, &t, &e), NET_E_LOGIN);
    cr_assert_str_eq(e.message, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                                "in the request is the client secret value.");
    cr_assert_null(t.access_token);
    one_line(&e);
}

Test(entra_reply, error_code_without_prefix_and_no_body_leak)
{
    entra_token t;
    net_error e;
    cr_assert_eq(parse("{\"error\":\"unauthorized_client\",\"error_description\":\"Application not found\","
                       "\"error_codes\":[700016],\"access_token\":\"LEAKED-TOKEN\"}",
                       400, 0, &t, &e),
                 NET_E_LOGIN);
    cr_assert_str_eq(e.message, "AADSTS700016: Application not found");
    cr_assert_null(strstr(e.message, "LEAKED"));
    cr_assert_null(t.access_token);
}

Test(entra_reply, managed_identity_errors)
{
    entra_token t;
    net_error e;
    cr_assert_eq(parse("{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}", 400, 0,
                       &t, &e),
                 NET_E_LOGIN);
    cr_assert_str_eq(e.message, "invalid_request: Identity not found");
    cr_assert_eq(parse("{\"statusCode\":400,\"message\":\"No managed identity\\nline 2\"}", 400, 0, &t, &e),
                 NET_E_LOGIN);
    cr_assert_str_eq(e.message, "identity endpoint answered HTTP 400: No managed identity");
    cr_assert_eq(parse("{}", 403, 0, &t, &e), NET_E_LOGIN);
    cr_assert_str_eq(e.message, "identity endpoint answered HTTP 403");
}

Test(entra_reply, mi_strings_and_numbers)
{
    entra_token t;
    net_error e;
    /* IMDS: every field a string */
    cr_assert_eq(parse("{\"access_token\":\"imds\",\"refresh_token\":\"\",\"expires_in\":\"86399\","
                       "\"expires_on\":\"1700086399\",\"not_before\":\"1700000000\","
                       "\"resource\":\"https://database.windows.net/\",\"token_type\":\"Bearer\"}",
                       200, 1700000000, &t, &e),
                 NET_OK, "%s", e.message);
    cr_assert_eq(t.expires_at, 1700000000 + 86399);
    entra_token_clear(&t);
    /* App Service 2019-08-01: expires_on only, a string */
    cr_assert_eq(parse("{\"access_token\":\"app\",\"expires_on\":\"1700003600\",\"resource\":\"r\","
                       "\"token_type\":\"Bearer\",\"client_id\":\"c\"}",
                       200, 5, &t, &e),
                 NET_OK);
    cr_assert_eq(t.expires_at, 1700003600);
    entra_token_clear(&t);
    /* expires_on as a number, expires_in absent */
    cr_assert_eq(parse("{\"access_token\":\"n\",\"expires_on\":1700007200}", 200, 5, &t, &e), NET_OK);
    cr_assert_eq(t.expires_at, 1700007200);
    entra_token_clear(&t);
    /* no expiry at all: 0 (unknown) */
    cr_assert_eq(parse("{\"access_token\":\"n\",\"expires_on\":\"09/14/2017 00:00:00 PM +00:00\"}", 200, 5, &t,
                       &e),
                 NET_OK);
    cr_assert_eq(t.expires_at, 0);
    entra_token_clear(&t);
}

Test(entra_reply, az_formats)
{
    entra_token t;
    net_error e;
    cr_assert_eq(parse("{\"accessToken\":\"az-tok\",\"expiresOn\":\"2030-01-02 03:04:05.123456\","
                       "\"expires_on\":1893553445,\"subscription\":\"s\",\"tenant\":\"t\",\"tokenType\":\"Bearer\"}\n",
                       0, 0, &t, &e),
                 NET_OK, "%s", e.message);
    cr_assert_str_eq(t.access_token, "az-tok");
    cr_assert_eq(t.expires_at, 1893553445);
    entra_token_clear(&t);
    /* older az: local time only */
    struct tm tm = {.tm_year = 130, .tm_mon = 0, .tm_mday = 2, .tm_hour = 3, .tm_min = 4, .tm_sec = 5,
                    .tm_isdst = -1};
    int64_t want = (int64_t)mktime(&tm);
    cr_assert_eq(parse("{\"accessToken\":\"az-old\",\"expiresOn\":\"2030-01-02 03:04:05.000000\"}", 0, 0, &t, &e),
                 NET_OK);
    cr_assert_eq(t.expires_at, want);
    entra_token_clear(&t);
}

Test(entra_reply, malformed)
{
    entra_token t;
    net_error e;
    cr_assert_eq(parse("not json", 200, 0, &t, &e), NET_E_PROTO);
    one_line(&e);
    cr_assert_eq(parse("[1,2]", 200, 0, &t, &e), NET_E_PROTO);
    cr_assert_eq(parse("{\"token_type\":\"Bearer\"}", 200, 0, &t, &e), NET_E_PROTO);
    cr_assert_eq(parse("{\"access_token\":\"has space\"}", 200, 0, &t, &e), NET_E_PROTO);
    cr_assert_eq(parse("{\"access_token\":\"\"}", 200, 0, &t, &e), NET_E_PROTO);
    cr_assert_eq(parse("{\"access_token\":42}", 200, 0, &t, &e), NET_E_PROTO);
    cr_assert_eq(parse("<html>Bad Gateway</html>", 502, 0, &t, &e), NET_E_PROTO);
    cr_assert_str_eq(e.message, "identity endpoint answered HTTP 502 (not a token reply)");
    cr_assert_eq(entra_reply_parse(NULL, 0, 200, 0, &t, &e), NET_E_PROTO);
    cr_assert_null(t.access_token);
    /* not NUL-terminated: only len bytes are read */
    const char body[] = "{\"access_token\":\"abc\"}XXXX";
    cr_assert_eq(entra_reply_parse(body, sizeof body - 5, 200, 0, &t, &e), NET_OK);
    cr_assert_str_eq(t.access_token, "abc");
    entra_token_clear(&t);
}

/* ----------------------------------------------------------- authority */

static int authority(const char *sts, const char *tenant_in, char *a, char *t)
{
    char err[256] = "";
    return entra_authority(sts, tenant_in, a, 256, t, 128, err, sizeof err);
}

static void no_env(void)
{
    unsetenv("AZURE_AUTHORITY_HOST");
}

Test(entra_authority, microsoft_hosts_from_sts, .init = no_env)
{
    static const char *const hosts[] = {"login.microsoftonline.com", "login.windows.net",
                                        "login.microsoftonline.us", "login-us.microsoftonline.com",
                                        "login.chinacloudapi.cn", "login.partner.microsoftonline.cn"};
    for (size_t i = 0; i < sizeof hosts / sizeof *hosts; i++) {
        char sts[200], a[256], t[128], want[200];
        snprintf(sts, sizeof sts, "https://%s/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/authorize", hosts[i]);
        cr_assert_eq(authority(sts, NULL, a, t), NET_OK);
        snprintf(want, sizeof want, "https://%s", hosts[i]);
        cr_assert_str_eq(a, want);
        cr_assert_str_eq(t, "72f988bf-86f1-41af-91ab-2d7cd011db47");
    }
    char a[256], t[128];
    cr_assert_eq(authority("HTTPS://Login.MicrosoftOnline.US/contoso.onmicrosoft.com", NULL, a, t), NET_OK);
    cr_assert_str_eq(a, "https://login.microsoftonline.us");
    cr_assert_str_eq(t, "contoso.onmicrosoft.com");
}

/* A SQL Server naming its own host as the STS never gets the secret:
 * every such URL falls back to the default authority. */
Test(entra_authority, server_named_hosts_ignored, .init = no_env)
{
    static const char *const evil[] = {
        "https://127.0.0.1:8443/tenant-x",
        "https://evil.example/tenant-x",
        "https://login.microsoftonline.com.evil.example/tenant-x",
        "https://login.microsoftonline.com@evil.example/tenant-x",
        "https://evil.example\\@login.microsoftonline.com/tenant-x",
        "https://login.microsoftonline.com:8443/tenant-x",
        "http://login.microsoftonline.com/tenant-x",
        "https://xlogin.microsoftonline.com/tenant-x",
        "https://login.microsoftonline.de/tenant-x",
        "//login.microsoftonline.com/tenant-x",
    };
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        char a[256], t[128];
        cr_assert_eq(authority(evil[i], NULL, a, t), NET_OK, "%s", evil[i]);
        cr_assert_str_eq(a, ENTRA_DEFAULT_AUTHORITY, "%s gave %s", evil[i], a);
    }
}

Test(entra_authority, env_wins, .init = no_env)
{
    char a[256], t[128], err[256];
    setenv("AZURE_AUTHORITY_HOST", "https://127.0.0.1:4443///", 1);
    cr_assert_eq(authority("https://login.microsoftonline.us/t1", NULL, a, t), NET_OK);
    cr_assert_str_eq(a, "https://127.0.0.1:4443");
    cr_assert_str_eq(t, "t1");
    setenv("AZURE_AUTHORITY_HOST", "http://127.0.0.1:4443", 1);
    cr_assert_eq(entra_authority("", NULL, a, sizeof a, t, sizeof t, err, sizeof err), NET_E_ARG);
    cr_assert_str_eq(err, "AZURE_AUTHORITY_HOST must be an https:// URL");
    setenv("AZURE_AUTHORITY_HOST", "", 1); /* empty = unset */
    cr_assert_eq(authority("https://evil.example/t", NULL, a, t), NET_OK);
    cr_assert_str_eq(a, ENTRA_DEFAULT_AUTHORITY);
}

Test(entra_authority, tenant_rule, .init = no_env)
{
    char a[256], t[128], err[256];
    cr_assert_eq(authority("https://login.microsoftonline.com/from-sts", "explicit-t", a, t), NET_OK);
    cr_assert_str_eq(t, "explicit-t");
    cr_assert_eq(authority("https://evil.example/from-sts/oauth2", NULL, a, t), NET_OK);
    cr_assert_str_eq(t, "from-sts"); /* go-mssqldb takes the tenant, never the host */
    cr_assert_eq(authority("https://login.microsoftonline.com", NULL, a, t), NET_OK);
    cr_assert_str_eq(t, "organizations");
    cr_assert_eq(authority("", NULL, a, t), NET_OK);
    cr_assert_str_eq(t, "organizations");
    cr_assert_eq(authority(NULL, NULL, a, t), NET_OK);
    cr_assert_str_eq(a, ENTRA_DEFAULT_AUTHORITY);
    cr_assert_eq(authority("https://login.microsoftonline.com/..", NULL, a, t), NET_OK);
    cr_assert_str_eq(t, "organizations");
    cr_assert_eq(authority("https://login.microsoftonline.com/a%2F..", NULL, a, t), NET_OK);
    cr_assert_str_eq(t, "organizations");
    cr_assert_eq(entra_authority("", "../admin", a, sizeof a, t, sizeof t, err, sizeof err), NET_E_ARG);
    cr_assert_not_null(strstr(err, "tenant"));
}

Test(entra_scope, spn_plus_default)
{
    char s[200];
    entra_scope("", s, sizeof s);
    cr_assert_str_eq(s, "https://database.windows.net//.default");
    entra_scope(NULL, s, sizeof s);
    cr_assert_str_eq(s, "https://database.windows.net//.default");
    entra_scope("https://database.usgovcloudapi.net", s, sizeof s);
    cr_assert_str_eq(s, "https://database.usgovcloudapi.net/.default");
    entra_scope("https://x/.default", s, sizeof s);
    cr_assert_str_eq(s, "https://x/.default");
}

/* ---------------------------------------------------------------- form */

Test(entra_form, encoding)
{
    char *b = NULL;
    size_t len = 0;
    cr_assert_eq(entra_form_add(&b, &len, "grant_type", "client_credentials"), NET_OK);
    cr_assert_eq(entra_form_add(&b, &len, "scope", "https://database.windows.net//.default"), NET_OK);
    cr_assert_eq(entra_form_add(&b, &len, "client_secret", "a b&c=d+e%f/\xc3\xa9~-._*"), NET_OK);
    cr_assert_eq(entra_form_add(&b, &len, "empty", ""), NET_OK);
    cr_assert_str_eq(b, "grant_type=client_credentials&scope=https%3A%2F%2Fdatabase.windows.net%2F%2F.default"
                        "&client_secret=a+b%26c%3Dd%2Be%25f%2F%C3%A9~-._%2A&empty=");
    cr_assert_eq(len, strlen(b));
    net_wipe(b, len);
    free(b);
}

/* --------------------------------------------------------------- cache */

static entra_token tok(const char *s, int64_t expires_at)
{
    entra_token t = {.access_token = (char *)s, .expires_at = expires_at};
    return t;
}

Test(entra_cache, hit_copy_drop)
{
    entra_cache_clear_all();
    entra_token t = tok("tok-A", entra_now() + 3600), out;
    entra_cache_put("k1", &t);
    cr_assert(entra_cache_get("k1", &out));
    cr_assert_str_eq(out.access_token, "tok-A");
    cr_assert_neq(out.access_token, t.access_token); /* a copy */
    cr_assert_eq(out.expires_at, t.expires_at);
    entra_token_clear(&out);
    cr_assert_not(entra_cache_get("k2", &out));
    cr_assert_null(out.access_token);
    entra_token t2 = tok("tok-B", entra_now() + 3600);
    entra_cache_put("k1", &t2); /* replaces */
    cr_assert(entra_cache_get("k1", &out));
    cr_assert_str_eq(out.access_token, "tok-B");
    entra_token_clear(&out);
    entra_cache_drop("k1");
    cr_assert_not(entra_cache_get("k1", &out));
}

Test(entra_cache, unknown_or_past_expiry_not_cached)
{
    entra_cache_clear_all();
    entra_token out, t = tok("x", 0);
    entra_cache_put("k", &t);
    cr_assert_not(entra_cache_get("k", &out));
    t = tok("x", entra_now() - 1);
    entra_cache_put("k", &t);
    cr_assert_not(entra_cache_get("k", &out));
}

Test(entra_cache, refreshed_before_expiry)
{
    entra_cache_clear_all();
    entra_token out, t = tok("long", entra_now() + 3600);
    entra_cache_put("long", &t);
    /* 5 minutes before expiry a token is no longer served */
    t = tok("near", entra_now() + 299 * 2); /* life 598 s: margin 299 s, 598 s left: served */
    entra_cache_put("near", &t);
    cr_assert(entra_cache_get("near", &out));
    entra_token_clear(&out);
    /* a 4-second token is served for its first half only */
    t = tok("short", entra_now() + 4);
    entra_cache_put("short", &t);
    cr_assert(entra_cache_get("short", &out));
    entra_token_clear(&out);
    sleep(3);
    cr_assert_not(entra_cache_get("short", &out));
    cr_assert(entra_cache_get("long", &out));
    entra_token_clear(&out);
    entra_cache_clear_all();
    cr_assert_not(entra_cache_get("long", &out));
}

Test(entra_cache, bounded)
{
    entra_cache_clear_all();
    entra_token out;
    for (int i = 0; i < 100; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i);
        snprintf(v, sizeof v, "v%d", i);
        entra_token t = tok(v, entra_now() + 3600);
        entra_cache_put(k, &t);
    }
    cr_assert_not(entra_cache_get("k0", &out));
    cr_assert(entra_cache_get("k99", &out));
    cr_assert_str_eq(out.access_token, "v99");
    entra_token_clear(&out);
    entra_cache_clear_all();
}

static void *cache_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "t%d", (id + i) % 8);
        snprintf(v, sizeof v, "v%d", i);
        entra_token t = tok(v, entra_now() + 3600), out;
        entra_cache_put(k, &t);
        if (entra_cache_get(k, &out))
            entra_token_clear(&out);
        if (i % 100 == 0)
            entra_cache_drop(k);
    }
    return NULL;
}

Test(entra_cache, threads)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, cache_worker, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    entra_cache_clear_all();
}

/* The server's SPN becomes the token's audience: only Azure SQL's own
 * resources (any cloud) or the operator's TDSPIPE_ENTRA_RESOURCE pass; a
 * server asking for Key Vault or ARM gets the SQL resource instead. */
Test(entra_resource, server_cannot_pick_another_audience)
{
    unsetenv("TDSPIPE_ENTRA_RESOURCE");
    cr_assert_str_eq(entra_resource("https://database.windows.net/"), "https://database.windows.net/");
    cr_assert_str_eq(entra_resource("https://database.usgovcloudapi.net"), "https://database.usgovcloudapi.net");
    cr_assert_str_eq(entra_resource("HTTPS://DATABASE.CHINACLOUDAPI.CN/"), "HTTPS://DATABASE.CHINACLOUDAPI.CN/");
    cr_assert_str_eq(entra_resource("https://vault.azure.net/"), ENTRA_SQL_RESOURCE);
    cr_assert_str_eq(entra_resource("https://management.azure.com/"), ENTRA_SQL_RESOURCE);
    cr_assert_str_eq(entra_resource("https://database.windows.net.evil.example/"), ENTRA_SQL_RESOURCE);
    cr_assert_str_eq(entra_resource(""), ENTRA_SQL_RESOURCE);
    cr_assert_str_eq(entra_resource(NULL), ENTRA_SQL_RESOURCE);
    setenv("TDSPIPE_ENTRA_RESOURCE", "https://sql.contoso.example/", 1);
    cr_assert_str_eq(entra_resource("https://sql.contoso.example"), "https://sql.contoso.example");
    cr_assert_str_eq(entra_resource("https://vault.azure.net/"), ENTRA_SQL_RESOURCE);
    unsetenv("TDSPIPE_ENTRA_RESOURCE");
}

/* ------------------------------------------------------------ retry delay */

/* Retry-After comes from the network: a number whose product with 1000
 * wraps (18446744073709552 * 1000 = 384 mod 2^64) must still give the cap,
 * not a near-zero or a days-long wait. */
Test(entra_retry, delay_bounded)
{
    cr_assert_eq(entra_retry_delay_ms("2", 0, 500, 5000), 2000);
    cr_assert_eq(entra_retry_delay_ms("0", 3, 500, 5000), 0);
    cr_assert_eq(entra_retry_delay_ms("99", 0, 500, 5000), 5000);
    cr_assert_eq(entra_retry_delay_ms("18446744073709552", 0, 500, 5000), 5000);
    cr_assert_eq(entra_retry_delay_ms("4294968", 0, 2000, 60000), 60000); /* 4294968000 wraps 32 bits */
    cr_assert_eq(entra_retry_delay_ms("99999999999999999999999", 0, 500, 5000), 5000);
    cr_assert_eq(entra_retry_delay_ms("Wed, 21 Oct 2026 07:28:00 GMT", 1, 500, 5000), 1000); /* a date: back-off */
    cr_assert_eq(entra_retry_delay_ms("-1", 0, 500, 5000), 500);
    cr_assert_eq(entra_retry_delay_ms(NULL, 0, 2000, 60000), 2000);
    cr_assert_eq(entra_retry_delay_ms("", 2, 2000, 60000), 8000);
    cr_assert_eq(entra_retry_delay_ms(NULL, 40, 2000, 60000), 60000);
}
